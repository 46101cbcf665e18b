//! The soak run: every entry of both body forms, from every context of the dispatch
//! matrix, for a while; every call accounted for.
//!
//! ```text
//! cargo run --release --example soak -- --seconds 20
//! ```
//!
//! What runs and what is checked: the crate documentation of `smartasync_example_soak`
//! (`examples/soak/src/lib.rs`). The last line printed is
//!
//! ```text
//! soak: calls=<n> panics_caught=<n> errors_returned=<n> lost=<n> threads_peak=<n> rss_growth_kib=<n>
//! ```
//!
//! and the exit status is 1 when a call was lost or answered wrongly, a driver hung, the
//! threads at peak exceeded their bound or resident memory grew by more than 32 MiB after
//! the warm-up; each failure is printed on its own line before the last one.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// Call every entry of both body forms from every context, and account for every call.
#[derive(Debug, Parser)]
struct Args {
    /// How long to run, in seconds (1 to 3600).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    println!("soak: running for {} s ...", args.seconds);
    let report = smartasync_example_soak::run(Duration::from_secs(args.seconds));
    println!("{}", report.details());
    let failures = report.failures();
    for failure in &failures {
        println!("soak: FAILED: {failure}");
    }
    println!("{}", report.summary());
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
