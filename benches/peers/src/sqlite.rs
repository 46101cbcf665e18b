//! The first scenario: an async web app over SQLite. One Axum router (`GET /users/{id}`,
//! `POST /users`, `GET /health`) over six stores of the same database, driven by the same
//! client load.
//!
//! Every store gets the same file (a copy of one template with [`USERS`] users), the same
//! pragmas (WAL, `synchronous` as the run's [`Durability`] says, NORMAL unless asked, and
//! a busy timeout of [`sql::BUSY_TIMEOUT`]), the same SQL where it can run it (the
//! rusqlite-based stores run the users example's own [`sql`] functions; sqlx runs the same
//! statements) and, where it has a pool, [`POOL_SIZE`] connections. The server runs on its own 2-worker Tokio
//! runtime, as `users_load` does; the clients run on another thread ([`crate::load`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use smartasync_example_users::{
    self as users, ApiError, CONNECTION_WAIT, LaneStore, NewUser, User, UserError, UserStore,
    Users,
    sql::{self, Durability},
};

/// Users in the database when a run starts.
pub const USERS: i64 = 10_000;

/// Connections of every pooled store (the users store's default).
pub const POOL_SIZE: u32 = 8;

/// The stores measured, in the order of the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Store {
    /// smartasync + rusqlite + r2d2: [`UserStore`], `get_async` on the blocking pool,
    /// writes under `limit = 1`.
    Pool,
    /// smartasync + rusqlite on a one-thread lane: [`LaneStore`].
    Lane,
    /// deadpool-sqlite: a pool of rusqlite connections, each call through `interact`
    /// (`spawn_blocking`).
    Deadpool,
    /// tokio-rusqlite: one connection on its own thread, each call through `call`.
    TokioRusqlite,
    /// sqlx's SQLite driver: a pool of connections, each with a worker thread of its own.
    Sqlx,
    /// rusqlite called straight in the async handler on a pooled connection: the worker
    /// is blocked for the query (the naive floor).
    Naive,
}

impl Store {
    /// Every store, in table order.
    pub const ALL: [Self; 6] = [
        Self::Pool,
        Self::Lane,
        Self::Deadpool,
        Self::TokioRusqlite,
        Self::Sqlx,
        Self::Naive,
    ];

    /// Its name in the tables and the last line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pool => "smartasync-pool",
            Self::Lane => "smartasync-lane",
            Self::Deadpool => "deadpool-sqlite",
            Self::TokioRusqlite => "tokio-rusqlite",
            Self::Sqlx => "sqlx",
            Self::Naive => "rusqlite-in-handler",
        }
    }

    /// Whether it is one of smartasync's stores.
    pub fn is_smartasync(self) -> bool {
        matches!(self, Self::Pool | Self::Lane)
    }

    /// Whether it is a crate a user would pick instead (not smartasync, not the floor).
    pub fn is_peer(self) -> bool {
        matches!(self, Self::Deadpool | Self::TokioRusqlite | Self::Sqlx)
    }
}

/// One open store of the database, whichever crate serves it; cheap to clone (the
/// router's state).
#[derive(Clone)]
enum Db {
    Pool(UserStore),
    Lane(LaneStore),
    Deadpool(deadpool_sqlite::Pool),
    TokioRusqlite(tokio_rusqlite::Connection),
    Sqlx(sqlx::SqlitePool),
    Naive(UserStore),
}

fn internal(error: impl std::fmt::Display) -> UserError {
    UserError::Internal(error.to_string().into())
}

fn from_tokio_rusqlite(error: tokio_rusqlite::Error<UserError>) -> UserError {
    match error {
        tokio_rusqlite::Error::Error(error) => error,
        other => internal(other),
    }
}

fn from_sqlx(error: sqlx::Error, email: &str) -> UserError {
    let unique = error
        .as_database_error()
        .is_some_and(|error| error.is_unique_violation());
    if unique {
        UserError::DuplicateEmail {
            email: email.to_owned(),
        }
    } else {
        internal(error)
    }
}

type Row = (i64, String, String);

fn user((id, name, email): Row) -> User {
    User { id, name, email }
}

impl Db {
    /// Opens `store` on the database file at `path`; in the server's runtime, where the
    /// async stores start their background work.
    async fn open(store: Store, path: &Path, durability: Durability) -> Result<Self, UserError> {
        Ok(match store {
            Store::Pool => {
                Self::Pool(UserStore::open_with_async(path, POOL_SIZE, durability).await?)
            }
            Store::Naive => {
                Self::Naive(UserStore::open_with_async(path, POOL_SIZE, durability).await?)
            }
            Store::Lane => Self::Lane(LaneStore::open_with_async(path, durability).await?),
            Store::Deadpool => {
                let mut config = deadpool_sqlite::Config::new(path);
                let mut pool = deadpool_sqlite::PoolConfig::new(POOL_SIZE as usize);
                pool.timeouts.wait = Some(CONNECTION_WAIT);
                config.pool = Some(pool);
                let pool = config
                    .builder(deadpool_sqlite::Runtime::Tokio1)
                    .map_err(internal)?
                    .post_create(deadpool_sqlite::Hook::async_fn(move |connection, _| {
                        Box::pin(async move {
                            connection
                                .interact(move |connection| sql::configure(connection, durability))
                                .await
                                .map_err(|error| {
                                    deadpool_sqlite::HookError::message(error.to_string())
                                })?
                                .map_err(deadpool_sqlite::HookError::Backend)
                        })
                    }))
                    .build()
                    .map_err(internal)?;
                Self::Deadpool(pool)
            }
            Store::TokioRusqlite => {
                let connection = tokio_rusqlite::Connection::open(path)
                    .await
                    .map_err(internal)?;
                connection
                    .call(move |connection| sql::configure(connection, durability))
                    .await
                    .map_err(internal)?;
                Self::TokioRusqlite(connection)
            }
            Store::Sqlx => {
                use sqlx::sqlite::{
                    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
                };
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(match durability {
                        Durability::Normal => SqliteSynchronous::Normal,
                        Durability::Full => SqliteSynchronous::Full,
                    })
                    .busy_timeout(sql::BUSY_TIMEOUT);
                let pool = SqlitePoolOptions::new()
                    .max_connections(POOL_SIZE)
                    .acquire_timeout(CONNECTION_WAIT)
                    .connect_with(options)
                    .await
                    .map_err(internal)?;
                Self::Sqlx(pool)
            }
        })
    }

    async fn get(&self, id: i64) -> Result<User, UserError> {
        match self {
            Self::Pool(store) => store.get_async(id).await,
            Self::Lane(store) => store.get_async(id).await,
            Self::Deadpool(pool) => {
                let connection = pool.get().await.map_err(internal)?;
                connection
                    .interact(move |connection| sql::get(connection, id))
                    .await
                    .map_err(internal)?
            }
            Self::TokioRusqlite(connection) => connection
                .call(move |connection| sql::get(connection, id))
                .await
                .map_err(from_tokio_rusqlite),
            Self::Sqlx(pool) => {
                sqlx::query_as::<_, Row>("SELECT id, name, email FROM users WHERE id = ?1")
                    .bind(id)
                    .fetch_optional(pool)
                    .await
                    .map_err(internal)?
                    .map(user)
                    .ok_or(UserError::NotFound { id })
            }
            // Blocking the worker thread for the whole query: what the attribute exists
            // to avoid.
            Self::Naive(store) => sql::get(&*store.connection()?, id),
        }
    }

    async fn create(&self, new: NewUser) -> Result<User, UserError> {
        match self {
            Self::Pool(store) => store.create_async(&new).await,
            Self::Lane(store) => store.create_async(&new).await,
            Self::Deadpool(pool) => {
                let connection = pool.get().await.map_err(internal)?;
                connection
                    .interact(move |connection| sql::create(connection, &new))
                    .await
                    .map_err(internal)?
            }
            Self::TokioRusqlite(connection) => connection
                .call(move |connection| sql::create(connection, &new))
                .await
                .map_err(from_tokio_rusqlite),
            Self::Sqlx(pool) => {
                let (name, email) = new.validated()?;
                sqlx::query_as::<_, Row>(
                    "INSERT INTO users (name, email) VALUES (?1, ?2) RETURNING id, name, email",
                )
                .bind(name)
                .bind(&email)
                .fetch_one(pool)
                .await
                .map(user)
                .map_err(|error| from_sqlx(error, &email))
            }
            Self::Naive(store) => sql::create(&*store.connection()?, &new),
        }
    }

    /// `journal_mode`, `synchronous` and `busy_timeout` as a connection of this store sees
    /// them, for the header of the table: the proof that the stores run alike.
    async fn pragmas(&self) -> Result<String, UserError> {
        fn read(connection: &rusqlite::Connection) -> Result<String, UserError> {
            let value = |name: &str| -> Result<String, UserError> {
                let value: rusqlite::types::Value =
                    connection.pragma_query_value(None, name, |row| row.get(0))?;
                Ok(match value {
                    rusqlite::types::Value::Integer(n) => n.to_string(),
                    rusqlite::types::Value::Text(text) => text,
                    other => format!("{other:?}"),
                })
            };
            Ok(format!(
                "journal_mode={} synchronous={} busy_timeout={}",
                value("journal_mode")?,
                value("synchronous")?,
                value("busy_timeout")?
            ))
        }
        Ok(match self {
            Self::Pool(store) | Self::Naive(store) => read(&*store.connection()?)?,
            Self::Lane(store) => store.call_async(read).await?,
            Self::Deadpool(pool) => {
                let connection = pool.get().await.map_err(internal)?;
                connection
                    .interact(|connection| read(connection))
                    .await
                    .map_err(internal)??
            }
            Self::TokioRusqlite(connection) => connection
                .call(|connection| read(connection))
                .await
                .map_err(from_tokio_rusqlite)?,
            Self::Sqlx(pool) => {
                let mut connection = pool.acquire().await.map_err(internal)?;
                let mut values = Vec::new();
                for name in ["journal_mode", "synchronous", "busy_timeout"] {
                    let value: String = sqlx::query_scalar(match name {
                        "journal_mode" => {
                            "SELECT CAST(journal_mode AS TEXT) FROM pragma_journal_mode"
                        }
                        "synchronous" => "SELECT CAST(synchronous AS TEXT) FROM pragma_synchronous",
                        _ => "SELECT CAST(timeout AS TEXT) FROM pragma_busy_timeout",
                    })
                    .fetch_one(&mut *connection)
                    .await
                    .map_err(internal)?;
                    values.push(format!("{name}={value}"));
                }
                values.join(" ")
            }
        })
    }

    /// Closes what needs closing before the server's runtime goes away.
    async fn close(self) {
        match self {
            Self::Sqlx(pool) => pool.close().await,
            Self::TokioRusqlite(connection) => {
                let _ = connection.close().await;
            }
            Self::Deadpool(pool) => pool.close(),
            Self::Pool(_) | Self::Lane(_) | Self::Naive(_) => {}
        }
    }
}

async fn get_user(State(db): State<Db>, UrlPath(id): UrlPath<i64>) -> Result<Json<User>, ApiError> {
    Ok(Json(db.get(id).await?))
}

async fn create_user(
    State(db): State<Db>,
    Json(new): Json<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    Ok((StatusCode::CREATED, Json(db.create(new).await?)))
}

/// The routes every store is served with: the same handlers, only the store differs.
fn router(db: Db) -> Router {
    Router::new()
        .route("/health", get(users::health))
        .route("/users", post(create_user))
        .route("/users/{id}", get(get_user))
        .with_state(db)
}

/// The database every run starts from: [`USERS`] users, in WAL mode, checkpointed so the
/// file alone holds them.
///
/// # Errors
///
/// If the file cannot be written.
pub fn make_template(path: &Path) -> Result<(), UserError> {
    users::remove_database(path).map_err(internal)?;
    let mut connection = sql::open(path)?;
    let transaction = connection.transaction()?;
    {
        let mut insert = transaction.prepare("INSERT INTO users (name, email) VALUES (?1, ?2)")?;
        for n in 1..=USERS {
            insert.execute((format!("User {n}"), format!("user{n}@peers.example")))?;
        }
    }
    transaction.commit()?;
    connection.pragma_update(None, "wal_checkpoint", "TRUNCATE")?;
    Ok(())
}

/// A served store: its address, and what to stop when the run is over.
pub struct Server {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// The pragmas its connections run with, as one of them reads them.
    pub pragmas: String,
    runtime: tokio::runtime::Runtime,
    db: Db,
    path: PathBuf,
}

impl Server {
    /// Copies `template` to `path` and serves `store` on it with commits as durable as
    /// `durability` says, on a runtime of its own with 2 workers.
    ///
    /// # Errors
    ///
    /// If the copy, the store or the listener cannot be made.
    pub fn start(
        store: Store,
        template: &Path,
        path: &Path,
        durability: Durability,
    ) -> Result<Self, String> {
        users::remove_database(path).map_err(|e| format!("{}: {e}", path.display()))?;
        std::fs::copy(template, path).map_err(|e| format!("{}: {e}", path.display()))?;
        let runtime = crate::server_runtime("peers-server")?;
        let (db, addr, pragmas) = runtime.block_on(async {
            let db = Db::open(store, path, durability)
                .await
                .map_err(|e| format!("{}: {e}", store.name()))?;
            let pragmas = db
                .pragmas()
                .await
                .map_err(|e| format!("{}: {e}", store.name()))?;
            let addr = users::spawn_server(router(db.clone()))
                .await
                .map_err(|e| format!("listener: {e}"))?;
            Ok::<_, String>((db, addr, pragmas))
        })?;
        Ok(Self {
            addr,
            pragmas,
            runtime,
            db,
            path: path.to_owned(),
        })
    }

    /// Stops serving and removes the database file.
    pub fn stop(self) {
        self.runtime.block_on(self.db.close());
        self.runtime.shutdown_timeout(Duration::from_secs(2));
        let _ = users::remove_database(&self.path);
    }
}
