//! The users service as an interface: the [`Users`] trait, what it takes and returns, and
//! its errors. [`UserStore`](crate::UserStore) implements it over SQLite with blocking
//! methods, [`RemoteUsers`](crate::RemoteUsers) over HTTP with async ones.

use std::error::Error as StdError;
use std::fmt;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use smartasync::smartasync;

#[cfg(doc)]
use crate::{RemoteUsers, UserStore};

/// Largest page [`Users::list`] returns.
pub const MAX_PAGE: u32 = 1000;

const MAX_NAME_CHARS: usize = 100;
const MAX_EMAIL_CHARS: usize = 254;

/// The users service: written once as an interface, implemented by a blocking SQLite store
/// ([`UserStore`], each method a plain `fn`) and by an async HTTP client of a running users
/// API ([`RemoteUsers`], each method an `async fn`).
///
/// `#[smartasync]` declares both entries of every method: `get(id)` for sync code and
/// `get_async(id)`, which returns a boxed future, for async code. Each implementation
/// writes one and gets the other, so both backends have both entries and the trait is
/// dyn-compatible: the CLI and the API hold an `Arc<dyn Users>` chosen at start-up (see
/// [`Backend`](crate::Backend)) and never know which backend it is. Both backends return
/// the same [`UserError`] for the same refusal.
///
/// ```
/// use std::sync::Arc;
///
/// use smartasync_example_users::{NewUser, UserStore, Users};
///
/// let path = std::env::temp_dir().join(format!("users-trait-doc-{}.db", std::process::id()));
/// let users: Arc<dyn Users> = Arc::new(UserStore::open(&path)?);
///
/// // Sync code calls the blocking entries...
/// let ada = users.create(&NewUser::new("Ada", "ada@example.com"))?;
///
/// // ...async code awaits the `_async` ones, on the same object.
/// let runtime = tokio::runtime::Runtime::new()?;
/// assert_eq!(runtime.block_on(users.get_async(ada.id))?, ada);
///
/// // Many users come as an iterator (`export()`) or a stream (`export_async()`).
/// let all = users.export()?.collect::<Result<Vec<_>, _>>()?;
/// assert_eq!(all, [ada]);
/// # drop(users);
/// # smartasync_example_users::remove_database(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[smartasync]
pub trait Users: Send + Sync {
    /// Up to `limit` users (1 to [`MAX_PAGE`]) with an id greater than `after`, by id.
    ///
    /// # Errors
    ///
    /// [`UserError::Invalid`] for a `limit` out of range; [`UserError::Unavailable`],
    /// [`UserError::Internal`] or [`UserError::Upstream`] when the backend fails.
    fn list(&self, after: i64, limit: u32) -> Result<Vec<User>, UserError>;

    /// The user with this id.
    ///
    /// # Errors
    ///
    /// [`UserError::NotFound`]; the backend's failures, as for [`list`](Self::list).
    fn get(&self, id: i64) -> Result<User, UserError>;

    /// Stores a new user and returns it with its id.
    ///
    /// # Errors
    ///
    /// [`UserError::Invalid`] for a bad name or email; [`UserError::DuplicateEmail`]; the
    /// backend's failures.
    fn create(&self, new: &NewUser) -> Result<User, UserError>;

    /// Stores every user of `users` and returns them with their ids, in order: all of them,
    /// or none. Every user is checked first, by the rules of [`create`](Self::create), and
    /// only then are they stored, in one transaction over SQLite; an email already stored,
    /// or given twice in `users`, refuses the whole import.
    ///
    /// Meant for batches far larger than one request of [`create`](Self::create) (the API's
    /// `POST /users/import` takes up to [`MAX_IMPORT_BYTES`](crate::MAX_IMPORT_BYTES) of
    /// JSON). A caller of `import_async` that goes away stops it: the SQLite stores check
    /// between rows and roll the transaction back, so not one row of it is stored.
    ///
    /// # Errors
    ///
    /// [`UserError::Invalid`] for the first bad user, named by its index in `users`;
    /// [`UserError::DuplicateEmail`]; [`UserError::Interrupted`] when the async caller went
    /// away; the backend's failures. In every case no user of `users` is stored.
    fn import(&self, users: Vec<NewUser>) -> Result<Vec<User>, UserError>;

    /// Replaces the name and email of the user with this id, and returns the result.
    ///
    /// # Errors
    ///
    /// [`UserError::NotFound`]; [`UserError::Invalid`] for a bad name or email;
    /// [`UserError::DuplicateEmail`] if another user has the email; the backend's failures.
    fn update(&self, id: i64, new: &NewUser) -> Result<User, UserError>;

    /// Deletes the user with this id.
    ///
    /// # Errors
    ///
    /// [`UserError::NotFound`]; the backend's failures.
    fn delete(&self, id: i64) -> Result<(), UserError>;

    /// Every user, by id, one at a time as the backend reads them: however many there are,
    /// only a few are in memory at once.
    ///
    /// Declared once, it is two entries: `export()` returns a
    /// [`BoxIterator`](smartasync::BoxIterator) for sync code, `export_async()` a future of
    /// a [`BoxStream`](smartasync::BoxStream) for async code. The SQLite stores write it as
    /// a blocking iterator over a statement's rows (whose stream runs it on the blocking
    /// pool), [`RemoteUsers`] as a stream of the lines of an HTTP body (whose iterator drives
    /// it on the caller's thread).
    ///
    /// The SQLite stores read one snapshot: users created or deleted while an export runs are
    /// not in it. Dropping the iterator or the stream early stops the reading and gives back
    /// what it held (a pooled connection, an HTTP connection).
    ///
    /// # Errors
    ///
    /// Two places, so that a caller can tell "nothing was sent" from "the list is cut
    /// short": the outer `Err` when the export cannot start ([`UserError::Unavailable`]: no
    /// pooled connection came free, or the remote answered 503; [`UserError::Internal`],
    /// [`UserError::Upstream`]), and an `Err` item when a row cannot be read after the ones
    /// before it (the database or the connection failed). An `Err` item is the last one.
    fn export(&self) -> Result<impl Iterator<Item = Result<User, UserError>>, UserError>;
}

/// A stored user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Assigned by the store, never reused.
    pub id: i64,
    /// Display name, trimmed.
    pub name: String,
    /// Trimmed and lowercased; unique in the store.
    pub email: String,
}

/// What a client sends to create a user, or to replace one with `PUT`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Display name: 1 to 100 characters after trimming, no control characters.
    pub name: String,
    /// An address of the form `local@domain.tld`, at most 254 characters.
    pub email: String,
}

impl NewUser {
    /// A new user from borrowed parts.
    pub fn new(name: &str, email: &str) -> Self {
        Self {
            name: name.to_owned(),
            email: email.to_owned(),
        }
    }

    /// The trimmed name and normalized email, or why they are not acceptable: the rules
    /// every backend applies before it stores a user (public so that other stores of the
    /// same data, such as the peers measured in `benches/peers`, apply the same ones).
    ///
    /// # Errors
    ///
    /// [`UserError::Invalid`] with the reason.
    pub fn validated(&self) -> Result<(String, String), UserError> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(UserError::invalid("name must not be empty"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(UserError::invalid(format!(
                "name must be at most {MAX_NAME_CHARS} characters"
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(UserError::invalid(
                "name must not contain control characters",
            ));
        }
        let email = stored_email(&self.email);
        if email.chars().count() > MAX_EMAIL_CHARS {
            return Err(UserError::invalid(format!(
                "email must be at most {MAX_EMAIL_CHARS} characters"
            )));
        }
        let well_formed = match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if !well_formed {
            return Err(UserError::invalid(format!(
                "email `{}` is not an address like `name@example.com`",
                self.email.trim()
            )));
        }
        Ok((name.to_owned(), email))
    }
}

/// Why a [`Users`] call failed, whichever backend answered it.
#[derive(Debug)]
#[non_exhaustive]
pub enum UserError {
    /// No user has this id.
    NotFound {
        /// The id asked for.
        id: i64,
    },
    /// Another user already has this email.
    DuplicateEmail {
        /// The email as it would have been stored.
        email: String,
    },
    /// The input breaks a rule of the store; the reason says which.
    Invalid {
        /// What was wrong, written for the client.
        reason: String,
    },
    /// No pooled connection could be had within the store's connection wait: every one is
    /// busy with other calls (or, when the message says why, new ones cannot be opened).
    /// Usually transient; a server answers 503.
    Unavailable(Box<dyn StdError + Send + Sync>),
    /// The store itself failed (the database, the pool): a server fault, not the caller's.
    Internal(Box<dyn StdError + Send + Sync>),
    /// The remote users API could not be reached, timed out, or gave an answer that is none
    /// of the above (a 500, a body that is not what the route returns): a fault of the
    /// server behind this one. A server answers 502.
    Upstream(Box<dyn StdError + Send + Sync>),
    /// The call's async caller went away (its request was dropped by the client or timed
    /// out) and the SQLite stores stopped it: the statement running was interrupted
    /// (SQLite's `SQLITE_INTERRUPT`, and a write's transaction rolled back), or the call
    /// gave up waiting for a connection. Nobody is usually left to read it; a server that
    /// still has a client answers 503, as for a call that could not run now.
    Interrupted,
}

impl UserError {
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::Invalid {
            reason: reason.into(),
        }
    }

    /// The HTTP status this error is served with, by the API whichever backend it fronts.
    /// [`RemoteUsers`] maps each of these statuses back to its error, so an API in front of
    /// another answers as the one behind it would (except that a 500 behind it becomes a
    /// 502 in front).
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::DuplicateEmail { .. } => StatusCode::CONFLICT,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) | Self::Interrupted => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
        }
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound { id } => write!(f, "no user with id {id}"),
            Self::DuplicateEmail { email } => {
                write!(f, "a user with email `{email}` already exists")
            }
            Self::Invalid { reason } => f.write_str(reason),
            Self::Unavailable(error) => write!(f, "the user store is unavailable: {error}"),
            Self::Internal(error) => write!(f, "the user store failed: {error}"),
            Self::Upstream(error) => write!(f, "the remote users API failed: {error}"),
            Self::Interrupted => f.write_str("the call was stopped: its caller went away"),
        }
    }
}

impl StdError for UserError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Unavailable(error) | Self::Internal(error) | Self::Upstream(error) => {
                Some(&**error)
            }
            _ => None,
        }
    }
}

/// An email as the store keeps it: trimmed and lowercased. Also how [`RemoteUsers`] names
/// the email of a 409, so both backends report the same [`UserError::DuplicateEmail`].
pub(crate) fn stored_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}
