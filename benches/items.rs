//! What the overhead benches measure, shared by `overhead.rs` (Criterion) and
//! `bench_report.rs` (the one-table report): each `#[smartasync]` item next to the same body
//! written plainly. A module of each binary (not the benches' library), so that both
//! compile it exactly as their own code.

use std::sync::Arc;
use std::time::Duration;

use smartasync::{Lane, smartasync};
use smartasync_benches::{KEY, checksum};

/// An `async fn` body whose future is ready at the first poll.
#[smartasync]
pub(crate) async fn ready(seed: u64) -> u64 {
    checksum(KEY, seed)
}

pub(crate) async fn ready_plain(seed: u64) -> u64 {
    checksum(KEY, seed)
}

/// An `async fn` body that needs Tokio's timer: a 0-duration sleep. (Only its blocking
/// entry is measured.)
#[smartasync]
#[allow(dead_code)]
pub(crate) async fn tick(seed: u64) -> u64 {
    tokio::time::sleep(Duration::ZERO).await;
    seed
}

pub(crate) async fn tick_plain(seed: u64) -> u64 {
    tokio::time::sleep(Duration::ZERO).await;
    seed
}

/// A service handle (state behind `Arc`) with a blocking method taking `&self` and `&str`.
#[derive(Clone)]
pub(crate) struct Catalog {
    seed: Arc<u64>,
}

impl Catalog {
    #[smartasync]
    pub(crate) fn find(&self, key: &str) -> u64 {
        checksum(key, *self.seed)
    }

    pub(crate) fn find_plain(&self, key: &str) -> u64 {
        checksum(key, *self.seed)
    }

    /// The same body on a one-thread lane.
    #[smartasync(lane = CATALOG_LANE)]
    pub(crate) fn find_on_lane(&self, key: &str) -> u64 {
        checksum(key, *self.seed)
    }
}

pub(crate) static CATALOG_LANE: Lane = Lane::new("bench-lane");

pub(crate) fn catalog() -> Catalog {
    Catalog { seed: Arc::new(7) }
}
