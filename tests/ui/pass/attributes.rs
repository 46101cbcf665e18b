//! Visibility, docs and attributes reach both entries.
#![deny(missing_docs, unused_must_use, dead_code)]

//! Crate docs.

use smartasync::smartasync;

/// A documented public function.
#[must_use]
#[smartasync]
pub fn public(value: u32) -> u32 {
    value
}

/// Exists only where the cfg holds: both entries disappear together.
#[cfg(any())]
#[smartasync]
pub fn configured_out(value: u32) -> u32 {
    value
}

#[smartasync]
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn crate_visible(value: String) -> usize {
    value.len()
}

/// Deprecated entries warn on both names; allowed here.
#[deprecated = "use public"]
#[smartasync]
pub async fn old(value: u32) -> u32 {
    value
}

#[allow(deprecated)]
fn main() {
    let _ = public(1);
    let _ = public_async(1);
    let _ = crate_visible(String::new());
    let _ = crate_visible_async(String::new());
    let _ = old(1);
    let _ = old_async(1);
}
