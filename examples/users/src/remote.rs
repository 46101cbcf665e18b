//! The HTTP backend: an async client (reqwest) of a running users API, each method written
//! once as an `async fn`.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use axum::http::StatusCode;
use reqwest::{Client, Method, RequestBuilder, Response, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use smartasync::smartasync;

use crate::users::{NewUser, User, UserError, Users, stored_email};

/// How long a call to the remote API may take, connection included, before it fails with
/// [`UserError::Upstream`]. Longer than the remote's own waits (its connection wait and
/// SQLite's busy timeout), so that the remote answers first. An export, whose body may
/// take longer than any bound, has it between two reads instead.
pub const REMOTE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long connecting to the remote API may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The HTTP backend of [`Users`]: a client of a running users API (this crate's
/// [`router`](crate::router), on SQLite or itself in front of another API).
///
/// Every method is an `async fn` over reqwest under `#[smartasync]`, so each comes as a
/// pair: `get_async(id)` for async callers is the body as written, and `get(id)` drives it
/// from sync code with no runtime to build (the connection pool then lives on smartasync's
/// process-wide runtime and is reused from call to call).
///
/// The remote's answers map back to the errors [`UserStore`](crate::UserStore) returns, so
/// a caller cannot tell the backends apart: 404 is [`UserError::NotFound`], 409
/// [`UserError::DuplicateEmail`], 400 and 422 [`UserError::Invalid`] with the remote's
/// message, 503 [`UserError::Unavailable`]. Anything else (no answer, a timeout, a 500, a
/// body that is not what the route returns) is [`UserError::Upstream`], whose source is a
/// [`RemoteError`].
///
/// Cancellation needs nothing here: the `_async` entries are the `async fn`s as written, so
/// dropping one's future (an API in front of this one whose client left, or whose request
/// timed out) drops the reqwest request in flight and closes its connection, and the API
/// behind sees its client go away and stops the work in turn (see [`crate::interrupt`]).
///
/// ```no_run
/// use smartasync_example_users::{RemoteUsers, Users};
///
/// let users = RemoteUsers::new("http://127.0.0.1:3000")?;
/// for user in users.list(0, 10)? {
///     println!("{}\t{}", user.id, user.email);
/// }
/// # Ok::<(), smartasync_example_users::UserError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RemoteUsers {
    client: Client,
    base: Url,
}

impl RemoteUsers {
    /// A client of the users API at `base_url` (`http://host:port`, optionally with a path
    /// prefix). Proxies from the environment are used, except for a loopback host, which a
    /// proxy could not reach. Nothing is sent until the first call.
    ///
    /// # Errors
    ///
    /// [`UserError::Invalid`] for a URL that is not `http` or `https`, or has a query or a
    /// fragment; [`UserError::Internal`] if the HTTP client cannot be built.
    pub fn new(base_url: &str) -> Result<Self, UserError> {
        let refused = |why: String| {
            UserError::invalid(format!(
                "`{base_url}` {why}; give the base URL of a users API, like \
                 `http://127.0.0.1:3000`"
            ))
        };
        let base =
            Url::parse(base_url).map_err(|error| refused(format!("is not a URL ({error})")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(refused("is not an http(s) URL with a host".into()));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(refused("has a query or a fragment".into()));
        }
        // No deadline for a whole exchange here: an export's body may take longer than
        // any; each request but the export's sets its own (`request`).
        let mut client = Client::builder()
            .read_timeout(REMOTE_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT);
        if is_loopback(&base) {
            client = client.no_proxy();
        }
        let client = client
            .build()
            .map_err(|error| UserError::Internal(Box::new(error)))?;
        Ok(Self { client, base })
    }

    /// The base URL this client talks to.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// A request to the base URL's path followed by `segments`, answered in full within
    /// [`REMOTE_TIMEOUT`].
    fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        self.client
            .request(method, self.url(segments))
            .timeout(REMOTE_TIMEOUT)
    }

    /// The base URL's path followed by `segments`.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // `new` accepted only http(s) URLs, which can always take path segments.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

#[smartasync]
impl Users for RemoteUsers {
    async fn list(&self, after: i64, limit: u32) -> Result<Vec<User>, UserError> {
        let request = self
            .request(Method::GET, &["users"])
            .query(&[("after", after.to_string()), ("limit", limit.to_string())]);
        let response = send(request, StatusCode::OK, Subject::default()).await?;
        decode(response).await
    }

    async fn get(&self, id: i64) -> Result<User, UserError> {
        let request = self.request(Method::GET, &["users", &id.to_string()]);
        let response = send(request, StatusCode::OK, Subject::id(id)).await?;
        decode(response).await
    }

    async fn create(&self, new: &NewUser) -> Result<User, UserError> {
        let request = self.request(Method::POST, &["users"]).json(new);
        let subject = Subject {
            new: Some(new),
            ..Subject::default()
        };
        let response = send(request, StatusCode::CREATED, subject).await?;
        decode(response).await
    }

    /// `POST /users/import` with the users as a JSON array; the answer is the stored users.
    /// A 409 names one of `users`' emails, which becomes the [`UserError::DuplicateEmail`].
    async fn import(&self, users: Vec<NewUser>) -> Result<Vec<User>, UserError> {
        let request = self
            .request(Method::POST, &["users", "import"])
            .json(&users);
        let subject = Subject {
            batch: &users,
            ..Subject::default()
        };
        let response = send(request, StatusCode::CREATED, subject).await?;
        decode(response).await
    }

    async fn update(&self, id: i64, new: &NewUser) -> Result<User, UserError> {
        let request = self
            .request(Method::PUT, &["users", &id.to_string()])
            .json(new);
        let subject = Subject {
            id: Some(id),
            new: Some(new),
            ..Subject::default()
        };
        let response = send(request, StatusCode::OK, subject).await?;
        decode(response).await
    }

    async fn delete(&self, id: i64) -> Result<(), UserError> {
        let request = self.request(Method::DELETE, &["users", &id.to_string()]);
        send(request, StatusCode::NO_CONTENT, Subject::id(id)).await?;
        Ok(())
    }

    /// `GET /users/export`, read as it arrives: the body's chunks are split into lines,
    /// each parsed as a user, so memory holds one chunk whatever the length of the list.
    /// The answer's status maps to an error as for the other methods; a body cut short
    /// (the remote ended it on a failed row, or the connection broke) or a line that is not
    /// a user is an [`UserError::Upstream`] item, the last one. The export has no deadline
    /// as a whole, only between reads ([`REMOTE_TIMEOUT`]). Dropping the stream drops the
    /// response, which closes its connection, and the remote stops reading.
    async fn export(
        &self,
    ) -> Result<impl smartasync::Stream<Item = Result<User, UserError>> + Send, UserError> {
        let request = self.client.get(self.url(&["users", "export"]));
        let answer = send(request, StatusCode::OK, Subject::default()).await?;
        let lines = Lines {
            status: answer.response.status(),
            response: answer.response,
            request: answer.request,
            buffer: Vec::new(),
            start: 0,
            ended: false,
        };
        Ok(futures::stream::unfold(lines, |mut lines| async move {
            let user = lines.next_user().await?;
            Some((user, lines))
        }))
    }
}

/// The body of an NDJSON answer, as users: what has arrived and not yet been parsed.
struct Lines {
    response: Response,
    status: StatusCode,
    request: String,
    /// Bytes received; those before `start` are parsed.
    buffer: Vec<u8>,
    start: usize,
    /// The body ended, or an error was returned: nothing more is read.
    ended: bool,
}

impl Lines {
    /// The next user, `None` at the end of the body, or the error that ends it.
    async fn next_user(&mut self) -> Option<Result<User, UserError>> {
        loop {
            let pending = &self.buffer[self.start..];
            let line = match pending.iter().position(|&byte| byte == b'\n') {
                Some(end) => {
                    self.start += end + 1;
                    &pending[..end]
                }
                // NDJSON's last line may lack its newline.
                None if self.ended && !pending.is_empty() => {
                    self.start = self.buffer.len();
                    pending
                }
                None if self.ended => return None,
                None => {
                    if let Err(error) = self.read().await {
                        self.stop();
                        return Some(Err(error));
                    }
                    continue;
                }
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let parsed = serde_json::from_slice(line).map_err(|error| {
                self.upstream(format!("a line of the body is not a user: {error}"))
            });
            if parsed.is_err() {
                self.stop();
            }
            return Some(parsed);
        }
    }

    /// Appends the body's next chunk to the buffer (dropping what was parsed), or notes its
    /// end.
    async fn read(&mut self) -> Result<(), UserError> {
        match self.response.chunk().await {
            Ok(Some(chunk)) => {
                self.buffer.drain(..self.start);
                self.start = 0;
                self.buffer.extend_from_slice(&chunk);
            }
            Ok(None) => self.ended = true,
            Err(error) => {
                return Err(self.upstream(format!("the body broke off: {}", chain(&error))));
            }
        }
        Ok(())
    }

    /// After an error: nothing more is parsed or read.
    fn stop(&mut self) {
        self.ended = true;
        self.buffer.clear();
        self.start = 0;
    }

    fn upstream(&self, message: String) -> UserError {
        UserError::Upstream(Box::new(RemoteError {
            request: self.request.clone(),
            status: Some(self.status),
            message,
        }))
    }
}

/// What a call was about: what a 404 or a 409 refers to.
#[derive(Clone, Copy, Default)]
struct Subject<'a> {
    id: Option<i64>,
    new: Option<&'a NewUser>,
    /// The users of an import, one of which a 409 names.
    batch: &'a [NewUser],
}

impl Subject<'_> {
    fn id(id: i64) -> Self {
        Self {
            id: Some(id),
            ..Self::default()
        }
    }

    /// The email a 409 whose message is `message` refers to: the one of the call's user,
    /// or the one of an import's users that the message quotes (`` `email` ``).
    fn duplicate(&self, message: &str) -> Option<String> {
        match self.new {
            Some(new) => Some(stored_email(&new.email)),
            None => self
                .batch
                .iter()
                .map(|new| stored_email(&new.email))
                .find(|email| message.contains(&format!("`{email}`"))),
        }
    }
}

/// The body of the API's error answers.
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

/// A successful answer, with its request as `METHOD URL` for errors.
struct Answer {
    response: Response,
    request: String,
}

/// Sends `request` and returns its answer if it has the `expected` status; any other
/// answer becomes the error the SQLite store would have returned for the same refusal,
/// the inverse of [`UserError::status`].
async fn send(
    request: RequestBuilder,
    expected: StatusCode,
    subject: Subject<'_>,
) -> Result<Answer, UserError> {
    let (client, request) = request.build_split();
    let request = request.map_err(|error| UserError::Internal(Box::new(error)))?;
    let label = format!("{} {}", request.method(), request.url());
    let response = match client.execute(request).await {
        Ok(response) => response,
        Err(error) => {
            return Err(UserError::Upstream(Box::new(RemoteError {
                request: label,
                status: None,
                message: chain(&error),
            })));
        }
    };
    let status = response.status();
    if status == expected {
        return Ok(Answer {
            response,
            request: label,
        });
    }
    let message = match response.json::<ErrorBody>().await {
        Ok(body) => body.error,
        Err(_) => status.canonical_reason().unwrap_or("no message").to_owned(),
    };
    let remote = RemoteError {
        request: label,
        status: Some(status),
        message,
    };
    Err(match (status, subject) {
        (StatusCode::NOT_FOUND, Subject { id: Some(id), .. }) => UserError::NotFound { id },
        (StatusCode::CONFLICT, _) => match subject.duplicate(&remote.message) {
            Some(email) => UserError::DuplicateEmail { email },
            None => UserError::Upstream(Box::new(remote)),
        },
        (StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY, _) => UserError::Invalid {
            reason: remote.message,
        },
        (StatusCode::SERVICE_UNAVAILABLE, _) => UserError::Unavailable(Box::new(remote)),
        _ => UserError::Upstream(Box::new(remote)),
    })
}

/// The JSON body of a successful answer.
async fn decode<T: DeserializeOwned>(answer: Answer) -> Result<T, UserError> {
    let status = answer.response.status();
    answer.response.json().await.map_err(|error| {
        UserError::Upstream(Box::new(RemoteError {
            request: answer.request,
            status: Some(status),
            message: format!("the body is not what this route returns: {}", chain(&error)),
        }))
    })
}

/// An error and its sources, `: `-separated (reqwest's own message names only the URL).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(error) = source {
        text.push_str(": ");
        text.push_str(&error.to_string());
        source = error.source();
    }
    text
}

/// What a call to the remote API got instead of the answer it expected: the source of
/// [`RemoteUsers`]' [`UserError::Unavailable`] and [`UserError::Upstream`] errors.
///
/// ```
/// use smartasync_example_users::RemoteError;
///
/// let error = RemoteError {
///     request: "GET http://127.0.0.1:3000/users".into(),
///     status: Some(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
///     message: "internal error".into(),
/// };
/// assert_eq!(
///     error.to_string(),
///     "GET http://127.0.0.1:3000/users answered 500 Internal Server Error: internal error"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteError {
    /// The request, as `METHOD URL`.
    pub request: String,
    /// The status of the answer; `None` when no answer came.
    pub status: Option<StatusCode>,
    /// The remote's `error` message, or what went wrong.
    pub message: String,
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "{} answered {status}: {}", self.request, self.message),
            None => write!(f, "{}: {}", self.request, self.message),
        }
    }
}

impl std::error::Error for RemoteError {}
