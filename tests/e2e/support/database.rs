//! One fresh database per test.

use diesel::{Connection, PgConnection, RunQueryDsl};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub backend: Backend,
    pub url: String,
    _dir: Option<TempDir>,
    postgres: Option<(String, String)>, // (admin url, database name)
}

fn postgres_admin_url() -> String {
    std::env::var("KEYWARD_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned())
}

/// Whether the PostgreSQL half was switched off (`cargo xtask test` does so, loudly,
/// when PostgreSQL is unreachable and CI is not set).
pub fn postgres_skipped() -> bool {
    std::env::var("KEYWARD_TEST_POSTGRES").is_ok_and(|v| v == "skip")
}

impl TestDatabase {
    pub fn create(backend: Backend) -> TestDatabase {
        let name = format!("keyward_test_{}", uuid::Uuid::now_v7().simple());
        match backend {
            Backend::Sqlite => {
                let dir = TempDir::new(&name);
                let url = format!("sqlite://{}", dir.path.join("keyward.db").display());
                TestDatabase { backend, url, _dir: Some(dir), postgres: None }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let mut conn = PgConnection::establish(&admin).unwrap_or_else(|e| {
                    panic!(
                        "cannot reach PostgreSQL at {admin}: {e}\n\
                         Start PostgreSQL, point KEYWARD_TEST_POSTGRES_URL at one, or run `cargo xtask test`, \
                         which skips the PostgreSQL half (and says so) when none is reachable."
                    )
                });
                let template = super::pg_template::template(&mut conn, &admin);
                diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
                    .execute(&mut conn)
                    .expect("create test database");
                let base = admin.rsplit_once('/').map(|(base, _)| base).expect("a database URL has a path");
                let url = format!("{base}/{name}");
                TestDatabase { backend, url, _dir: None, postgres: Some((admin, name)) }
            }
        }
    }
}

impl TestDatabase {
    /// A SQLite database at `path`, in a directory the caller owns (and removes).
    pub fn sqlite_at(path: &std::path::Path) -> TestDatabase {
        TestDatabase {
            backend: Backend::Sqlite,
            url: format!("sqlite://{}", path.display()),
            _dir: None,
            postgres: None,
        }
    }

    /// Every row of `table` as text (PostgreSQL), or every byte of the database files as
    /// text (SQLite: the file and its write-ahead log), for checks that something is
    /// stored nowhere.
    pub fn raw_contents(&self, tables: &[&str]) -> String {
        match &self.postgres {
            None => {
                let path = self.url.strip_prefix("sqlite://").expect("a sqlite URL");
                let mut all = Vec::new();
                for file in [path.to_owned(), format!("{path}-wal")] {
                    all.extend(std::fs::read(&file).unwrap_or_default());
                }
                String::from_utf8_lossy(&all).into_owned()
            }
            Some(_) => {
                #[derive(diesel::QueryableByName)]
                struct Row {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    row: String,
                }
                let mut conn = PgConnection::establish(&self.url).expect("connect to the test database");
                let mut all = String::new();
                for table in tables {
                    let rows: Vec<Row> = diesel::sql_query(format!("SELECT t::text AS row FROM {table} t"))
                        .load(&mut conn)
                        .expect("read raw rows");
                    assert!(!rows.is_empty() || *table == "key_movements", "{table} has rows to check");
                    for r in rows {
                        all.push_str(&r.row);
                        all.push('\n');
                    }
                }
                all
            }
        }
    }
}

/// A connection of the test's own to the database, for tests that tamper with it on
/// purpose (the audit chain) or put it in an older state (migrations).
pub enum RawConnection {
    Sqlite(diesel::SqliteConnection),
    Postgres(PgConnection),
}

impl TestDatabase {
    pub fn connect(&self) -> RawConnection {
        match &self.postgres {
            Some(_) => {
                RawConnection::Postgres(PgConnection::establish(&self.url).expect("connect to the test database"))
            }
            None => {
                let path = self.url.strip_prefix("sqlite://").expect("a sqlite URL");
                let mut conn = diesel::SqliteConnection::establish(path).expect("open the test database");
                diesel::sql_query("PRAGMA busy_timeout = 10000").execute(&mut conn).expect("set busy_timeout");
                // The search triggers call it when a test writes keys (decision 173).
                keyward_persistence::repo::keys::register_sqlite_functions(&mut conn).expect("register functions");
                RawConnection::Sqlite(conn)
            }
        }
    }

    /// Runs SQL statements (separated by `;`) on the database; panics on failure.
    pub fn execute(&self, sql: &str) {
        use diesel::connection::SimpleConnection;
        match self.connect() {
            RawConnection::Sqlite(mut c) => c.batch_execute(sql),
            RawConnection::Postgres(mut c) => c.batch_execute(sql),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The one text column `v` of every row a query returns.
    pub fn texts(&self, sql: &str) -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            v: String,
        }
        let rows: Vec<Row> = match self.connect() {
            RawConnection::Sqlite(mut c) => diesel::sql_query(sql).load(&mut c),
            RawConnection::Postgres(mut c) => diesel::sql_query(sql).load(&mut c),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.into_iter().map(|r| r.v).collect()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.postgres
            && let Ok(mut conn) = PgConnection::establish(admin)
        {
            // The server was killed first; WITH (FORCE) ends any connection it left.
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
        }
    }
}

/// A directory removed when the test ends.
pub struct TempDir {
    pub path: std::path::PathBuf,
}

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
