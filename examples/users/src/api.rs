//! The HTTP side: the Axum router whose handlers await the `_async` entries of whichever
//! [`Users`] backend it is given.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path as UrlPath, Query};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::store::{MAX_BODY_BYTES, MAX_IMPORT_BYTES};
use crate::users::{NewUser, User, UserError, Users};

/// An error response: a status and a JSON body `{"error": "<message>"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The response status.
    pub status: StatusCode,
    /// The message sent to the client.
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// The status and text of an extractor's rejection, given as its response: Axum's
    /// rejections answer with a status and a plain-text reason; this keeps both.
    async fn from_rejection(response: Response) -> Self {
        let status = response.status();
        let message = match axum::body::to_bytes(response.into_body(), MAX_BODY_BYTES).await {
            Ok(text) if !text.is_empty() => String::from_utf8_lossy(&text).into_owned(),
            _ => status
                .canonical_reason()
                .unwrap_or("bad request")
                .to_owned(),
        };
        Self::new(status, message)
    }
}

/// Seconds a client is asked to wait before retrying after a 503 (its `Retry-After`): a
/// busy store is a matter of moments, a burst of writes drains in well under a second.
pub const RETRY_AFTER_SECS: u64 = 1;

/// A JSON body `{"error": "..."}`; a 503 also says when to retry (`Retry-After`), so that a
/// client can tell a deliberate "not now" from a failure.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, RETRY_AFTER_SECS.into());
        }
        response
    }
}

/// The one mapping from the service's errors to answers, whichever backend the API fronts:
/// the status is [`UserError::status`]; the message is the error's own for the client's
/// mistakes, and a fixed one for server faults (whose details go to the log).
impl From<UserError> for ApiError {
    fn from(error: UserError) -> Self {
        let status = error.status();
        match error {
            // The details are for the operator, not the client.
            UserError::Internal(_) => {
                tracing::error!(error = %error, "user store failure");
                Self::new(status, "internal error")
            }
            UserError::Unavailable(_) => {
                tracing::warn!(error = %error, "user store unavailable");
                Self::new(status, "the user store is busy; try again shortly")
            }
            UserError::Upstream(_) => {
                tracing::error!(error = %error, "remote users API failure");
                Self::new(status, "the users API behind this one failed")
            }
            _ => Self::new(status, error.to_string()),
        }
    }
}

/// Any Axum extractor `E`, rejecting with an [`ApiError`] (a JSON message) instead of
/// plain text, with the status `E` chose: `Api<Json<T>>` (400 for malformed JSON, 422 for
/// missing or mistyped fields, 415 without a JSON content type, 413 over
/// [`MAX_BODY_BYTES`] or the route's own limit), `Api<Path<i64>>` and `Api<Query<T>>` (400).
///
/// ```
/// use axum::extract::{Json, Path};
/// use smartasync_example_users::{Api, NewUser};
///
/// async fn rename(Api(Path(id)): Api<Path<i64>>, Api(Json(new)): Api<Json<NewUser>>) {
///     # let _ = (id, new);
/// }
/// let _app: axum::Router = axum::Router::new().route("/users/{id}", axum::routing::put(rename));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Api<E>(pub E);

impl<S: Send + Sync, E: FromRequest<S>> FromRequest<S> for Api<E> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let rejection = match E::from_request(request, state).await {
            Ok(value) => return Ok(Self(value)),
            Err(rejection) => rejection.into_response(),
        };
        Err(ApiError::from_rejection(rejection).await)
    }
}

impl<S: Send + Sync, E: FromRequestParts<S>> FromRequestParts<S> for Api<E> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let rejection = match E::from_request_parts(parts, state).await {
            Ok(value) => return Ok(Self(value)),
            Err(rejection) => rejection.into_response(),
        };
        Err(ApiError::from_rejection(rejection).await)
    }
}

/// Query string of `GET /users`: `?after=<id>&limit=<n>`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only users with a greater id (default 0).
    #[serde(default)]
    pub after: i64,
    /// Page size (default 100, at most [`MAX_PAGE`](crate::MAX_PAGE)).
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_limit() -> u32 {
    100
}

/// `GET /health`: answers at once, touching no database.
pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn list_users(
    State(users): State<Arc<dyn Users>>,
    Api(Query(query)): Api<Query<ListQuery>>,
) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(users.list_async(query.after, query.limit).await?))
}

async fn create_user(
    State(users): State<Arc<dyn Users>>,
    Api(Json(new)): Api<Json<NewUser>>,
) -> Result<Response, ApiError> {
    let user = users.create_async(&new).await?;
    let location = format!("/users/{}", user.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(user),
    )
        .into_response())
}

/// `POST /users/import`: a JSON array of new users, stored all or none; 201 with the
/// stored users, in order, with their ids (the answer is about as large as the request,
/// which is what a client needs to refer to them afterwards).
async fn import_users(
    State(users): State<Arc<dyn Users>>,
    Api(Json(news)): Api<Json<Vec<NewUser>>>,
) -> Result<(StatusCode, Json<Vec<User>>), ApiError> {
    Ok((StatusCode::CREATED, Json(users.import_async(news).await?)))
}

async fn get_user(
    State(users): State<Arc<dyn Users>>,
    Api(UrlPath(id)): Api<UrlPath<i64>>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(users.get_async(id).await?))
}

async fn update_user(
    State(users): State<Arc<dyn Users>>,
    Api(UrlPath(id)): Api<UrlPath<i64>>,
    Api(Json(new)): Api<Json<NewUser>>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(users.update_async(id, &new).await?))
}

async fn delete_user(
    State(users): State<Arc<dyn Users>>,
    Api(UrlPath(id)): Api<UrlPath<i64>>,
) -> Result<StatusCode, ApiError> {
    users.delete_async(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rows of an export serialized into one chunk of the body at most: what the stream has
/// ready, up to this many, goes out as one write.
const EXPORT_CHUNK_ROWS: usize = 256;

/// Chunks of an export's body waiting to be sent at most: with the stream's own batch and
/// the socket's buffers, all that an export holds for a slow client.
const EXPORT_CHUNKS_AHEAD: usize = 2;

/// `GET /users/export`: every user as NDJSON, sent as the backend reads them.
///
/// The handler cannot return a stream that borrows the `Arc<dyn Users>` it was given, so a
/// task owns both and feeds the body through a channel of [`EXPORT_CHUNKS_AHEAD`] chunks:
/// a client that reads slowly stops the task, which stops the backend's producer. The first
/// message decides the answer: an error before the first row (no pooled connection, a
/// remote's 503) is its status with a JSON message; rows are a 200 whose body streams on. A
/// row that fails later cannot change the status any more: it is logged, and the body ends
/// with an error, so the client sees a broken body, not a short list that looks complete.
async fn export_users(State(users): State<Arc<dyn Users>>) -> Result<Response, ApiError> {
    let (chunks, mut received) = mpsc::channel(EXPORT_CHUNKS_AHEAD);
    tokio::spawn(feed_export(users, chunks));
    let first = match received.recv().await {
        Some(Ok(first)) => first,
        Some(Err(error)) => return Err(error.into()),
        None => Bytes::new(),
    };
    let rest = futures::stream::unfold(received, |mut received| async move {
        let chunk = received.recv().await?.inspect_err(|error| {
            tracing::error!(%error, "export cut short by a failed row");
        });
        Some((chunk, received))
    });
    let body = Body::from_stream(futures::stream::once(async { Ok(first) }).chain(rest));
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

/// Reads `users.export_async()` into `chunks` of NDJSON lines; an error (to start, or of a
/// row) is sent after the rows before it and ends the feed. Stops, dropping the export,
/// when the body is dropped (the client went away).
async fn feed_export(users: Arc<dyn Users>, chunks: mpsc::Sender<Result<Bytes, UserError>>) {
    let rows = match users.export_async().await {
        Ok(rows) => rows,
        Err(error) => {
            let _ = chunks.send(Err(error)).await;
            return;
        }
    };
    let mut rows = rows.ready_chunks(EXPORT_CHUNK_ROWS);
    loop {
        let ready = tokio::select! {
            ready = rows.next() => ready,
            () = chunks.closed() => return,
        };
        let Some(ready) = ready else { return };
        let mut lines = Vec::new();
        let mut failed = None;
        for row in ready {
            match row.and_then(|user| ndjson_line(&mut lines, &user)) {
                Ok(()) => {}
                Err(error) => {
                    failed = Some(error);
                    break;
                }
            }
        }
        if !lines.is_empty() && chunks.send(Ok(lines.into())).await.is_err() {
            return;
        }
        if let Some(error) = failed {
            let _ = chunks.send(Err(error)).await;
            return;
        }
    }
}

/// Appends `user` to `lines` as one line of JSON.
fn ndjson_line(lines: &mut Vec<u8>, user: &User) -> Result<(), UserError> {
    serde_json::to_writer(&mut *lines, user)
        .map_err(|error| UserError::Internal(Box::new(error)))?;
    lines.push(b'\n');
    Ok(())
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {method} {}", uri.path()),
    )
}

async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// The users API:
///
/// | route | answer |
/// |---|---|
/// | `GET /health` | 200 `{"status":"ok"}` |
/// | `GET /users?after=&limit=` | 200, a page of users by id |
/// | `POST /users` `{"name","email"}` | 201 and the user (with a `Location`); 409 duplicate email; 422 invalid |
/// | `POST /users/import` `[{"name","email"}, ...]` | 201 and the users, all stored or none; 409 for any duplicate email; 422 for any invalid user (named by its index); body up to [`MAX_IMPORT_BYTES`](crate::MAX_IMPORT_BYTES) |
/// | `GET /users/{id}` | 200; 404 |
/// | `PUT /users/{id}` `{"name","email"}` | 200; 404; 409; 422 |
/// | `DELETE /users/{id}` | 204; 404 |
/// | `GET /users/export` | 200, every user by id as NDJSON (`application/x-ndjson`, one JSON object a line), streamed |
///
/// Every error has a JSON body `{"error": "..."}`; a route that touches the store answers
/// 503 with `Retry-After` when the store is busy (over SQLite: no pooled connection came
/// free within the store's connection wait, or the file stayed locked by another process
/// past the busy timeout; over a remote API: that API answered 503), 502 when the
/// remote API behind it fails or cannot be reached, and 504 when the request takes longer
/// than its limit ([`REQUEST_TIMEOUT`], or [`ApiRouter::timeout`]): its work is stopped.
///
/// ```
/// use std::sync::Arc;
///
/// use smartasync_example_users::{RemoteUsers, Users, router};
///
/// // An API in front of another one; `Arc::new(UserStore::open(path)?)` serves SQLite.
/// let users: Arc<dyn Users> = Arc::new(RemoteUsers::new("http://127.0.0.1:3000")?);
/// let _app: axum::Router = router(users);
/// # Ok::<(), smartasync_example_users::UserError>(())
/// ```
///
/// Every request is answered within [`REQUEST_TIMEOUT`] (see [`ApiRouter::timeout`]).
pub fn router(users: Arc<dyn Users>) -> Router {
    ApiRouter::new(users).build()
}

/// [`router`] plus the routes of `extra`, which share its state, body limit, timeout and
/// JSON error answers for unknown routes and methods. The load example mounts its slow
/// `/report` endpoints this way (with a state of their own: `Router::with_state` gives a
/// router of any state type).
pub fn router_with(users: Arc<dyn Users>, extra: Router<Arc<dyn Users>>) -> Router {
    ApiRouter::new(users).routes(extra).build()
}

/// How long a request may take until its answer starts, unless the router is built with
/// another [`ApiRouter::timeout`]: 10 s.
///
/// Longer than anything a healthy request waits for: a pooled connection
/// ([`CONNECTION_WAIT`](crate::CONNECTION_WAIT), 2 s) and then a locked file
/// ([`BUSY_TIMEOUT`](crate::sql::BUSY_TIMEOUT), 5 s), after which the store answers a more
/// precise 503 itself; and shorter than a remote caller's own limit
/// ([`REMOTE_TIMEOUT`](crate::REMOTE_TIMEOUT), 30 s), so an API in front of this one hears
/// the 504 rather than giving up blind. Past it, the work is of no use to anyone: it is
/// stopped and its connection freed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The users API's router, with the options [`router`] and [`router_with`] take as they
/// come: extra routes and the per-request timeout.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use smartasync_example_users::{ApiRouter, RemoteUsers, Users};
///
/// let users: Arc<dyn Users> = Arc::new(RemoteUsers::new("http://127.0.0.1:3000")?);
/// let _app: axum::Router = ApiRouter::new(users)
///     .timeout(Some(Duration::from_secs(2)))
///     .build();
/// # Ok::<(), smartasync_example_users::UserError>(())
/// ```
pub struct ApiRouter {
    users: Arc<dyn Users>,
    extra: Router<Arc<dyn Users>>,
    timeout: Option<Duration>,
}

impl ApiRouter {
    /// The API over `users`, with no extra route and a timeout of [`REQUEST_TIMEOUT`].
    pub fn new(users: Arc<dyn Users>) -> Self {
        Self {
            users,
            extra: Router::new(),
            timeout: Some(REQUEST_TIMEOUT),
        }
    }

    /// Adds the routes of `extra` (see [`router_with`]).
    #[must_use]
    pub fn routes(mut self, extra: Router<Arc<dyn Users>>) -> Self {
        self.extra = self.extra.merge(extra);
        self
    }

    /// How long a request may take until its answer starts (`None`: no limit). Past it,
    /// the request is answered 504 with a JSON message that names the limit, and its
    /// handler is dropped: a store call it was waiting for is cancelled (a SQLite statement
    /// is interrupted, see [`crate::interrupt`]), a remote one's HTTP request is dropped.
    /// A streamed body (the export) is not limited once its first chunk is ready: it runs
    /// as long as the client reads it.
    #[must_use]
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// The router.
    pub fn build(self) -> Router {
        let router = Router::new()
            .route("/health", get(health))
            .route("/users", get(list_users).post(create_user))
            .route("/users/export", get(export_users))
            // A body limit of its own: the route exists for batches larger than the
            // default allows. This layer is inside the router's, so it wins.
            .route(
                "/users/import",
                post(import_users).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
            )
            .route(
                "/users/{id}",
                get(get_user).put(update_user).delete(delete_user),
            )
            .merge(self.extra)
            .fallback(no_route)
            .method_not_allowed_fallback(wrong_method)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self.users);
        match self.timeout {
            Some(limit) => router.layer(middleware::from_fn_with_state(limit, time_limit)),
            None => router,
        }
    }
}

/// The per-request timeout: the handler's future is dropped when `limit` runs out (which
/// cancels what it awaits), and the client gets a 504 that says so.
async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let (method, uri) = (request.method().clone(), request.uri().clone());
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let message = format!(
                "the request took longer than its {} limit",
                human_duration(limit)
            );
            tracing::warn!(%method, %uri, "{message}");
            ApiError::new(StatusCode::GATEWAY_TIMEOUT, message).into_response()
        }
    }
}

/// `10 s`, `1.5 s` or `250 ms`.
fn human_duration(duration: Duration) -> String {
    if duration >= Duration::from_secs(1) {
        format!("{} s", duration.as_secs_f64())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

/// Serves `router` (such as [`router`] over a store) on `listener` until `shutdown`
/// completes; in-flight requests are allowed to finish.
///
/// # Errors
///
/// If the server fails to accept connections.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds a loopback listener on an ephemeral port and serves `router` on a task of the
/// current runtime; returns the bound address. For tests and the load example.
///
/// # Errors
///
/// If no loopback port can be bound.
pub async fn spawn_server(router: Router) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "users API server stopped");
        }
    });
    Ok(addr)
}
