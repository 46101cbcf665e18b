//! The `tracing` feature (enabled by this package) with a subscriber that does not track a
//! current span.
//!
//! The feature enters `tracing::Span::current()`, taken where the async entry of a `fn`
//! body is called, around the body on the blocking-pool thread. `Span::current()` is only
//! known to subscribers that implement `Subscriber::current_span` (tracing-subscriber's
//! registry and everything built on it do). This package cannot write one: the return type,
//! `tracing_core::span::Current`, is not re-exported by `tracing`, and `tracing-core` is not
//! a dependency here. So the propagation itself (the caller's span current inside the
//! offloaded body, on both flavors, under a foreign executor, nested, never leaking to the
//! next body) is tested in `smartasync/tests/semantics.rs` (`mod tracing_feature`, with
//! tracing-subscriber's registry), which runs under `cargo test --workspace`.
//!
//! Here: with a minimal subscriber that records span entries per thread but reports no
//! current span, offloaded bodies still run, and smartasync enters nothing of its own:
//! every recorded entry is one the test made, on the thread that made it.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, Once, PoisonError};
use std::thread;
use std::time::Duration;

use smartasync::smartasync;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Instrument, Metadata, Subscriber};

/// Remembers span names and, per thread, the stack of entered spans.
struct Recorder {
    next_id: AtomicU64,
    names: Mutex<Vec<&'static str>>,
    /// Every span entry: (thread name, span name).
    entries: Mutex<Vec<(Option<String>, &'static str)>>,
}

thread_local! {
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Recorder {
    fn name(&self, id: u64) -> &'static str {
        let index = usize::try_from(id - 1).expect("span ids are small");
        lock(&self.names)[index]
    }

    /// The innermost span entered on this thread and not exited yet.
    fn current_on_this_thread(&self) -> Option<&'static str> {
        let top = ENTERED.with(|stack| stack.borrow().last().copied());
        top.map(|id| self.name(id))
    }

    /// The threads on which a span with this name was entered.
    fn threads_that_entered(&self, span: &str) -> Vec<Option<String>> {
        lock(&self.entries)
            .iter()
            .filter(|(_, name)| *name == span)
            .map(|(thread, _)| thread.clone())
            .collect()
    }
}

impl Subscriber for Recorder {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        let mut names = lock(&self.names);
        names.push(attributes.metadata().name());
        let id = self.next_id.fetch_add(1, Ordering::SeqCst) + 1;
        assert_eq!(names.len() as u64, id, "ids follow the names");
        Id::from_u64(id)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, _: &Event<'_>) {}

    fn enter(&self, span: &Id) {
        ENTERED.with(|stack| stack.borrow_mut().push(span.into_u64()));
        let thread = thread::current().name().map(String::from);
        lock(&self.entries).push((thread, self.name(span.into_u64())));
    }

    fn exit(&self, span: &Id) {
        ENTERED.with(|stack| {
            let mut stack = stack.borrow_mut();
            if let Some(at) = stack.iter().rposition(|id| *id == span.into_u64()) {
                stack.remove(at);
            }
        });
    }
}

/// Installs the recorder as the global subscriber, once; it is then the subscriber of every
/// thread, the blocking pools' included.
fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(Recorder {
            next_id: AtomicU64::new(0),
            names: Mutex::new(Vec::new()),
            entries: Mutex::new(Vec::new()),
        })
        .expect("no other global subscriber in this test binary");
    });
}

/// The recorder as seen from the calling thread, through tracing's dispatcher there.
struct GlobalView;

static GLOBAL_VIEW: GlobalView = GlobalView;

impl GlobalView {
    fn with<R>(&self, f: impl Fn(&Recorder) -> R) -> R {
        tracing::dispatcher::get_default(|dispatch| {
            f(dispatch
                .downcast_ref::<Recorder>()
                .expect("the recorder is the subscriber of every thread"))
        })
    }

    fn current_on_this_thread(&self) -> Option<&'static str> {
        self.with(Recorder::current_on_this_thread)
    }

    fn threads_that_entered(&self, span: &str) -> Vec<Option<String>> {
        self.with(|recorder| recorder.threads_that_entered(span))
    }
}

/// Where a body ran and which span was current there.
#[derive(Debug)]
struct Seen {
    thread: Option<String>,
    span: Option<&'static str>,
}

impl Seen {
    fn here() -> Self {
        Self {
            thread: thread::current().name().map(String::from),
            span: GLOBAL_VIEW.current_on_this_thread(),
        }
    }
}

/// Written as `fn`: its async entry runs it on a blocking-pool thread.
#[smartasync]
fn look() -> Seen {
    Seen::here()
}

/// Written as `fn`: nests another offloaded call through an `async fn` body.
#[smartasync]
fn look_deeper() -> (Seen, Seen) {
    (Seen::here(), relay())
}

/// Written as `async fn`: awaits the async entry of a `fn` body.
#[smartasync]
async fn relay() -> Seen {
    tokio::time::sleep(Duration::from_millis(1)).await;
    look_async().await
}

fn multi_thread(name: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn offloaded_bodies_run_and_enter_no_span_of_their_own() {
    install();
    let caller = thread::current().name().map(String::from);
    let rt = multi_thread("plain-subscriber");
    let span = tracing::info_span!("root_request");
    let (seen, (outer, inner)) = span.in_scope(|| {
        // The caller's thread has the span entered, as the recorder sees it.
        assert_eq!(GLOBAL_VIEW.current_on_this_thread(), Some("root_request"));
        let look = look_async();
        let deeper = look_deeper_async();
        rt.block_on(async { (look.await, deeper.await) })
    });
    for seen in [&seen, &outer, &inner] {
        assert_eq!(
            seen.thread.as_deref(),
            Some("plain-subscriber"),
            "on the pool"
        );
        assert_eq!(seen.span, None, "no span is entered on the pool thread");
    }
    assert_eq!(
        GLOBAL_VIEW.threads_that_entered("root_request"),
        vec![caller],
        "entered once, by the test, on its own thread"
    );
}

#[test]
fn instrumented_callers_keep_their_span_on_their_own_thread() {
    install();
    let rt = multi_thread("plain-instrumented");
    let seen = rt.block_on(
        async {
            let inside = GLOBAL_VIEW.current_on_this_thread();
            (inside, look_async().await)
        }
        .instrument(tracing::info_span!("root_instrumented")),
    );
    assert_eq!(
        seen.0,
        Some("root_instrumented"),
        "entered around the caller's polls"
    );
    assert_eq!(seen.1.span, None);
    assert!(
        !GLOBAL_VIEW
            .threads_that_entered("root_instrumented")
            .is_empty()
    );
    // The blocking entry of a `fn` body is the body: it runs inside the caller's span.
    let here = tracing::info_span!("root_here").in_scope(look);
    assert_eq!(here.span, Some("root_here"));
    let (outer, inner) = tracing::info_span!("root_sync").in_scope(look_deeper);
    assert_eq!((outer.span, inner.span), (Some("root_sync"), None));
    assert_eq!(rt.block_on(relay_async()).span, None);
}
