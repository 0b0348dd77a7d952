//! `cargo xtask seed` and `cargo xtask bench`: thin front ends to the `keyward-bench`
//! binary (crates/bench), which does the work. They pick the databases, the data folder
//! (`target/bench/<name>/`) and the server binary, so that the README's commands need
//! no arguments.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::{cargo, workspace_root};

/// `$KEYWARD_BENCH_POSTGRES_URL`, else the test server's URL, with `name` as the database.
fn postgres_url(name: &str) -> String {
    if let Some(url) = std::env::var("KEYWARD_BENCH_POSTGRES_URL").ok().filter(|u| !u.trim().is_empty()) {
        return url;
    }
    let server = crate::postgres::url();
    let (without_query, query) = server.split_once('?').map_or((server.as_str(), ""), |(u, q)| (u, q));
    let base = without_query.rsplit_once('/').map_or(without_query, |(b, _)| b);
    if query.is_empty() { format!("{base}/{name}") } else { format!("{base}/{name}?{query}") }
}

fn data_dir(name: &str) -> PathBuf {
    workspace_root().join("target/bench").join(name)
}

/// `cargo run [--release] -p keyward-bench -- ARGS`, for `cargo xtask seed`. The full data
/// set is seeded by a release build (the persistence layer and diesel unoptimised made the
/// SQLite seed take 198 s instead of 102); `--quick`'s tiny one by the dev build
/// (keyward-bench itself is at opt-level 3 there). `cargo xtask bench` builds
/// keyward-bench with the server and runs it directly ([`one`]).
fn bench_binary(args: &[String], release: bool) -> bool {
    let mut cargo = cargo();
    cargo.args(["run", "--quiet", "-p", "keyward-bench"]);
    if release {
        cargo.arg("--release");
    }
    let status = cargo.arg("--").args(args).status();
    match status {
        Ok(s) => s.success(),
        Err(e) => {
            eprintln!("xtask: cannot run cargo: {e}");
            false
        }
    }
}

fn exit(ok: bool) -> ExitCode {
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// `cargo xtask seed --database-url URL [--quick] [--large-keys N] [--fresh] [--out DIR]`.
pub fn seed(args: &[String]) -> ExitCode {
    let url = args.iter().position(|a| a == "--database-url").and_then(|i| args.get(i + 1));
    let Some(url) = url else {
        eprintln!(
            "xtask seed: usage: cargo xtask seed --database-url URL [--quick] [--large-keys N] [--fresh] [--out DIR]"
        );
        return ExitCode::from(2);
    };
    let mut forwarded = vec!["seed".to_owned()];
    forwarded.extend(args.iter().cloned());
    if !args.iter().any(|a| a == "--out") {
        // The folder is named after the database: its name, or the SQLite file's stem.
        let name = url.split('?').next().unwrap_or(url).rsplit('/').next().unwrap_or("db");
        let name = name.split('.').next().filter(|n| !n.is_empty()).unwrap_or("db");
        forwarded.extend(["--out".to_owned(), data_dir(name).display().to_string()]);
    }
    let quick = args.iter().any(|a| a == "--quick");
    exit(bench_binary(&forwarded, !quick))
}

#[derive(Clone, Copy, PartialEq)]
enum Database {
    Sqlite,
    Postgres,
}

/// `cargo xtask bench [--quick] [--database sqlite|postgres|both] [--seed] [--growth]`.
pub fn bench(args: &[String]) -> ExitCode {
    let (mut quick, mut reseed, mut growth, mut databases) =
        (false, false, false, vec![Database::Postgres, Database::Sqlite]);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--seed" => reseed = true,
            "--growth" => growth = true,
            "--database" => {
                databases = match it.next().map(String::as_str) {
                    Some("sqlite") => vec![Database::Sqlite],
                    Some("postgres") => vec![Database::Postgres],
                    Some("both") => vec![Database::Postgres, Database::Sqlite],
                    _ => {
                        eprintln!("xtask bench: --database takes sqlite, postgres or both");
                        return ExitCode::from(2);
                    }
                }
            }
            other => {
                eprintln!(
                    "xtask bench: unknown argument {other}\nusage: cargo xtask bench [--quick] [--database sqlite|postgres|both] [--seed] [--growth]"
                );
                return ExitCode::from(2);
            }
        }
    }
    // The measured runs use a release server; the smoke run a debug one (no release build in CI).
    // The server and keyward-bench in one build: built apart, each with its own features,
    // the second compiled tokio, diesel and the rest again (a minute in CI).
    let mut build = cargo();
    build.args(["build", "-p", "keyward", "-p", "keyward-bench"]);
    if !quick {
        build.arg("--release");
    }
    if !build.status().is_ok_and(|s| s.success()) {
        eprintln!("xtask bench: building keyward and keyward-bench failed");
        return ExitCode::FAILURE;
    }
    let mut ok = true;
    for database in databases {
        if growth {
            for keys in ["100000", "300000", "1000000"] {
                ok &= one(
                    database,
                    &format!("growth_{keys}"),
                    &["--large-keys", keys],
                    &["--workloads", "L1,L3,L4"],
                    true,
                    false,
                    true,
                );
            }
        } else if quick {
            ok &= one(
                database,
                "bench_quick",
                &["--quick"],
                &["--warmup", "1", "--seconds", "2", "--l5-page", "2"],
                true,
                true,
                false,
            );
        } else {
            ok &= one(database, "bench", &[], &[], reseed, true, true);
        }
    }
    exit(ok)
}

/// Seeds (when asked, or when the data folder is missing) and runs one database, with
/// keyward-bench and the server built `release` or not.
fn one(
    database: Database,
    name: &str,
    seed_args: &[&str],
    run_args: &[&str],
    reseed: bool,
    pgbench: bool,
    release: bool,
) -> bool {
    let profile = if release { "release" } else { "debug" };
    let server = workspace_root().join("target").join(profile).join("keyward").display().to_string();
    let bench = workspace_root().join("target").join(profile).join("keyward-bench");
    let run_bench = |args: &[String]| match std::process::Command::new(&bench).args(args).status() {
        Ok(s) => s.success(),
        Err(e) => {
            eprintln!("xtask bench: cannot run {}: {e}", bench.display());
            false
        }
    };
    let (name, url, label) = match database {
        Database::Postgres => {
            let name = format!("{name}_pg");
            let url = postgres_url(&name);
            (name, url, "PostgreSQL")
        }
        Database::Sqlite => {
            let name = format!("{name}_sqlite");
            let url = format!("sqlite://{}", data_dir(&format!("{name}.db")).display());
            (name, url, "SQLite")
        }
    };
    let data = data_dir(&name).display().to_string();
    if let Err(e) = std::fs::create_dir_all(data_dir("")) {
        eprintln!("xtask bench: creating target/bench: {e}");
        return false;
    }
    if reseed || !data_dir(&name).join("large.txt").exists() {
        let mut seed: Vec<String> =
            ["seed", "--fresh", "--database-url", &url, "--out", &data].map(str::to_owned).into();
        seed.extend(seed_args.iter().map(|a| (*a).to_owned()));
        if !run_bench(&seed) {
            return false;
        }
    }
    let label = format!("{label} ({name})");
    let mut run: Vec<String> = ["run", "--database-url", &url, "--data", &data, "--server", &server, "--label", &label]
        .map(str::to_owned)
        .into();
    run.extend(run_args.iter().map(|a| (*a).to_owned()));
    // The ceiling: the same statements with pgbench (bench/pgbench/, captured from the server).
    if pgbench && database == Database::Postgres && workspace_root().join("bench/pgbench/L1.sql").exists() {
        run.push("--pgbench".to_owned());
    }
    run_bench(&run)
}
