//! `seed`: writes the data set into an empty, migrated database with bulk inserts
//! (PostgreSQL `COPY`, SQLite multi-row `INSERT` in one transaction) between
//! `maintenance::before_bulk_load` and `after_bulk_load`, checks the counts and every
//! audit chain, and writes what the load generator needs into the output folder.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use keyward_domain::KeyStatus;
use keyward_persistence::connection::AnyConnection;
use keyward_persistence::repo::{audit, keys as keys_repo, maintenance, summary};
use keyward_persistence::schema::{
    access_codes, audit_events, developments, key_movements, keys, organisations, sessions, users,
};
use keyward_persistence::{DatabaseUrl, Sealer, SecretKey, secrets};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::{self, Dataset, Shape};

/// Rows per multi-row INSERT on SQLite: the widest row (keys, 28 columns) stays under
/// SQLite's 32,766 bound parameters.
const SQLITE_ROWS_PER_INSERT: usize = 1_000;

/// The secret key the seeded codes are sealed under (written to `secret-key`).
pub fn secret_key() -> SecretKey {
    let mut bytes = [0u8; 32];
    ChaCha8Rng::seed_from_u64(data::SEED ^ 1).fill_bytes(&mut bytes);
    SecretKey::from_base64(&STANDARD.encode(bytes)).expect("32 bytes of base64")
}

pub fn run(url: &str, shape: Shape, out: &Path, fresh: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let parsed: DatabaseUrl = url.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    if fresh {
        recreate(&parsed, url)?;
    }
    let mut conn =
        AnyConnection::open(&parsed, None).with_context(|| format!("connecting to {}", parsed.redacted()))?;
    conn.run_migrations(None).map_err(|e| anyhow::anyhow!("migrating: {e}"))?;
    let existing: i64 = organisations::table.count().get_result(&mut conn)?;
    ensure!(
        existing == 0,
        "{} already holds {existing} organisations: the seed needs an empty database (pass --fresh to drop it first)",
        parsed.redacted()
    );

    let migrated = started.elapsed();
    let key = secret_key();
    let sealer = Sealer::new(&key);
    let password_hash = keyward_rpc::security::hash_password_blocking(data::PASSWORD)
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    let data = data::generate(shape, &sealer, &password_hash, chrono::Utc::now().date_naive());
    let generated = started.elapsed();

    ensure!(store(secrets::key_matches(&mut conn, &sealer))?, "the database's secrets are sealed under another key");
    load(&mut conn, &parsed, &data)?;
    let loaded = started.elapsed();

    let counts = verify(&mut conn, &parsed, shape)?;
    write_outputs(out, &key, &data, shape)?;
    println!("{counts}");
    println!(
        "seeded {} in {:.1} s (migrate {:.1} s, generate {:.1} s, load and index {:.1} s, verify {:.1} s)",
        parsed.redacted(),
        started.elapsed().as_secs_f64(),
        migrated.as_secs_f64(),
        (generated - migrated).as_secs_f64(),
        (loaded - generated).as_secs_f64(),
        (started.elapsed() - loaded).as_secs_f64()
    );
    println!("load generator files: {}", out.display());
    Ok(())
}

/// A storage error as the seed reports it (`StoreError` is the product's, not an `Error`).
fn store<T>(result: keyward_persistence::StoreResult<T>) -> anyhow::Result<T> {
    result.map_err(|e| anyhow::anyhow!("{e:?}"))
}

/// Drops and creates the database (PostgreSQL) or removes the file (SQLite).
fn recreate(parsed: &DatabaseUrl, url: &str) -> anyhow::Result<()> {
    match parsed {
        DatabaseUrl::Sqlite(path) => {
            for suffix in ["", "-wal", "-shm"] {
                let mut file = path.clone().into_os_string();
                file.push(suffix);
                match std::fs::remove_file(&file) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(e).with_context(|| format!("removing {}", Path::new(&file).display()));
                    }
                    _ => {}
                }
            }
        }
        DatabaseUrl::Postgres(_) => {
            let (server, name) = split_database(url)?;
            let admin: DatabaseUrl = format!("{server}/postgres").parse().map_err(|e: String| anyhow::anyhow!(e))?;
            let mut conn = AnyConnection::open(&admin, None).context("connecting to database postgres")?;
            // Two statements, not one batch: a batch is one transaction, and neither may run in one.
            conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))?;
            conn.batch_execute(&format!("CREATE DATABASE \"{name}\""))?;
        }
    }
    Ok(())
}

/// `postgres://user@host:port/name?opts` → (`postgres://user@host:port`, `name`).
fn split_database(url: &str) -> anyhow::Result<(String, String)> {
    let without_query = url.split('?').next().unwrap_or(url);
    let (server, name) = without_query
        .rsplit_once('/')
        .filter(|(server, name)| server.contains("://") && !server.ends_with('/') && !name.is_empty())
        .with_context(|| format!("--fresh needs a database name in the URL ({url:?})"))?;
    ensure!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        "database name {name:?}: letters, digits, _ and - only"
    );
    Ok((server.to_owned(), name.to_owned()))
}

macro_rules! bulk_insert {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            AnyConnection::Pg(c) => {
                diesel::copy_from($table).from_insertable($rows).execute(c)?;
            }
            AnyConnection::Sqlite(c) => {
                for chunk in $rows.chunks(SQLITE_ROWS_PER_INSERT) {
                    diesel::insert_into($table).values(chunk).execute(c)?;
                }
            }
        }
    };
}

/// Loads the rows between `before_bulk_load` and `after_bulk_load`, in two transactions:
/// the keys and what they hang from, then the rest. On PostgreSQL the indexes of `keys`
/// (the search index alone is a minute's build) are created on a second connection while
/// the first loads the rest; SQLite has one writer.
fn load(conn: &mut AnyConnection, url: &DatabaseUrl, data: &Dataset) -> anyhow::Result<()> {
    let mut load = store(maintenance::before_bulk_load(conn))?;
    conn.transaction(|c| -> QueryResult<()> {
        bulk_insert!(c, organisations::table, &data.orgs);
        bulk_insert!(c, users::table, &data.users);
        bulk_insert!(c, sessions::table, &data.sessions);
        bulk_insert!(c, developments::table, &data.developments);
        bulk_insert!(c, keys::table, &data.keys);
        Ok(())
    })?;
    let of_keys = matches!(url, DatabaseUrl::Postgres(_)).then(|| load.split_off("keys"));
    std::thread::scope(|scope| {
        let builder = of_keys.map(|of_keys| {
            scope.spawn(move || -> anyhow::Result<()> {
                let mut conn =
                    AnyConnection::open(url, None).with_context(|| format!("connecting to {}", url.redacted()))?;
                store(maintenance::create_again(&mut conn, of_keys))
            })
        });
        conn.transaction(|c| -> QueryResult<()> {
            bulk_insert!(c, key_movements::table, &data.movements);
            bulk_insert!(c, access_codes::table, &data.codes);
            bulk_insert!(c, audit_events::table, &data.events);
            Ok(())
        })?;
        if let Some(builder) = builder {
            builder.join().map_err(|_| anyhow::anyhow!("the index builder panicked"))??;
        }
        store(maintenance::after_bulk_load(conn, load))
    })
}

/// Counts every table against the shape, and re-walks every organisation's audit chain.
/// The chains are walked on [`CHAIN_WALKERS`] connections of their own while `conn` counts:
/// the organisations' chains are independent, and this is the seed's longest read.
fn verify(conn: &mut AnyConnection, url: &DatabaseUrl, shape: Shape) -> anyhow::Result<String> {
    let orgs: Vec<String> = organisations::table.select(organisations::id).load(conn)?;
    std::thread::scope(|scope| {
        let walkers: Vec<_> = orgs
            .chunks(orgs.len().div_ceil(CHAIN_WALKERS).max(1))
            .map(|part| scope.spawn(|| walk_chains(url, part)))
            .collect();
        let mut report = count_rows(conn, shape)?;
        let mut verified = 0;
        for walker in walkers {
            verified += walker.join().map_err(|_| anyhow::anyhow!("a chain walker panicked"))??;
        }
        ensure!(usize::try_from(verified).ok() == Some(shape.events()), "audit verify walked {verified} events");
        write!(report, "audit verify       {verified:>10} events in {} chains, none broken", shape.orgs())?;
        Ok(report)
    })
}

/// Connections that walk the audit chains after a seed (this machine kind has two cores).
const CHAIN_WALKERS: usize = 2;

/// Walks the audit chains of `orgs` on a connection of its own; answers the events verified.
fn walk_chains(url: &DatabaseUrl, orgs: &[String]) -> anyhow::Result<i64> {
    let mut conn = AnyConnection::open(url, None).with_context(|| format!("connecting to {}", url.redacted()))?;
    let mut verified = 0;
    for org in orgs {
        let chain = store(audit::verify(&mut conn, org))?;
        if let Some(broken) = chain.broken {
            bail!("the audit chain of organisation {org} breaks at seq {}: {:?}", broken.seq, broken.reason);
        }
        verified += i64::from(chain.verified);
    }
    Ok(verified)
}

/// Counts every table against the shape, and checks what keys.summary reads back.
fn count_rows(conn: &mut AnyConnection, shape: Shape) -> anyhow::Result<String> {
    let mut report = String::new();
    let bench_large: String =
        organisations::table.filter(organisations::name.eq("bench-large")).select(organisations::id).first(conn)?;
    let large_keys: i64 = keys::table.filter(keys::org_id.eq(&bench_large)).count().get_result(conn)?;
    let issued: i64 = keys::table.filter(keys::status.eq("issued")).count().get_result(conn)?;
    let checks: [(&str, i64, usize); 10] = [
        ("organisations", organisations::table.count().get_result(conn)?, shape.orgs()),
        ("users", users::table.count().get_result(conn)?, shape.orgs()),
        ("sessions", sessions::table.count().get_result(conn)?, shape.orgs()),
        ("developments", developments::table.count().get_result(conn)?, shape.developments()),
        ("keys", keys::table.count().get_result(conn)?, shape.keys()),
        ("  of bench-large", large_keys, shape.large_keys()),
        ("  issued", issued, shape.issued()),
        ("access codes", access_codes::table.count().get_result(conn)?, shape.codes()),
        ("key movements", key_movements::table.count().get_result(conn)?, shape.movements()),
        ("audit events", audit_events::table.count().get_result(conn)?, shape.events()),
    ];
    let mut wrong = Vec::new();
    for (what, found, expected) in checks {
        writeln!(report, "{what:<18} {found:>10}")?;
        if usize::try_from(found).ok() != Some(expected) {
            wrong.push(format!("{what}: {found}, expected {expected}"));
        }
    }
    if !wrong.is_empty() {
        bail!("the seeded counts are wrong:\n{report}\n{}", wrong.join("\n"));
    }
    // What the product reads back (maintained counts, if the schema keeps them) must
    // agree with the rows: after_bulk_load is what makes it so.
    let summary = store(summary::summary(conn, &bench_large, None))?;
    let expected =
        (shape.large_keys(), data::issued_in(shape.large_keys()), shape.large_devs * shape.large_codes_per_dev);
    let found = (summary.total_keys, summary.issued, summary.access_codes);
    ensure!(
        [found.0, found.1, found.2].map(usize::try_from).map(Result::ok)
            == [expected.0, expected.1, expected.2].map(Some),
        "keys.summary of bench-large answers (keys, issued, codes) = {found:?}, expected {expected:?}: \
         after_bulk_load did not bring the maintained counts up to date"
    );
    writeln!(report, "keys.summary       {:>10} keys, {} issued, {} codes in bench-large", found.0, found.1, found.2)?;
    // The search finds the loaded keys through both of its indexes (PostgreSQL: a key's
    // head in key_search, its holder on keys; SQLite: keys_grams): after_bulk_load wrote
    // what the triggers write.
    let (key_ref, holder): (String, String) = keys::table
        .filter(keys::org_id.eq(&bench_large))
        .filter(keys::issued_to.is_not_null())
        .select((keys::key_ref, keys::issued_to.assume_not_null()))
        .order(keys::key_ref)
        .first(conn)?;
    let held: Vec<String> = keys::table
        .filter(keys::org_id.eq(&bench_large))
        .filter(keys::issued_to.eq(&holder))
        .select(keys::key_ref)
        .load(conn)?;
    let mut search = |text: &str| -> anyhow::Result<Vec<String>> {
        let filter = keys_repo::KeyFilter { search: Some(text.to_owned()), ..Default::default() };
        let found = store(keys_repo::export(conn, &bench_large, &filter, shape.large_keys()))?;
        Ok(found.into_iter().map(|key| key.key_ref).collect())
    };
    ensure!(search(&key_ref)?.contains(&key_ref), "searching bench-large for {key_ref} does not find it");
    let found: std::collections::HashSet<String> = search(&holder)?.into_iter().collect();
    ensure!(
        held.iter().all(|r| found.contains(r)),
        "searching bench-large for {holder} does not find every key they hold"
    );
    writeln!(
        report,
        "keys search        {:>10} found by their holder \"{holder}\", {key_ref} by its ref",
        found.len()
    )?;
    Ok(report)
}

/// The load generator's files: the secret key the server needs, bench-large's token and
/// development D07, the small organisations' tokens, W1's keys, and the ids the pgbench
/// scripts use.
fn write_outputs(out: &Path, key: &SecretKey, data: &Dataset, shape: Shape) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let write = |name: &str, text: String| {
        std::fs::write(out.join(name), text).with_context(|| format!("writing {}", out.join(name).display()))
    };
    write("secret-key", key.to_base64() + "\n")?;
    write("large.txt", format!("{}\n{}\n", data.large_token, data.large_d07))?;
    write("small.txt", data.small_tokens.iter().map(|t| format!("{t}\n")).collect())?;
    write("w1.txt", data.w1.iter().map(|(token, key)| format!("{token} {key}\n")).collect())?;
    let (large, session) = (&data.orgs[0], &data.sessions[0]);
    write(
        "pgbench.vars",
        format!(
            "large_org={}\nd07={}\nlarge_token_hash={}\nsmall_orgs={}\nw1_in_stock={}\n",
            large.id,
            data.large_d07,
            session.token_hash,
            data.small_tokens.len(),
            (0..shape.small_keys_per_dev).filter(|i| data::status_of(*i) == KeyStatus::InStock).count(),
        ),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_postgres_url_splits_into_server_and_database() {
        let (server, name) = super::split_database("postgres://root@127.0.0.1:5432/bench_pg?sslmode=disable").unwrap();
        assert_eq!((server.as_str(), name.as_str()), ("postgres://root@127.0.0.1:5432", "bench_pg"));
        assert!(super::split_database("postgres://root@127.0.0.1:5432/").is_err());
        assert!(super::split_database("postgres://root@127.0.0.1:5432/a;b").is_err());
    }

    #[test]
    fn the_full_shape_is_the_data_set_of_the_benchmark_page() {
        let shape = super::Shape::FULL;
        assert_eq!(shape.orgs(), 1_000);
        assert_eq!(shape.keys(), 1_099_000);
        assert_eq!(shape.large_keys(), 100_000);
        assert_eq!(shape.codes(), 10_000 + 999 * 20);
        // One event per key creation and per issue (25 % of keys), plus the
        // organisations, owners, developments and codes: about 1.3 M.
        assert_eq!(shape.issued(), 274_750);
        assert!((1_300_000..1_450_000).contains(&shape.events()), "{}", shape.events());
    }
}
