//! The store: every SQL statement of sicha, returning domain types.
//!
//! One code path serves SQLite and PostgreSQL through sqlx's `Any` driver. The SQL is kept portable:
//! `$1, $2…` placeholders (the SQLite driver binds `$N` by number), text ids, BIGINT epoch-ms times,
//! booleans as BIGINT 0/1, `ON CONFLICT … DO NOTHING` and `RETURNING`. One migrations folder serves
//! both engines and is applied by [`Store::connect`].
//!
//! Layout: [`businesses`], [`customers`] (named by hand in [`customer_names`]), [`calls`], [`events`],
//! [`turns`], [`interactions`], [`outbox`], [`stream_tokens`], [`web_queries`] (read models for the
//! web pages), [`web_sessions`] (sign-in sessions and failed sign-ins), and [`writer`] (live calls'
//! records, written behind the call in group commits). Fresh databases for tests, on every engine,
//! are made by the integration tests' own helpers.

pub mod businesses;
pub mod calls;
pub mod customer_names;
pub mod customers;
mod database_url;
mod error;
pub mod events;
pub mod interactions;
pub mod outbox;
pub mod reconcile;
pub mod stream_tokens;
pub mod turns;
pub mod web_queries;
pub mod web_sessions;
pub mod writer;

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::{Any, AnyPool};

pub use businesses::{Business, BusinessChanges, E164Error, NewBusiness, validate_e164};
pub use calls::{Call, CallDirection, CallFilter, CallStatus, NewCall};
pub use customers::Customer;
pub use database_url::Engine;
pub use error::StoreError;
pub use events::Event;
pub use interactions::{AfterCallRecords, Interaction, NewInteraction};
pub use outbox::{NewDelivery, OutboxEntry, OutboxItem};
pub use turns::{NewTurn, Turn};
pub use web_sessions::WebSession;
pub use writer::{Record, RecordWriter};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// PostgreSQL's code for "database does not exist".
const UNDEFINED_DATABASE: &str = "3D000";

/// A handle on the database: cheap to clone, shared by handlers and per-call tasks.
#[derive(Clone)]
pub struct Store {
    /// Every write, and reads that must be in the same transaction as one. On SQLite a single
    /// connection: SQLite takes one writer at a time (see [`open_pool`]).
    pool: AnyPool,
    /// Plain reads. On a SQLite file, a few connections of their own: in WAL mode readers never wait
    /// for the writer, so a call's start or a page does not queue behind the calls' records. Elsewhere
    /// the same pool.
    reader: AnyPool,
    engine: Engine,
    display_url: Arc<str>,
}

impl Store {
    /// Opens the database named by `url`, creating it if missing, and applies pending migrations.
    ///
    /// Accepts `sqlite://file.db`, `sqlite:file.db`, `sqlite::memory:` and `postgres://…`. A SQLite
    /// file is created when missing and switched to WAL so readers do not block the writer.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let target = database_url::ConnectTarget::parse(url)?;
        let pool = match open_pool(&target).await {
            Err(sqlx::Error::Database(error))
                if error.code().as_deref() == Some(UNDEFINED_DATABASE) =>
            {
                Any::create_database(&target.url)
                    .await
                    .map_err(StoreError::Connect)?;
                open_pool(&target).await
            }
            other => other,
        }
        .map_err(StoreError::Connect)?;
        if target.engine == Engine::Sqlite && !target.in_memory {
            // The journal mode is stored in the file, so setting it once per open is enough.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(StoreError::Connect)?;
        }
        let reader = if target.engine == Engine::Sqlite && !target.in_memory {
            open_reader_pool(&target)
                .await
                .map_err(StoreError::Connect)?
        } else {
            pool.clone()
        };
        let store = Store {
            pool,
            reader,
            engine: target.engine,
            display_url: target.display.into(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the migrations not yet applied. [`Store::connect`] already does this.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Round-trips a trivial query: the readiness check.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The database URL without any password, safe for logs.
    pub fn display_url(&self) -> String {
        self.display_url.to_string()
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Closes every pooled connection; later queries fail.
    pub async fn close(&self) {
        self.reader.close().await;
        self.pool.close().await;
    }

    /// The write pool, for tests that take its connections away to play a database outage.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub(crate) fn reader(&self) -> &AnyPool {
        &self.reader
    }
}

/// Only what is safe to log: the engine and the URL without password.
impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.engine)
            .field("url", &self.display_url)
            .finish()
    }
}

async fn open_pool(target: &database_url::ConnectTarget) -> Result<AnyPool, sqlx::Error> {
    let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(5));
    let options = if target.in_memory {
        // Every new `Any` connection re-reads the URL, and `:memory:` then names a brand new
        // database: one connection kept forever is the only way to keep one database.
        options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else if target.engine == Engine::Sqlite {
        // SQLite takes one writer at a time. With several connections, concurrent writers collide and
        // SQLite's busy handler sleeps between retries, which put the voice webhook's p99 at hundreds
        // of milliseconds under load; one connection queues them in the pool instead, in order, at
        // well under a millisecond each.
        //
        // WAL with synchronous=NORMAL: a commit no longer waits for an fsync (the WAL is synced at
        // checkpoints). A crash of sicha itself loses nothing committed; only a power loss or an OS
        // crash can roll back the last commits. That is the usual trade for SQLite as a server's
        // store, and what lets one connection keep up with hundreds of live calls.
        options.max_connections(1).after_connect(|connection, _| {
            Box::pin(async move {
                sqlx::Executor::execute(&mut *connection, "PRAGMA synchronous = NORMAL").await?;
                Ok(())
            })
        })
    } else {
        options.max_connections(16)
    };
    options.connect(&target.url).await
}

/// Readers of a SQLite file: WAL gives each its own snapshot, committed as of the read's start.
async fn open_reader_pool(target: &database_url::ConnectTarget) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .acquire_timeout(Duration::from_secs(5))
        .max_connections(READERS)
        .connect(&target.url)
        .await
}

/// Connections of a SQLite file's read pool.
const READERS: u32 = 4;

/// Reads a BIGINT 0/1 column as a boolean.
pub(crate) fn flag(value: i64) -> bool {
    value != 0
}
