//! The connection pool. Diesel is synchronous: every query runs on tokio's blocking
//! threads through deadpool-sync, so the async server never blocks on the database.
//!
//! Every call is bounded (`--db-timeout-ms`): waiting for a connection, opening one and
//! the work itself together. A database that stops answering (a partition, a stalled
//! proxy that still acknowledges packets, a lock held too long) makes the call answer
//! UNAVAILABLE when the bound runs out; the connection it was using is taken out of the
//! pool, since it may be mid-query, and is closed by its blocking thread once that
//! thread returns (PostgreSQL's statement timeout, libpq's keepalives or the server's
//! idle-in-transaction timeout end it).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, RecycleError, RecycleResult};
use deadpool_sync::SyncWrapper;
use diesel::connection::{Connection, TransactionManager};
use keyward_domain::Error;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::connection::{AnyConnection, Bound, CommitGate, DatabaseUrl};
use crate::error::{StoreError, StoreResult, breaks_connection};

/// Opens connections by URL scheme; a connection is recycled unless a panic poisoned it
/// or it was left inside a broken transaction. No `SELECT 1` per checkout.
struct Manager {
    url: DatabaseUrl,
    bound: Bound,
    /// Connection attempts under way, at most the pool's size. An attempt the caller gave
    /// up on goes on, on its blocking thread, until libpq's `connect_timeout`; without
    /// this limit a long outage under load would pile them up by the thousand and keep
    /// the blocking threads busy with stale attempts once the database is back. A new
    /// attempt waits for a turn (within the caller's bound) rather than failing: when
    /// clients hang up mid-call, their connections are dropped while still busy, and the
    /// calls that follow at once would otherwise be refused UNAVAILABLE while the pool
    /// refills.
    connecting: Arc<Semaphore>,
}

impl managed::Manager for Manager {
    type Type = SyncWrapper<AnyConnection>;
    type Error = diesel::ConnectionError;

    async fn create(&self) -> Result<Self::Type, Self::Error> {
        let (url, bound) = (self.url.clone(), self.bound);
        let attempt = Arc::clone(&self.connecting)
            .acquire_owned()
            .await
            .map_err(|_| diesel::ConnectionError::BadConnection("the pool is closed".to_owned()))?;
        SyncWrapper::new(deadpool::Runtime::Tokio1, move || {
            let _attempt = attempt;
            AnyConnection::open(&url, bound)
        })
        .await
    }

    async fn recycle(&self, conn: &mut Self::Type, _: &Metrics) -> RecycleResult<Self::Error> {
        if conn.is_mutex_poisoned() {
            return Err(RecycleError::message("a query panicked on this connection"));
        }
        // An idle connection's lock is free and the check reads only diesel's own state:
        // no blocking thread, no round trip to the database.
        let mut c = conn.try_lock().map_err(|_| RecycleError::message("the connection is still in use"))?;
        let broken =
            <<AnyConnection as Connection>::TransactionManager as TransactionManager<AnyConnection>>::is_broken_transaction_manager(&mut c);
        if broken { Err(RecycleError::message("broken transaction")) } else { Ok(()) }
    }
}

/// The database: a pool plus the backend it talks to.
#[derive(Clone)]
pub struct Db {
    pool: managed::Pool<Manager>,
    is_postgres: bool,
    bound: Bound,
    /// SQLite only: the one connection that writes ([`Writer`]).
    writer: Option<Arc<Writer>>,
}

/// SQLite's writes: one connection of their own, one write transaction at a time, in the
/// order writers come (decision 191). SQLite lets one writer in; the others would wait in
/// its busy handler, which polls with sleeps of up to 100 ms (a write queued behind a
/// burst waited hundreds of milliseconds while the file was free). Another process
/// writing to the file is still waited for by `busy_timeout`.
///
/// One connection, because a connection's page cache is emptied whenever another
/// connection has written since its last transaction: writing from any connection of the
/// pool, every write read its pages from the operating system again; the writer's own
/// cache stays warm from one write to the next.
///
/// Two stages. Writers queue in `line` without a connection or a thread, so that readers
/// keep the pool while writers wait; the line lets two through, the writer writing and
/// the one next, which waits on a blocking thread for `connection`. The connection thus
/// passes from one blocking thread straight to the next, rather than back through the
/// runtime (the next writer woken, then its blocking thread started, all while every
/// other writer waits).
struct Writer {
    line: Arc<Semaphore>,
    /// `None` until the first write, and after a failure that broke it.
    connection: parking_lot::Mutex<Option<AnyConnection>>,
    url: DatabaseUrl,
    bound: Bound,
}

/// How many writers [`Writer::line`] lets through: the one writing and the one next.
const WRITERS_THROUGH: usize = 2;

impl Writer {
    /// Runs `f` on the write connection on this (blocking) thread, once it is free, by
    /// `by`; opens the connection first if there is none. A failure that breaks the
    /// connection, or a panic in `f`, leaves none for the next writer to open again.
    fn write<T>(
        &self,
        by: Option<std::time::Instant>,
        f: impl FnOnce(&mut AnyConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let held = match by {
            Some(by) => self.connection.try_lock_until(by),
            None => Some(self.connection.lock()),
        };
        // Past the bound the caller has answered already.
        let Some(mut held) = held else { return Err(Error::Unavailable.into()) };
        let conn = match &mut *held {
            Some(conn) => conn,
            slot @ None => slot.insert(AnyConnection::open(&self.url, self.bound).map_err(|e| {
                tracing::warn!(error = %e, "cannot open the write connection");
                StoreError::from(Error::Unavailable)
            })?),
        };
        // A panic may leave the connection inside a transaction.
        let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn))) {
            Ok(result) => result,
            Err(panic) => {
                *held = None;
                std::panic::resume_unwind(panic)
            }
        };
        if let Err(e) = &result
            && breaks_connection(e)
        {
            tracing::warn!(error = ?e, "the write connection failed; it is dropped");
            *held = None;
        }
        result
    }
}

/// A snapshot of the pool ([`Db::pool_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// The pool's size (`--db-pool-size`).
    pub max: usize,
    /// Connections open, idle or in use.
    pub open: usize,
    /// Connections a call holds now.
    pub in_use: usize,
    /// Calls waiting for a connection.
    pub waiting: usize,
}

/// The bound ran out before the work answered.
struct TimedOut;

/// The call in progress ([`Db::one_call`]): its deadline, which every database step of
/// the call ends by, and the one connection its steps share.
struct Call {
    deadline: Option<Instant>,
    connection: Mutex<Option<Object<Manager>>>,
}

impl Call {
    fn take(&self) -> Option<Object<Manager>> {
        self.connection.lock().ok()?.take()
    }

    /// Keeps `conn` for the call's next step; a second one (steps run side by side) goes
    /// back to the pool.
    fn keep(&self, conn: Object<Manager>) {
        if let Ok(mut held) = self.connection.lock()
            && held.is_none()
        {
            *held = Some(conn);
        }
    }
}

tokio::task_local! {
    static CALL: Call;
}

/// Gives the connection the call in progress holds back to the pool, before work that
/// does not need it and takes long (a password hash, an SMS send): the pool serves other
/// calls meanwhile, and the call's next step takes a connection again. Nothing outside
/// [`Db::one_call`].
pub fn let_go_of_connection() {
    let held = CALL.try_with(Call::take).ok().flatten();
    drop(held);
}

/// The deadline of a database step given `bound`: the bound from now, or the call's own
/// deadline if that comes first.
fn call_deadline(bound: Bound) -> Option<Instant> {
    bound.map(|b| {
        let own = Instant::now() + b;
        CALL.try_with(|call| call.deadline.map_or(own, |d| own.min(d))).unwrap_or(own)
    })
}

/// `fut`, given until `deadline` (for ever without one); `None` when the time ran out.
async fn within<T>(deadline: Option<Instant>, fut: impl Future<Output = T>) -> Option<T> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, fut).await.ok(),
        None => Some(fut.await),
    }
}

impl Db {
    /// Builds the pool and opens one connection, so that a wrong URL or an unreachable
    /// server is reported at start-up with the database's own words. With a `bound`, every
    /// call (waiting for a connection, opening one, and the work) answers within it;
    /// `None` waits as long as the database takes (the operator's commands).
    pub async fn connect(url: &DatabaseUrl, max_connections: usize, bound: Bound) -> Result<Db, String> {
        let wait = bound.unwrap_or(Duration::from_secs(10));
        let connecting = Arc::new(Semaphore::new(max_connections));
        let pool = managed::Pool::builder(Manager { url: url.clone(), bound, connecting })
            .max_size(max_connections)
            .wait_timeout(Some(wait))
            .create_timeout(Some(wait))
            .recycle_timeout(Some(wait))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| e.to_string())?;
        drop(pool.get().await.map_err(|e| match e {
            managed::PoolError::Backend(e) => e.to_string(),
            other => other.to_string(),
        })?);
        let writer = (!url.is_postgres()).then(|| {
            Arc::new(Writer {
                line: Arc::new(Semaphore::new(WRITERS_THROUGH)),
                connection: parking_lot::Mutex::new(None),
                url: url.clone(),
                bound,
            })
        });
        Ok(Db { pool, is_postgres: url.is_postgres(), bound, writer })
    }

    pub fn is_postgres(&self) -> bool {
        self.is_postgres
    }

    /// Applies pending migrations, then hashes the audit events written before the chain
    /// existed (in Rust: the canonical JSON and SHA-256 are not computable alike in both
    /// databases' SQL); returns the versions applied. Both under the migration lock, so
    /// that nodes starting at once take turns. Not bounded: a migration may take as long
    /// as it needs, and so may waiting for another node's.
    pub async fn migrate(&self) -> Result<Vec<String>, Error> {
        let bound = self.bound;
        let migrate = move |c: &mut AnyConnection| {
            c.set_statement_timeout(None)?;
            let migrated = c.with_migration_lock(|c| {
                let applied =
                    c.run_migrations(None).map_err(|e| StoreError::Rule(Error::Internal(format!("migration: {e}"))))?;
                let chained = c.write_transaction(&CommitGate::default(), crate::repo::audit::build_missing_chains)?;
                if chained > 0 {
                    tracing::info!(events = chained, "audit events chained");
                }
                // A migration's new index is unanalyzed: its statistics before the first call.
                let analyzed = crate::repo::maintenance::refresh_planner_stats(c)?;
                tracing::debug!(tables = %analyzed.join(", "), "planner statistics gathered");
                Ok(applied)
            });
            c.set_statement_timeout(bound)?;
            migrated
        };
        match self.on_connection(None, migrate).await {
            Ok(result) => result.map_err(Error::from),
            Err(TimedOut) => Err(Error::Unavailable),
        }
    }

    /// Runs `call` (one procedure call: its token check, then its work) as one unit for
    /// the database. One deadline, the bound from now, that every step shares: the call
    /// answers within the bound, not within the bound per step. One connection: the first
    /// step takes it from the pool and the call keeps it for its next steps until it ends
    /// or calls [`let_go_of_connection`], so a call never waits on the pool twice and
    /// never holds two connections (a write on SQLite gives it back first: it runs on
    /// [`Writer`]'s). Work a call spawns (the SMS send's own task) is not under it. A
    /// call uses this `Db` only.
    pub async fn one_call<F: Future>(&self, call: F) -> F::Output {
        let call_scope = Call { deadline: self.bound.map(|b| Instant::now() + b), connection: Mutex::new(None) };
        CALL.scope(call_scope, call).await
    }

    /// Runs `f` on a pooled connection (reads, or single statements), within the bound.
    pub async fn run<T, F>(&self, f: F) -> Result<T, Error>
    where
        F: FnOnce(&mut AnyConnection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        match self.on_connection(self.bound, f).await {
            Ok(result) => result.map_err(reported),
            Err(TimedOut) => Err(Error::Unavailable),
        }
    }

    /// Runs `f` in one write transaction: everything it did commits together or not at all.
    /// When the bound runs out first, the answer says whether the change may have been
    /// saved: [`Error::Unavailable`] if the commit was not yet under way (the worker then
    /// rolls back, whenever it gets that far), [`Error::MaybeCommitted`] if it was.
    pub async fn write<T, F>(&self, f: F) -> Result<T, Error>
    where
        F: FnOnce(&mut AnyConnection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let gate = Arc::new(CommitGate::default());
        let worker = Arc::clone(&gate);
        let work = move |c: &mut AnyConnection| c.write_transaction(&worker, f);
        let written = match &self.writer {
            Some(writer) => self.on_write_connection(writer, work).await,
            None => self.on_connection(self.bound, work).await,
        };
        match written {
            Ok(result) => result.map_err(reported),
            Err(TimedOut) if gate.abandon() => Err(Error::Unavailable),
            Err(TimedOut) => {
                tracing::warn!("the database stopped answering during a commit; the change may have been saved");
                Err(Error::MaybeCommitted)
            }
        }
    }

    /// The pool now: connections open, in use, and calls waiting for one (for metrics).
    pub fn pool_status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus {
            max: status.max_size,
            open: status.size,
            in_use: status.size.saturating_sub(status.available),
            waiting: status.waiting,
        }
    }

    /// Whether the database answers a `SELECT 1` within the bound (for `GET /health`).
    pub async fn ping(&self) -> bool {
        use diesel::RunQueryDsl;
        self.run(|c| Ok(diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1")).execute(c)?)).await.is_ok()
    }

    /// Runs `f` on SQLite's write connection ([`Writer`]) on a blocking thread, in its
    /// turn, within the bound. The call gives back the pool's connection it holds first:
    /// it waits in line with none.
    async fn on_write_connection<T, F>(&self, writer: &Arc<Writer>, f: F) -> Result<StoreResult<T>, TimedOut>
    where
        F: FnOnce(&mut AnyConnection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let deadline = call_deadline(self.bound);
        let_go_of_connection();
        let through = match within(deadline, Arc::clone(&writer.line).acquire_owned()).await {
            Some(Ok(through)) => through,
            Some(Err(_)) | None => {
                tracing::warn!("no turn to write within the bound");
                return Err(TimedOut);
            }
        };
        let (writer, by) = (Arc::clone(writer), deadline.map(Instant::into_std));
        let work = tokio::task::spawn_blocking(move || {
            let _through = through;
            writer.write(by, f)
        });
        match within(deadline, work).await {
            None => {
                tracing::warn!(
                    bound_ms = self.bound.map_or(0, |b| b.as_millis()),
                    "the database did not answer within the bound"
                );
                Err(TimedOut)
            }
            Some(Err(e)) => Ok(Err(Error::Internal(format!("database task failed: {e}")).into())),
            Some(Ok(result)) => Ok(result),
        }
    }

    /// Runs `f` on a pooled connection on a blocking thread, all within `bound`. A
    /// connection whose work outlived the bound, or that failed in a way that makes it
    /// unusable, never goes back to the pool.
    async fn on_connection<T, F>(&self, bound: Bound, f: F) -> Result<StoreResult<T>, TimedOut>
    where
        F: FnOnce(&mut AnyConnection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let deadline = call_deadline(bound);
        let held = CALL.try_with(Call::take).ok().flatten();
        let conn = match held {
            Some(conn) => conn,
            None => match self.checkout(deadline).await? {
                Ok(conn) => conn,
                Err(e) => return Ok(Err(e)),
            },
        };
        match within(deadline, conn.interact(f)).await {
            None => {
                tracing::warn!(
                    bound_ms = bound.map_or(0, |b| b.as_millis()),
                    "the database did not answer within the bound; its connection is dropped"
                );
                // Out of the pool now; the wrapper closes the connection once the blocking
                // thread lets go of it.
                drop(Object::take(conn));
                Err(TimedOut)
            }
            Some(Err(e)) => Ok(Err(Error::Internal(format!("database task failed: {e}")).into())),
            Some(Ok(result)) => {
                if let Err(e) = &result
                    && breaks_connection(e)
                {
                    tracing::warn!(error = ?e, "a database connection failed; it is dropped");
                    drop(Object::take(conn));
                } else {
                    // Kept for the call's next step; outside a call (the closure dropped
                    // unrun) it goes back to the pool.
                    let _ = CALL.try_with(move |call| call.keep(conn));
                }
                Ok(result)
            }
        }
    }

    /// A connection from the pool, by `deadline`.
    async fn checkout(&self, deadline: Option<Instant>) -> Result<Result<Object<Manager>, StoreError>, TimedOut> {
        match within(deadline, self.pool.get()).await {
            None => {
                tracing::warn!("no database connection within the bound");
                Err(TimedOut)
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "database connection unavailable");
                Ok(Err(Error::Unavailable.into()))
            }
            Some(Ok(conn)) => Ok(Ok(conn)),
        }
    }
}

/// The domain error for a failed call; a database that cannot store changes is logged
/// for the operator, who has to act.
fn reported(e: StoreError) -> Error {
    let error = Error::from(e);
    if let Error::CannotStore(fault) = &error {
        tracing::error!(%fault, "the database cannot store changes");
    }
    error
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;

    use super::*;

    /// A SQLite database of its own in a fresh folder (removed by the caller), with a
    /// pool of two.
    async fn sqlite_db(name: &str) -> (Db, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("keyward-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = DatabaseUrl::Sqlite(dir.join(format!("{name}.db")));
        (Db::connect(&url, 2, Some(Duration::from_secs(10))).await.unwrap(), dir)
    }

    fn idle(db: &Db) -> usize {
        db.pool.status().available
    }

    /// One connection per call: the call's steps reuse the first one it took, it stays out
    /// of the pool until the call lets go of it or ends, and outside a call every step
    /// gives its connection straight back.
    #[tokio::test]
    async fn a_call_holds_one_connection_until_it_lets_go_or_ends() {
        let (db, dir) = sqlite_db("one-call").await;
        assert_eq!(idle(&db), 1, "connect opens one connection and gives it back");

        db.run(|c| Ok(c.batch_execute("SELECT 1")?)).await.unwrap();
        assert_eq!(idle(&db), 1, "outside a call a step gives its connection back");

        db.one_call(async {
            // A TEMP table lives on one connection only: the second step sees it only on
            // the connection the first step used.
            db.run(|c| Ok(c.batch_execute("CREATE TEMP TABLE mine (x INTEGER)")?)).await.unwrap();
            assert_eq!(idle(&db), 0, "the call keeps its connection between steps");
            db.run(|c| Ok(c.batch_execute("INSERT INTO mine VALUES (1)")?)).await.unwrap();
            assert_eq!(idle(&db), 0);
            let_go_of_connection();
            assert_eq!(idle(&db), 1, "let_go_of_connection gives it back at once");
            db.run(|c| Ok(c.batch_execute("SELECT x FROM mine")?)).await.unwrap();
            assert_eq!(idle(&db), 0, "the next step takes one again");
        })
        .await;
        assert_eq!(idle(&db), 1, "the call's end gives it back");
        assert_eq!(db.pool.status().size, 1, "no second connection was ever opened");

        drop(db);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// SQLite's writes go through one connection of their own (decision 191): a call
    /// gives back the pool's connection before it writes, every write lands on the same
    /// connection (a TEMP table there, which no other connection has), also when 40
    /// race, and they take turns (a read-modify-write in each loses nothing).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_writes_take_turns_on_a_connection_of_their_own() {
        let (db, dir) = sqlite_db("writer").await;
        db.write(|c| Ok(c.batch_execute("CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0)")?))
            .await
            .unwrap();

        db.one_call(async {
            db.run(|c| Ok(c.batch_execute("SELECT 1")?)).await.unwrap();
            assert_eq!(idle(&db), 0, "the call holds a connection of the pool");
            db.write(|c| Ok(c.batch_execute("CREATE TEMP TABLE writes_only (x INTEGER)")?)).await.unwrap();
            assert_eq!(idle(&db), 1, "it gave it back to write");
            db.write(|c| Ok(c.batch_execute("INSERT INTO writes_only VALUES (1)")?)).await.unwrap();
            let read = db.run(|c| Ok(c.batch_execute("SELECT x FROM writes_only")?)).await;
            assert!(read.is_err(), "the pool's connections are not the one that writes");
        })
        .await;

        let writes: Vec<_> = (0..40)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.write(|c| {
                        let n = counter(c)?;
                        // The TEMP table is on the write connection only: a racing write
                        // run on any other connection fails here.
                        Ok(c.batch_execute(&format!(
                            "UPDATE counter SET n = {}; INSERT INTO writes_only VALUES ({})",
                            n + 1,
                            n + 2
                        ))?)
                    })
                    .await
                })
            })
            .collect();
        for written in writes {
            written.await.unwrap().unwrap();
        }
        assert_eq!(db.run(counter).await.unwrap(), 40, "every write saw the one before it");
        let distinct = db
            .write(|c| {
                use diesel::RunQueryDsl;
                let sql = "(SELECT COUNT(DISTINCT x) FROM writes_only)";
                Ok(diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(sql)).get_result::<i64>(c)?)
            })
            .await
            .unwrap();
        assert_eq!(distinct, 41, "every racing write ran on the write connection, one after another");

        drop(db);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn counter(c: &mut AnyConnection) -> StoreResult<i32> {
        use diesel::RunQueryDsl;
        Ok(diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("(SELECT n FROM counter)")).get_result(c)?)
    }
}
