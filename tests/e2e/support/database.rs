//! One fresh database per test.

use diesel::{Connection, PgConnection, RunQueryDsl};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test.
pub struct TestDatabase {
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
                TestDatabase { url, _dir: Some(dir), postgres: None }
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
                diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).expect("create test database");
                let base = admin.rsplit_once('/').map(|(base, _)| base).expect("a database URL has a path");
                let url = format!("{base}/{name}");
                TestDatabase { url, _dir: None, postgres: Some((admin, name)) }
            }
        }
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
