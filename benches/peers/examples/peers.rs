//! smartasync next to what a user would pick instead, side by side (BENCHMARKS.md, "Peers").
//!
//! ```text
//! cargo run --release --example peers                         # ~80 s: 1, 16, 64 clients, one round
//! cargo run --release --example peers -- --rounds 5 --seconds 3   # the figures of BENCHMARKS.md
//! cargo run --release --example peers -- --only sqlite --clients 16
//! ```
//!
//! Prints a line per run, then a Markdown table per scenario, writes the pictures to
//! `benches/peers/figures/` (`--plots DIR`, `--no-plots`), and ends with
//!
//! ```text
//! peers: sqlite_ratio=<x> sqlite_best=<peer> http_ratio=<x> ureq_ratio=<x>
//! ```
//!
//! (see `smartasync_peers::Report::last_line`). The exit status is 1 if a request failed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use smartasync_example_users::Durability;
use smartasync_peers::{Options, run};

/// Measure smartasync against the crates users pick instead.
#[derive(Debug, Parser)]
struct Args {
    /// Seconds measured per run (0.1 to 30), after the warm-up.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Warm-up per run, in milliseconds (0 to 5000).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(0..=5000))]
    warmup_ms: u64,
    /// Runs of each contender at each concurrency; the tables give medians and ranges.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=20))]
    rounds: u64,
    /// Concurrent clients (and calling threads), comma-separated, each 1 to 256.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 16, 64])]
    clients: Vec<usize>,
    /// Run one scenario only.
    #[arg(long, value_enum)]
    only: Option<Scenario>,
    /// Where to write the SVG pictures [default: benches/peers/figures].
    #[arg(long)]
    plots: Option<PathBuf>,
    /// Draw no pictures.
    #[arg(long, conflicts_with = "plots")]
    no_plots: bool,
    /// Where the throw-away database files go [default: the temp dir]. A tmpfs such as
    /// `/dev/shm` takes the disk's fsync out of the SQLite figures.
    #[arg(long)]
    db_dir: Option<PathBuf>,
    /// Only these contenders, comma-separated, by the names of the tables (such as
    /// `smartasync-lane,tokio-rusqlite`) [default: all].
    #[arg(long, value_delimiter = ',')]
    contenders: Vec<String>,
    /// SQLite's `synchronous` for every store: `normal` (SQLite's recommendation in WAL
    /// mode: the WAL is synced at checkpoints) or `full` (every commit waits for an fsync).
    #[arg(long, value_enum, default_value_t = Durability::Normal)]
    synchronous: Durability,
    /// A few seconds in all (CI): short runs at 1 and 8 clients, no pictures.
    #[arg(long)]
    smoke: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Scenario {
    Sqlite,
    Http,
}

fn options(args: &Args) -> Result<Options, String> {
    if !(0.1..=30.0).contains(&args.seconds) {
        return Err(format!("--seconds must be 0.1 to 30, got {}", args.seconds));
    }
    if let Some(bad) = args.clients.iter().find(|&&n| n == 0 || n > 256) {
        return Err(format!("--clients must each be 1 to 256, got {bad}"));
    }
    let mut options = if args.smoke {
        Options::smoke()
    } else {
        Options {
            clients: args.clients.clone(),
            measure: Duration::from_secs_f64(args.seconds),
            warmup: Duration::from_millis(args.warmup_ms),
            rounds: args.rounds as usize,
            ..Options::standard()
        }
    };
    options.sqlite = args.only != Some(Scenario::Http);
    options.http = args.only != Some(Scenario::Sqlite);
    options.durability = args.synchronous;
    options.contenders = args.contenders.clone();
    options.check_contenders()?;
    if let Some(dir) = &args.db_dir {
        options.scratch = dir.clone();
    }
    if args.no_plots {
        options.plots = None;
    } else if let Some(dir) = &args.plots {
        options.plots = Some(dir.clone());
    }
    Ok(options)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let options = match options(&args) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout();
    match run(&options, &mut out) {
        Ok(report) => {
            println!("{}", report.last_line());
            if report.errors() == 0 {
                ExitCode::SUCCESS
            } else {
                eprintln!("{} requests failed", report.errors());
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
