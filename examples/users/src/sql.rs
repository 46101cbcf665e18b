//! The users service's SQL over one rusqlite [`Connection`]: opening a database file, and
//! one function per operation. Both SQLite backends run these, [`UserStore`] on a pooled
//! connection and [`LaneStore`] on the connection its lane thread owns, so they store and
//! refuse exactly the same things.
//!
//! Every statement is parameterized; user input never becomes SQL text. A statement that
//! still finds the file locked after the busy timeout (another process holds the write
//! lock) is [`UserError::Unavailable`], a 503 to retry, not a server fault.
//!
//! [`UserStore`]: crate::UserStore
//! [`LaneStore`]: crate::LaneStore

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use crate::users::{MAX_PAGE, NewUser, User, UserError};

/// How long SQLite retries a statement that finds the file locked by another writer.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS users (
        id    INTEGER PRIMARY KEY AUTOINCREMENT,
        name  TEXT NOT NULL,
        email TEXT NOT NULL UNIQUE
    );
";

/// A locked file after the busy timeout is transient: the caller may retry. Anything else
/// is internal.
impl From<rusqlite::Error> for UserError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                Self::Unavailable(Box::new(error))
            }
            _ => Self::Internal(Box::new(error)),
        }
    }
}

/// How far a commit has gone when it returns: SQLite's `synchronous` setting, for every
/// connection of a store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// `synchronous = NORMAL`, SQLite's recommendation in WAL mode: a commit is written to
    /// the WAL, which is synced to the disk at each checkpoint rather than at each commit
    /// (the commit that fills the WAL past its checkpoint size runs the checkpoint, fsyncs
    /// included). The database is never corrupted; a crash of the machine (not of the
    /// process) may lose the last commits.
    #[default]
    Normal,
    /// `synchronous = FULL`, SQLite's default: every commit waits for an fsync of the WAL,
    /// so it survives a crash of the machine too, at the price of that wait.
    Full,
}

impl Durability {
    /// The value of `PRAGMA synchronous` it stands for: `NORMAL` or `FULL`.
    pub fn pragma(self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
        }
    }
}

/// Opens (creating if needed) the database file at `path` as a connection that waits
/// [`BUSY_TIMEOUT`] for a lock, in WAL mode, with the schema in place and the default
/// [`Durability`].
///
/// # Errors
///
/// [`UserError::Invalid`] for a database that cannot run in WAL mode (such as `:memory:`);
/// [`UserError::Internal`] if the file cannot be opened or the schema cannot be created.
pub fn open(path: &Path) -> Result<Connection, UserError> {
    open_with(path, Durability::default())
}

/// Like [`open`], with commits as durable as `durability` says.
///
/// # Errors
///
/// As [`open`].
pub fn open_with(path: &Path, durability: Durability) -> Result<Connection, UserError> {
    let connection = Connection::open(path)?;
    configure(&connection, durability)?;
    // WAL lets readers (the API) and a writer (the CLI) share the file; the mode is stored
    // in the file, so setting it once covers every later connection.
    let mode: String =
        connection.pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(UserError::invalid(format!(
            "`{}` cannot be shared by several connections: SQLite kept journal mode \
             `{mode}` instead of `wal`; give the path of a database file",
            path.display()
        )));
    }
    connection.execute_batch(SCHEMA)?;
    Ok(connection)
}

/// What every connection of a store runs with: a wait of [`BUSY_TIMEOUT`] for a locked
/// file, and `durability`.
///
/// # Errors
///
/// If SQLite refuses either setting.
pub fn configure(connection: &Connection, durability: Durability) -> rusqlite::Result<()> {
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.pragma_update(None, "synchronous", durability.pragma())
}

/// Maps a failed write: a unique-constraint violation is the caller's duplicate email,
/// anything else as any other failure.
fn write_error(error: rusqlite::Error, email: &str) -> UserError {
    let unique = matches!(
        &error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == ErrorCode::ConstraintViolation
                && failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    );
    if unique {
        UserError::DuplicateEmail {
            email: email.to_owned(),
        }
    } else {
        error.into()
    }
}

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        name: row.get(1)?,
        email: row.get(2)?,
    })
}

/// [`Users::list`](crate::Users::list) on `connection`.
///
/// # Errors
///
/// As [`Users::list`](crate::Users::list).
pub fn list(connection: &Connection, after: i64, limit: u32) -> Result<Vec<User>, UserError> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(UserError::invalid(format!(
            "limit must be between 1 and {MAX_PAGE}, got {limit}"
        )));
    }
    let mut statement = connection
        .prepare_cached("SELECT id, name, email FROM users WHERE id > ?1 ORDER BY id LIMIT ?2")?;
    let users = statement
        .query_map(params![after, limit], user_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(users)
}

/// [`Users::get`](crate::Users::get) on `connection`.
///
/// # Errors
///
/// As [`Users::get`](crate::Users::get).
pub fn get(connection: &Connection, id: i64) -> Result<User, UserError> {
    connection
        .prepare_cached("SELECT id, name, email FROM users WHERE id = ?1")?
        .query_row(params![id], user_from_row)
        .optional()?
        .ok_or(UserError::NotFound { id })
}

/// [`Users::create`](crate::Users::create) on `connection`.
///
/// # Errors
///
/// As [`Users::create`](crate::Users::create).
pub fn create(connection: &Connection, new: &NewUser) -> Result<User, UserError> {
    let (name, email) = new.validated()?;
    connection
        .prepare_cached(
            "INSERT INTO users (name, email) VALUES (?1, ?2) RETURNING id, name, email",
        )?
        .query_row(params![name, email], user_from_row)
        .map_err(|error| write_error(error, &email))
}

/// [`Users::update`](crate::Users::update) on `connection`.
///
/// # Errors
///
/// As [`Users::update`](crate::Users::update).
pub fn update(connection: &Connection, id: i64, new: &NewUser) -> Result<User, UserError> {
    let (name, email) = new.validated()?;
    connection
        .prepare_cached(
            "UPDATE users SET name = ?2, email = ?3 WHERE id = ?1 RETURNING id, name, email",
        )?
        .query_row(params![id, name, email], user_from_row)
        .optional()
        .map_err(|error| write_error(error, &email))?
        .ok_or(UserError::NotFound { id })
}

/// [`Users::delete`](crate::Users::delete) on `connection`.
///
/// # Errors
///
/// As [`Users::delete`](crate::Users::delete).
pub fn delete(connection: &Connection, id: i64) -> Result<(), UserError> {
    let deleted = connection
        .prepare_cached("DELETE FROM users WHERE id = ?1")?
        .execute(params![id])?;
    if deleted == 0 {
        return Err(UserError::NotFound { id });
    }
    Ok(())
}
