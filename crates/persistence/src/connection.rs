//! One connection type over both databases, chosen by URL scheme, with the per-connection
//! setup, the write transaction and the embedded migrations.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use keyward_domain::Error;

use crate::error::{StoreError, StoreResult};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// The PostgreSQL advisory lock key under which migrations run ("keyward" in ASCII, then
/// 1), see [`AnyConnection::with_migration_lock`].
pub const MIGRATION_LOCK: i64 = 0x6b65_7977_6172_6401;

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Which database a URL names. `postgres://` or `postgresql://` is PostgreSQL;
/// `sqlite://PATH` is a SQLite file, PATH relative to the working directory
/// (`sqlite://keyward.db`) or absolute (`sqlite:///var/lib/keyward/keyward.db`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(std::path::PathBuf),
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://keyward.db".to_owned());
            }
            Ok(DatabaseUrl::Sqlite(path.into()))
        } else {
            Err(format!("unsupported database URL {url:?}: use postgres://… or sqlite://PATH"))
        }
    }
}

impl DatabaseUrl {
    pub fn is_postgres(&self) -> bool {
        matches!(self, DatabaseUrl::Postgres(_))
    }

    /// The PostgreSQL connection string keyward gives libpq, unbounded (`sslmode` on
    /// loopback, see `conninfo`), for tools that should connect as the server does
    /// (the benchmark's pgbench); `None` for SQLite.
    pub fn libpq_url(&self) -> Option<String> {
        match self {
            DatabaseUrl::Postgres(url) => Some(conninfo(url, None, env_tls())),
            DatabaseUrl::Sqlite(_) => None,
        }
    }

    /// The URL without its password, for logs.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) if url.contains("password=") => {
                // A password in the query string: keep only what comes before it.
                let (base, _) = url.split_once('?').unwrap_or((url, ""));
                format!("{base}?***")
            }
            DatabaseUrl::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme_end), Some(at)) if at > scheme_end && url[scheme_end + 3..at].contains(':') => {
                    let user = url[scheme_end + 3..at].split(':').next().unwrap_or("");
                    format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
                }
                _ => url.clone(),
            },
        }
    }
}

/// How long the database may take, when bounded (`None`: as long as it takes, for the
/// operator's commands). See `Db::connect`.
pub type Bound = Option<Duration>;

/// The PostgreSQL URL with what keyward adds unless the URL (or libpq's environment)
/// says otherwise:
/// - on loopback, `sslmode=disable` (decision 181): TLS between two processes of one host
///   protects nothing and cost about a fifth of the throughput of a short read; libpq's
///   default `prefer` allows a plain connection anyway. Left alone when the URL or the
///   environment says anything about TLS (`ssl…` or `service` in the URL, `PGSSLMODE` or
///   `PGSERVICE` set: a server that wants TLS or a client certificate keeps getting it),
///   or names its host in the query.
/// - for `bound`, libpq's own timeouts: `connect_timeout` (the whole connection set-up),
///   TCP keepalives (a peer that vanished is noticed while waiting for an answer) and
///   `tcp_user_timeout` (data sent and never acknowledged).
///
/// `env_tls`: whether `PGSSLMODE` or `PGSERVICE` is set.
fn conninfo(url: &str, bound: Bound, env_tls: bool) -> String {
    let mut params = Vec::new();
    if on_loopback(url) && !env_tls && !says_tls(url) {
        params.push(("sslmode", "disable".to_owned()));
    }
    if let Some(bound) = bound {
        let secs = bound.as_millis().div_ceil(1000).max(1);
        params.extend([
            ("connect_timeout", secs.to_string()),
            ("keepalives", "1".to_owned()),
            ("keepalives_idle", secs.to_string()),
            ("keepalives_interval", "1".to_owned()),
            ("keepalives_count", "3".to_owned()),
            ("tcp_user_timeout", bound.as_millis().to_string()),
        ]);
    }
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let given: Vec<&str> = query.split('&').filter_map(|p| p.split('=').next()).collect();
    let mut out = url.to_owned();
    for (name, value) in params {
        if !given.contains(&name) {
            out.push(if out.contains('?') { '&' } else { '?' });
            out.push_str(&format!("{name}={value}"));
        }
    }
    out
}

/// Whether libpq's environment says anything about TLS (see `conninfo`).
fn env_tls() -> bool {
    std::env::var_os("PGSSLMODE").is_some() || std::env::var_os("PGSERVICE").is_some()
}

/// Whether a PostgreSQL URL has a parameter about TLS (`sslmode`, `sslcert`,
/// `sslrootcert`, …) or names a service (whose file may).
fn says_tls(url: &str) -> bool {
    url::Url::parse(url)
        .is_ok_and(|url| url.query_pairs().any(|(name, _)| name.starts_with("ssl") || name == "service"))
}

/// Whether a PostgreSQL URL reaches its server over loopback (`localhost`, 127.0.0.0/8,
/// `::1`), the host named in the authority and nowhere else.
fn on_loopback(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else { return false };
    if url.query_pairs().any(|(name, _)| name == "host" || name == "hostaddr") {
        return false;
    }
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

impl AnyConnection {
    /// Opens a connection and prepares it. Unlike the derive's `establish`, which tries
    /// every backend and reports "invalid connection url", this keeps the real error.
    pub fn open(url: &DatabaseUrl, bound: Bound) -> ConnectionResult<AnyConnection> {
        let mut conn = match url {
            DatabaseUrl::Postgres(url) => AnyConnection::Pg(PgConnection::establish(&conninfo(url, bound, env_tls()))?),
            DatabaseUrl::Sqlite(path) => AnyConnection::Sqlite(SqliteConnection::establish(&path.to_string_lossy())?),
        };
        conn.prepare(bound).map_err(ConnectionError::CouldntSetupConfiguration)?;
        Ok(conn)
    }

    fn prepare(&mut self, bound: Bound) -> QueryResult<()> {
        match self {
            // Bounded: the server cancels a statement that runs past the bound (the caller
            // has given up by then), and ends a session left idle inside a transaction for
            // twice as long (a client cut off mid-transaction must not hold its locks for
            // hours; the client itself rolls back what it gave up on, see `CommitGate`).
            AnyConnection::Pg(c) => {
                let ms = bound.map_or(0, |b| b.as_millis());
                c.batch_execute(&format!(
                    "SET TIME ZONE 'UTC'; SET statement_timeout = {ms}; \
                     SET idle_in_transaction_session_timeout = {};",
                    2 * ms
                ))
            }
            // WAL lets readers run beside the writer; busy_timeout makes a second writer
            // wait instead of failing (with BEGIN IMMEDIATE, see `write_transaction`), for
            // as long as the caller would wait (10 s when unbounded). It comes first:
            // setting the journal mode may have to wait for a lock too. Each connection
            // has its own page cache (decision 183): 2 MiB each (the operating system
            // caches the file for all of them), and no memory map, whose pages count in
            // the process's RSS.
            // The search triggers call `keyward_search_grams`, `keyward_search_head` and
            // `keyward_search_holder` (decisions 173, 187).
            AnyConnection::Sqlite(c) => {
                crate::repo::keys::register_sqlite_functions(c)?;
                c.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                 PRAGMA cache_size = -2048; PRAGMA mmap_size = 0;",
                    bound.map_or(10_000, |b| b.as_millis())
                ))
            }
        }
    }

    /// Applies pending migrations without PostgreSQL's statement timeout (building an
    /// index on a large table may take minutes), then sets `bound` again.
    pub fn run_migrations(&mut self, bound: Bound) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
        let set = match self {
            AnyConnection::Pg(_) => PG_MIGRATIONS,
            AnyConnection::Sqlite(_) => SQLITE_MIGRATIONS,
        };
        self.set_statement_timeout(None)?;
        let applied = self.run_pending_migrations(set).map(|v| v.iter().map(ToString::to_string).collect());
        self.set_statement_timeout(bound)?;
        applied
    }

    /// Runs `f` holding [`MIGRATION_LOCK`], a PostgreSQL session advisory lock: nodes
    /// started at once on one database migrate one after another (the first applies the
    /// migrations and chains the audit events, the others wait, then find nothing to do),
    /// instead of racing to create the same tables. The wait has no bound: a migration
    /// takes as long as it needs. A process that dies holding it lets go with its session.
    /// SQLite: one file, opened by one node; `f` alone.
    pub fn with_migration_lock<T>(&mut self, f: impl FnOnce(&mut AnyConnection) -> StoreResult<T>) -> StoreResult<T> {
        use diesel::sql_types::BigInt;
        if matches!(self, AnyConnection::Sqlite(_)) {
            return f(self);
        }
        diesel::sql_query("SELECT pg_advisory_lock($1)").bind::<BigInt, _>(MIGRATION_LOCK).execute(self)?;
        let result = f(self);
        let unlocked =
            diesel::sql_query("SELECT pg_advisory_unlock($1)").bind::<BigInt, _>(MIGRATION_LOCK).execute(self);
        let value = result?;
        unlocked?;
        Ok(value)
    }

    pub(crate) fn set_statement_timeout(&mut self, bound: Bound) -> QueryResult<()> {
        match self {
            AnyConnection::Pg(c) => {
                c.batch_execute(&format!("SET statement_timeout = {}", bound.map_or(0, |b| b.as_millis())))
            }
            AnyConnection::Sqlite(_) => Ok(()),
        }
    }

    /// Runs `f` in a savepoint of the write transaction under way (`Db::write`): its
    /// changes are undone when it fails, and the transaction goes on (PostgreSQL would
    /// refuse every later statement after a failed one otherwise). When it succeeds,
    /// `keep` judges its answer: `false` undoes the changes too (a dry run, an import with
    /// refused rows), and the answer is still returned. Outside a transaction it refuses,
    /// as the audit log does.
    pub fn savepoint<T, F>(&mut self, keep: impl FnOnce(&T) -> bool, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut AnyConnection) -> StoreResult<T>,
    {
        type Manager = <AnyConnection as Connection>::TransactionManager;
        if !matches!(Manager::transaction_manager_status_mut(self).transaction_depth(), Ok(Some(_))) {
            return Err(Error::Internal("a savepoint outside a write transaction".to_owned()).into());
        }
        Manager::begin_transaction(self)?;
        let locks_before = crate::org_lock::snapshot();
        match f(self) {
            Ok(value) => {
                if keep(&value) {
                    Manager::commit_transaction(self)?;
                } else {
                    Manager::rollback_transaction(self)?;
                    crate::org_lock::restore(locks_before);
                }
                Ok(value)
            }
            Err(e) => {
                // The error that made us roll back is the one worth reporting.
                let _ = Manager::rollback_transaction(self);
                crate::org_lock::restore(locks_before);
                Err(e)
            }
        }
    }

    /// Runs `f` in a transaction that may write. On SQLite it begins with
    /// `BEGIN IMMEDIATE`, taking the write lock up front: a deferred transaction that reads
    /// first and writes later fails with "database is locked" under concurrency, because
    /// SQLite cannot wait on a lock upgrade. An `Err` from `f` rolls everything back.
    ///
    /// `gate` decides, with the caller that may give up waiting, whether it commits: once
    /// the caller has answered "nothing was changed" the work is rolled back, and once the
    /// commit was sent the caller can only answer "maybe" (see [`CommitGate`]). A commit
    /// that PostgreSQL may have received before the connection broke is
    /// [`Error::MaybeCommitted`].
    pub fn write_transaction<T, F>(&mut self, gate: &CommitGate, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut AnyConnection) -> StoreResult<T>,
    {
        type Manager = <AnyConnection as Connection>::TransactionManager;
        if gate.is_abandoned() {
            return Err(Error::Unavailable.into());
        }
        match self {
            AnyConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
            AnyConnection::Pg(_) => Manager::begin_transaction(self)?,
        }
        let _locks = crate::org_lock::Scope::open();
        let value = match f(self) {
            Ok(value) => value,
            Err(e) => {
                // The error that made us roll back is the one worth reporting.
                let _ = Manager::rollback_transaction(self);
                return Err(e);
            }
        };
        if !gate.enter_commit() {
            let _ = Manager::rollback_transaction(self);
            return Err(Error::Unavailable.into());
        }
        match Manager::commit_transaction(self) {
            Ok(()) => Ok(value),
            // SQLite commits or rolls back atomically and says which; PostgreSQL's answer
            // to a COMMIT it may have carried out can be lost with the connection.
            Err(
                e @ diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::ClosedConnection
                    | diesel::result::DatabaseErrorKind::UnableToSendCommand,
                    _,
                ),
            ) if matches!(self, AnyConnection::Pg(_)) => {
                tracing::warn!(error = %e, "the connection broke during COMMIT; the outcome is unknown");
                Err(StoreError::Rule(Error::MaybeCommitted))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Who decides the fate of one write: the worker thread, which is about to commit, or the
/// caller, which may stop waiting. Exactly one of them moves the write out of `Working`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum WritePhase {
    /// The transaction is being worked out; it can still be abandoned.
    Working = 0,
    /// The worker is committing: the caller can no longer say that nothing changed.
    Committing = 1,
    /// The caller stopped waiting and answered that nothing changed: the worker must roll
    /// back whatever it did.
    Abandoned = 2,
}

/// The shared [`WritePhase`] of one write (see `Db::write`).
#[derive(Debug)]
pub struct CommitGate(AtomicU8);

impl Default for CommitGate {
    fn default() -> Self {
        CommitGate(AtomicU8::new(WritePhase::Working as u8))
    }
}

impl CommitGate {
    fn advance(&self, to: WritePhase) -> bool {
        self.0.compare_exchange(WritePhase::Working as u8, to as u8, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// The worker: may it commit? False once the caller has abandoned the write.
    pub fn enter_commit(&self) -> bool {
        self.advance(WritePhase::Committing)
    }

    /// The caller: gives up on the write. True if the write will now surely not commit;
    /// false if the worker had already started committing.
    pub fn abandon(&self) -> bool {
        self.advance(WritePhase::Abandoned)
    }

    fn is_abandoned(&self) -> bool {
        self.0.load(Ordering::Acquire) == WritePhase::Abandoned as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_the_backend() {
        assert_eq!("sqlite://keyward.db".parse(), Ok(DatabaseUrl::Sqlite("keyward.db".into())));
        assert_eq!("sqlite:///var/lib/k.db".parse(), Ok(DatabaseUrl::Sqlite("/var/lib/k.db".into())));
        assert!("postgres://root@localhost/test".parse::<DatabaseUrl>().unwrap().is_postgres());
        assert!("postgresql://root@localhost/test".parse::<DatabaseUrl>().unwrap().is_postgres());
        assert!("mysql://x".parse::<DatabaseUrl>().is_err());
        assert!("sqlite://".parse::<DatabaseUrl>().is_err());
        assert!("keyward.db".parse::<DatabaseUrl>().is_err());
    }

    #[test]
    fn loopback_urls_go_without_tls_unless_they_say_otherwise() {
        for url in ["postgres://root@127.0.0.1:5432/test", "postgresql://localhost/db", "postgres://u@[::1]/db"] {
            assert_eq!(conninfo(url, None, false), format!("{url}?sslmode=disable"));
            assert_eq!(conninfo(url, None, true), url, "PGSSLMODE or PGSERVICE decides");
        }
        assert_eq!(conninfo("postgres://127.0.0.1/db?x=1", None, false), "postgres://127.0.0.1/db?x=1&sslmode=disable");
        for url in [
            "postgres://db.internal/db",
            "postgres://10.0.0.5/db",
            "postgres://127.0.0.1/db?sslmode=require",
            "postgres://127.0.0.1/db?sslcert=/etc/keyward/client.crt",
            "postgres://localhost/db?service=keyward",
            "postgres://127.0.0.1/db?host=db.internal",
            "postgres:///db?host=/var/run/postgresql",
        ] {
            assert_eq!(conninfo(url, None, false), url);
        }
    }

    #[test]
    fn bounded_postgres_urls_get_libpq_timeouts() {
        let bound = Some(Duration::from_millis(1500));
        assert_eq!(conninfo("postgres://h/db", None, false), "postgres://h/db");
        assert_eq!(
            conninfo("postgres://h/db", bound, false),
            "postgres://h/db?connect_timeout=2&keepalives=1&keepalives_idle=2&keepalives_interval=1\
             &keepalives_count=3&tcp_user_timeout=1500"
        );
        // The operator's own settings win.
        let url = conninfo("postgres://h/db?sslmode=require&connect_timeout=30", bound, false);
        assert!(url.starts_with("postgres://h/db?sslmode=require&connect_timeout=30&keepalives=1&"), "{url}");
        assert_eq!(url.matches("connect_timeout").count(), 1, "{url}");
    }

    /// `.cargo/config.toml` builds the bundled SQLite without the options that serialise
    /// its connections or recompile its statements (decision 183).
    #[test]
    fn sqlite_is_built_without_a_shared_page_cache_memory_statistics_or_stat4_and_with_stable_plans() {
        use diesel::sql_types::Text;
        #[derive(diesel::QueryableByName)]
        struct CompileOption {
            #[diesel(sql_type = Text)]
            compile_options: String,
        }
        let mut c = diesel::SqliteConnection::establish(":memory:").unwrap();
        let options: Vec<String> = diesel::sql_query("PRAGMA compile_options")
            .load::<CompileOption>(&mut c)
            .unwrap()
            .into_iter()
            .map(|o| o.compile_options)
            .collect();
        assert!(options.iter().any(|o| o == "ENABLE_FTS5"), "{options:?}");
        assert!(options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"), "{options:?}");
        assert!(options.iter().any(|o| o == "ENABLE_QPSG"), "{options:?}");
        for unwanted in ["ENABLE_MEMORY_MANAGEMENT", "ENABLE_STAT4"] {
            assert!(!options.iter().any(|o| o == unwanted), "{unwanted} in {options:?}");
        }
    }

    #[test]
    fn a_write_is_committed_or_abandoned_never_both() {
        let gate = CommitGate::default();
        assert!(gate.abandon());
        assert!(!gate.enter_commit(), "an abandoned write never commits");
        assert!(gate.is_abandoned());
        let gate = CommitGate::default();
        assert!(gate.enter_commit());
        assert!(!gate.abandon(), "a write being committed cannot be called unchanged");
        assert!(!gate.is_abandoned());
    }

    /// The caller gives up while the work is under way: nothing it did is committed.
    #[test]
    fn an_abandoned_write_rolls_back() {
        let dir = std::env::temp_dir().join(format!("keyward-gate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = DatabaseUrl::Sqlite(dir.join("gate.db"));
        let mut conn = AnyConnection::open(&url, None).unwrap();
        conn.batch_execute("CREATE TABLE t (x INTEGER)").unwrap();
        let gate = CommitGate::default();
        let written = conn.write_transaction(&gate, |c| {
            c.batch_execute("INSERT INTO t VALUES (1)")?;
            assert!(gate.abandon(), "the caller gives up first");
            Ok(())
        });
        assert!(matches!(written, Err(StoreError::Rule(Error::Unavailable))), "{written:?}");
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let rows: Count = diesel::sql_query("SELECT count(*) AS n FROM t").get_result(&mut conn).unwrap();
        assert_eq!(rows.n, 0, "an abandoned write never commits");
        let gate = CommitGate::default();
        conn.write_transaction(&gate, |c| Ok(c.batch_execute("INSERT INTO t VALUES (2)")?)).unwrap();
        let rows: Count = diesel::sql_query("SELECT count(*) AS n FROM t").get_result(&mut conn).unwrap();
        assert_eq!(rows.n, 1);
        drop(conn);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn passwords_are_redacted() {
        let url: DatabaseUrl = "postgres://app:s3cret@db:5432/keyward".parse().unwrap();
        assert_eq!(url.redacted(), "postgres://app:***@db:5432/keyward");
        let url: DatabaseUrl = "postgres://h/db?sslmode=require&password=x".parse().unwrap();
        assert_eq!(url.redacted(), "postgres://h/db?***");
        let url: DatabaseUrl = "postgres://root@127.0.0.1/test".parse().unwrap();
        assert_eq!(url.redacted(), "postgres://root@127.0.0.1/test");
    }
}
