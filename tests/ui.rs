//! Compile-time behaviour of `#[smartasync]`: every rejected shape fails with its own
//! message at the user's token (snapshots in `ui/*.stderr`, reviewed by a person),
//! and the shapes in `ui/pass/` compile.
//!
//! rustc's wording and notes change between releases, so the snapshots hold for the
//! release they were reviewed on: on any other the test is reported as ignored, with the
//! reason. To move to a new release, run it with `TRYBUILD=overwrite`, read the diff, and
//! change the version below.

#[rustversion::attr(
    not(stable(1.95)),
    ignore = "the UI snapshots were reviewed on rustc 1.95; refresh them for this release"
)]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
    cases.pass("ui/pass/*.rs");
}
