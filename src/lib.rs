//! Services shared by the examples, the integration tests and the benches.
