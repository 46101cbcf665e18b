//! The way out of a `static` in the body: declare it outside, and both entries share it.
use std::sync::atomic::{AtomicU32, Ordering};

use smartasync::smartasync;

static NEXT: AtomicU32 = AtomicU32::new(0);

#[smartasync]
fn next_id() -> u32 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[derive(Clone)]
struct Ids;

impl Ids {
    /// With `self`, the generated entry calls the written one: a `static` inside is shared.
    #[smartasync]
    fn next(&self) -> u32 {
        static COUNT: AtomicU32 = AtomicU32::new(100);
        COUNT.fetch_add(1, Ordering::Relaxed)
    }
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(next_id(), 0);
    assert_eq!(runtime.block_on(next_id_async()), 1);
    assert_eq!(Ids.next(), 100);
    assert_eq!(runtime.block_on(Ids.next_async()), 101);
}
