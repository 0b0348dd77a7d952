//! Project automation, run as `cargo xtask <command>` (an alias in `.cargo/config.toml`).
//!
//! Standard library only, so that it builds in a second.

mod bench;
mod bindings;
mod postgres;
mod test;
mod typescript;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
Usage: cargo xtask <command> [args...]

Commands:
  test [ARGS...]   Run the whole test suite: the Rust tests (cargo-nextest when installed,
                   else cargo test) on SQLite and on PostgreSQL, then the TypeScript tests
                   in bindings/ (npm ci, typecheck, npm test). ARGS are passed to the Rust
                   test runner and leave the TypeScript half out.
                   PostgreSQL: KEYWARD_TEST_POSTGRES_URL, default postgres://root@127.0.0.1:5432/test.
                   When it is unreachable the PostgreSQL half is skipped with a banner,
                   or, with CI=true, the run fails. The run ends with a summary of what
                   ran and what was skipped (and how to run it).
  bindings         Write the TypeScript bindings (bindings/src/index.ts, tanstack.ts) and the
                   OpenRPC document (docs/openrpc.json) from the Rust types.
  bindings --check Fail, naming the file, if the checked-in bindings differ from the Rust types.
  seed --database-url URL [--quick] [--large-keys N] [--fresh] [--out DIR]
                   Write the benchmark data set (1,000 organisations, 1.1 M keys; --quick:
                   50 and 7,000) into an empty database (--fresh drops it first), check
                   it, and write the load generator's files to DIR (default
                   target/bench/<database name>).
  bench [--quick] [--database sqlite|postgres|both] [--seed] [--growth]
                   Build keyward (release; debug with --quick), seed the bench databases
                   when their data is missing (or with --seed), and run workloads L1-L5
                   and W1 with wrk (16 connections, 5 s warm-up, 20 s measured; --quick
                   2 s on the tiny data set), with the pgbench ceiling on PostgreSQL.
                   --growth: L1, L3, L4 with 100k, 300k and 1M keys in bench-large.
                   PostgreSQL: $KEYWARD_BENCH_POSTGRES_URL, else the test server's URL
                   with database bench_pg (bench_quick_pg, growth_<N>_pg).
  help             Print this message.
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let rest: Vec<String> = args.collect();
    match command.as_deref() {
        Some("test") => test::run(&rest),
        Some("bindings") => bindings::run(&rest),
        Some("seed") => bench::seed(&rest),
        Some("bench") => bench::bench(&rest),
        Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("xtask: unknown command `{other}`\n");
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The workspace root: the parent of this crate's folder.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives inside the workspace").to_path_buf()
}

/// `cargo`, as the one that ran us (`$CARGO`) when there is one, run from the workspace root,
/// without the variables `cargo run` set for this process (`CARGO_MANIFEST_DIR`,
/// `CARGO_PKG_*`…). A build script that reads one (ring's reads `CARGO_MANIFEST_DIR`)
/// would otherwise record xtask's value, and the next plain `cargo` command build ring
/// and all that depends on it again (a minute of CI, between the test run and the
/// `cargo nextest list` after it).
pub fn cargo() -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    command.current_dir(workspace_root());
    for (name, _) in std::env::vars_os() {
        let set_by_cargo_run = name.to_str().is_some_and(|n| {
            n.starts_with("CARGO_PKG_")
                || matches!(
                    n,
                    "CARGO_MANIFEST_DIR"
                        | "CARGO_MANIFEST_PATH"
                        | "CARGO_CRATE_NAME"
                        | "CARGO_BIN_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                )
        });
        if set_by_cargo_run {
            command.env_remove(name);
        }
    }
    command
}

/// Whether we run under CI (`CI=true` or `CI=1`).
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}
