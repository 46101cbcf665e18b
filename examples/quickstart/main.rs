//! Quickstart: write a method once, as `fn` or `async fn`, call it from sync and async code.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! `#[smartasync]` always gives a pair: `name(..)` for sync code and `name_async(..)` for
//! async code, whichever way the body is written. Each line printed is one call: the entry
//! used, what it returned, and the thread the body ran on.

use std::io::{self, Write};
use std::thread;
use std::time::{Duration, Instant};

use smartasync::smartasync;

/// A service handle. `_async` entries of `fn` bodies clone it, so keep it cheap to clone.
#[derive(Clone)]
struct Service;

impl Service {
    /// Blocking code (think rusqlite, a C SDK, heavy parsing): written as a plain `fn`.
    #[smartasync]
    fn checksum(&self, data: &[u8]) -> (u32, String) {
        thread::sleep(Duration::from_millis(20));
        (data.iter().map(|&b| u32::from(b)).sum(), thread_name())
    }

    /// Async code (think reqwest, tokio-postgres): written as an `async fn`.
    #[smartasync]
    async fn lookup(&self, key: &str) -> (String, String) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        (key.to_uppercase(), thread_name())
    }
}

/// Makes one call and prints it: the entry used, the result, the thread the body ran on.
macro_rules! show {
    ($out:expr, $call:expr, $note:literal) => {{
        let (result, ran_on) = $call;
        let (result, ran_on) = (format!("{result:?}"), format!("{ran_on:?}"));
        let call = stringify!($call);
        let line = format!("{call:<32} -> {result:<5}  body ran on {ran_on:<14}");
        writeln!($out, "   {line}  {}", $note)
    }};
}

fn main() -> io::Result<()> {
    run(&mut io::stdout())
}

/// The walk-through, one line per call written to `out`.
pub fn run(out: &mut impl Write) -> io::Result<()> {
    let started = Instant::now();
    let svc = Service;
    let data = [1, 2, 3];
    let here = format!("{:?}", thread_name());

    writeln!(out, "1. plain sync code on {here}, no runtime")?;
    show!(out, svc.checksum(&data), "fn body, called directly")?;
    show!(out, svc.lookup("key"), "async fn body, polled here")?;

    // What `#[tokio::test]` gives: one thread (this one) and a blocking pool.
    let rt = tokio::runtime::Builder::new_current_thread()
        .thread_name("app-blocking")
        .enable_all()
        .build()?;
    writeln!(out, "2. async code, current-thread runtime on {here}")?;
    rt.block_on(async {
        show!(
            out,
            svc.checksum_async(&data).await,
            "fn body, blocking pool"
        )?;
        show!(
            out,
            svc.lookup_async("key").await,
            "async fn body, as written"
        )?;
        show!(out, svc.lookup("key"), "sync call in async: no panic")
    })?;

    // What `#[tokio::main]` gives: worker threads.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("app-worker")
        .enable_all()
        .build()?;
    writeln!(out, "3. a task on a multi-thread runtime calls sync code")?;
    let task = rt.spawn(async move {
        let mut line = Vec::new();
        show!(line, svc.lookup("key"), "block_in_place, no panic").map(|()| line)
    });
    out.write_all(&rt.block_on(task).map_err(io::Error::other)??)?;

    writeln!(out, "done in {} ms", started.elapsed().as_millis())
}

fn thread_name() -> String {
    let thread = thread::current();
    thread
        .name()
        .map_or_else(|| format!("{:?}", thread.id()), str::to_owned)
}
