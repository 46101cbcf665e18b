//! Compile-time behaviour of `#[smartasync]`: every rejected shape fails with its own
//! message at the user's token (snapshots in `tests/ui/*.stderr`, reviewed by a person),
//! and the shapes in `tests/ui/pass/` compile.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
