//! A migrated PostgreSQL template database, made once per set of migrations and copied for
//! every PostgreSQL test (`CREATE DATABASE … TEMPLATE …`), so that a test does not pay for
//! applying every migration again (decision 170).
//!
//! The template's name carries a digest of `migrations/postgres` (any change to a migration
//! makes a new one) and the day it was made (templates of other digests older than a day
//! are dropped, so that a developer's machine does not collect them). It is made under an
//! advisory lock by whichever test comes first, migrated by the real binary
//! (`keyward migrate`), renamed into place, and closed to connections, since PostgreSQL
//! refuses to copy a database that someone is connected to.

use std::path::Path;
use std::sync::OnceLock;

use diesel::sql_types::{BigInt, Text};
use diesel::{PgConnection, QueryableByName, RunQueryDsl};
use sha2::{Digest, Sha256};

const PREFIX: &str = "keyward_template_";

/// The template for the migrations in this checkout, made if it does not exist yet.
pub fn template(admin: &mut PgConnection, admin_url: &str) -> String {
    let digest = migrations_digest();
    let lock = i64::from_be_bytes(digest[..8].try_into().expect("eight bytes"));
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let prefix = format!("{PREFIX}{hex}_");
    if let Some(name) = existing(admin, &prefix) {
        return name;
    }
    diesel::sql_query(format!("SELECT pg_advisory_lock({lock})")).execute(admin).expect("lock the template");
    let name = existing(admin, &prefix).unwrap_or_else(|| build(admin, admin_url, &prefix));
    diesel::sql_query(format!("SELECT pg_advisory_unlock({lock})")).execute(admin).expect("unlock the template");
    name
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    datname: String,
}

fn existing(admin: &mut PgConnection, prefix: &str) -> Option<String> {
    diesel::sql_query("SELECT datname FROM pg_database WHERE datistemplate AND starts_with(datname, $1)")
        .bind::<Text, _>(prefix)
        .load::<Name>(admin)
        .expect("look for the template")
        .into_iter()
        .next()
        .map(|n| n.datname)
}

fn build(admin: &mut PgConnection, admin_url: &str, prefix: &str) -> String {
    let day = chrono::Utc::now().timestamp() / 86_400;
    drop_stale(admin, prefix, day);
    let name = format!("{prefix}{day}");
    let building = format!("{name}_building");
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)")).execute(admin).expect("drop");
    diesel::sql_query(format!("CREATE DATABASE {building}")).execute(admin).expect("create the template");
    let base = admin_url.rsplit_once('/').map(|(base, _)| base).expect("a database URL has a path");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["migrate", "--database-url", &format!("{base}/{building}")])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run keyward migrate");
    assert!(out.status.success(), "keyward migrate (the template): {}", String::from_utf8_lossy(&out.stderr));
    check_versions(&format!("{base}/{building}"));
    for sql in [
        format!("ALTER DATABASE {building} RENAME TO {name}"),
        format!("ALTER DATABASE {name} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"),
    ] {
        diesel::sql_query(&sql).execute(admin).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    name
}

/// The versions the binary applied are the versions in `migrations/postgres`: a test binary
/// older than the files (migrations renamed while it ran) must not leave a template under
/// the files' digest.
fn check_versions(url: &str) {
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = Text)]
        version: String,
    }
    let mut conn = <PgConnection as diesel::Connection>::establish(url).expect("connect to the template");
    let mut applied: Vec<String> = diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
        .load::<Version>(&mut conn)
        .expect("read the applied migrations")
        .into_iter()
        .map(|v| v.version)
        .collect();
    applied.sort();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/postgres");
    let mut on_disk: Vec<String> = std::fs::read_dir(&root)
        .expect("read the migrations directory")
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            let version: String = name.split('_').next()?.chars().filter(char::is_ascii_digit).collect();
            (!version.is_empty()).then_some(version)
        })
        .collect();
    on_disk.sort();
    assert_eq!(
        applied, on_disk,
        "the keyward binary applied other migrations than migrations/postgres holds: rebuild the tests"
    );
}

/// Drops the templates of other migrations made before `day - 1`.
fn drop_stale(admin: &mut PgConnection, prefix: &str, day: i64) {
    #[derive(QueryableByName)]
    struct Stale {
        #[diesel(sql_type = Text)]
        datname: String,
        #[diesel(sql_type = BigInt)]
        day: i64,
    }
    let stale = diesel::sql_query(
        "SELECT datname, CAST(substring(datname FROM '_([0-9]+)$') AS BIGINT) AS day FROM pg_database \
         WHERE datistemplate AND datname ~ '^keyward_template_[0-9a-f]{16}_[0-9]+$' AND NOT starts_with(datname, $1)",
    )
    .bind::<Text, _>(prefix)
    .load::<Stale>(admin)
    .expect("list old templates");
    for old in stale.into_iter().filter(|s| s.day < day - 1) {
        let _ = diesel::sql_query(format!("ALTER DATABASE {} WITH IS_TEMPLATE false", old.datname)).execute(admin);
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {}", old.datname)).execute(admin);
    }
}

/// SHA-256 over the PostgreSQL migrations' paths and contents, read once per test process.
fn migrations_digest() -> [u8; 32] {
    static DIGEST: OnceLock<[u8; 32]> = OnceLock::new();
    *DIGEST.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/postgres");
        let mut files = Vec::new();
        collect(&root, &mut files);
        files.sort();
        let mut hash = Sha256::new();
        for file in files {
            hash.update(file.strip_prefix(&root).expect("under the root").to_string_lossy().as_bytes());
            hash.update(std::fs::read(&file).expect("read a migration"));
        }
        hash.finalize().into()
    })
}

fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the migrations directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}
