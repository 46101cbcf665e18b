//! Streaming methods of `#[smartasync]` traits, used as `Arc<dyn Trait>` from sync and async
//! code: implementations written as a blocking `fn` returning `impl Iterator`, an `async fn`
//! returning `impl Stream`, and a `fn` returning `impl Stream`, side by side; the `Result`
//! form with its `Err`; and `?Send` traits, whose async entries return `LocalBoxStream`.

use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::{self, ThreadId};
use std::time::Duration;

use smartasync::{smartasync, BoxIterator, BoxStream, LocalBoxStream, Stream};

mod support;

use support::*;

/// All the items of a boxed stream.
async fn collect<S: Stream + Unpin>(mut stream: S) -> Vec<S::Item> {
    let mut items = Vec::new();
    while let Some(item) = poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)).await {
        items.push(item);
    }
    items
}

/// An item: its value, and the thread that made it (id and name).
type Entry = (String, ThreadId, Option<String>);

fn entry(value: String) -> Entry {
    let current = thread::current();
    (value, current.id(), current.name().map(String::from))
}

#[smartasync]
trait Catalog: Send + Sync {
    /// `n` entries.
    fn list(&self, n: u32) -> impl Iterator<Item = Entry>;
    /// The entries under `prefix`; `Err` for an empty one.
    fn open(&self, prefix: &str) -> Result<impl Iterator<Item = Entry>, String>;
}

/// A blocking implementation: iterators made and pulled where they are called (the blocking
/// entry) or on a blocking-pool thread (the async entry).
#[derive(Clone)]
struct Disk;

#[smartasync]
impl Catalog for Disk {
    fn list(&self, n: u32) -> impl Iterator<Item = Entry> {
        (0..n).map(|i| entry(format!("disk{i}")))
    }

    fn open(&self, prefix: &str) -> Result<impl Iterator<Item = Entry>, String> {
        if prefix.is_empty() {
            return Err("disk: empty prefix".to_owned());
        }
        let prefix = prefix.to_owned();
        Ok((0..2).map(move |i| entry(format!("{prefix}{i}"))))
    }
}

/// An async implementation: streams whose items wait on Tokio timers.
struct Remote;

#[smartasync]
impl Catalog for Remote {
    async fn list(&self, n: u32) -> impl Stream<Item = Entry> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        futures::stream::unfold(0, move |i| async move {
            if i == n {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            Some((entry(format!("remote{i}")), i + 1))
        })
    }

    async fn open(&self, prefix: &str) -> Result<impl Stream<Item = Entry>, String> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        if prefix.is_empty() {
            return Err("remote: empty prefix".to_owned());
        }
        let prefix = prefix.to_owned();
        Ok(futures::stream::iter(0..2).then(move |i| {
            let value = format!("{prefix}{i}");
            async move {
                tokio::task::yield_now().await;
                entry(value)
            }
        }))
    }
}

/// An implementation written as `fn` returning streams (made at once, polled later).
struct Feed;

#[smartasync]
impl Catalog for Feed {
    fn list(&self, n: u32) -> impl Stream<Item = Entry> + Send + 'static {
        futures::stream::unfold(0, move |i| async move {
            if i == n {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            Some((entry(format!("feed{i}")), i + 1))
        })
    }

    fn open(&self, prefix: &str) -> Result<impl Stream<Item = Entry> + Send + 'static, String> {
        if prefix.is_empty() {
            return Err("feed: empty prefix".to_owned());
        }
        let values: Vec<String> = (0..2).map(|i| format!("{prefix}{i}")).collect();
        Ok(futures::stream::iter(values).then(|value| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            entry(value)
        }))
    }
}

use futures::StreamExt as _;

fn catalogs() -> Vec<(&'static str, Arc<dyn Catalog>)> {
    vec![
        ("disk", Arc::new(Disk)),
        ("remote", Arc::new(Remote)),
        ("feed", Arc::new(Feed)),
    ]
}

fn values(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|(value, ..)| value.as_str()).collect()
}

fn expected(name: &str, n: u32) -> Vec<String> {
    (0..n).map(|i| format!("{name}{i}")).collect()
}

/// Sync code on `caller`: every implementation's items are made on this thread (a blocking
/// body called directly, or a stream polled here).
fn check_from_sync_code() {
    let caller = thread::current().id();
    for (name, catalog) in catalogs() {
        let listed: BoxIterator<'_, Entry> = catalog.list(5);
        let listed: Vec<Entry> = listed.collect();
        assert_eq!(values(&listed), expected(name, 5), "{name}");
        assert!(
            listed.iter().all(|(_, made, _)| *made == caller),
            "{name}: made here"
        );
        let opened: Vec<Entry> = catalog.open("p").expect("a prefix").collect();
        assert_eq!(values(&opened), ["p0", "p1"], "{name}");
        let refused = catalog.open("").err();
        assert_eq!(refused, Some(format!("{name}: empty prefix")), "{name}");
    }
}

#[test]
fn dyn_trait_streams_from_a_plain_thread() {
    within("dyn Catalog from a plain thread", check_from_sync_code);
}

#[test]
fn dyn_trait_streams_from_sync_code_inside_runtimes() {
    within("dyn Catalog from sync code inside runtimes", || {
        let ct = current_thread("trait-ct");
        ct.block_on(async { check_from_sync_code() });
        let mt = multi_thread("trait-mt", 2);
        mt.block_on(mt.spawn(async { check_from_sync_code() }))
            .expect("the task completes");
        mt.block_on(mt.spawn_blocking(check_from_sync_code))
            .expect("the blocking task completes");
    });
}

/// Async code on a runtime whose threads are named `pool`: the blocking implementation runs
/// on its blocking pool, the others are polled by the awaiting task.
async fn check_from_async_code(pool: &str) {
    let caller = thread::current().id();
    for (name, catalog) in catalogs() {
        let listed: BoxStream<'_, Entry> = catalog.list_async(5);
        let listed = collect(listed).await;
        assert_eq!(values(&listed), expected(name, 5), "{name}");
        let opened = collect(catalog.open_async("q").await.expect("a prefix")).await;
        assert_eq!(values(&opened), ["q0", "q1"], "{name}");
        let refused = catalog.open_async("").await.err();
        assert_eq!(refused, Some(format!("{name}: empty prefix")), "{name}");
        if name == "disk" {
            // The blocking implementation ran on one thread of the runtime's pool.
            for entries in [&listed, &opened] {
                let (_, made, thread_name) = &entries[0];
                assert_ne!(*made, caller, "disk: offloaded");
                assert_eq!(thread_name.as_deref(), Some(pool), "disk: that pool");
                assert!(entries.iter().all(|(_, thread, _)| thread == made));
            }
        } else {
            // The async implementations are polled by the awaiting task: on the one thread
            // of a current-thread runtime, on some worker of a multi-thread one (a task may
            // move between workers at each `.await`).
            let current_thread = tokio::runtime::Handle::current().runtime_flavor()
                == tokio::runtime::RuntimeFlavor::CurrentThread;
            for (_, made, thread_name) in listed.iter().chain(&opened) {
                if current_thread {
                    assert_eq!(*made, caller, "{name}: polled by the task");
                } else {
                    assert_eq!(thread_name.as_deref(), Some(pool), "{name}: a worker");
                }
            }
        }
    }
}

#[test]
fn dyn_trait_streams_from_async_code_on_both_flavors() {
    within("dyn Catalog from async code", || {
        let mt = multi_thread("trait-async-mt", 2);
        mt.block_on(mt.spawn(check_from_async_code("trait-async-mt")))
            .expect("the task completes");
        let ct = current_thread("trait-async-ct");
        ct.block_on(check_from_async_code("trait-async-ct"));
        // Under a foreign executor with no runtime, the blocking implementation runs on
        // the process-wide pool (the async ones need a runtime for their timers, as any
        // Tokio code does).
        let catalog: Arc<dyn Catalog> = Arc::new(Disk);
        let listed = futures::executor::block_on(collect(catalog.list_async(3)));
        assert_eq!(values(&listed), ["disk0", "disk1", "disk2"]);
        assert_eq!(listed[0].2.as_deref(), Some("smartasync-runtime"));
    });
}

// ---------------------------------------------------------------------------------------
// `?Send` traits.
// ---------------------------------------------------------------------------------------

#[smartasync(?Send)]
trait LocalCatalog {
    fn list(&self, n: u32) -> impl Iterator<Item = u32>;
    fn open(&self, from: u32) -> Result<impl Iterator<Item = u32>, String>;
}

#[derive(Clone)]
struct LocalDisk;

#[smartasync(?Send)]
impl LocalCatalog for LocalDisk {
    fn list(&self, n: u32) -> impl Iterator<Item = u32> {
        0..n
    }

    fn open(&self, from: u32) -> Result<impl Iterator<Item = u32>, String> {
        if from > 10 {
            return Err("local disk: too far".to_owned());
        }
        Ok(from..from + 2)
    }
}

/// Holds an `Rc` across `.await`: its futures and streams are not `Send`.
struct LocalRemote {
    base: Rc<u32>,
}

#[smartasync(?Send)]
impl LocalCatalog for LocalRemote {
    async fn list(&self, n: u32) -> impl Stream<Item = u32> {
        let base = Rc::clone(&self.base);
        tokio::time::sleep(Duration::from_millis(1)).await;
        futures::stream::iter(0..n).then(move |i| {
            let base = Rc::clone(&base);
            async move {
                tokio::task::yield_now().await;
                *base + i
            }
        })
    }

    async fn open(&self, from: u32) -> Result<impl Stream<Item = u32>, String> {
        let base = Rc::clone(&self.base);
        tokio::task::yield_now().await;
        if from > 10 {
            return Err("local remote: too far".to_owned());
        }
        Ok(futures::stream::iter([*base + from, *base + from + 1]))
    }
}

fn local_catalogs() -> Vec<Rc<dyn LocalCatalog>> {
    vec![
        Rc::new(LocalDisk),
        Rc::new(LocalRemote { base: Rc::new(0) }),
    ]
}

#[test]
fn not_send_trait_streams_from_sync_code() {
    within("dyn LocalCatalog from sync code", || {
        for catalog in local_catalogs() {
            assert_eq!(catalog.list(3).collect::<Vec<_>>(), [0, 1, 2]);
            assert_eq!(catalog.open(4).expect("Ok").collect::<Vec<_>>(), [4, 5]);
            assert!(catalog.open(11).is_err());
        }
        let ct = current_thread("local-sync-ct");
        ct.block_on(async {
            for catalog in local_catalogs() {
                assert_eq!(catalog.list(3).collect::<Vec<_>>(), [0, 1, 2]);
            }
        });
    });
}

#[test]
fn not_send_trait_streams_from_async_code() {
    within("dyn LocalCatalog from async code", || {
        let ct = current_thread("local-async-ct");
        ct.block_on(async {
            for catalog in local_catalogs() {
                let listed: LocalBoxStream<'_, u32> = catalog.list_async(3);
                assert_eq!(collect(listed).await, [0, 1, 2]);
                let opened = catalog.open_async(4).await.expect("Ok");
                assert_eq!(collect(opened).await, [4, 5]);
                let refused = catalog.open_async(11).await.err().expect("Err");
                assert!(refused.ends_with("too far"), "{refused}");
            }
        });
        // On a multi-thread runtime, polled where it is (no task needs to be `Send`).
        let mt = multi_thread("local-async-mt", 2);
        mt.block_on(async {
            for catalog in local_catalogs() {
                assert_eq!(collect(catalog.list_async(2)).await, [0, 1]);
            }
        });
    });
}

// ---------------------------------------------------------------------------------------
// A trait implementation written as `fn` returning a stream that makes a Tokio timer.
// ---------------------------------------------------------------------------------------

#[smartasync]
trait Ticker: Send + Sync {
    fn ticks(&self, n: u32) -> impl Iterator<Item = u32>;
    fn try_ticks(&self, n: u32) -> Result<impl Iterator<Item = u32>, String>;
}

/// Makes a Tokio timer when called, as `IntervalStream::new(interval(..))` does.
struct Clock;

fn interval_ticks(n: u32) -> impl Stream<Item = u32> + Send + 'static {
    let interval = tokio::time::interval(Duration::from_millis(1));
    futures::stream::unfold((interval, 0), move |(mut interval, i)| async move {
        if i == n {
            return None;
        }
        interval.tick().await;
        Some((i, (interval, i + 1)))
    })
}

#[smartasync]
impl Ticker for Clock {
    fn ticks(&self, n: u32) -> impl Stream<Item = u32> + Send + 'static {
        interval_ticks(n)
    }

    fn try_ticks(&self, n: u32) -> Result<impl Stream<Item = u32> + Send + 'static, String> {
        Ok(interval_ticks(n))
    }
}

/// Bug (as `fn_body_making_a_tokio_timer_for_its_stream_works_through_its_blocking_entry`
/// in `streams_dispatch.rs`): the blocking entry of a trait impl's `fn` body returning
/// `impl Stream` runs the body before any runtime is entered: "there is no reactor running".
#[test]
fn dyn_trait_fn_body_making_a_tokio_timer_works_from_sync_code() {
    within("dyn Ticker from sync code", || {
        let clock: Arc<dyn Ticker> = Arc::new(Clock);
        assert_eq!(clock.ticks(3).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(
            clock.try_ticks(3).expect("Ok").collect::<Vec<_>>(),
            [0, 1, 2]
        );
        let ct = current_thread("trait-ticker-ct");
        let items: Vec<u32> = ct.block_on(async { clock.ticks(3).collect() });
        assert_eq!(items, [0, 1, 2]);
    });
}

#[test]
fn dyn_trait_fn_body_making_a_tokio_timer_works_from_async_code() {
    within("dyn Ticker from async code", || {
        let clock: Arc<dyn Ticker> = Arc::new(Clock);
        let rt = current_thread("trait-ticker-async");
        let items = rt.block_on(async {
            let ticks = collect(clock.ticks_async(3)).await;
            let tried = collect(clock.try_ticks_async(3).await.expect("Ok")).await;
            (ticks, tried)
        });
        assert_eq!(items, (vec![0, 1, 2], vec![0, 1, 2]));
    });
}
