//! Services shared by the examples, the integration tests and the benches.
#[doc(hidden)]
pub mod bench_support;
pub mod gateway;
pub mod users;
