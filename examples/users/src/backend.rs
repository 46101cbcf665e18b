//! Choosing the backend at start-up: the `--db FILE` / `--remote URL` options shared by the
//! CLI and the API.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use smartasync::smartasync;

use crate::lane_store::LaneStore;
use crate::remote::RemoteUsers;
use crate::sql::Durability;
use crate::store::{POOL_SIZE, UserStore};
use crate::users::{UserError, Users};

/// The backend a program serves or manages, from its command line: a SQLite file
/// (`--db FILE`, the default) or a running users API (`--remote URL`). A SQLite file is
/// served by the pooled store or the lane-backed one (`--store pool|lane`, see [`Store`]),
/// with commits as durable as `--durability normal|full` says ([`Durability`]).
/// Flatten it into a clap parser; a URL that is not `http(s)` is a usage error.
///
/// ```
/// use clap::Parser;
/// use smartasync_example_users::Backend;
///
/// #[derive(Parser)]
/// struct Args {
///     #[command(flatten)]
///     backend: Backend,
/// }
///
/// let args = Args::try_parse_from(["prog", "--remote", "http://127.0.0.1:3000"])?;
/// assert_eq!(args.backend.to_string(), "the users API at http://127.0.0.1:3000/");
/// // Nothing is sent until the first call.
/// let _users = args.backend.open()?;
/// assert!(Args::try_parse_from(["prog", "--db", "a.db", "--remote", "http://x"]).is_err());
/// assert!(Args::try_parse_from(["prog", "--remote", "ftp://x"]).is_err());
/// assert!(Args::try_parse_from(["prog", "--remote", "http://x", "--store", "lane"]).is_err());
/// assert!(Args::try_parse_from(["prog", "--db", "a.db", "--durability", "full"]).is_ok());
/// assert!(Args::try_parse_from(["prog", "--remote", "http://x", "--durability", "full"]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, clap::Args)]
pub struct Backend {
    // The help is an argument, not a doc comment: rustdoc reads `<temp dir>` as HTML.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        conflicts_with = "remote",
        help = "SQLite database file, created if missing [default: <temp dir>/smartasync-users.db]"
    )]
    db: Option<PathBuf>,
    /// Base URL of a running users API to use instead of a database file, e.g.
    /// http://127.0.0.1:3000.
    #[arg(long, global = true, value_name = "URL", value_parser = parse_remote)]
    remote: Option<RemoteUsers>,
    /// Which store serves the database file.
    #[arg(long, global = true, value_enum, default_value_t = Store::Pool, conflicts_with = "remote")]
    store: Store,
    /// How durable a commit is when it returns: `normal` (synced at checkpoints; a crash of
    /// the machine may lose the last commits) or `full` (every commit waits for the disk).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = Durability::Normal,
        conflicts_with = "remote",
        hide_possible_values = true
    )]
    durability: Durability,
}

/// The two SQLite backends, both over the same statements ([`sql`](crate::sql)):
///
/// - `pool` ([`UserStore`], the default): each call on whichever blocking-pool thread is
///   free, with one of up to 8 pooled connections. Reads run side by side, so a slow query
///   (a report, a scan) does not hold up the others; writes are limited to one at a time
///   ([`WRITERS`](crate::WRITERS)).
/// - `lane` ([`LaneStore`]): one connection on one dedicated thread, every call queued to
///   it in arrival order. Cheaper per call and no contention at all, but one call at a
///   time, so a slow query delays everything queued behind it.
///
/// The default is the pool because it is the one that stays responsive whatever the mix
/// of queries; the lane is the better pick when every call is short, which for this
/// service's CRUD routes it is (see `users_load`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Store {
    /// [`UserStore`]: a pool of connections on the blocking pool.
    #[default]
    Pool,
    /// [`LaneStore`]: one connection on the `users-db` lane.
    Lane,
}

impl Store {
    /// Opens the database file at `path` with this store, as the service's interface.
    ///
    /// # Errors
    ///
    /// As [`UserStore::open`] and [`LaneStore::open`].
    #[smartasync]
    pub fn open(self, path: &std::path::Path) -> Result<Arc<dyn Users>, UserError> {
        self.open_with(path, Durability::default())
    }

    /// Like [`open`](Self::open), with commits as durable as `durability` says.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open).
    #[smartasync]
    pub fn open_with(
        self,
        path: &std::path::Path,
        durability: Durability,
    ) -> Result<Arc<dyn Users>, UserError> {
        Ok(match self {
            Self::Pool => Arc::new(UserStore::open_with(path, POOL_SIZE, durability)?),
            Self::Lane => Arc::new(LaneStore::open_with(path, durability)?),
        })
    }
}

fn parse_remote(url: &str) -> Result<RemoteUsers, String> {
    RemoteUsers::new(url).map_err(|error| error.to_string())
}

/// The database file used when neither `--db` nor `--remote` is given: one file in the temp
/// dir, so that the CLI and the API share their data by default.
pub fn default_database() -> PathBuf {
    std::env::temp_dir().join("smartasync-users.db")
}

impl Backend {
    /// The backend as the service's interface: the SQLite store opened (the file and its
    /// schema created if needed), or the remote client. Opening a database is blocking
    /// work, so async code awaits `open_async()`.
    ///
    /// # Errors
    ///
    /// As [`UserStore::open`]; a remote backend is not contacted before its first call.
    #[smartasync]
    pub fn open(&self) -> Result<Arc<dyn Users>, UserError> {
        Ok(match &self.remote {
            Some(remote) => Arc::new(remote.clone()),
            None => self.store.open_with(&self.database(), self.durability)?,
        })
    }

    fn database(&self) -> PathBuf {
        self.db.clone().unwrap_or_else(default_database)
    }
}

/// What the backend is, for messages: `database <path>` or `the users API at <url>`.
impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.remote {
            Some(remote) => write!(f, "the users API at {}", remote.base_url()),
            None => match self.store {
                Store::Pool => write!(f, "database {}", self.database().display()),
                Store::Lane => write!(
                    f,
                    "database {} on the lane `{}`",
                    self.database().display(),
                    crate::USERS_DB.name()
                ),
            },
        }
    }
}
