//! The users service's SQL over one rusqlite [`Connection`]: opening a database file, and
//! one function per operation. Both SQLite backends run these, [`UserStore`] on a pooled
//! connection and [`LaneStore`] on the connection its lane thread owns, so they store and
//! refuse exactly the same things.
//!
//! Every statement is parameterized; user input never becomes SQL text. A statement that
//! still finds the file locked after the busy timeout (another process holds the write
//! lock) is [`UserError::Unavailable`], a 503 to retry, not a server fault.
//!
//! # Exports: a cursor that owns its connection
//!
//! [`export`] reads every user through rusqlite's cursor, [`Statement::query`] and
//! [`Rows::next`], as an iterator the caller owns. The catch: `Rows<'stmt>` borrows a
//! `Statement<'conn>`, which borrows the `Connection`, so one statement stepped over the
//! whole table would make an iterator that owns its connection a self-referential struct.
//! This crate writes no `unsafe`, which leaves three designs:
//!
//! - A crate that writes the `unsafe` for us. `self_cell` gives a dependent only `&Owner`,
//!   and [`Statement::query`] takes `&mut Statement`: the chain cannot be written.
//!   `ouroboros` (0.18) accepts `#[borrows(mut statement)]` but refuses this chain (E0716:
//!   `Statement` has a `Drop` that could see the borrow), and it is a proc macro that
//!   generates `unsafe` code with a history of soundness advisories. Neither is a cost worth
//!   paying to keep one statement open.
//! - Collecting the rows into a `Vec`: memory grows with the table, which is what an export
//!   must not do.
//! - What [`Export`] does: keyset batches. It owns the connection and keeps one read
//!   transaction open (`BEGIN` ... `ROLLBACK`), so every batch reads the same snapshot, as
//!   one statement would have. Each batch is one run of a cached prepared statement,
//!   `SELECT .. WHERE id > ?1 ORDER BY id LIMIT ?2`, stepped row by row with
//!   [`Rows::next`] into a small buffer; between batches nothing borrows the connection, so
//!   the iterator is a plain struct of owned fields. The price is one seek of the primary
//!   key's B-tree per [`EXPORT_BATCH`] rows, and at most one batch in memory.
//!
//! While an export's transaction is open, SQLite cannot checkpoint the WAL past its
//! snapshot, so the WAL of a busy database grows until the export ends (or is dropped).
//!
//! [`UserStore`]: crate::UserStore
//! [`LaneStore`]: crate::LaneStore
//! [`Statement::query`]: rusqlite::Statement::query
//! [`Rows::next`]: rusqlite::Rows::next

use std::collections::VecDeque;
use std::ops::Deref;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params};

use crate::store::{MAX_REPORT_WORK, Report};
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

/// A locked file after the busy timeout is transient: the caller may retry. An interrupted
/// statement is [`UserError::Interrupted`] (its caller went away, see [`crate::interrupt`]).
/// Anything else is internal.
impl From<rusqlite::Error> for UserError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                Self::Unavailable(Box::new(error))
            }
            Some(ErrorCode::OperationInterrupted) => Self::Interrupted,
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

/// A page of users by id: those after `?1`, at most `?2`. [`list`]'s statement, and each
/// batch of an [`Export`].
const PAGE: &str = "SELECT id, name, email FROM users WHERE id > ?1 ORDER BY id LIMIT ?2";

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
    let mut statement = connection.prepare_cached(PAGE)?;
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
    insert(connection, &name, &email)
}

/// Inserts a user whose name and email are [validated](NewUser::validated).
fn insert(connection: &Connection, name: &str, email: &str) -> Result<User, UserError> {
    connection
        .prepare_cached(
            "INSERT INTO users (name, email) VALUES (?1, ?2) RETURNING id, name, email",
        )?
        .query_row(params![name, email], user_from_row)
        .map_err(|error| write_error(error, email))
}

/// Stores every user of `news` on `connection`, all of them or none: each is
/// [validated](NewUser::validated) first, before the write lock is taken (so a bad last
/// user costs no write), then all are inserted in one transaction (`BEGIN IMMEDIATE`, so
/// the write lock is taken before the first row). What [`Users::import`] runs.
///
/// # Errors
///
/// [`UserError::Invalid`] for the first bad user, its reason prefixed with its index in
/// `news` (`user at index 3: ...`); [`UserError::DuplicateEmail`] for the first email
/// already stored or given twice; [`UserError::Interrupted`] when the caller of the running
/// body went away (checked before each row, see [`smartasync::cancelled`]; an insert
/// running then is interrupted). On any error the transaction is rolled back: no user of
/// `news` is stored.
///
/// [`Users::import`]: crate::Users::import
pub fn create_many(connection: &Connection, news: &[NewUser]) -> Result<Vec<User>, UserError> {
    let valid = news
        .iter()
        .enumerate()
        .map(|(index, new)| {
            new.validated().map_err(|error| match error {
                UserError::Invalid { reason } => {
                    UserError::invalid(format!("user at index {index}: {reason}"))
                }
                other => other,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let transaction =
        rusqlite::Transaction::new_unchecked(connection, rusqlite::TransactionBehavior::Immediate)?;
    let mut created = Vec::with_capacity(valid.len());
    for (name, email) in &valid {
        // An interrupt stops only a statement running at that moment, and each insert is
        // short: the rows are where a batch spends its time, so it asks between them.
        if smartasync::cancelled() {
            return Err(UserError::Interrupted);
        }
        created.push(insert(&transaction, name, email)?);
    }
    // An error above drops the transaction, which rolls it back.
    transaction.commit()?;
    Ok(created)
}

/// [`UserStore::report`](crate::UserStore::report) on `connection`.
///
/// # Errors
///
/// As [`UserStore::report`](crate::UserStore::report).
pub fn report(connection: &Connection, work: u32) -> Result<Report, UserError> {
    if work > MAX_REPORT_WORK {
        return Err(UserError::invalid(format!(
            "work must be at most {MAX_REPORT_WORK}, got {work}"
        )));
    }
    let (users, checksum) = connection
        .prepare_cached(
            "WITH RECURSIVE walk(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM walk WHERE n < ?1)
             SELECT (SELECT count(*) FROM users), coalesce(sum(n * 31 % 1009), 0)
             FROM walk WHERE ?1 > 0",
        )?
        .query_row(params![work], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(Report {
        users,
        work,
        checksum,
    })
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

/// Opens a connection to read the existing database file at `path`, for an [`export`] that
/// should not use the connection of a store (the lane's, which its thread owns). It waits
/// [`BUSY_TIMEOUT`] for a lock and refuses writes (`query_only`).
///
/// # Errors
///
/// [`UserError::Internal`] if the file cannot be opened.
pub fn open_reader(path: &Path) -> Result<Connection, UserError> {
    // Read-write flags with `query_only`, rather than a read-only open: a read-only
    // connection to a WAL database fails when it would have to create the `-shm` file.
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.pragma_update(None, "query_only", true)?;
    Ok(connection)
}

/// Rows an [`Export`] reads per run of its statement: the most it holds in memory.
pub const EXPORT_BATCH: u32 = 256;

/// [`Users::export`](crate::Users::export) on `connection` (a pooled connection, or a
/// boxed one of its own): opens the read transaction and reads the first batch, so that a
/// database that cannot be read is an error here rather than in the first item.
///
/// # Errors
///
/// As [`Users::export`](crate::Users::export): the transaction cannot be opened, or the
/// first batch cannot be read.
pub fn export<C: Deref<Target = Connection>>(connection: C) -> Result<Export<C>, UserError> {
    // Deferred: the snapshot is taken by the first batch's read, here.
    connection.execute_batch("BEGIN DEFERRED")?;
    let mut export = Export {
        connection,
        after: i64::MIN,
        rows: VecDeque::with_capacity(EXPORT_BATCH as usize),
        reading: true,
        in_transaction: true,
        failed: None,
    };
    export.fill();
    match export.failed.take() {
        // Dropped on return: its `Drop` ends the transaction.
        Some(error) if export.rows.is_empty() => Err(error),
        failed => {
            export.failed = failed;
            Ok(export)
        }
    }
}

/// Every user by id, read in batches of [`EXPORT_BATCH`] from one snapshot of the database
/// (see [the module docs](self) for why it is made this way): the iterator of [`export`].
///
/// It owns its connection, and holds a read transaction on it until its last row is read,
/// a row fails, or it is dropped, whichever comes first; then the transaction is ended (the
/// connection goes back to its pool when the iterator is dropped). A failed batch yields
/// the rows read before it, then the error, then nothing.
pub struct Export<C: Deref<Target = Connection>> {
    connection: C,
    /// The id of the last row read: the next batch starts after it.
    after: i64,
    rows: VecDeque<User>,
    /// The table may have rows after `after`.
    reading: bool,
    /// `BEGIN` ran and no `ROLLBACK` yet.
    in_transaction: bool,
    /// The error that ended the reading, yielded after the rows read before it.
    failed: Option<UserError>,
}

impl<C: Deref<Target = Connection>> Export<C> {
    /// Reads the next batch into `rows`; a failure stops the reading.
    fn fill(&mut self) {
        if let Err(error) = self.read_batch() {
            self.reading = false;
            self.failed = Some(error);
        }
    }

    fn read_batch(&mut self) -> Result<(), UserError> {
        let mut statement = self.connection.prepare_cached(PAGE)?;
        let mut rows = statement.query(params![self.after, EXPORT_BATCH])?;
        let mut read = 0;
        while let Some(row) = rows.next()? {
            let user = user_from_row(row)?;
            self.after = user.id;
            self.rows.push_back(user);
            read += 1;
        }
        // A short batch is the last one.
        self.reading = read == EXPORT_BATCH;
        Ok(())
    }

    /// Ends the read transaction, if it is open: the snapshot is released as soon as it is
    /// not needed, and the connection goes back to its pool as it came out.
    fn end(&mut self) {
        // An interrupted read may have ended the transaction already.
        if std::mem::take(&mut self.in_transaction) && !self.connection.is_autocommit() {
            // Nothing was written and no statement is running, so this cannot fail on an
            // open database; if it does, the connection is left to its next user as is.
            if let Err(error) = self.connection.execute_batch("ROLLBACK") {
                tracing::error!(%error, "cannot end an export's read transaction");
            }
        }
    }
}

impl<C: Deref<Target = Connection>> Iterator for Export<C> {
    type Item = Result<User, UserError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rows.is_empty() && self.reading {
            self.fill();
        }
        if let Some(user) = self.rows.pop_front() {
            return Some(Ok(user));
        }
        self.end();
        self.failed.take().map(Err)
    }
}

impl<C: Deref<Target = Connection>> Drop for Export<C> {
    fn drop(&mut self) {
        self.end();
    }
}
