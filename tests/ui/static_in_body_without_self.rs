// Without `self`, each entry holds its own copy of the body: a `static` in it would exist
// twice, so it is refused.
use std::sync::atomic::{AtomicU32, Ordering};

use smartasync::smartasync;

#[smartasync]
fn next_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[smartasync]
async fn per_thread() -> u32 {
    thread_local! {
        static SEEN: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    SEEN.with(|seen| seen.get())
}

fn main() {
    let _ = next_id();
    let _ = next_id_async();
    let _ = per_thread();
    let _ = per_thread_async();
}
