//! The connection pool. Diesel is synchronous: every query runs on tokio's blocking
//! threads through deadpool-sync, so the async server never blocks on the database.

use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_sync::SyncWrapper;
use diesel::connection::{Connection, TransactionManager};
use keyward_domain::Error;

use crate::connection::{AnyConnection, DatabaseUrl};
use crate::error::{StoreError, StoreResult};

/// Opens connections by URL scheme; a connection is recycled unless a panic poisoned it
/// or it was left inside a broken transaction. No `SELECT 1` per checkout.
struct Manager {
    url: DatabaseUrl,
}

impl managed::Manager for Manager {
    type Type = SyncWrapper<AnyConnection>;
    type Error = diesel::ConnectionError;

    async fn create(&self) -> Result<Self::Type, Self::Error> {
        let url = self.url.clone();
        SyncWrapper::new(deadpool::Runtime::Tokio1, move || AnyConnection::open(&url)).await
    }

    async fn recycle(&self, conn: &mut Self::Type, _: &Metrics) -> RecycleResult<Self::Error> {
        if conn.is_mutex_poisoned() {
            return Err(RecycleError::message("a query panicked on this connection"));
        }
        let broken = conn
            .interact(|c| {
                <<AnyConnection as Connection>::TransactionManager as TransactionManager<AnyConnection>>::is_broken_transaction_manager(c)
            })
            .await
            .map_err(|e| RecycleError::message(e.to_string()))?;
        if broken { Err(RecycleError::message("broken transaction")) } else { Ok(()) }
    }
}

/// The database: a pool plus the backend it talks to.
#[derive(Clone)]
pub struct Db {
    pool: managed::Pool<Manager>,
    is_postgres: bool,
}

impl Db {
    /// Builds the pool and opens one connection, so that a wrong URL or an unreachable
    /// server is reported at start-up with the database's own words.
    pub async fn connect(url: &DatabaseUrl, max_connections: usize) -> Result<Db, String> {
        let pool = managed::Pool::builder(Manager { url: url.clone() })
            .max_size(max_connections)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(10)))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| e.to_string())?;
        drop(pool.get().await.map_err(|e| match e {
            managed::PoolError::Backend(e) => e.to_string(),
            other => other.to_string(),
        })?);
        Ok(Db { pool, is_postgres: url.is_postgres() })
    }

    pub fn is_postgres(&self) -> bool {
        self.is_postgres
    }

    /// Applies pending migrations; returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<String>, Error> {
        self.run(|c| c.run_migrations().map_err(|e| StoreError::Rule(Error::Internal(format!("migration: {e}"))))).await
    }

    /// Runs `f` on a pooled connection (reads, or single statements).
    pub async fn run<T, F>(&self, f: F) -> Result<T, Error>
    where
        F: FnOnce(&mut AnyConnection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let conn = self.pool.get().await.map_err(|e| {
            tracing::warn!(error = %e, "database connection unavailable");
            Error::Unavailable
        })?;
        match conn.interact(f).await {
            Ok(result) => result.map_err(Error::from),
            Err(e) => Err(Error::Internal(format!("database task failed: {e}"))),
        }
    }

    /// Runs `f` in one write transaction: everything it did commits together or not at all.
    pub async fn write<T, F>(&self, f: F) -> Result<T, Error>
    where
        F: FnOnce(&mut AnyConnection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.run(|c| c.write_transaction(f)).await
    }

    /// Whether the database answers (for `GET /health`).
    pub async fn ping(&self) -> bool {
        use diesel::RunQueryDsl;
        self.run(|c| Ok(diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1")).execute(c)?)).await.is_ok()
    }
}
