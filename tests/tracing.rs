//! The `tracing` feature (this package turns it on): the span current where the async entry
//! of a `fn` body is called is entered around the body on the blocking-pool thread.
//!
//! The subscriber is tracing-subscriber's registry, because `Span::current()` needs one that
//! tracks the current span, plus a layer that records every span entry with its thread.

use tokio::runtime::{Builder, Runtime};

fn multi_thread(name: &str, workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("build a multi-thread runtime")
}

fn current_thread(name: &str) -> Runtime {
    Builder::new_current_thread()
        .thread_name(name)
        .enable_all()
        .build()
        .expect("build a current-thread runtime")
}

use std::sync::{Mutex, Once, PoisonError};
use std::thread;

use smartasync::smartasync;
use tracing::span::Id;
use tracing::{Instrument, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Every span entry: (thread name, span name).
static ENTRIES: Mutex<Vec<(Option<String>, &'static str)>> = Mutex::new(Vec::new());

struct RecordEntries;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for RecordEntries {
    fn on_enter(&self, id: &Id, context: Context<'_, S>) {
        if let Some(span) = context.span(id) {
            let thread = thread::current().name().map(String::from);
            ENTRIES
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((thread, span.name()));
        }
    }
}

/// The threads on which a span with this name was entered.
fn threads_that_entered(span: &str) -> Vec<Option<String>> {
    ENTRIES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|(_, name)| *name == span)
        .map(|(thread, _)| thread.clone())
        .collect()
}

/// The global subscriber, so that pool threads see it too. Span names are unique per
/// test, since tests run in parallel.
fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(RecordEntries))
            .expect("no other global subscriber in this test binary");
    });
}

/// Where a body ran and the name of the span current there.
#[derive(Debug)]
struct Seen {
    thread: Option<String>,
    span: Option<&'static str>,
}

impl Seen {
    fn here() -> Self {
        Self {
            thread: thread::current().name().map(String::from),
            span: tracing::Span::current().metadata().map(|meta| meta.name()),
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
    tokio::task::yield_now().await;
    look_async().await
}

static TRACED: smartasync::Lane = smartasync::Lane::new("trace-lane");

/// Written as `fn` on a lane: both entries run it on the lane's thread.
#[smartasync(lane = TRACED)]
fn look_on_lane() -> Seen {
    Seen::here()
}

#[test]
fn caller_span_is_current_in_a_lane_body_through_both_entries() {
    install();
    let mt = multi_thread("trace-lane-mt", 2);
    let polled_in = tracing::info_span!("lane_polled_in");
    let future = tracing::info_span!("lane_called_in").in_scope(look_on_lane_async);
    let seen = polled_in.in_scope(|| mt.block_on(future));
    assert_eq!(seen.thread.as_deref(), Some("trace-lane-0"));
    assert_eq!(seen.span, Some("lane_called_in"));
    let seen = tracing::info_span!("lane_blocking").in_scope(look_on_lane);
    assert_eq!(seen.thread.as_deref(), Some("trace-lane-0"));
    assert_eq!(seen.span, Some("lane_blocking"));
}

#[test]
fn caller_span_is_current_in_offloaded_body_on_both_flavors() {
    install();
    let mt = multi_thread("trace-mt", 2);
    let seen = mt.block_on(async {
        let span = tracing::info_span!("request_mt");
        let future = span.in_scope(look_async);
        future.await
    });
    assert_eq!(seen.thread.as_deref(), Some("trace-mt"), "on the pool");
    assert_eq!(seen.span, Some("request_mt"));
    assert!(threads_that_entered("request_mt").contains(&Some("trace-mt".to_owned())));

    let ct = current_thread("trace-ct");
    let seen =
        ct.block_on(async { look_async().await }.instrument(tracing::info_span!("request_ct")));
    assert_eq!(seen.thread.as_deref(), Some("trace-ct"));
    assert_eq!(seen.span, Some("request_ct"));
}

#[test]
fn caller_span_is_current_in_offloaded_body_under_a_foreign_executor() {
    install();
    let span = tracing::info_span!("request_foreign");
    let future = span.in_scope(look_async);
    let seen = futures::executor::block_on(future);
    assert_eq!(seen.thread.as_deref(), Some("smartasync-runtime"));
    assert_eq!(seen.span, Some("request_foreign"));
}

#[test]
fn span_is_the_one_current_at_call_time_not_at_poll_time() {
    install();
    let rt = multi_thread("trace-call-time", 2);
    let called_in = tracing::info_span!("called_in");
    let polled_in = tracing::info_span!("polled_in");
    let future = called_in.in_scope(look_async);
    let seen = polled_in.in_scope(|| rt.block_on(future));
    assert_eq!(seen.span, Some("called_in"));
}

#[test]
fn span_reaches_nested_offloaded_bodies_and_does_not_outlive_them() {
    install();
    let rt = multi_thread("trace-nested", 2);
    let span = tracing::info_span!("request_nested");
    let (outer, inner) = rt.block_on(span.in_scope(look_deeper_async));
    assert_eq!(outer.thread.as_deref(), Some("trace-nested"));
    assert_eq!(inner.thread.as_deref(), Some("trace-nested"));
    assert_eq!(outer.span, Some("request_nested"));
    assert_eq!(
        inner.span,
        Some("request_nested"),
        "carried through the nesting"
    );

    // Without a span at the call, the (reused) pool threads have none current.
    for _ in 0..3 {
        let (outer, inner) = rt.block_on(look_deeper_async());
        assert_eq!((outer.span, inner.span), (None, None));
    }
    // The blocking entry of a `fn` body is the body: the caller's span, right here.
    let seen = tracing::info_span!("request_here").in_scope(look);
    assert_eq!(seen.span, Some("request_here"));
    assert_eq!(seen.thread, thread::current().name().map(String::from));
    // And the same pair the other way round: polled here, offloaded from here.
    let (outer, inner) = tracing::info_span!("request_sync").in_scope(look_deeper);
    assert_eq!(
        (outer.span, inner.span),
        (Some("request_sync"), Some("request_sync"))
    );
    assert_eq!(inner.thread.as_deref(), Some("smartasync-runtime"));
    assert_eq!(rt.block_on(relay_async()).span, None);
}
