//! The soak run, short: a few seconds of every entry from every context, so that CI keeps
//! it working (`cargo run --release --example soak` is the long version).

use std::time::Duration;

#[test]
fn three_seconds_of_soak_lose_no_call() {
    let report = smartasync_example_soak::run(Duration::from_secs(3));
    println!("{}\n{}", report.details(), report.summary());
    assert_eq!(report.failures(), Vec::<String>::new(), "{report:#?}");
    assert_eq!(report.lost, 0);
    // Every kind of outcome happened, so each was checked.
    assert!(report.ok > 0 && report.errors_returned > 0 && report.panics_caught > 0);
    assert_eq!(
        report.calls,
        report.ok + report.errors_returned + report.panics_caught
    );
}
