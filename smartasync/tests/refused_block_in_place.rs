//! Where Tokio refuses `block_in_place` (inside a `LocalSet`; on a current-thread runtime's
//! thread that entered a multi-thread runtime's handle), the blocking entry and `in_place`
//! still work, and the refusal never reaches the application's panic hook. Its own binary:
//! the panic hook is process-wide.

use std::panic;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use smartasync::smartasync;
use tokio::task::LocalSet;

mod support;

use support::*;

/// An `async fn` body that needs the runtime's timer.
#[smartasync]
async fn fetch(path: &str) -> String {
    tokio::time::sleep(Duration::from_millis(1)).await;
    tokio::task::yield_now().await;
    format!("GET {path}")
}

#[smartasync]
async fn explode() -> u32 {
    tokio::task::yield_now().await;
    panic!("the body's own panic")
}

#[test]
fn refusals_are_handled_quietly_and_real_panics_still_reported() {
    let reported = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&reported);
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        counter.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));

    let (in_local_set, in_place_local, entered, in_place_entered) = within("refusals", || {
        // `#[tokio::main]` with a `LocalSet` for `!Send` futures.
        let rt = multi_thread("localset-mt", 2);
        let local = LocalSet::new();
        let in_local_set = local.block_on(&rt, async { fetch("/local") });
        let in_place_local = local.block_on(&rt, async {
            tokio::task::spawn_local(async { smartasync::in_place(|| 7) })
                .await
                .expect("the local task ends")
        });

        // A current-thread runtime whose thread entered a multi-thread runtime's handle.
        let background = multi_thread("background-mt", 1);
        let ct = current_thread("entered-ct");
        let (entered, in_place_entered) = ct.block_on(async {
            let _entered = background.handle().enter();
            (fetch("/entered"), smartasync::in_place(|| 8))
        });
        (in_local_set, in_place_local, entered, in_place_entered)
    });
    assert_eq!(in_local_set, "GET /local");
    assert_eq!(in_place_local, 7);
    assert_eq!(entered, "GET /entered");
    assert_eq!(in_place_entered, 8);
    assert_eq!(
        reported.load(Ordering::SeqCst),
        0,
        "no refusal reached the hook"
    );

    // A panic of the body in the same place is the user's: reported, and resumed with its
    // payload.
    let payload = within("a body's panic in a LocalSet", || {
        let rt = multi_thread("localset-panic", 2);
        let local = LocalSet::new();
        panic::catch_unwind(panic::AssertUnwindSafe(|| {
            local.block_on(&rt, async { explode() })
        }))
        .expect_err("the body panics")
    });
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"the body's own panic")
    );
    assert_eq!(
        reported.load(Ordering::SeqCst),
        1,
        "the body's panic was reported"
    );

    // And a worker, where Tokio allows it, still blocks in place.
    let rt = multi_thread("allowed-mt", 1);
    let on_worker = rt.block_on(async {
        tokio::spawn(async { fetch("/worker") })
            .await
            .expect("the task ends")
    });
    assert_eq!(on_worker, "GET /worker");
    assert_eq!(reported.load(Ordering::SeqCst), 1);
}
