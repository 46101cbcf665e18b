//! The SQLite backend: blocking rusqlite code, each method written once as a `fn`.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use r2d2::{Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;
use serde::{Deserialize, Serialize};
use smartasync::smartasync;

use crate::interrupt::{Interruptible, Line};
use crate::sql::{self, Durability};
use crate::users::{NewUser, User, UserError, Users};

/// Largest request body the API accepts, in bytes (a larger one gets 413), except on
/// `POST /users/import` ([`MAX_IMPORT_BYTES`]).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Largest body of `POST /users/import`, in bytes (a larger one gets 413): 64 MiB, about
/// a million users of short names.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

/// Largest `work` [`UserStore::report`] accepts (about a second of CPU).
pub const MAX_REPORT_WORK: u32 = 10_000_000;

/// How long a call waits for a free pooled connection before it gives up with
/// [`UserError::Unavailable`] (see [`UserStore::with_connection_wait`]).
pub const CONNECTION_WAIT: Duration = Duration::from_secs(2);

/// The result of [`UserStore::report`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Number of stored users.
    pub users: i64,
    /// Rows the report walked.
    pub work: u32,
    /// A value computed from every row walked, so the work cannot be skipped.
    pub checksum: i64,
}

/// The pool's only error is "timed out waiting for connection".
impl From<r2d2::Error> for UserError {
    fn from(error: r2d2::Error) -> Self {
        Self::Unavailable(Box::new(error))
    }
}

/// Deletes the SQLite database file at `path` with its WAL companions (`-wal`, `-shm`);
/// files that do not exist are no error. For tests and examples that use throw-away files.
///
/// # Errors
///
/// The first failure to remove a file that exists.
pub fn remove_database(path: &Path) -> io::Result<()> {
    let mut result = Ok(());
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::remove_file(&file) {
            Err(error) if error.kind() != io::ErrorKind::NotFound && result.is_ok() => {
                result = Err(error);
            }
            _ => {}
        }
    }
    result
}

/// The SQLite backend of [`Users`]: a cheap, cloneable handle on a pool of SQLite
/// connections.
///
/// Every method is ordinary blocking rusqlite code written as a `fn` under
/// `#[smartasync]`, so each comes as a pair: `get(id)` for sync callers and `get_async(id)`
/// for async ones, which runs the same body on the blocking pool and leaves the async
/// worker threads free. The [`Users`] methods are in its trait impl; [`report`](Self::report)
/// and the constructors are its own.
///
/// ```
/// use smartasync_example_users::{NewUser, UserStore, Users};
///
/// let path = std::env::temp_dir().join(format!("users-doc-{}.db", std::process::id()));
/// let store = UserStore::open(&path)?;
///
/// // From sync code: the body as written.
/// let ada = store.create(&NewUser::new("Ada", "ada@example.com"))?;
///
/// // From async code: the same body, off the async threads.
/// let runtime = tokio::runtime::Runtime::new()?;
/// let found = runtime.block_on(store.get_async(ada.id))?;
/// assert_eq!(found, ada);
/// # drop(store);
/// # smartasync_example_users::remove_database(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A call made through an `_async` entry whose future is dropped (the client of a request
/// went away, or the request timed out) is stopped: the statement running is interrupted,
/// a write is rolled back, and the connection goes back to the pool at once (see
/// [`crate::interrupt`]).
#[derive(Clone)]
pub struct UserStore {
    pool: Pool<SqliteConnectionManager>,
    /// The calls waiting for a connection, in order.
    line: Arc<Line>,
    connection_wait: Duration,
    interrupts: bool,
}

impl fmt::Debug for UserStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserStore")
            .field("pool", &self.pool.state())
            .field("connection_wait", &self.connection_wait)
            .field("interrupts", &self.interrupts)
            .finish()
    }
}

/// Connections of a store's pool unless asked otherwise.
pub const POOL_SIZE: u32 = 8;

impl UserStore {
    /// Opens (creating if needed) the database file at `path`, with the schema in place, a
    /// pool of up to [`POOL_SIZE`] connections and [`Durability::Normal`] commits.
    ///
    /// # Errors
    ///
    /// As [`open_with_pool_size`](Self::open_with_pool_size).
    #[smartasync]
    pub fn open(path: &Path) -> Result<Self, UserError> {
        Self::open_with_pool_size(path, POOL_SIZE)
    }

    /// Like [`open`](Self::open), with at most `max_connections` connections (at least 1).
    ///
    /// # Errors
    ///
    /// [`UserError::Invalid`] for 0 connections, or for a database that cannot run in WAL
    /// mode (such as `:memory:`, which would give each connection a database of its own);
    /// [`UserError::Internal`] if the file cannot be opened or the schema cannot be created.
    #[smartasync]
    pub fn open_with_pool_size(path: &Path, max_connections: u32) -> Result<Self, UserError> {
        Self::open_with(path, max_connections, Durability::default())
    }

    /// Like [`open_with_pool_size`](Self::open_with_pool_size), with commits as durable as
    /// `durability` says.
    ///
    /// # Errors
    ///
    /// As [`open_with_pool_size`](Self::open_with_pool_size).
    #[smartasync]
    pub fn open_with(
        path: &Path,
        max_connections: u32,
        durability: Durability,
    ) -> Result<Self, UserError> {
        if max_connections == 0 {
            return Err(UserError::invalid("the pool needs at least one connection"));
        }
        // One connection opened here, before any pool: a file that cannot be opened fails at
        // once with SQLite's reason, instead of as a pool timeout.
        drop(sql::open_with(path, durability)?);

        let manager = SqliteConnectionManager::file(path)
            .with_init(move |connection| sql::configure(connection, durability));
        // Unchecked: the file was just opened, and a later failure to open a connection
        // is reported by the call that needed it.
        let pool = Pool::builder()
            .max_size(max_connections)
            .min_idle(Some(1))
            .connection_timeout(CONNECTION_WAIT)
            .build_unchecked(manager);
        Ok(Self {
            pool,
            line: Arc::new(Line::default()),
            connection_wait: CONNECTION_WAIT,
            interrupts: true,
        })
    }

    /// This store with another limit on how long a call waits for a free pooled
    /// connection before it fails with [`UserError::Unavailable`] (default
    /// [`CONNECTION_WAIT`]). Clones made afterwards keep it; the pool stays shared.
    #[must_use]
    pub fn with_connection_wait(mut self, wait: Duration) -> Self {
        self.connection_wait = wait;
        self
    }

    /// This store with its calls never interrupted: a call whose caller went away runs to
    /// its end, as if nobody could stop it, holding its connection and its thread
    /// meanwhile. It exists to measure what interrupting buys (`users_load`'s cancel run);
    /// serve a store that interrupts, the default.
    #[must_use]
    pub fn without_interrupts(mut self) -> Self {
        self.interrupts = false;
        self
    }

    /// How many of the pool's connections are lent to calls right now.
    pub fn connections_in_use(&self) -> u32 {
        let state = self.pool.state();
        state.connections - state.idle_connections
    }

    /// A pooled connection, waited for at most the store's connection wait; it goes back to
    /// the pool when dropped. For code that runs its own statements (such as those of
    /// [`sql`]) and its own limits.
    ///
    /// Inside a body run by an `_async` entry, the connection is [`Interruptible`]: if the
    /// caller goes away, the statement running on it is interrupted. Calls waiting for a
    /// connection are served in the order they came, and one whose caller is gone before
    /// its connection came free steps out of the line (checked every
    /// [`CANCEL_POLL`](crate::interrupt::CANCEL_POLL)).
    ///
    /// # Errors
    ///
    /// [`UserError::Unavailable`] when none came free in time; [`UserError::Interrupted`]
    /// when the caller went away first.
    pub fn connection(
        &self,
    ) -> Result<Interruptible<PooledConnection<SqliteConnectionManager>>, UserError> {
        let deadline = Instant::now() + self.connection_wait;
        let connection = self.line.take(deadline, self.interrupts, |wait| {
            self.pool.get_timeout(wait)
        })?;
        Interruptible::new(connection, self.interrupts)
    }

    /// A deliberately heavy query standing in for an expensive report: it walks `work` rows
    /// of a recursive CTE (about 10 ms per 100 000 rows on a laptop core).
    ///
    /// # Errors
    ///
    /// [`UserError::Invalid`] above [`MAX_REPORT_WORK`]; [`UserError::Internal`] if the
    /// database fails.
    #[smartasync]
    pub fn report(&self, work: u32) -> Result<Report, UserError> {
        sql::report(&*self.connection()?, work)
    }

    /// Stores every user of `news` in one transaction, and returns them with their ids: all
    /// of them, or (on any error, or when the caller goes away) none. A write, so limited
    /// to [`WRITERS`] at once, with [`Users::create`](crate::Users::create).
    ///
    /// # Errors
    ///
    /// As [`sql::create_many`].
    #[smartasync(limit = WRITERS)]
    pub fn create_many(&self, news: &[NewUser]) -> Result<Vec<User>, UserError> {
        sql::create_many(&*self.connection()?, news)
    }
}

/// Writes that SQLite runs at once on one database file: one. It has a single write lock,
/// and a second writer does not queue for it, it sleeps in SQLite's busy handler (polling,
/// up to 100 ms between tries) on a blocking-pool thread and a pooled connection.
///
/// So the write path of [`UserStore`] runs under `#[smartasync(limit = WRITERS)]`: a burst
/// of writers waits in a first-come-first-served queue that holds no thread and no
/// connection, and one write at a time takes its thread and its connection, leaving the
/// pool's other connections to readers (which WAL lets run alongside the writer). The
/// limit is per function in the process, shared by every `UserStore`, which is right for
/// one database per process (the API, the CLI).
pub const WRITERS: usize = 1;

/// Each method is the blocking rusqlite code as written (the statements are in [`sql`]);
/// `#[smartasync]` generates its `_async` entry, which runs the same body on the blocking
/// pool (the store is a cheap `Clone` handle on its pool, so the entry takes its own copy).
/// The writes are limited to [`WRITERS`] at once, through either entry.
#[smartasync]
impl Users for UserStore {
    fn list(&self, after: i64, limit: u32) -> Result<Vec<User>, UserError> {
        sql::list(&*self.connection()?, after, limit)
    }

    fn get(&self, id: i64) -> Result<User, UserError> {
        sql::get(&*self.connection()?, id)
    }

    #[smartasync(limit = WRITERS)]
    fn create(&self, new: &NewUser) -> Result<User, UserError> {
        sql::create(&*self.connection()?, new)
    }

    /// The body of [`create_many`](UserStore::create_many), under a limit of its own (a
    /// limit is per function). It does not call `create_many`'s blocking entry: that one
    /// would wait for `create_many`'s permit while holding this body's thread.
    #[smartasync(limit = WRITERS)]
    fn import(&self, users: Vec<NewUser>) -> Result<Vec<User>, UserError> {
        sql::create_many(&*self.connection()?, &users)
    }

    #[smartasync(limit = WRITERS)]
    fn update(&self, id: i64, new: &NewUser) -> Result<User, UserError> {
        sql::update(&*self.connection()?, id, new)
    }

    #[smartasync(limit = WRITERS)]
    fn delete(&self, id: i64) -> Result<(), UserError> {
        sql::delete(&*self.connection()?, id)
    }

    /// A cursor that owns a pooled connection ([`sql::Export`]), written as a blocking
    /// iterator: `export()` steps it on the caller's thread, `export_async()` on a
    /// blocking-pool thread, where it is made, pulled and dropped. The connection is lent
    /// for the export's whole length (or until it is dropped), so each export running at
    /// once takes one of the pool's connections and one blocking-pool thread.
    fn export(&self) -> Result<impl Iterator<Item = Result<User, UserError>>, UserError> {
        sql::export(self.connection()?)
    }
}

/// [`UserStore`] without the limit on its writes: the same pool and the same statements,
/// every write straight to SQLite. It exists to measure what `#[smartasync(limit = ..)]`
/// buys (`users_load`'s overload run and the overload tests); serve [`UserStore`].
#[derive(Clone)]
pub struct UnlimitedStore(pub UserStore);

#[smartasync]
impl Users for UnlimitedStore {
    fn list(&self, after: i64, limit: u32) -> Result<Vec<User>, UserError> {
        self.0.list(after, limit)
    }

    fn get(&self, id: i64) -> Result<User, UserError> {
        self.0.get(id)
    }

    fn create(&self, new: &NewUser) -> Result<User, UserError> {
        sql::create(&*self.0.connection()?, new)
    }

    fn import(&self, users: Vec<NewUser>) -> Result<Vec<User>, UserError> {
        sql::create_many(&*self.0.connection()?, &users)
    }

    fn update(&self, id: i64, new: &NewUser) -> Result<User, UserError> {
        sql::update(&*self.0.connection()?, id, new)
    }

    fn delete(&self, id: i64) -> Result<(), UserError> {
        sql::delete(&*self.0.connection()?, id)
    }

    fn export(&self) -> Result<impl Iterator<Item = Result<User, UserError>>, UserError> {
        sql::export(self.0.connection()?)
    }
}
