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
/// SQLite's busy timeout), so that the remote answers first.
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
        let mut client = Client::builder()
            .timeout(REMOTE_TIMEOUT)
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

    /// A request to the base URL's path followed by `segments`.
    fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        let mut url = self.base.clone();
        // `new` accepted only http(s) URLs, which can always take path segments.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        self.client.request(method, url)
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

    async fn update(&self, id: i64, new: &NewUser) -> Result<User, UserError> {
        let request = self
            .request(Method::PUT, &["users", &id.to_string()])
            .json(new);
        let subject = Subject {
            id: Some(id),
            new: Some(new),
        };
        let response = send(request, StatusCode::OK, subject).await?;
        decode(response).await
    }

    async fn delete(&self, id: i64) -> Result<(), UserError> {
        let request = self.request(Method::DELETE, &["users", &id.to_string()]);
        send(request, StatusCode::NO_CONTENT, Subject::id(id)).await?;
        Ok(())
    }
}

/// What a call was about: what a 404 or a 409 refers to.
#[derive(Clone, Copy, Default)]
struct Subject<'a> {
    id: Option<i64>,
    new: Option<&'a NewUser>,
}

impl Subject<'_> {
    fn id(id: i64) -> Self {
        Self {
            id: Some(id),
            new: None,
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
        (StatusCode::CONFLICT, Subject { new: Some(new), .. }) => UserError::DuplicateEmail {
            email: stored_email(&new.email),
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
