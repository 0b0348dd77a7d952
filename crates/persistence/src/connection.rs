//! One connection type over both databases, chosen by URL scheme, with the per-connection
//! setup, the write transaction and the embedded migrations.

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

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

impl AnyConnection {
    /// Opens a connection and prepares it. Unlike the derive's `establish`, which tries
    /// every backend and reports "invalid connection url", this keeps the real error.
    pub fn open(url: &DatabaseUrl) -> ConnectionResult<AnyConnection> {
        let mut conn = match url {
            DatabaseUrl::Postgres(url) => AnyConnection::Pg(PgConnection::establish(url)?),
            DatabaseUrl::Sqlite(path) => AnyConnection::Sqlite(SqliteConnection::establish(&path.to_string_lossy())?),
        };
        conn.prepare().map_err(ConnectionError::CouldntSetupConfiguration)?;
        Ok(conn)
    }

    fn prepare(&mut self) -> QueryResult<()> {
        match self {
            AnyConnection::Pg(c) => c.batch_execute("SET TIME ZONE 'UTC'"),
            // WAL lets readers run beside the writer; busy_timeout makes a second writer
            // wait instead of failing (with BEGIN IMMEDIATE, see `write_transaction`).
            AnyConnection::Sqlite(c) => c.batch_execute(
                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            ),
        }
    }

    pub fn run_migrations(&mut self) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
        let set = match self {
            AnyConnection::Pg(_) => PG_MIGRATIONS,
            AnyConnection::Sqlite(_) => SQLITE_MIGRATIONS,
        };
        let applied = self.run_pending_migrations(set)?;
        Ok(applied.iter().map(ToString::to_string).collect())
    }

    /// Runs `f` in a transaction that may write. On SQLite it begins with
    /// `BEGIN IMMEDIATE`, taking the write lock up front: a deferred transaction that reads
    /// first and writes later fails with "database is locked" under concurrency, because
    /// SQLite cannot wait on a lock upgrade. An `Err` from `f` rolls everything back.
    pub fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        type Manager = <AnyConnection as Connection>::TransactionManager;
        match self {
            AnyConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
            AnyConnection::Pg(_) => Manager::begin_transaction(self)?,
        }
        match f(self) {
            Ok(value) => {
                Manager::commit_transaction(self)?;
                Ok(value)
            }
            Err(e) => {
                // The error that made us roll back is the one worth reporting.
                let _ = Manager::rollback_transaction(self);
                Err(e)
            }
        }
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
    fn passwords_are_redacted() {
        let url: DatabaseUrl = "postgres://app:s3cret@db:5432/keyward".parse().unwrap();
        assert_eq!(url.redacted(), "postgres://app:***@db:5432/keyward");
        let url: DatabaseUrl = "postgres://h/db?sslmode=require&password=x".parse().unwrap();
        assert_eq!(url.redacted(), "postgres://h/db?***");
        let url: DatabaseUrl = "postgres://root@127.0.0.1/test".parse().unwrap();
        assert_eq!(url.redacted(), "postgres://root@127.0.0.1/test");
    }
}
