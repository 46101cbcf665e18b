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
//! Every response names the server thread that handled it in the `x-gateway-thread` header.
//! Client mistakes are 4xx with `{"error": "..."}` (a bad id or basket 400, an unknown item
//! or route 404, another method 405); an upstream that cannot be reached, times out or
//! fails is a 502 with the reason. A handler never panics on input; if a bug made one
//! panic, the client would get a 500 and the server would keep serving.

use std::error::Error as StdError;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use smartasync::smartasync;

/// How long the gateway waits for the upstream by default, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Most ids a `/basket` request may ask for.
pub const MAX_BASKET: usize = 16;

/// Items the upstream knows: ids `1..=CATALOG_SIZE`.
pub const CATALOG_SIZE: u64 = 1000;

/// Most request threads a [`GatewayServer`] runs by default.
pub const DEFAULT_MAX_THREADS: usize = 64;

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
/// use smartasync_examples::gateway::{Gateway, Upstream, catalog_item};
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
        if ids.is_empty() || ids.len() > MAX_BASKET {
            return Err(GatewayError::BadRequest(format!(
                "a basket holds 1 to {MAX_BASKET} ids, got {}",
                ids.len()
            )));
        }
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
/// blocking entries of [`Gateway`]. Dropping the server (or [`shutdown`](Self::shutdown))
/// stops accepting, lets queued and running requests finish (for at most 10 seconds) and
/// joins the accept thread.
pub struct GatewayServer {
    addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    threads: Arc<Limit>,
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
        let stopping = Arc::new(AtomicBool::new(false));
        let threads = Arc::new(Limit::new(max_threads.max(1)));
        let accept = thread::Builder::new()
            .name("gateway-accept".into())
            .spawn({
                let server = Arc::clone(&server);
                let stopping = Arc::clone(&stopping);
                let threads = Arc::clone(&threads);
                move || accept_loop(&server, &gateway, &stopping, &threads)
            })?;
        Ok(Self {
            addr,
            server,
            stopping,
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

    /// Stops accepting, lets the requests already taken finish, and joins the accept thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.stopping.store(true, Ordering::Release);
        self.server.unblock();
        let _ = accept.join();
        self.threads.wait_idle(Duration::from_secs(10));
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

fn accept_loop(
    server: &tiny_http::Server,
    gateway: &Gateway,
    stopping: &AtomicBool,
    threads: &Arc<Limit>,
) {
    let mut started: u64 = 0;
    loop {
        let request = match server.recv() {
            Ok(request) => request,
            Err(_) if stopping.load(Ordering::Acquire) => return,
            // A connection that failed before it sent a request: nothing to answer.
            Err(_) => continue,
        };
        let permit = threads.acquire();
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
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
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

fn parse_id(text: &str) -> Result<u64, GatewayError> {
    match text.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(GatewayError::BadRequest(format!(
            "an item id is a positive integer, got `{}`",
            clip(text)
        ))),
    }
}

fn parse_basket(query: &str) -> Result<Vec<u64>, GatewayError> {
    let ids = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("ids="))
        .ok_or_else(|| GatewayError::BadRequest("expected `?ids=1,2,3`".into()))?;
    let ids = ids.split(',').collect::<Vec<_>>();
    if ids.len() > MAX_BASKET {
        return Err(GatewayError::BadRequest(format!(
            "a basket holds 1 to {MAX_BASKET} ids, got {}",
            ids.len()
        )));
    }
    ids.into_iter().map(parse_id).collect()
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

/// A counting semaphore for request threads.
#[derive(Debug)]
struct Limit {
    max: usize,
    busy: Mutex<usize>,
    changed: Condvar,
}

struct Permit(Arc<Limit>);

impl Limit {
    fn new(max: usize) -> Self {
        Self {
            max,
            busy: Mutex::new(0),
            changed: Condvar::new(),
        }
    }

    fn acquire(self: &Arc<Self>) -> Permit {
        let busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        let mut busy = self
            .changed
            .wait_while(busy, |busy| *busy >= self.max)
            .unwrap_or_else(PoisonError::into_inner);
        *busy += 1;
        Permit(Arc::clone(self))
    }

    fn wait_idle(&self, timeout: Duration) {
        let busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = self
            .changed
            .wait_timeout_while(busy, timeout, |busy| *busy > 0)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
        self.0.changed.notify_all();
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
/// It runs on smartasync's process-wide runtime, so it serves whichever thread or runtime
/// calls it, and stops when dropped. [`set_failing`](Self::set_failing) and
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
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = smartasync::runtime::handle();
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
// A minimal sync HTTP client, for the example and the tests.
// ---------------------------------------------------------------------------------------

/// What [`http_request`] got back.
#[derive(Clone, Debug)]
pub struct HttpReply {
    /// The status code.
    pub status: u16,
    /// The headers, names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    pub body: String,
}

impl HttpReply {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body parsed as JSON.
    ///
    /// # Errors
    ///
    /// If the body is not JSON.
    pub fn json(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::from_str(&self.body)
    }
}

/// `GET path` on the server at `addr`, on a fresh connection, waiting at most 10 seconds.
///
/// # Errors
///
/// If the server cannot be reached, is too slow or answers something that is not HTTP.
pub fn http_get(addr: SocketAddr, path: &str) -> io::Result<HttpReply> {
    http_request(addr, "GET", path)
}

/// `method path` on the server at `addr`, with `Connection: close` and no body, waiting at
/// most 10 seconds. A tiny client built on `std::net::TcpStream`: enough for loopback tests
/// and demos, not a general HTTP client.
///
/// # Errors
///
/// If the server cannot be reached, is too slow or answers something that is not HTTP.
pub fn http_request(addr: SocketAddr, method: &str, path: &str) -> io::Result<HttpReply> {
    let timeout = Duration::from_secs(10);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.take(1 << 20).read_to_end(&mut raw)?;
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> io::Result<HttpReply> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("bad reply: {what}"));
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
    let body = if chunked {
        dechunk(body).ok_or_else(|| bad("broken chunked body"))?
    } else {
        body.to_owned()
    };
    Ok(HttpReply {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &str) -> Option<String> {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.push_str(after.get(..size)?);
        rest = after.get(size..)?.strip_prefix("\r\n")?;
    }
}
