//! What the benches (`benches/overhead.rs`, `benches/scaling.rs`) and the report
//! (`examples/bench_report.rs`) share: the bodies being called, the hand-written equivalents
//! a user would otherwise write, the thread-handoff floor, a simple interleaved timing loop
//! and the table of targets. Not part of any example's story.
//!
//! The `#[smartasync]` items themselves are defined in each bench and in the report, so the
//! generated code is compiled in the crate that measures it, next to its hand-written twin.

use std::fmt::Write as _;
use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tokio::runtime::{Builder, Runtime};

/// The work of every measured body: a few tens of nanoseconds of hashing, so that two paths
/// that call the same body compare real code, not an empty loop the optimizer removes.
#[inline]
pub fn checksum(key: &str, seed: u64) -> u64 {
    key.bytes()
        .fold(seed ^ 0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// The `&str` argument passed to the `fn` bodies (32 bytes, so its owned copy allocates).
pub const KEY: &str = "users/00042/profile/display-name";

// ----------------------------------------------------------------------------------------
// Hand-written equivalents.

/// The hand-written process-wide runtime: `static OnceLock<Runtime>`, multi-thread, I/O and
/// time enabled, the way smartasync's own is built.
pub fn cached_runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("build the cached runtime")
    })
}

/// The "`asyncio.run()` everywhere" approach: a multi-thread runtime built for this one call
/// and dropped after it.
pub fn per_call_multi_thread<F: Future>(future: F) -> F::Output {
    Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("build a per-call runtime")
        .block_on(future)
}

/// The same with a current-thread runtime (no threads spawned, the cheapest runtime there is).
pub fn per_call_current_thread<F: Future>(future: F) -> F::Output {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a per-call runtime")
        .block_on(future)
}

/// A current-thread runtime for async callers (what `#[tokio::test]` gives).
pub fn current_thread_runtime() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a current-thread runtime")
}

/// A multi-thread runtime for async callers, with one worker per core.
pub fn multi_thread_runtime() -> Runtime {
    Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("build a multi-thread runtime")
}

/// Runs `calls` calls of an async path as a task on `runtime` (a worker thread on a
/// multi-thread runtime, the runtime's own thread on a current-thread one) and returns the
/// time they took, measured inside the task.
pub fn time_in_task<F, Fut>(runtime: &Runtime, calls: u64, mut call: F) -> Duration
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future + Send,
    Fut::Output: Send,
{
    let task = runtime.spawn(async move {
        let start = Instant::now();
        for _ in 0..calls {
            black_box(call().await);
        }
        start.elapsed()
    });
    runtime.block_on(task).expect("the timing task panicked")
}

// ----------------------------------------------------------------------------------------
// The floor.

/// Two threads handing a token back and forth over std channels: one round trip is two
/// park/unpark handoffs, the least any "run this on another thread and wait" can cost.
pub struct PingPong {
    to_peer: Option<SyncSender<u64>>,
    from_peer: Receiver<u64>,
    peer: Option<JoinHandle<()>>,
}

impl PingPong {
    /// Starts the peer thread; it exits when this value is dropped.
    pub fn new() -> Self {
        let (to_peer, peer_inbox) = mpsc::sync_channel::<u64>(1);
        let (peer_outbox, from_peer) = mpsc::sync_channel::<u64>(1);
        let peer = thread::Builder::new()
            .name("ping-pong-peer".into())
            .spawn(move || {
                while let Ok(token) = peer_inbox.recv() {
                    if peer_outbox.send(token + 1).is_err() {
                        break;
                    }
                }
            })
            .expect("spawn the ping-pong peer");
        Self {
            to_peer: Some(to_peer),
            from_peer,
            peer: Some(peer),
        }
    }

    /// One round trip: hand a token to the peer and wait for its answer.
    pub fn round_trip(&self, token: u64) -> u64 {
        self.to_peer
            .as_ref()
            .expect("peer sender lives until drop")
            .send(token)
            .expect("the peer is alive");
        self.from_peer.recv().expect("the peer answers")
    }
}

impl Default for PingPong {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PingPong {
    fn drop(&mut self) {
        drop(self.to_peer.take());
        if let Some(peer) = self.peer.take() {
            let _ = peer.join();
        }
    }
}

/// Context switches so far of every thread of this process (voluntary and involuntary, from
/// `/proc/self/task/*/status`), to count the thread handoffs a path makes. `None` where
/// there is no such file (not Linux).
pub fn context_switches() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let Ok(status) = std::fs::read_to_string(task.ok()?.path().join("status")) else {
            continue; // the thread exited meanwhile
        };
        total += status
            .lines()
            .filter(|line| line.contains("ctxt_switches:"))
            .filter_map(|line| line.split(':').nth(1)?.trim().parse::<u64>().ok())
            .sum::<u64>();
    }
    Some(total)
}

// ----------------------------------------------------------------------------------------
// Candidates: other ways to run a `fn` body off the async threads, measured next to
// `spawn_blocking` to see where its cost goes. Not what smartasync does.

type Job = Box<dyn FnOnce() + Send>;

/// One dedicated, always-warm thread fed through a std channel, answering through a Tokio
/// oneshot. With `spin` > 0, it polls its queue that long before parking, so a call that
/// follows closely finds it awake (at the price of burning a core meanwhile).
pub struct OffloadThread {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl OffloadThread {
    /// Starts the thread; it exits when this value is dropped.
    pub fn new(spin: Duration) -> Self {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let thread = thread::Builder::new()
            .name("offload-candidate".into())
            .spawn(move || {
                loop {
                    let job = match spin_then_receive(&inbox, spin) {
                        Some(job) => job,
                        None => break,
                    };
                    job();
                }
            })
            .expect("spawn the offload thread");
        Self {
            jobs: Some(jobs),
            thread: Some(thread),
        }
    }

    /// A handle that sends jobs to the thread.
    pub fn jobs(&self) -> Jobs {
        Jobs(self.jobs.clone().expect("the thread lives until drop"))
    }
}

/// Sends work to an [`OffloadThread`].
#[derive(Clone)]
pub struct Jobs(mpsc::Sender<Job>);

impl Jobs {
    /// Runs `f` on the thread once the future is first polled (as `unblock` does); the
    /// future resolves to its result.
    pub fn run<F, R>(&self, f: F) -> impl Future<Output = R> + Send + 'static + use<F, R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let jobs = self.0.clone();
        async move {
            let (reply, answer) = tokio::sync::oneshot::channel();
            jobs.send(Box::new(move || {
                let _ = reply.send(f());
            }))
            .expect("the offload thread is alive");
            answer.await.expect("the job ran")
        }
    }
}

fn spin_then_receive(inbox: &Receiver<Job>, spin: Duration) -> Option<Job> {
    if !spin.is_zero() {
        let until = Instant::now() + spin;
        while Instant::now() < until {
            match inbox.try_recv() {
                Ok(job) => return Some(job),
                Err(mpsc::TryRecvError::Empty) => std::hint::spin_loop(),
                Err(mpsc::TryRecvError::Disconnected) => return None,
            }
        }
    }
    inbox.recv().ok()
}

impl Drop for OffloadThread {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A pool shaped like the proposal in BENCHMARKS.md: idle workers wait on their own parker,
/// a job goes straight to one of them, and the idle list's lock is released before the
/// unpark, so a hand-over is one wake-up. Grows when no worker is idle; workers exit when the
/// pool is dropped.
pub struct HandoffPool {
    shared: Arc<PoolShared>,
}

struct PoolShared {
    idle: Mutex<Vec<Arc<Slot>>>,
    closed: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

struct Slot {
    job: Mutex<Option<Job>>,
    thread: thread::Thread,
}

impl HandoffPool {
    /// An empty pool; workers start on demand.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(PoolShared {
                idle: Mutex::new(Vec::new()),
                closed: AtomicBool::new(false),
                threads: Mutex::new(Vec::new()),
            }),
        }
    }

    /// A handle that submits jobs to the pool.
    pub fn handle(&self) -> PoolHandle {
        PoolHandle(Arc::clone(&self.shared))
    }
}

/// Submits jobs to a [`HandoffPool`].
#[derive(Clone)]
pub struct PoolHandle(Arc<PoolShared>);

impl PoolHandle {
    /// Runs `f` on a pool thread once the future is first polled; the future resolves to
    /// its result.
    pub fn run<F, R>(&self, f: F) -> impl Future<Output = R> + Send + 'static + use<F, R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let shared = Arc::clone(&self.0);
        async move {
            let (reply, answer) = tokio::sync::oneshot::channel();
            submit(
                &shared,
                Box::new(move || {
                    let _ = reply.send(f());
                }),
            );
            answer.await.expect("the job ran")
        }
    }
}

impl Default for HandoffPool {
    fn default() -> Self {
        Self::new()
    }
}

fn submit(shared: &Arc<PoolShared>, job: Job) {
    let idle = shared.idle.lock().expect("idle list").pop();
    match idle {
        Some(slot) => {
            *slot.job.lock().expect("slot") = Some(job);
            slot.thread.unpark();
        }
        None => {
            let worker_shared = Arc::clone(shared);
            let thread = thread::Builder::new()
                .name("handoff-candidate".into())
                .spawn(move || pool_worker(&worker_shared, job))
                .expect("spawn a pool worker");
            shared.threads.lock().expect("threads").push(thread);
        }
    }
}

fn pool_worker(shared: &PoolShared, first: Job) {
    first();
    let slot = Arc::new(Slot {
        job: Mutex::new(None),
        thread: thread::current(),
    });
    while !shared.closed.load(Ordering::Acquire) {
        shared
            .idle
            .lock()
            .expect("idle list")
            .push(Arc::clone(&slot));
        let job = loop {
            if let Some(job) = slot.job.lock().expect("slot").take() {
                break Some(job);
            }
            if shared.closed.load(Ordering::Acquire) {
                break None;
            }
            thread::park_timeout(Duration::from_millis(100));
        };
        match job {
            Some(job) => job(),
            None => return,
        }
    }
}

impl Drop for HandoffPool {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        for slot in self.shared.idle.lock().expect("idle list").drain(..) {
            slot.thread.unpark();
        }
        let threads = std::mem::take(&mut *self.shared.threads.lock().expect("threads"));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// The sync entry's candidate: what `smartasync::block_on` does on a current-thread
/// runtime's thread (enter the process-wide runtime's handle, poll here with an own parker),
/// used on a plain thread instead of Tokio's `Handle::block_on`.
pub fn enter_and_poll<F: Future>(future: F) -> F::Output {
    let _entered = smartasync::runtime::handle().enter();
    let mut future = std::pin::pin!(tokio::task::unconstrained(future));
    let signal = Arc::new(Signal {
        woken: AtomicBool::new(false),
        thread: thread::current(),
    });
    let waker = Waker::from(Arc::clone(&signal));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        while !signal.woken.swap(false, Ordering::Acquire) {
            thread::park();
        }
    }
}

struct Signal {
    woken: AtomicBool,
    thread: thread::Thread,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

// ----------------------------------------------------------------------------------------
// The report's timing loop.

/// A path to time: given a number of calls, makes them and returns how long they took.
pub type Batch<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

/// Times several paths interleaved, so that a machine that slows down (other builds, CPU
/// frequency) slows them all alike: a warm-up batch of each, then `rounds` rounds that each
/// time one batch of `calls` calls of every path in turn. Returns the median ns/call of each
/// path, in order.
pub fn interleaved(calls: u64, rounds: usize, paths: &mut [Batch<'_>]) -> Vec<f64> {
    for path in paths.iter_mut() {
        black_box(path(calls));
    }
    let mut samples = vec![Vec::with_capacity(rounds); paths.len()];
    for round in 0..rounds {
        // Rotate who goes first, so no path always runs right after the same neighbour.
        for offset in 0..paths.len() {
            let index = (round + offset) % paths.len();
            samples[index].push(paths[index](calls).as_nanos() as f64 / calls as f64);
        }
    }
    samples.into_iter().map(median).collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

// ----------------------------------------------------------------------------------------
// The table.

/// A performance target (listed at the top of BENCHMARKS.md).
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// smartasync / hand-written at most this ratio.
    AtMost(f64),
    /// smartasync at least this many times faster than the hand-written path.
    FasterBy(f64),
    /// The written body itself: 1.0x, read within the given measurement tolerance.
    Same(f64),
    /// No target: shown for reading the others.
    Info,
}

/// One line of the report.
#[derive(Clone, Debug)]
pub struct Row {
    /// What is called, from where.
    pub path: String,
    /// ns/call through the smartasync entry (`None` for the floor row).
    pub smartasync: Option<f64>,
    /// The hand-written path compared with.
    pub baseline: String,
    /// Its ns/call.
    pub baseline_ns: f64,
    /// The target that applies.
    pub target: Target,
}

impl Row {
    /// smartasync ns/call divided by the hand-written ns/call.
    pub fn ratio(&self) -> Option<f64> {
        self.smartasync.map(|ns| ns / self.baseline_ns)
    }

    /// Whether the target is met (`None` when there is no target).
    pub fn met(&self) -> Option<bool> {
        let ratio = self.ratio()?;
        match self.target {
            Target::AtMost(limit) => Some(ratio <= limit),
            Target::FasterBy(factor) => Some(ratio <= 1.0 / factor),
            Target::Same(tolerance) => Some((ratio - 1.0).abs() <= tolerance),
            Target::Info => None,
        }
    }
}

/// Renders the rows as a Markdown table (readable as text, pasteable into BENCHMARKS.md).
pub fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "| path | smartasync ns/call | hand-written | hand-written ns/call | ratio | target | met |\n\
         |---|---:|---|---:|---:|---|---|\n",
    );
    for row in rows {
        let smartasync = row.smartasync.map_or_else(|| "-".to_owned(), format_ns);
        let ratio = row.ratio().map_or_else(|| "-".to_owned(), format_ratio);
        let target = match row.target {
            Target::AtMost(limit) => format!("<= {limit:.2}x"),
            Target::FasterBy(factor) => format!(">= {factor:.0}x faster"),
            Target::Same(tolerance) => format!("1.00x (+-{:.0}%)", tolerance * 100.0),
            Target::Info => "-".to_owned(),
        };
        let met = match row.met() {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "-",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.path,
            smartasync,
            row.baseline,
            format_ns(row.baseline_ns),
            ratio,
            target,
            met
        );
    }
    out
}

fn format_ns(ns: f64) -> String {
    if ns >= 100.0 {
        format!("{ns:.0}")
    } else {
        format!("{ns:.1}")
    }
}

fn format_ratio(ratio: f64) -> String {
    if ratio >= 0.01 {
        format!("{ratio:.2}x")
    } else {
        format!("1/{:.0}", 1.0 / ratio)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_pong_returns_the_incremented_token() {
        let pong = PingPong::new();
        assert_eq!(pong.round_trip(1), 2);
        assert_eq!(pong.round_trip(41), 42);
    }

    #[test]
    fn offload_thread_runs_the_job_and_returns_its_result() {
        for spin in [Duration::ZERO, Duration::from_micros(50)] {
            let offload = OffloadThread::new(spin);
            let answer = futures::executor::block_on(offload.jobs().run(|| 6 * 7));
            assert_eq!(answer, 42);
        }
    }

    /// Waits until `idle` workers of `pool` wait for a job (a worker joins the idle list
    /// just after it answers, so the answer alone does not say it is back).
    fn wait_for_idle(pool: &HandoffPool, idle: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.shared.idle.lock().unwrap().len() != idle {
            assert!(
                Instant::now() < deadline,
                "no {idle} idle worker(s) after 10 s"
            );
            thread::yield_now();
        }
    }

    #[test]
    fn handoff_pool_hands_each_job_to_its_idle_worker() {
        let pool = HandoffPool::new();
        let mut ran_on = std::collections::HashSet::new();
        for n in 0..10 {
            let job = pool.handle().run(move || (n * 2, thread::current().id()));
            let (value, thread) = futures::executor::block_on(job);
            assert_eq!(value, n * 2);
            ran_on.insert(thread);
            wait_for_idle(&pool, 1);
        }
        // Ten jobs, one at a time, each handed to the worker left idle by the previous one.
        assert_eq!(ran_on.len(), 1);
        assert_eq!(pool.shared.threads.lock().unwrap().len(), 1);
    }

    #[test]
    fn handoff_pool_grows_while_no_worker_is_idle() {
        let pool = HandoffPool::new();
        // Three jobs that each wait for all three: they can only finish on three threads.
        let meet = Arc::new(std::sync::Barrier::new(3));
        let jobs: Vec<_> = (0..3)
            .map(|_| {
                let meet = Arc::clone(&meet);
                pool.handle().run(move || {
                    meet.wait();
                    thread::current().id()
                })
            })
            .collect();
        let ran_on: std::collections::HashSet<_> =
            futures::executor::block_on(futures::future::join_all(jobs))
                .into_iter()
                .collect();
        assert_eq!(ran_on.len(), 3);
        wait_for_idle(&pool, 3);
        // A later job reuses one of them.
        let thread = futures::executor::block_on(pool.handle().run(|| thread::current().id()));
        assert!(ran_on.contains(&thread));
        assert_eq!(pool.shared.threads.lock().unwrap().len(), 3);
    }

    #[test]
    fn enter_and_poll_drives_a_timer() {
        let value = enter_and_poll(async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            7
        });
        assert_eq!(value, 7);
    }

    #[test]
    fn context_switches_are_counted_on_linux() {
        if cfg!(target_os = "linux") {
            let before = context_switches().expect("procfs is there on Linux");
            PingPong::new().round_trip(0);
            assert!(context_switches().expect("procfs") > before);
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn targets_read_as_designed() {
        let row = |ns: f64, target| Row {
            path: String::new(),
            smartasync: Some(ns),
            baseline: String::new(),
            baseline_ns: 100.0,
            target,
        };
        assert_eq!(row(109.0, Target::AtMost(1.1)).met(), Some(true));
        assert_eq!(row(111.0, Target::AtMost(1.1)).met(), Some(false));
        assert_eq!(row(0.09, Target::FasterBy(1000.0)).met(), Some(true));
        assert_eq!(row(0.2, Target::FasterBy(1000.0)).met(), Some(false));
        assert_eq!(row(104.0, Target::Same(0.05)).met(), Some(true));
        assert_eq!(row(94.0, Target::Same(0.05)).met(), Some(false));
        assert_eq!(row(500.0, Target::Info).met(), None);
    }
}
