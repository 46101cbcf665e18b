//! smartasync next to what a user would pick instead, on the same workloads
//! (the figures and their reading are in BENCHMARKS.md, "Peers").
//!
//! Two scenarios, each run at every concurrency of [`Options::clients`] for every
//! contender, the contenders of one concurrency one after the other in an order rotated
//! each round (so that a machine busy with something else slows them alike), each run on
//! fresh state:
//!
//! - [`sqlite`]: an Axum users API over SQLite, served by smartasync's pooled and
//!   lane-backed stores, deadpool-sqlite, tokio-rusqlite, sqlx, and rusqlite called straight
//!   in the handler, under the same client load ([`load`]).
//! - [`http`]: plain threads calling an in-process HTTP upstream through smartasync +
//!   reqwest, reqwest's blocking client and ureq.
//!
//! [`run`] prints a table per scenario (Markdown), draws the pictures ([`plot`]) and
//! returns a [`Report`], whose [`Report::last_line`] is the machine-readable summary.

pub mod http;
pub mod load;
pub mod plot;
pub mod sqlite;
pub mod stats;

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use smartasync_example_users::sql::Durability;
use stats::{Paired, Run, Summary};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Concurrent clients (SQLite) and calling threads (HTTP) to measure at.
    pub clients: Vec<usize>,
    /// Measured part of each run.
    pub measure: Duration,
    /// Part of each run before measuring starts (connections opened, caches warm).
    pub warmup: Duration,
    /// Runs of each contender at each concurrency.
    pub rounds: usize,
    /// Run the SQLite scenario.
    pub sqlite: bool,
    /// Run the HTTP scenario.
    pub http: bool,
    /// Where to write the pictures, if anywhere.
    pub plots: Option<PathBuf>,
    /// Where the throw-away database files go.
    pub scratch: PathBuf,
    /// SQLite's `synchronous`, the same for every store.
    pub durability: Durability,
    /// Only the contenders of these names (empty: all of them).
    pub contenders: Vec<String>,
}

impl Options {
    /// Whether the contender `name` is to be measured.
    fn wants(&self, name: &str) -> bool {
        self.contenders.is_empty() || self.contenders.iter().any(|wanted| wanted == name)
    }

    /// An error naming the contenders asked for that do not exist.
    ///
    /// # Errors
    ///
    /// When one of [`contenders`](Self::contenders) is not a contender's name.
    pub fn check_contenders(&self) -> Result<(), String> {
        let known: Vec<&str> = sqlite::Store::ALL
            .iter()
            .map(|store| store.name())
            .chain(http::Client::ALL.iter().map(|client| client.name()))
            .collect();
        match self
            .contenders
            .iter()
            .find(|name| !known.contains(&name.as_str()))
        {
            Some(unknown) => Err(format!(
                "no contender named `{unknown}`; the contenders are {}",
                known.join(", ")
            )),
            None => Ok(()),
        }
    }

    /// The default run: 1, 16 and 64 clients, 2 s measured after 0.5 s, one round.
    pub fn standard() -> Self {
        Self {
            clients: vec![1, 16, 64],
            measure: Duration::from_secs(2),
            warmup: Duration::from_millis(500),
            rounds: 1,
            sqlite: true,
            http: true,
            plots: Some(default_plots_dir()),
            scratch: std::env::temp_dir(),
            durability: Durability::default(),
            contenders: Vec::new(),
        }
    }

    /// A few seconds in all, for CI: every contender served, nothing drawn.
    pub fn smoke() -> Self {
        Self {
            clients: vec![1, 8],
            measure: Duration::from_millis(150),
            warmup: Duration::from_millis(50),
            rounds: 1,
            plots: None,
            ..Self::standard()
        }
    }
}

/// The runtime a server of either scenario runs on, its threads named `name`: 2 workers
/// of its own, so that no contender shares threads with the server.
pub(crate) fn server_runtime(name: &str) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|e| format!("{name} runtime: {e}"))
}

/// `benches/peers/figures`, where the checked-in pictures live.
pub fn default_plots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("figures")
}

/// One contender at one concurrency, summed up over the rounds.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The contender's name.
    pub name: &'static str,
    /// Clients or threads.
    pub clients: usize,
    /// Its figures.
    pub summary: Summary,
}

/// Everything measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The SQLite scenario, by concurrency then in table order.
    pub sqlite: Vec<Entry>,
    /// The HTTP scenario, likewise.
    pub http: Vec<Entry>,
}

fn find<'a>(entries: &'a [Entry], name: &str, clients: usize) -> Option<&'a Entry> {
    entries
        .iter()
        .find(|entry| entry.name == name && entry.clients == clients)
}

/// The concurrency the last line compares at: 16 if measured, else the highest below it,
/// else the lowest.
fn ratio_clients(entries: &[Entry]) -> Option<usize> {
    let measured = || entries.iter().map(|entry| entry.clients);
    measured()
        .filter(|&clients| clients <= 16)
        .max()
        .or_else(|| measured().min())
}

impl Report {
    /// The best (highest req/s) of the SQLite stores that `pick` selects, at `clients`.
    pub fn best_sqlite(&self, clients: usize, pick: fn(sqlite::Store) -> bool) -> Option<&Entry> {
        sqlite::Store::ALL
            .into_iter()
            .filter(|&store| pick(store))
            .filter_map(|store| find(&self.sqlite, store.name(), clients))
            .max_by(|a, b| a.summary.median.rps.total_cmp(&b.summary.median.rps))
    }

    /// req/s of `a` over req/s of `b` in the HTTP scenario, at `clients`.
    pub fn http_ratio(&self, a: http::Client, b: http::Client, clients: usize) -> Option<f64> {
        let rps = |client: http::Client| {
            find(&self.http, client.name(), clients).map(|entry| entry.summary.median.rps)
        };
        Some(rps(a)? / rps(b)?)
    }

    /// `peers: sqlite_ratio=.. sqlite_best=.. http_ratio=.. ureq_ratio=..`: smartasync's best
    /// store over the best peer (named), smartasync + reqwest over reqwest's blocking
    /// client and over ureq, all in req/s at 16 clients (or the nearest concurrency
    /// measured below it); `nan` and `none` for what was not run.
    pub fn last_line(&self) -> String {
        let (sqlite_ratio, sqlite_best) = ratio_clients(&self.sqlite)
            .and_then(|clients| {
                let ours = self.best_sqlite(clients, sqlite::Store::is_smartasync)?;
                let peer = self.best_sqlite(clients, sqlite::Store::is_peer)?;
                Some((ours.summary.median.rps / peer.summary.median.rps, peer.name))
            })
            .unwrap_or((f64::NAN, "none"));
        let (http_ratio, ureq_ratio) = ratio_clients(&self.http)
            .map(|clients| {
                use http::Client::{ReqwestBlocking, Smartasync, Ureq};
                (
                    self.http_ratio(Smartasync, ReqwestBlocking, clients)
                        .unwrap_or(f64::NAN),
                    self.http_ratio(Smartasync, Ureq, clients)
                        .unwrap_or(f64::NAN),
                )
            })
            .unwrap_or((f64::NAN, f64::NAN));
        format!(
            "peers: sqlite_ratio={sqlite_ratio:.2} sqlite_best={sqlite_best} \
             http_ratio={http_ratio:.2} ureq_ratio={ureq_ratio:.2}"
        )
    }

    /// Errors over every run of both scenarios.
    pub fn errors(&self) -> usize {
        self.sqlite
            .iter()
            .chain(&self.http)
            .map(|entry| entry.summary.median.errors)
            .sum()
    }
}

/// Runs `contenders` at every concurrency, `rounds` times, the order rotated each round;
/// `one(contender, clients, out)` is one run. Prints a line per run to `out`.
fn measure_all<C: Copy, W: Write>(
    options: &Options,
    contenders: &[C],
    name: fn(C) -> &'static str,
    out: &mut W,
    mut one: impl FnMut(C, usize, &mut W) -> Result<Run, String>,
) -> Result<Vec<Entry>, String> {
    let mut runs: Vec<(usize, usize, Run)> = Vec::new();
    for round in 0..options.rounds {
        for &clients in &options.clients {
            for offset in 0..contenders.len() {
                let index = (offset + round) % contenders.len();
                let run = one(contenders[index], clients, out)?;
                let _ = writeln!(
                    out,
                    "  round {} {:>3} clients {:<20} {:>8.0} req/s p50 {:>7.3} ms p99 {:>8.3} ms extra {:>8.3} errors {}",
                    round + 1,
                    clients,
                    name(contenders[index]),
                    run.rps,
                    run.p50_ms,
                    run.p99_ms,
                    run.extra,
                    run.errors
                );
                runs.push((index, clients, run));
            }
        }
    }
    let mut entries = Vec::new();
    for &clients in &options.clients {
        for (index, &contender) in contenders.iter().enumerate() {
            let mine: Vec<Run> = runs
                .iter()
                .filter(|(i, c, _)| *i == index && *c == clients)
                .map(|(_, _, run)| *run)
                .collect();
            if let Some(summary) = Summary::of(&mine) {
                entries.push(Entry {
                    name: name(contender),
                    clients,
                    summary,
                });
            }
        }
    }
    Ok(entries)
}

/// The per-round ratios of `pairs` (`clients`, `name` over `name`) that were both measured,
/// under a heading; nothing if none was.
fn per_round(entries: &[Entry], pairs: &[(usize, &str, &str)]) -> String {
    let mut text = String::new();
    for &(clients, ours, theirs) in pairs {
        let summary = |name| find(entries, name, clients).map(|entry| &entry.summary);
        if let (Some(a), Some(b)) = (summary(ours), summary(theirs))
            && let Some(paired) = Paired::of(a, b)
        {
            let _ = writeln!(text, "  {clients:>3} clients: {ours} / {theirs}: {paired}");
        }
    }
    if text.is_empty() {
        return text;
    }
    format!(
        "req/s over req/s in the same round (the contenders of a round run back to back):\n\
         {text}\n"
    )
}

/// A Markdown table of `entries`; `extra` names the scenario's extra column and how to
/// print it.
fn table(entries: &[Entry], first: &str, extra: &str, extra_fmt: fn(f64) -> String) -> String {
    let mut text = format!(
        "| {first} | clients | req/s (median) | req/s (min-max) | p50 ms | p99 ms | {extra} | errors |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for entry in entries {
        let s = &entry.summary;
        let _ = writeln!(
            text,
            "| {} | {} | {:.0} | {:.0}-{:.0} | {:.2} | {:.2} | {} | {} |",
            entry.name,
            entry.clients,
            s.median.rps,
            s.rps_min,
            s.rps_max,
            s.median.p50_ms,
            s.median.p99_ms,
            extra_fmt(s.median.extra),
            s.median.errors
        );
    }
    text
}

fn lines<'a>(
    entries: &'a [Entry],
    names: &[&'a str],
    ours: fn(&str) -> bool,
    value: fn(&Summary) -> f64,
) -> Vec<plot::Line<'a>> {
    names
        .iter()
        .map(|&name| plot::Line {
            name,
            points: entries
                .iter()
                .filter(|entry| entry.name == name)
                .map(|entry| (entry.clients as f64, value(&entry.summary)))
                .collect(),
            ours: ours(name),
        })
        .collect()
}

/// Runs what `options` asks, printing progress and the tables to `out`, and draws the
/// pictures.
///
/// # Errors
///
/// If a server, a store or a client cannot be started, or a picture cannot be written.
pub fn run(options: &Options, out: &mut impl Write) -> Result<Report, String> {
    let mut report = Report::default();
    let pid = std::process::id();
    if options.sqlite {
        let template = options
            .scratch
            .join(format!("smartasync-peers-template-{pid}.db"));
        sqlite::make_template(&template).map_err(|e| format!("template database: {e}"))?;
        let path = options
            .scratch
            .join(format!("smartasync-peers-run-{pid}.db"));
        let _ = writeln!(
            out,
            "SQLite: {} users preloaded, {}% GET /users/{{id}} and {}% POST /users, \
             {:.1} s measured after {:.1} s per run, {} round(s), pools of {}, {:?} durability",
            sqlite::USERS,
            100 - load::WRITE_PERCENT,
            load::WRITE_PERCENT,
            options.measure.as_secs_f64(),
            options.warmup.as_secs_f64(),
            options.rounds,
            sqlite::POOL_SIZE,
            options.durability
        );
        let mut pragmas_shown = std::collections::HashSet::new();
        let result = measure_all(
            options,
            &sqlite::Store::ALL
                .into_iter()
                .filter(|store| options.wants(store.name()))
                .collect::<Vec<_>>(),
            sqlite::Store::name,
            out,
            |store, clients, out| {
                let server = sqlite::Server::start(store, &template, &path, options.durability)?;
                if pragmas_shown.insert(store) {
                    let _ = writeln!(out, "  {}: {}", store.name(), server.pragmas);
                }
                let run = load::drive(
                    server.addr,
                    clients,
                    sqlite::USERS,
                    options.warmup,
                    options.measure,
                );
                server.stop();
                Ok(run)
            },
        );
        let _ = smartasync_example_users::remove_database(&template);
        report.sqlite = result?;
        let _ = writeln!(
            out,
            "\n{}",
            table(&report.sqlite, "store", "/health p99 ms", |ms| format!(
                "{ms:.2}"
            ))
        );
        let pairs: Vec<(usize, &str, &str)> = options
            .clients
            .iter()
            .filter_map(|&clients| {
                Some((
                    clients,
                    report.best_sqlite(clients, sqlite::Store::is_peer)?,
                ))
            })
            .flat_map(|(clients, peer)| {
                [sqlite::Store::Lane, sqlite::Store::Pool]
                    .map(|ours| (clients, ours.name(), peer.name))
            })
            .collect();
        let _ = write!(out, "{}", per_round(&report.sqlite, &pairs));
    }
    if options.http {
        let _ = writeln!(
            out,
            "HTTP: plain threads, GET /items/{{id}} from an in-process upstream, {:.1} s \
             measured after {:.1} s per run, {} round(s)",
            options.measure.as_secs_f64(),
            options.warmup.as_secs_f64(),
            options.rounds
        );
        report.http = measure_all(
            options,
            &http::Client::ALL
                .into_iter()
                .filter(|client| options.wants(client.name()))
                .collect::<Vec<_>>(),
            http::Client::name,
            out,
            |client, threads, _| http::run(client, threads, options.warmup, options.measure),
        )?;
        let _ = writeln!(
            out,
            "\n{}",
            table(&report.http, "client", "upstream connections", |n| format!(
                "{n:.0}"
            ))
        );
        let pairs: Vec<(usize, &str, &str)> = options
            .clients
            .iter()
            .flat_map(|&clients| {
                [http::Client::ReqwestBlocking, http::Client::Ureq]
                    .map(|peer| (clients, http::Client::Smartasync.name(), peer.name()))
            })
            .collect();
        let _ = write!(out, "{}", per_round(&report.http, &pairs));
    }
    if let Some(dir) = &options.plots {
        draw(&report, options.durability, dir)?;
        let _ = writeln!(out, "pictures written to {}", dir.display());
    }
    Ok(report)
}

fn draw(report: &Report, durability: Durability, dir: &Path) -> Result<(), String> {
    let synchronous = durability.pragma();
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !report.sqlite.is_empty() {
        let names: Vec<&str> = sqlite::Store::ALL.iter().map(|s| s.name()).collect();
        let ours = |name: &str| name.starts_with("smartasync");
        plot::draw(
            &dir.join("sqlite-throughput.svg"),
            &format!("Axum users API over SQLite (synchronous={synchronous}): throughput"),
            "concurrent clients",
            "requests per second",
            false,
            &lines(&report.sqlite, &names, ours, |s| s.median.rps),
        )?;
        plot::draw(
            &dir.join("sqlite-p99.svg"),
            &format!("Axum users API over SQLite (synchronous={synchronous}): p99 latency"),
            "concurrent clients",
            "p99 latency, ms (log)",
            true,
            &lines(&report.sqlite, &names, ours, |s| s.median.p99_ms),
        )?;
    }
    if !report.http.is_empty() {
        let names: Vec<&str> = http::Client::ALL.iter().map(|c| c.name()).collect();
        let ours = |name: &str| name.starts_with("smartasync");
        plot::draw(
            &dir.join("http-throughput.svg"),
            "Sync threads over an HTTP client: throughput",
            "calling threads",
            "requests per second",
            false,
            &lines(&report.http, &names, ours, |s| s.median.rps),
        )?;
        plot::draw(
            &dir.join("http-p99.svg"),
            "Sync threads over an HTTP client: p99 latency",
            "calling threads",
            "p99 latency, ms (log)",
            true,
            &lines(&report.http, &names, ours, |s| s.median.p99_ms),
        )?;
    }
    Ok(())
}
