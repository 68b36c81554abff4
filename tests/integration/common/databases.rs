//! Fresh databases for tests, on every engine available.
//!
//! SQLite always runs: a new file in its own temporary directory. PostgreSQL runs when
//! `SICHA_TEST_POSTGRES_URL` names a server (e.g. `postgres://postgres@127.0.0.1:5432/test`): each
//! test gets a new database `sicha_test_<uuid>` created through that URL and dropped afterwards.
//!
//! ```no_run
//! # async fn example() {
//! crate::common::databases::for_each_store(|store| async move {
//!     assert!(store.list_businesses().await.unwrap().is_empty());
//! })
//! .await;
//! # }
//! ```

use std::future::Future;
use std::path::PathBuf;

use sqlx::Any;
use sqlx::migrate::MigrateDatabase;

use sicha::store::{Engine, Store, StoreError};

/// Names the PostgreSQL server to test against; unset means SQLite only.
pub const POSTGRES_URL_VARIABLE: &str = "SICHA_TEST_POSTGRES_URL";

/// A database that exists only for one test, removed when dropped (best effort).
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    engine: Engine,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    RemoveDir(PathBuf),
    DropPostgres,
    Nothing,
}

impl TestDatabase {
    /// A new, empty SQLite file in a directory of its own. Nothing is created until connecting.
    pub fn sqlite() -> std::io::Result<TestDatabase> {
        let dir =
            std::env::temp_dir().join(format!("sicha-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let url = format!("sqlite://{}", dir.join("sicha.db").display());
        Ok(TestDatabase {
            url,
            engine: Engine::Sqlite,
            cleanup: Cleanup::RemoveDir(dir),
        })
    }

    /// A new, empty database on the PostgreSQL server that `server_url` connects to.
    pub async fn postgres(server_url: &str) -> Result<TestDatabase, StoreError> {
        sqlx::any::install_default_drivers();
        let mut url = url::Url::parse(server_url).map_err(|error| StoreError::Invalid {
            what: "test PostgreSQL URL",
            reason: error.to_string(),
        })?;
        url.set_path(&format!("/sicha_test_{}", uuid::Uuid::new_v4().simple()));
        let url = url.to_string();
        Any::create_database(&url)
            .await
            .map_err(StoreError::Connect)?;
        Ok(TestDatabase {
            url,
            engine: Engine::Postgres,
            cleanup: Cleanup::DropPostgres,
        })
    }

    /// Every engine this run can test: SQLite, then PostgreSQL if [`POSTGRES_URL_VARIABLE`] is set.
    /// Panics when the variable is set but the server cannot make a database: asking for
    /// PostgreSQL and silently not getting it would hide failures.
    pub async fn all_available() -> Vec<TestDatabase> {
        let mut databases =
            vec![TestDatabase::sqlite().expect("creating a temporary SQLite directory")];
        match std::env::var(POSTGRES_URL_VARIABLE) {
            Ok(server) if !server.is_empty() => {
                let database = TestDatabase::postgres(&server)
                    .await
                    .unwrap_or_else(|error| {
                        panic!("{POSTGRES_URL_VARIABLE} is set but unusable: {error}")
                    });
                databases.push(database);
            }
            _ => println!("postgres skipped: {POSTGRES_URL_VARIABLE} is not set"),
        }
        databases
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Removes the database now, waiting for it; otherwise dropping does the same.
    pub async fn remove(mut self) {
        remove_database(
            &self.url,
            std::mem::replace(&mut self.cleanup, Cleanup::Nothing),
        )
        .await;
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let cleanup = std::mem::replace(&mut self.cleanup, Cleanup::Nothing);
        match cleanup {
            Cleanup::Nothing => {}
            Cleanup::RemoveDir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::DropPostgres => {
                // Drop cannot await, and may run inside a runtime: use a runtime of our own on
                // a thread of our own.
                let url = self.url.clone();
                let dropper = std::thread::spawn(move || {
                    if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        runtime.block_on(remove_database(&url, Cleanup::DropPostgres));
                    }
                });
                let _ = dropper.join();
            }
        }
    }
}

async fn remove_database(url: &str, cleanup: Cleanup) {
    match cleanup {
        Cleanup::Nothing => {}
        Cleanup::RemoveDir(dir) => {
            let _ = tokio::fs::remove_dir_all(dir).await;
        }
        Cleanup::DropPostgres => {
            // Terminates the test's leftover connections first; failure only leaves a stray database.
            if let Err(error) = Any::force_drop_database(url).await {
                eprintln!("could not drop test database: {error}");
            }
        }
    }
}

/// Runs `test` once per available engine with the URL of a fresh database, saying which engine
/// runs (shown with the output of a failing test).
pub async fn for_each_engine<F, Fut>(mut test: F)
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = ()>,
{
    for database in TestDatabase::all_available().await {
        println!("running on {}", database.engine());
        test(database.url().to_string()).await;
        database.remove().await;
    }
}

/// Like [`for_each_engine`], with a connected and migrated [`Store`] on each fresh database.
pub async fn for_each_store<F, Fut>(mut test: F)
where
    F: FnMut(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    for database in TestDatabase::all_available().await {
        println!("running on {}", database.engine());
        let store = Store::connect(database.url())
            .await
            .expect("connecting to the test database");
        test(store.clone()).await;
        store.close().await;
        database.remove().await;
    }
}

/// Every connection of a store's pool, taken away from the rest of the app until dropped.
pub struct HeldConnections(#[allow(dead_code)] Vec<sqlx::pool::PoolConnection<Any>>);

/// Takes every connection of `store`'s pool (the one every write and the readiness check use) and
/// holds them: to the rest of the app the database stops answering in time, as in an outage.
pub async fn hold_every_connection(store: &Store) -> HeldConnections {
    let pool = store.pool();
    let mut held = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        held.push(pool.acquire().await.expect("a connection of the test pool"));
    }
    HeldConnections(held)
}
