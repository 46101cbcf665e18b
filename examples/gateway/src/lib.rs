//! A sync, thread-per-request HTTP gateway whose service layer is async (reqwest).
//!
//! [`Gateway`] is written the way code over an async client is written: `async fn` methods
//! that await one shared [`reqwest::Client`]. Each method carries `#[smartasync]`, so it
//! also has a blocking twin. The sync server ([`GatewayServer`], on `tiny_http`) runs each
//! request on its own thread and calls `gateway.fetch(id)`: no runtime is created, entered
//! or passed around in the server code. Async code awaits the very same methods as
//! `gateway.fetch_async(id).await`.
//!
//! Because the blocking entries drive the futures with smartasync's process-wide runtime,
//! the client's connection pool outlives every call: a connection opened for one request,
//! on one server thread, is reused by the next request on another thread. [`Upstream`]
//! (a small Axum app started in-process on loopback) counts the TCP connections it accepts,
//! which makes that visible: many requests, few connections.
//!
//! Routes of the gateway, all `GET`, all answering JSON:
//!
//! | route | answer |
//! |---|---|
//! | `/items/{id}` | the upstream's item, or 404 if it has none |
//! | `/basket?ids=1,2,3` | the items, fetched from the upstream concurrently, and their total price |
//! | `/health` | `{"status": "ok"}`, without asking the upstream |
//!
//! An id is a positive integer in decimal digits, and a basket holds 1 to [`MAX_BASKET`] of
//! them. Path segments are percent-decoded first (`/items/%37` is item 7), and the query as an
//! HTML form's is (`ids=1%2C2`, how form encoders write `1,2`, is ids 1 and 2).
//!
//! Every response names the server thread that handled it in the `x-gateway-thread` header.
//! Client mistakes are 4xx with `{"error": "..."}` (a bad id or basket 400, an unknown item
//! or route 404, another method 405); an upstream that cannot be reached, times out or
//! fails is a 502 with the reason. A handler never panics on input; if a bug made one
//! panic, the client would get a 500 and the server would keep serving.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use smartasync::smartasync;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::timeout_at;

/// How long the gateway waits for the upstream by default, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Most ids a `/basket` request may ask for.
pub const MAX_BASKET: usize = 16;

/// Items the upstream knows: ids `1..=CATALOG_SIZE`.
pub const CATALOG_SIZE: u64 = 1000;

/// Most request threads a [`GatewayServer`] runs by default.
pub const DEFAULT_MAX_THREADS: usize = 64;

/// The longest a [`GatewayServer`] takes to stop: its queued and running requests get this
/// long to finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Name of the response header that says which server thread handled the request.
pub const THREAD_HEADER: &str = "x-gateway-thread";

/// An item of the upstream's catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Its id, from 1 to [`CATALOG_SIZE`].
    pub id: u64,
    /// Its display name.
    pub name: String,
    /// Its price, in cents.
    pub price_cents: u64,
}

/// Items fetched together, with their total price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Basket {
    /// The items, in the order asked for.
    pub items: Vec<Item>,
    /// Sum of their prices, in cents.
    pub total_cents: u64,
}

/// Why the gateway could not answer with what was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayError {
    /// The request itself is wrong (HTTP 400).
    BadRequest(String),
    /// The upstream has no such item (HTTP 404).
    NotFound(String),
    /// The upstream could not be reached, timed out, failed or answered nonsense (HTTP 502).
    Upstream(String),
}

impl GatewayError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::NotFound(_) => 404,
            Self::Upstream(_) => 502,
        }
    }

    fn from_reqwest(error: &reqwest::Error, timeout: Duration) -> Self {
        if error.is_timeout() {
            return Self::Upstream(format!("upstream timed out after {timeout:?}"));
        }
        // reqwest's own message is generic ("error sending request for url (..)"): the
        // useful part ("Connection refused") is further down the chain.
        let mut message = format!("upstream request failed: {error}");
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::Upstream(message)
    }
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadRequest(message) | Self::NotFound(message) | Self::Upstream(message) => {
                f.write_str(message)
            }
        }
    }
}

impl StdError for GatewayError {}

/// The gateway's service layer: async methods over one shared `reqwest::Client`.
///
/// Cloning is cheap and every clone shares the client, so its connection pool. Sync code
/// calls `gateway.fetch(id)`, async code awaits `gateway.fetch_async(id)`.
///
/// # Example
///
/// ```
/// use smartasync_example_gateway::{Gateway, Upstream, catalog_item};
///
/// let upstream = Upstream::start().unwrap();
/// let gateway = Gateway::new(&upstream.url()).unwrap();
///
/// // Plain sync code: no runtime anywhere.
/// assert_eq!(gateway.fetch(7).unwrap(), catalog_item(7).unwrap());
///
/// // Async code: the same method, awaited.
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let basket = rt.block_on(gateway.basket_async(&[1, 2])).unwrap();
/// assert_eq!(basket.items.len(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct Gateway {
    client: reqwest::Client,
    upstream: Arc<str>,
    timeout: Duration,
}

impl Gateway {
    /// A gateway to the upstream at `upstream` (such as `http://127.0.0.1:8080`), with
    /// [`DEFAULT_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// If the HTTP client cannot be built (the system refuses its resources).
    pub fn new(upstream: &str) -> Result<Self, reqwest::Error> {
        Self::with_timeout(upstream, DEFAULT_TIMEOUT)
    }

    /// A gateway whose upstream calls give up after `timeout`.
    ///
    /// # Errors
    ///
    /// If the HTTP client cannot be built (the system refuses its resources).
    pub fn with_timeout(upstream: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(1)))
            // Loopback only: never route through a proxy from the environment.
            .no_proxy()
            .build()?;
        Ok(Self {
            client,
            upstream: upstream.trim_end_matches('/').into(),
            timeout,
        })
    }

    /// The upstream's item `id`.
    ///
    /// # Errors
    ///
    /// [`GatewayError::NotFound`] if the upstream has no such item,
    /// [`GatewayError::Upstream`] if it cannot be reached, times out or fails.
    #[smartasync]
    pub async fn fetch(&self, id: u64) -> Result<Item, GatewayError> {
        let url = format!("{}/items/{id}", self.upstream);
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|error| GatewayError::from_reqwest(&error, self.timeout))?;
        let status = response.status();
        if status.is_success() {
            let item: Item = response.json().await.map_err(|error| {
                GatewayError::Upstream(format!("upstream sent a bad item {id}: {error}"))
            })?;
            return if item.id == id {
                Ok(item)
            } else {
                Err(GatewayError::Upstream(format!(
                    "asked the upstream for item {id}, got item {}",
                    item.id
                )))
            };
        }
        // Read the (small) error body to its end, so the connection goes back to the pool.
        let _ = response.bytes().await;
        if status == reqwest::StatusCode::NOT_FOUND {
            Err(GatewayError::NotFound(format!("no item {id}")))
        } else {
            Err(GatewayError::Upstream(format!(
                "upstream answered {status} for item {id}"
            )))
        }
    }

    /// The items `ids`, fetched from the upstream concurrently, and their total price.
    ///
    /// Called through the blocking entry, this is still concurrent: the requests overlap
    /// while the calling thread waits for all of them.
    ///
    /// # Errors
    ///
    /// [`GatewayError::BadRequest`] for no ids or more than [`MAX_BASKET`]; otherwise the
    /// first error of [`fetch`](Self::fetch).
    #[smartasync]
    pub async fn basket(&self, ids: &[u64]) -> Result<Basket, GatewayError> {
        check_basket_len(ids.len())?;
        let items =
            futures::future::try_join_all(ids.iter().map(|&id| self.fetch_async(id))).await?;
        let total_cents = items.iter().map(|item| item.price_cents).sum();
        Ok(Basket { items, total_cents })
    }
}

// ---------------------------------------------------------------------------------------
// The sync server.
// ---------------------------------------------------------------------------------------

/// A sync HTTP server (`tiny_http`) that runs each request on its own thread.
///
/// One accept thread (`gateway-accept`) takes requests off the socket and starts a thread
/// per request (`gateway-req-1`, `gateway-req-2`, ...), at most `max_threads` at a time;
/// beyond that, requests wait for a thread to finish. The request threads call the
/// blocking entries of [`Gateway`].
///
/// Dropping the server (or [`shutdown`](Self::shutdown)) stops it gracefully, waiting at
/// most [`SHUTDOWN_GRACE`]: the accept thread keeps taking requests off the queue until the
/// queue is empty (a queued connection error is skipped, not a reason to stop), the
/// requests it took run to their end, then the listener closes. A queued request that
/// cannot get a thread before the grace period ends is answered 503, and a request still
/// running then is left to finish on its own thread. A request that reaches the queue
/// after it was emptied is not served (`tiny_http` answers it with an empty 500 when the
/// server is dropped).
pub struct GatewayServer {
    addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    threads: Arc<Slots>,
    accept: Option<JoinHandle<()>>,
}

impl GatewayServer {
    /// Binds `addr` (port 0 picks a free port) and starts serving `gateway`.
    ///
    /// # Errors
    ///
    /// If the address cannot be bound or the accept thread cannot start.
    pub fn start(
        addr: impl ToSocketAddrs,
        gateway: Gateway,
        max_threads: usize,
    ) -> io::Result<Self> {
        let listener = std::net::TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let server =
            Arc::new(tiny_http::Server::from_listener(listener, None).map_err(io::Error::other)?);
        let threads = Arc::new(Slots::new(max_threads));
        let accept = thread::Builder::new()
            .name("gateway-accept".into())
            .spawn({
                let server = Arc::clone(&server);
                let threads = Arc::clone(&threads);
                move || accept_loop(&server, &gateway, &threads)
            })?;
        Ok(Self {
            addr,
            server,
            threads,
            accept: Some(accept),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL of the server, such as `http://127.0.0.1:3001`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops taking new requests, serves the queued ones, lets the running ones finish (all
    /// within [`SHUTDOWN_GRACE`]) and closes the listener.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.threads.stop_by(Instant::now() + SHUTDOWN_GRACE);
        // Wakes the accept thread if it waits for a request: `recv` answers an error.
        self.server.unblock();
        let _ = accept.join();
        self.threads.wait_idle();
    }
}

impl fmt::Debug for GatewayServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for GatewayServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(server: &tiny_http::Server, gateway: &Gateway, threads: &Slots) {
    let mut started: u64 = 0;
    let mut dispatch = |request: tiny_http::Request| {
        let Some(permit) = threads.acquire() else {
            // Stopping, and no thread came free in time.
            let _ =
                request.respond(Reply::error(503, "the gateway is shutting down").into_response());
            return;
        };
        started += 1;
        let gateway = gateway.clone();
        let spawned = thread::Builder::new()
            .name(format!("gateway-req-{started}"))
            .spawn(move || {
                let _permit = permit;
                serve(&gateway, request);
            });
        // If the system refuses a thread, the request is dropped with the closure, and
        // tiny_http answers it with an empty 500.
        if let Err(error) = spawned {
            eprintln!("gateway: could not start a request thread: {error}");
        }
    };

    let deadline = loop {
        match server.recv() {
            Ok(request) => dispatch(request),
            Err(_) => match threads.stopping() {
                Some(deadline) => break deadline,
                // A connection that failed before it sent a request: nothing to answer.
                None => continue,
            },
        }
    };

    // Stopping: serve what is still queued. `try_recv` answers `None` both for an empty
    // queue and for the one wake-up marker that `stop` queues, which is still queued if the
    // loop above ended on a connection error; the marker is queued once, so a second
    // `None` means the queue is empty.
    let mut nones = 0;
    while nones < 2 && Instant::now() < deadline {
        match server.try_recv() {
            Ok(Some(request)) => dispatch(request),
            Ok(None) => nones += 1,
            // A connection error among the queued requests: skip it.
            Err(_) => {}
        }
    }
}

fn serve(gateway: &Gateway, request: tiny_http::Request) {
    let reply = panic::catch_unwind(AssertUnwindSafe(|| {
        route(gateway, request.method(), request.url())
    }))
    .unwrap_or_else(|_| Reply::error(500, "internal error: the handler panicked"));
    // The client may be gone; there is nobody left to tell.
    let _ = request.respond(reply.into_response());
}

/// A status and a JSON body.
struct Reply {
    status: u16,
    body: serde_json::Value,
    allow: bool,
}

impl Reply {
    fn ok(body: impl Serialize) -> Self {
        match serde_json::to_value(body) {
            Ok(body) => Self {
                status: 200,
                body,
                allow: false,
            },
            Err(error) => Self::error(500, &format!("internal error: {error}")),
        }
    }

    fn error(status: u16, message: &str) -> Self {
        Self {
            status,
            body: json!({ "error": message }),
            allow: status == 405,
        }
    }

    fn into_response(self) -> tiny_http::Response<io::Cursor<Vec<u8>>> {
        let thread = thread_name();
        let mut headers = vec![
            ("Content-Type", "application/json"),
            (THREAD_HEADER, thread.as_str()),
        ];
        if self.allow {
            headers.push(("Allow", "GET"));
        }
        let mut response =
            tiny_http::Response::from_data(self.body.to_string()).with_status_code(self.status);
        for (name, value) in headers {
            if let Ok(header) = tiny_http::Header::from_bytes(name, value) {
                response.add_header(header);
            }
        }
        response
    }
}

fn route(gateway: &Gateway, method: &tiny_http::Method, url: &str) -> Reply {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    // Split first, then decode each segment: an encoded `/` (`%2F`) stays inside its segment.
    let segments: Result<Vec<String>, GatewayError> = path
        .trim_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let segments = match segments {
        Ok(segments) => segments,
        Err(error) => return Reply::error(error.status(), &error.to_string()),
    };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let known = matches!(segments.as_slice(), ["health"] | ["items", _] | ["basket"]);
    if !known {
        return Reply::error(404, &format!("no route {method} {}", clip(path)));
    }
    if *method != tiny_http::Method::Get {
        return Reply::error(405, &format!("{method} is not allowed here; use GET"));
    }
    let result = match segments.as_slice() {
        ["items", id] => parse_id(id).and_then(|id| gateway.fetch(id)).map(Reply::ok),
        ["basket"] => parse_basket(query)
            .and_then(|ids| gateway.basket(&ids))
            .map(Reply::ok),
        _ => Ok(Reply::ok(json!({ "status": "ok" }))),
    };
    result.unwrap_or_else(|error| Reply::error(error.status(), &error.to_string()))
}

/// An id as the client wrote it, after percent-decoding: decimal digits only (no sign, no
/// spaces), at least 1.
fn parse_id(text: &str) -> Result<u64, GatewayError> {
    let digits = !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    match text.parse::<u64>() {
        Ok(id) if digits && id > 0 => Ok(id),
        Err(_) if digits => Err(GatewayError::BadRequest(format!(
            "an item id is at most {}; got `{}`",
            u64::MAX,
            clip(text)
        ))),
        _ => Err(GatewayError::BadRequest(format!(
            "an item id is a positive integer in decimal digits, such as `7`; got `{}`",
            clip(text)
        ))),
    }
}

/// The ids of `ids=1,2,3` in the query, decoded as an HTML form's query is (so
/// `ids=1%2C2`, how form encoders write `1,2`, means ids 1 and 2) before it is split.
fn parse_basket(query: &str) -> Result<Vec<u64>, GatewayError> {
    let ids = form_urlencoded::parse(query.as_bytes())
        .find_map(|(key, value)| (key == "ids").then_some(value))
        .ok_or_else(|| GatewayError::BadRequest("expected `?ids=1,2,3`".into()))?;
    let ids = ids.split(',').collect::<Vec<_>>();
    check_basket_len(ids.len())?;
    ids.into_iter().map(parse_id).collect()
}

/// The one rule on basket sizes, checked by [`Gateway::basket`] and, before parsing any
/// id, by the server.
fn check_basket_len(len: usize) -> Result<(), GatewayError> {
    if (1..=MAX_BASKET).contains(&len) {
        Ok(())
    } else {
        Err(GatewayError::BadRequest(format!(
            "a basket holds 1 to {MAX_BASKET} ids, got {len}"
        )))
    }
}

/// Decodes the `%XX` escapes of a path segment (`+` is left as it is, and so is a `%`
/// that is not followed by two hex digits). An error if the bytes are not UTF-8.
fn percent_decode(text: &str) -> Result<String, GatewayError> {
    match percent_encoding::percent_decode_str(text).decode_utf8() {
        Ok(decoded) => Ok(decoded.into_owned()),
        Err(_) => Err(GatewayError::BadRequest(format!(
            "the path segment `{}` must be UTF-8 once percent-decoded",
            clip(text)
        ))),
    }
}

/// Echoes at most 40 characters of what the client sent.
fn clip(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

fn thread_name() -> String {
    let thread = thread::current();
    thread
        .name()
        .map_or_else(|| format!("{:?}", thread.id()), str::to_owned)
}

/// The request-thread slots: a Tokio semaphore (fair: first come, first served) awaited
/// from the sync accept thread through `smartasync::block_on`, and the end of the grace
/// period once the server stops.
#[derive(Debug)]
struct Slots {
    free: Arc<Semaphore>,
    max: u32,
    stop_by: watch::Sender<Option<Instant>>,
}

impl Slots {
    fn new(max: usize) -> Self {
        let max = u32::try_from(max.clamp(1, Semaphore::MAX_PERMITS)).unwrap_or(u32::MAX);
        Self {
            free: Arc::new(Semaphore::new(max as usize)),
            max,
            stop_by: watch::Sender::new(None),
        }
    }

    /// A slot: waits for one as long as it takes while serving, and until the end of the
    /// grace period once stopping (`None` after that).
    fn acquire(&self) -> Option<OwnedSemaphorePermit> {
        let mut stop_by = self.stop_by.subscribe();
        smartasync::block_on(async {
            let slot = Arc::clone(&self.free).acquire_owned();
            tokio::pin!(slot);
            loop {
                if let Some(deadline) = *stop_by.borrow_and_update() {
                    return timeout_at(deadline.into(), slot).await.ok()?.ok();
                }
                tokio::select! {
                    permit = &mut slot => return permit.ok(),
                    _ = stop_by.changed() => {}
                }
            }
        })
    }

    fn stop_by(&self, deadline: Instant) {
        self.stop_by.send_replace(Some(deadline));
    }

    fn stopping(&self) -> Option<Instant> {
        *self.stop_by.borrow()
    }

    /// Waits until no request runs (every slot is free), or the grace period ends.
    fn wait_idle(&self) {
        let Some(deadline) = self.stopping() else {
            return;
        };
        // The timer is made inside the future: `block_on` provides its runtime.
        let _ = smartasync::block_on(async {
            timeout_at(deadline.into(), self.free.acquire_many(self.max)).await
        });
    }
}

// ---------------------------------------------------------------------------------------
// The upstream.
// ---------------------------------------------------------------------------------------

/// The item `id` of the upstream's catalog, if it has one.
pub fn catalog_item(id: u64) -> Option<Item> {
    const NAMES: [&str; 6] = ["apple", "bread", "cheese", "dates", "eggs", "flour"];
    if !(1..=CATALOG_SIZE).contains(&id) {
        return None;
    }
    let name = NAMES[usize::try_from(id).ok()? % NAMES.len()];
    Some(Item {
        id,
        name: format!("{name} #{id}"),
        price_cents: 100 + id * 37 % 900,
    })
}

/// A small Axum app on a loopback port that serves the catalog as JSON on `GET /items/{id}`
/// and counts the TCP connections it accepts.
///
/// [`start`](Self::start) runs it on smartasync's process-wide runtime, so it serves
/// whichever thread or runtime calls it; [`start_on`](Self::start_on) on a runtime of the
/// caller's. It stops when dropped. [`set_failing`](Self::set_failing) and
/// [`set_delay`](Self::set_delay) simulate an upstream in trouble.
#[derive(Debug)]
pub struct Upstream {
    addr: SocketAddr,
    state: Arc<UpstreamState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

#[derive(Debug, Default)]
struct UpstreamState {
    connections: AtomicUsize,
    requests: AtomicUsize,
    failing: AtomicBool,
    delay_ms: AtomicU64,
}

impl Upstream {
    /// Starts the upstream on an ephemeral loopback port.
    ///
    /// # Errors
    ///
    /// If no loopback port can be bound.
    pub fn start() -> io::Result<Self> {
        Self::start_on(smartasync::runtime::handle())
    }

    /// Starts the upstream on an ephemeral loopback port, served by `runtime` (it stops
    /// serving when that runtime shuts down): a benchmark gives it a runtime of its own, so
    /// that the clients it measures do not share their threads with the server.
    ///
    /// # Errors
    ///
    /// If no loopback port can be bound.
    pub fn start_on(runtime: &tokio::runtime::Handle) -> io::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let state = Arc::new(UpstreamState::default());
        let counted = Arc::clone(&state);
        let listener = listener.tap_io(move |_| {
            counted.connections.fetch_add(1, Ordering::Relaxed);
        });
        let app = Router::new()
            .route("/items/{id}", get(upstream_item))
            .with_state(Arc::clone(&state));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                eprintln!("upstream: {error}");
            }
        });
        Ok(Self {
            addr,
            state,
            stop: Some(stop),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, such as `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::Relaxed)
    }

    /// HTTP requests received so far.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// While `true`, every request is answered 503.
    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::Relaxed);
    }

    /// Every request waits this long before it is answered.
    pub fn set_delay(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.delay_ms.store(millis, Ordering::Relaxed);
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn upstream_item(State(state): State<Arc<UpstreamState>>, Path(id): Path<u64>) -> Response {
    state.requests.fetch_add(1, Ordering::Relaxed);
    let delay = state.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if state.failing.load(Ordering::Relaxed) {
        let body = Json(json!({ "error": "the upstream is failing on purpose" }));
        return (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    }
    match catalog_item(id) {
        Some(item) => Json(item).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no item {id}") })),
        )
            .into_response(),
    }
}

// ---------------------------------------------------------------------------------------
// The client side of the demo and the tests.
// ---------------------------------------------------------------------------------------

/// The blocking HTTP client of the gateway demo and its tests (reqwest's `blocking`
/// client): one request per connection, so that each request is a new one for the server,
/// no proxy, and a bounded wait.
#[doc(hidden)]
pub mod client {
    use std::net::SocketAddr;
    use std::sync::OnceLock;
    use std::time::Duration;

    use reqwest::blocking::Client;
    use reqwest::header::HeaderMap;

    /// A status, the headers and the body bytes.
    #[derive(Clone, Debug)]
    pub struct Reply {
        /// The status code.
        pub status: u16,
        /// The headers.
        pub headers: HeaderMap,
        /// The body, exactly as received.
        pub body: Vec<u8>,
    }

    impl Reply {
        /// The header called `name`, if it is there and is text.
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name)?.to_str().ok()
        }

        /// The body as text, for messages (invalid UTF-8 shows as U+FFFD).
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }

        /// The body parsed as JSON.
        ///
        /// # Errors
        ///
        /// If the body is not JSON.
        pub fn json(&self) -> serde_json::Result<serde_json::Value> {
            serde_json::from_slice(&self.body)
        }
    }

    /// `GET path`; see [`request`].
    ///
    /// # Errors
    ///
    /// As [`request`].
    pub fn get(addr: SocketAddr, path: &str) -> reqwest::Result<Reply> {
        request(addr, "GET", path)
    }

    /// `method path` with no body, on a fresh connection, waiting at most 10 seconds.
    ///
    /// # Errors
    ///
    /// If the server cannot be reached or is too slow, or the reply is not HTTP.
    ///
    /// # Panics
    ///
    /// If `method` is not a valid HTTP method, or called from async code (reqwest's
    /// blocking client refuses to block a runtime's thread).
    pub fn request(addr: SocketAddr, method: &str, path: &str) -> reqwest::Result<Reply> {
        static CLIENT: OnceLock<Client> = OnceLock::new();
        let client = CLIENT.get_or_init(|| {
            Client::builder()
                .pool_max_idle_per_host(0)
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client")
        });
        let method = method.parse().expect("an HTTP method");
        let response = client
            .request(method, format!("http://{addr}{path}"))
            .send()?;
        Ok(Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes()?.to_vec(),
        })
    }
}
