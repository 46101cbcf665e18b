//! The SQLite backend on a lane: one connection per store, owned by the one thread of
//! [`USERS_DB`], every method a blocking `fn` that runs on that thread.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;
use smartasync::{Lane, smartasync};

use crate::interrupt::{InterruptOnCancel, Interruptible};
use crate::sql::{self, Durability};
use crate::users::{NewUser, User, UserError, Users};

/// The thread that owns every [`LaneStore`]'s connection: `users-db-0`, started on first
/// use. One thread, so its calls run one at a time in arrival order: SQLite's single
/// writer never waits for its lock, and no call needs a lock of its own.
pub static USERS_DB: Lane = Lane::new("users-db");

thread_local! {
    /// On the lane's thread: the open connection of each live store, by store id. Keyed by
    /// store rather than by path so that a store's last handle closes exactly its own
    /// connection (tests remove their files afterwards), however its path was spelled; two
    /// stores of one file each have a connection, which never contend because this thread
    /// runs one call at a time.
    static CONNECTIONS: RefCell<HashMap<u64, Rc<Connection>>> = RefCell::new(HashMap::new());
}

/// Ids of stores, never reused.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// The SQLite backend of [`Users`] on a lane: a cheap, cloneable handle on one connection
/// that lives on the [`USERS_DB`] thread.
///
/// Every method is blocking rusqlite code written as a `fn` under
/// `#[smartasync(lane = USERS_DB)]`: both entries queue the call on the lane's thread and
/// wait for it, `get(id)` by blocking, `get_async(id)` by awaiting without holding any
/// thread. Compared with [`UserStore`](crate::UserStore), which runs each call on
/// whichever blocking-pool thread is free with a connection of its pool, a call costs one
/// hand-over to a thread that is already running, writers never contend for SQLite's lock,
/// and a burst of callers is a queue, not a crowd of threads. The price: one call at a
/// time, so a slow query delays every call behind it (the pool runs reads side by side).
///
/// ```
/// use smartasync_example_users::{LaneStore, NewUser, Users};
///
/// let path = std::env::temp_dir().join(format!("users-lane-doc-{}.db", std::process::id()));
/// let store = LaneStore::open(&path)?;
///
/// // From sync code: queued on `users-db-0`, waited for.
/// let ada = store.create(&NewUser::new("Ada", "ada@example.com"))?;
///
/// // From async code: queued, awaited; no thread is held meanwhile.
/// let runtime = tokio::runtime::Runtime::new()?;
/// assert_eq!(runtime.block_on(store.get_async(ada.id))?, ada);
/// # drop(store);
/// # smartasync_example_users::remove_database(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A call made through an `_async` entry whose future is dropped while it runs (the client
/// of a request went away, or the request timed out) is stopped: the statement running is
/// interrupted, a write is rolled back, and the lane moves on to its next call; a call
/// still queued on the lane never runs (see [`crate::interrupt`]).
#[derive(Clone)]
pub struct LaneStore {
    handle: Arc<Handle>,
    interrupts: bool,
}

/// What the clones of one store share; the last one dropped closes the connection.
struct Handle {
    id: u64,
    path: PathBuf,
}

impl Drop for Handle {
    fn drop(&mut self) {
        close(self.id);
    }
}

/// Closes store `id`'s connection. On the lane thread (the last handle dropped by a call
/// that ran there) it runs inline; elsewhere it is queued after the calls before it.
#[smartasync(lane = USERS_DB)]
fn close(id: u64) {
    CONNECTIONS.with(|connections| connections.borrow_mut().remove(&id));
}

impl fmt::Debug for LaneStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LaneStore")
            .field("path", &self.handle.path)
            .field("lane", &USERS_DB.name())
            .finish()
    }
}

impl LaneStore {
    /// Opens (creating if needed) the database file at `path`, with the schema in place and
    /// [`Durability::Normal`] commits, as a connection on the [`USERS_DB`] thread. Opened
    /// here rather than on first use, so that a file that cannot be opened is an error at
    /// once.
    ///
    /// # Errors
    ///
    /// As [`UserStore::open`](crate::UserStore::open).
    #[smartasync(lane = USERS_DB)]
    pub fn open(path: &Path) -> Result<Self, UserError> {
        Self::open_with(path, Durability::default())
    }

    /// Like [`open`](Self::open), with commits as durable as `durability` says.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open).
    #[smartasync(lane = USERS_DB)]
    pub fn open_with(path: &Path, durability: Durability) -> Result<Self, UserError> {
        let connection = sql::open_with(path, durability)?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        CONNECTIONS.with(|connections| {
            connections.borrow_mut().insert(id, Rc::new(connection));
        });
        Ok(Self {
            handle: Arc::new(Handle {
                id,
                path: path.to_owned(),
            }),
            interrupts: true,
        })
    }

    /// This store with its calls never interrupted: a call whose caller went away runs to
    /// its end, and the calls queued behind it on the lane wait for it. It exists to
    /// measure what interrupting buys; serve a store that interrupts, the default.
    #[must_use]
    pub fn without_interrupts(mut self) -> Self {
        self.interrupts = false;
        self
    }

    /// The database file this store was opened on.
    pub fn path(&self) -> &Path {
        &self.handle.path
    }

    /// Runs `query` on this store's connection, on the lane's thread, after the calls
    /// queued before it: for statements the [`Users`] methods do not cover (a pragma, a
    /// report), with the same ordering and no lock.
    ///
    /// ```
    /// use smartasync_example_users::LaneStore;
    ///
    /// let path = std::env::temp_dir().join(format!("users-lane-call-{}.db", std::process::id()));
    /// let store = LaneStore::open(&path)?;
    /// let mode = store.call(|connection| {
    ///     Ok(connection.pragma_query_value(None, "journal_mode", |row| row.get::<_, String>(0))?)
    /// })?;
    /// assert_eq!(mode, "wal");
    /// # drop(store);
    /// # smartasync_example_users::remove_database(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// What `query` returns.
    #[smartasync(lane = USERS_DB)]
    pub fn call<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T, UserError> + Send + 'static,
    ) -> Result<T, UserError> {
        self.with_connection(query)
    }

    /// Stores every user of `news` in one transaction, on the lane's thread: all of them,
    /// or (on any error, or when the caller goes away) none.
    ///
    /// # Errors
    ///
    /// As [`sql::create_many`].
    #[smartasync(lane = USERS_DB)]
    pub fn create_many(&self, news: &[NewUser]) -> Result<Vec<User>, UserError> {
        self.with_connection(|connection| sql::create_many(connection, news))
    }

    /// Runs `query` on this store's connection. Only on the lane's thread, where every
    /// method of [`Users`] below runs. The map of connections is not borrowed while
    /// `query` runs, so a query may open or drop stores (through [`call`](Self::call)).
    /// While `query` runs, the cancellation of the call interrupts its statements.
    fn with_connection<T>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T, UserError>,
    ) -> Result<T, UserError> {
        let connection =
            CONNECTIONS.with(|connections| connections.borrow().get(&self.handle.id).cloned());
        match connection {
            Some(connection) => {
                let _interrupt = if self.interrupts {
                    Some(InterruptOnCancel::register(&connection)?)
                } else {
                    None
                };
                query(&connection)
            }
            None => Err(UserError::Internal(
                format!(
                    "no connection for `{}` on this thread (not the lane `{}`)",
                    self.handle.path.display(),
                    USERS_DB.name()
                )
                .into(),
            )),
        }
    }
}

/// Each method is the blocking rusqlite code as written (the statements are in [`sql`]),
/// and runs on the lane's thread through either entry, except the export (see below).
/// Writes need no `limit`: the lane runs one call at a time.
#[smartasync]
impl Users for LaneStore {
    #[smartasync(lane = USERS_DB)]
    fn list(&self, after: i64, limit: u32) -> Result<Vec<User>, UserError> {
        self.with_connection(|connection| sql::list(connection, after, limit))
    }

    #[smartasync(lane = USERS_DB)]
    fn get(&self, id: i64) -> Result<User, UserError> {
        self.with_connection(|connection| sql::get(connection, id))
    }

    #[smartasync(lane = USERS_DB)]
    fn create(&self, new: &NewUser) -> Result<User, UserError> {
        self.with_connection(|connection| sql::create(connection, new))
    }

    /// [`create_many`](LaneStore::create_many): on the lane's thread, where this body
    /// runs, its blocking entry runs inline.
    #[smartasync(lane = USERS_DB)]
    fn import(&self, users: Vec<NewUser>) -> Result<Vec<User>, UserError> {
        self.create_many(&users)
    }

    #[smartasync(lane = USERS_DB)]
    fn update(&self, id: i64, new: &NewUser) -> Result<User, UserError> {
        self.with_connection(|connection| sql::update(connection, id, new))
    }

    #[smartasync(lane = USERS_DB)]
    fn delete(&self, id: i64) -> Result<(), UserError> {
        self.with_connection(|connection| sql::delete(connection, id))
    }

    /// Not on the lane, on purpose. A stream holds its producer's thread until it ends, and
    /// an export runs as long as its consumer takes to read it (a slow client holds it back);
    /// on the lane's one thread, every call of every store would wait behind it. WAL lets a
    /// reader run beside the writer, so the export opens a read connection of its own
    /// ([`sql::open_reader`]) and runs like any blocking body: `export()` on the caller's
    /// thread, `export_async()` on the blocking pool. Its cursor ([`sql::Export`]) owns that
    /// connection and closes it when dropped.
    fn export(&self) -> Result<impl Iterator<Item = Result<User, UserError>>, UserError> {
        let reader = Box::new(sql::open_reader(self.path())?);
        sql::export(Interruptible::new(reader, self.interrupts)?)
    }
}
