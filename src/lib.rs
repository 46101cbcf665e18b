//! Services shared by the examples, the integration tests and the benches.
pub mod gateway;
pub mod users;
