//! The soak run: every entry of both body forms, called from every context of the dispatch
//! matrix at once, for a while, with every call accounted for.
//!
//! [`run`] starts a fixed set of drivers that loop until the deadline, each with one call in
//! flight at a time:
//!
//! - plain threads, no runtime: blocking entries, async entries under
//!   [`smartasync::block_on`], and the async entries of `fn` bodies under a non-Tokio
//!   executor (`futures::executor::block_on`);
//! - a multi-thread runtime (2 workers): tasks that call blocking entries (so
//!   `block_in_place`), await async entries, and spawn them as tasks; one more loop inside
//!   the runtime's own `block_on` under a `LocalSet`, where Tokio refuses `block_in_place`;
//! - two current-thread runtimes (what `#[tokio::test]` gives), with the same loops;
//! - blocking-pool threads: a loop in `spawn_blocking` on each of those runtimes and one in
//!   [`smartasync::unblock`] on the process-wide runtime.
//!
//! Each call is planned from its number alone ([`Plan`]): which entry of which function,
//! whether the body returns a value, an `Err` or panics, and for the chain functions how many
//! levels of sync → async → sync crossing it makes (up to [`MAX_DEPTH`], each level on
//! another thread). So the caller knows the one right answer and checks it: the value, the
//! `Err` unchanged, the panic's payload (caught with `catch_unwind` or from the task's
//! `JoinError`).
//!
//! One method, [`Service::metered`], is `#[smartasync(limit = 2)]`; the soak checks that no
//! more than 2 of its bodies ever run at once.
//!
//! A monitor samples the process's thread count and resident memory ([`probe`]) every
//! 10 ms. The run fails ([`Report::failures`]) when a call is lost or answered wrongly, a
//! driver does not finish within [`GRACE`] after the deadline, more bodies of the limited
//! method ran at once than its limit, the threads at peak exceed [`Report::threads_bound`],
//! or resident memory grew by more than [`RSS_GROWTH_BOUND_KIB`] after the warm-up.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::runtime::Builder;
use tokio::task::LocalSet;

pub mod probe;
mod service;

pub use service::{
    Call, MAX_DEPTH, METERED_LIMIT, Outcome, Plan, Refused, Service, SoakPanic, checksum,
    checksum_async, lookup, lookup_async,
};

/// How long drivers get, after the deadline, to finish the call they have in flight. A
/// driver still busy then holds a lost call (a hang).
pub const GRACE: Duration = Duration::from_secs(10);

/// The most resident memory may grow between the end of the warm-up and the deadline,
/// in KiB (32 MiB). Generous on purpose, so that a loaded machine does not make it flake:
/// a 20 s run on 2 cores grows by about 0.3 MiB, and even pool threads started after the
/// warm-up up to [`threads_bound`] (their stacks, their allocator arenas) stay well under
/// it. A leak of 40 bytes per call exceeds it within a default run (about 900,000 calls).
pub const RSS_GROWTH_BOUND_KIB: u64 = 32 * 1024;

/// How often the monitor reads the thread count and resident memory.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// Drivers of each kind.
const PLAIN_THREADS: usize = 2;
const MULTI_THREAD_TASKS: usize = 4;
const MULTI_THREAD_WORKERS: usize = 2;
const CURRENT_THREAD_RUNTIMES: usize = 2;
const CURRENT_THREAD_TASKS: usize = 2;

/// What a soak run saw.
#[derive(Clone, Debug)]
pub struct Report {
    /// Calls started.
    pub calls: u64,
    /// Calls that returned the expected `Ok` value.
    pub ok: u64,
    /// Calls that returned the expected `Err`, unchanged.
    pub errors_returned: u64,
    /// Calls whose deliberate panic reached the caller with its payload.
    pub panics_caught: u64,
    /// Calls that came back with anything else (a wrong value, error or payload).
    pub wrong: u64,
    /// Calls started and never answered: `calls - (ok + errors_returned + panics_caught + wrong)`.
    pub lost: u64,
    /// A few of the wrong answers, described.
    pub wrong_examples: Vec<String>,
    /// Drivers that had not finished [`GRACE`] after the deadline, or that panicked.
    pub stuck_drivers: Vec<String>,
    /// The most bodies of the limited method seen running at once.
    pub metered_peak: usize,
    /// The process's threads at peak, sampled; `None` without `/proc/self/status`.
    pub threads_peak: Option<u64>,
    /// The process's threads after the warm-up.
    pub threads_after_warm_up: Option<u64>,
    /// The most threads the run may have (see [`threads_bound`]).
    pub threads_bound: u64,
    /// Resident memory at the deadline minus after the warm-up, in KiB; `None` without
    /// `/proc/self/status`.
    pub rss_growth_kib: Option<i64>,
    /// Resident memory after the warm-up, in KiB.
    pub rss_after_warm_up_kib: Option<u64>,
    /// The warm-up, excluded from the memory figure.
    pub warm_up: Duration,
    /// From the start to the moment every driver finished (or the grace ran out).
    pub elapsed: Duration,
}

impl Report {
    /// What went wrong, one sentence each; empty when the run passed.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        if self.lost != 0 {
            failures.push(format!("{} calls were never answered", self.lost));
        }
        if self.wrong != 0 {
            failures.push(format!(
                "{} calls were answered wrongly, e.g. {:?}",
                self.wrong, self.wrong_examples
            ));
        }
        if !self.stuck_drivers.is_empty() {
            failures.push(format!(
                "drivers not finished {GRACE:?} after the deadline, or panicked: {:?}",
                self.stuck_drivers
            ));
        }
        if self.metered_peak > METERED_LIMIT {
            failures.push(format!(
                "{} bodies of `metered` ran at once, over its limit of {METERED_LIMIT}",
                self.metered_peak
            ));
        }
        if let Some(peak) = self.threads_peak.filter(|&peak| peak > self.threads_bound) {
            failures.push(format!(
                "{peak} threads at peak, over the bound of {}",
                self.threads_bound
            ));
        }
        let bound = RSS_GROWTH_BOUND_KIB as i64;
        if let Some(growth) = self.rss_growth_kib.filter(|&growth| growth > bound) {
            failures.push(format!(
                "resident memory grew by {growth} KiB after the warm-up, over the bound of \
                 {RSS_GROWTH_BOUND_KIB} KiB"
            ));
        }
        failures
    }

    /// The last line the soak program prints. Figures that cannot be measured here (no
    /// `/proc`) are 0, and a shrink of resident memory counts as no growth.
    pub fn summary(&self) -> String {
        format!(
            "soak: calls={} panics_caught={} errors_returned={} lost={} threads_peak={} \
             rss_growth_kib={}",
            self.calls,
            self.panics_caught,
            self.errors_returned,
            self.lost,
            self.threads_peak.unwrap_or(0),
            self.rss_growth_kib.unwrap_or(0).max(0),
        )
    }

    /// The figures behind the summary, for a person reading the output.
    pub fn details(&self) -> String {
        let or_unknown = |value: Option<String>| value.unwrap_or_else(|| "unknown".into());
        format!(
            "soak: ok={} wrong={} metered_peak={} (limit {METERED_LIMIT}) \
             threads_after_warm_up={} threads_bound={} rss_after_warm_up_kib={} \
             rss_growth_kib={} (bound {RSS_GROWTH_BOUND_KIB}) warm_up={:.1}s elapsed={:.1}s",
            self.ok,
            self.wrong,
            self.metered_peak,
            or_unknown(self.threads_after_warm_up.map(|n| n.to_string())),
            self.threads_bound,
            or_unknown(self.rss_after_warm_up_kib.map(|n| n.to_string())),
            or_unknown(self.rss_growth_kib.map(|n| n.to_string())),
            self.warm_up.as_secs_f64(),
            self.elapsed.as_secs_f64(),
        )
    }
}

/// The most threads a run may have: those that exist for the whole run (this thread, the
/// monitor, the drivers, the workers of every runtime, including the process-wide one, and a
/// few for a test harness), plus twice what the calls in flight can hold at once. Each
/// caller has one call in flight, and a call holds at most `MAX_DEPTH + 2` more threads (a
/// blocking-pool thread or a `block_in_place` replacement worker per level of its chain).
/// Twice that, because idle pool threads linger for 10 s and Tokio starts a new one when
/// none is idle at that instant, even if one is about to be.
pub fn threads_bound() -> u64 {
    let cores = thread::available_parallelism().map_or(1, usize::from);
    let fixed = 1 // this thread
        + 1 // the monitor
        + 4 // a test harness
        + PLAIN_THREADS
        + 1 + MULTI_THREAD_WORKERS // the multi-thread runtime's thread and workers
        + CURRENT_THREAD_RUNTIMES
        + 1 // the thread that drives the process-wide runtime's blocking loop
        + cores; // the process-wide runtime's workers
    let callers = PLAIN_THREADS
        + MULTI_THREAD_TASKS + 2 // its tasks, the `LocalSet` loop, the blocking loop
        + CURRENT_THREAD_RUNTIMES * (CURRENT_THREAD_TASKS + 2)
        + 1; // the process-wide runtime's blocking loop
    (fixed + 2 * callers * (MAX_DEPTH as usize + 2)) as u64
}

/// Runs the soak for `duration` (plus up to [`GRACE`] for the calls in flight) and reports.
///
/// Installs, once per process, a panic hook that stays quiet for the soak's deliberate
/// panics ([`SoakPanic`] payloads) and hands every other panic to the hook that was there.
pub fn run(duration: Duration) -> Report {
    quiet_deliberate_panics();
    let start = Instant::now();
    let warm_up = (duration / 5).min(Duration::from_secs(3));
    let soak = Arc::new(Soak::new(start + duration));

    let done = Arc::new(AtomicBool::new(false));
    let monitor = {
        let done = Arc::clone(&done);
        let deadline = soak.deadline;
        thread::Builder::new()
            .name("soak-monitor".into())
            .spawn(move || monitor(start + warm_up, deadline, &done))
            .expect("spawn the monitor")
    };

    let drivers = start_drivers(&soak);
    let stuck_drivers = wait_for(drivers, soak.deadline + GRACE);
    let elapsed = start.elapsed();
    done.store(true, Ordering::SeqCst);
    let samples = monitor.join().expect("the monitor does not panic");

    let tally = &soak.tally;
    let [calls, ok, errors_returned, panics_caught, wrong] = [
        &tally.started,
        &tally.ok,
        &tally.errors,
        &tally.panics,
        &tally.wrong,
    ]
    .map(|count| count.load(Ordering::SeqCst));
    Report {
        calls,
        ok,
        errors_returned,
        panics_caught,
        wrong,
        lost: calls - (ok + errors_returned + panics_caught + wrong),
        wrong_examples: soak.wrong_examples.lock().unwrap().clone(),
        stuck_drivers,
        metered_peak: soak.service.metered_peak(),
        threads_peak: samples.threads_peak,
        threads_after_warm_up: samples.warm.map(|s| s.threads),
        threads_bound: threads_bound(),
        rss_growth_kib: samples
            .warm
            .zip(samples.last)
            .map(|(warm, last)| last.rss_kib as i64 - warm.rss_kib as i64),
        rss_after_warm_up_kib: samples.warm.map(|s| s.rss_kib),
        warm_up,
        elapsed,
    }
}

/// A panic hook that says nothing for [`SoakPanic`] payloads, installed once per process.
fn quiet_deliberate_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<SoakPanic>().is_none() {
                previous(info);
            }
        }));
    });
}

/// What every driver shares: the service, the deadline, and the counts.
struct Soak {
    service: Service,
    deadline: Instant,
    next_id: AtomicU64,
    tally: Tally,
    wrong_examples: Mutex<Vec<String>>,
}

#[derive(Default)]
struct Tally {
    started: AtomicU64,
    ok: AtomicU64,
    errors: AtomicU64,
    panics: AtomicU64,
    wrong: AtomicU64,
}

/// What a call gave back: its result, or the payload of its panic.
type Answer = Result<Result<u64, Refused>, Box<dyn Any + Send>>;

impl Soak {
    fn new(deadline: Instant) -> Self {
        Self {
            service: Service::default(),
            deadline,
            next_id: AtomicU64::new(0),
            tally: Tally::default(),
            wrong_examples: Mutex::new(Vec::new()),
        }
    }

    /// The next call to make, counted as started; `None` once the deadline has passed.
    fn next(&self) -> Option<Plan> {
        if Instant::now() >= self.deadline {
            return None;
        }
        self.tally.started.fetch_add(1, Ordering::Relaxed);
        Some(Plan::of(self.next_id.fetch_add(1, Ordering::Relaxed)))
    }

    /// Counts a call's answer under what it is, after checking it against its plan.
    fn account(&self, plan: Plan, via: &str, answer: Answer) {
        let expected = plan.expected();
        let counter = match (&answer, plan.outcome) {
            (Ok(Ok(value)), Outcome::Value) if *value == expected => &self.tally.ok,
            (Ok(Err(error)), Outcome::Refuse) if *error == Refused::of(plan.id) => {
                &self.tally.errors
            }
            (Err(payload), Outcome::Panic)
                if payload.downcast_ref::<SoakPanic>() == Some(&SoakPanic { id: plan.id }) =>
            {
                &self.tally.panics
            }
            _ => {
                let got = match &answer {
                    Ok(result) => format!("{result:?}"),
                    Err(payload) => format!("a panic: {}", describe(payload.as_ref())),
                };
                let mut examples = self.wrong_examples.lock().unwrap();
                if examples.len() < 5 {
                    examples.push(format!(
                        "{plan:?} via {via}: expected {expected}, got {got}"
                    ));
                }
                &self.tally.wrong
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn describe(payload: &(dyn Any + Send)) -> String {
    if let Some(panic) = payload.downcast_ref::<SoakPanic>() {
        format!("{panic:?}")
    } else if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a payload of another type".to_owned()
    }
}

/// The blocking entry of the function `plan` names.
fn call_blocking(service: &Service, plan: Plan) -> Result<u64, Refused> {
    match plan.call {
        Call::Compute => service.compute(plan),
        Call::Fetch => service.fetch(plan),
        Call::Checksum => checksum(&plan.id.to_le_bytes(), plan),
        Call::Lookup => lookup(&plan.id.to_string(), plan),
        Call::Descend => service.descend(plan.depth, plan),
        Call::Ascend => service.ascend(plan.depth, plan),
        Call::Metered => service.metered(plan),
    }
}

/// The async entry of the function `plan` names.
async fn call_async(service: &Service, plan: Plan) -> Result<u64, Refused> {
    match plan.call {
        Call::Compute => service.compute_async(plan).await,
        Call::Fetch => service.fetch_async(plan).await,
        Call::Checksum => checksum_async(&plan.id.to_le_bytes(), plan).await,
        Call::Lookup => lookup_async(&plan.id.to_string(), plan).await,
        Call::Descend => service.descend_async(plan.depth, plan).await,
        Call::Ascend => service.ascend_async(plan.depth, plan).await,
        Call::Metered => service.metered_async(plan).await,
    }
}

/// A blocking call, its panic caught.
fn blocking_call(soak: &Soak, plan: Plan, via: &str) {
    let answer = panic::catch_unwind(AssertUnwindSafe(|| call_blocking(&soak.service, plan)));
    soak.account(plan, via, answer);
}

/// An async call driven to its end by smartasync's `block_on`, its panic caught.
fn block_on_call(soak: &Soak, plan: Plan, via: &str) {
    let answer = panic::catch_unwind(AssertUnwindSafe(|| {
        smartasync::block_on(call_async(&soak.service, plan))
    }));
    soak.account(plan, via, answer);
}

/// A plain thread, no runtime: blocking entries, async entries under smartasync's
/// `block_on`, and under a non-Tokio executor for `fn` bodies.
fn plain_loop(soak: &Soak) {
    while let Some(plan) = soak.next() {
        match plan.route(3) {
            0 => blocking_call(soak, plan, "plain thread, blocking entry"),
            1 => block_on_call(soak, plan, "plain thread, smartasync::block_on"),
            _ if plan.call.offloads() => {
                let answer = panic::catch_unwind(AssertUnwindSafe(|| {
                    futures::executor::block_on(call_async(&soak.service, plan))
                }));
                soak.account(plan, "plain thread, futures executor", answer);
            }
            _ => blocking_call(soak, plan, "plain thread, blocking entry"),
        }
    }
}

/// A blocking-pool thread: blocking entries (nesting) and async entries under `block_on`.
fn blocking_pool_loop(soak: &Soak) {
    while let Some(plan) = soak.next() {
        match plan.route(2) {
            0 => blocking_call(soak, plan, "blocking pool, blocking entry"),
            _ => block_on_call(soak, plan, "blocking pool, smartasync::block_on"),
        }
    }
}

/// A task on a runtime (or a runtime's `block_on` future): blocking entries called from
/// async code, async entries awaited, and async entries spawned as tasks.
async fn task_loop(soak: Arc<Soak>, context: &'static str) {
    while let Some(plan) = soak.next() {
        match plan.route(4) {
            0 => blocking_call(&soak, plan, context),
            1 => block_on_call(&soak, plan, context),
            2 => {
                let answer = AssertUnwindSafe(call_async(&soak.service, plan))
                    .catch_unwind()
                    .await;
                soak.account(plan, context, answer);
            }
            _ => {
                let service = soak.service.clone();
                let task = tokio::spawn(async move { call_async(&service, plan).await });
                match task.await {
                    Ok(result) => soak.account(plan, context, Ok(result)),
                    Err(error) if error.is_panic() => {
                        soak.account(plan, context, Err(error.into_panic()));
                    }
                    Err(error) => soak.account(plan, context, Err(Box::new(error.to_string()))),
                }
            }
        }
    }
}

/// Starts every driver; each returns when the deadline has passed.
fn start_drivers(soak: &Arc<Soak>) -> Vec<(String, JoinHandle<()>)> {
    let mut drivers = Vec::new();
    let mut spawn = |name: String, body: Box<dyn FnOnce() + Send>| {
        let handle = thread::Builder::new()
            .name(name.clone())
            .spawn(body)
            .expect("spawn a driver");
        drivers.push((name, handle));
    };

    for index in 0..PLAIN_THREADS {
        let soak = Arc::clone(soak);
        spawn(
            format!("soak-plain-{index}"),
            Box::new(move || plain_loop(&soak)),
        );
    }

    let multi = Arc::clone(soak);
    spawn(
        "soak-multi".into(),
        Box::new(move || {
            let runtime = Builder::new_multi_thread()
                .worker_threads(MULTI_THREAD_WORKERS)
                .thread_name("soak-multi-rt")
                .enable_all()
                .build()
                .expect("build the multi-thread runtime");
            runtime.block_on(runtime_loops(multi, MULTI_THREAD_TASKS, "multi-thread"));
        }),
    );

    for index in 0..CURRENT_THREAD_RUNTIMES {
        let soak = Arc::clone(soak);
        spawn(
            format!("soak-current-{index}"),
            Box::new(move || {
                let runtime = Builder::new_current_thread()
                    .thread_name(format!("soak-current-{index}-rt"))
                    .enable_all()
                    .build()
                    .expect("build a current-thread runtime");
                let loops = runtime_loops(soak, CURRENT_THREAD_TASKS, "current-thread");
                runtime.block_on(loops);
            }),
        );
    }

    let process_wide = Arc::clone(soak);
    spawn(
        "soak-unblock".into(),
        Box::new(move || {
            smartasync::block_on(smartasync::unblock(move || {
                blocking_pool_loop(&process_wide);
            }));
        }),
    );
    drivers
}

/// Inside a runtime: `tasks` spawned task loops, one blocking-pool loop, and one loop in the
/// runtime's `block_on` future itself, under a `LocalSet`.
async fn runtime_loops(soak: Arc<Soak>, tasks: usize, flavor: &'static str) {
    let context = |place: &str| -> &'static str {
        // A handful of fixed strings, made once per runtime.
        Box::leak(format!("{flavor} runtime, {place}").into_boxed_str())
    };
    let spawned: Vec<_> = (0..tasks)
        .map(|_| {
            let context = context("task");
            tokio::spawn(task_loop(Arc::clone(&soak), context))
        })
        .collect();
    let blocking = {
        let soak = Arc::clone(&soak);
        tokio::task::spawn_blocking(move || blocking_pool_loop(&soak))
    };
    LocalSet::new()
        .run_until(task_loop(
            Arc::clone(&soak),
            context("LocalSet in block_on"),
        ))
        .await;
    for task in spawned {
        task.await.expect("a task loop does not panic");
    }
    blocking.await.expect("the blocking loop does not panic");
}

/// Waits until every driver has finished or `until` passes; returns the drivers that had not
/// finished, or that panicked.
fn wait_for(drivers: Vec<(String, JoinHandle<()>)>, until: Instant) -> Vec<String> {
    while Instant::now() < until && drivers.iter().any(|(_, handle)| !handle.is_finished()) {
        thread::sleep(Duration::from_millis(5));
    }
    let mut stuck = Vec::new();
    for (name, handle) in drivers {
        if !handle.is_finished() {
            stuck.push(format!("{name} (still running)"));
        } else if handle.join().is_err() {
            stuck.push(format!("{name} (panicked)"));
        }
    }
    stuck
}

/// What the monitor read.
struct Samples {
    threads_peak: Option<u64>,
    /// The first reading after the warm-up.
    warm: Option<probe::Status>,
    /// The last reading before the deadline.
    last: Option<probe::Status>,
}

/// Reads the process's status every [`SAMPLE_EVERY`] until `done`.
fn monitor(warm_up_ends: Instant, deadline: Instant, done: &AtomicBool) -> Samples {
    let mut samples = Samples {
        threads_peak: None,
        warm: None,
        last: None,
    };
    while !done.load(Ordering::SeqCst) {
        let now = Instant::now();
        if let Some(status) = probe::status() {
            samples.threads_peak = samples.threads_peak.max(Some(status.threads));
            if now >= warm_up_ends && samples.warm.is_none() {
                samples.warm = Some(status);
            }
            if now < deadline {
                samples.last = Some(status);
            }
        }
        thread::sleep(SAMPLE_EVERY);
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passing() -> Report {
        Report {
            calls: 10,
            ok: 7,
            errors_returned: 2,
            panics_caught: 1,
            wrong: 0,
            lost: 0,
            wrong_examples: Vec::new(),
            stuck_drivers: Vec::new(),
            metered_peak: METERED_LIMIT,
            threads_peak: Some(40),
            threads_after_warm_up: Some(30),
            threads_bound: 100,
            rss_growth_kib: Some(-12),
            rss_after_warm_up_kib: Some(6000),
            warm_up: Duration::from_secs(1),
            elapsed: Duration::from_secs(5),
        }
    }

    #[test]
    fn each_broken_bound_is_a_failure() {
        assert_eq!(passing().failures(), Vec::<String>::new());
        let broken: [fn(&mut Report); 6] = [
            |r| r.lost = 1,
            |r| r.wrong = 1,
            |r| r.stuck_drivers.push("soak-plain-0 (still running)".into()),
            |r| r.metered_peak = METERED_LIMIT + 1,
            |r| r.threads_peak = Some(101),
            |r| r.rss_growth_kib = Some(RSS_GROWTH_BOUND_KIB as i64 + 1),
        ];
        for breaks in broken {
            let mut report = passing();
            breaks(&mut report);
            assert_eq!(report.failures().len(), 1, "{report:?}");
        }
    }

    #[test]
    fn the_summary_line_has_the_agreed_form() {
        assert_eq!(
            passing().summary(),
            "soak: calls=10 panics_caught=1 errors_returned=2 lost=0 threads_peak=40 \
             rss_growth_kib=0"
        );
    }
}
