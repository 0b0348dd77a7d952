//! keyward's benchmark: `seed` writes the data set of the benchmark (README § Benchmarks)
//! into a database; `run` drives a release `keyward serve` with wrk through workloads
//! L1–L5 and W1, and pgbench through the same statements. `cargo xtask seed` and
//! `cargo xtask bench` call these.

mod data;
mod names;
mod run;
mod seed;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "keyward's benchmark: the seed and the load run")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the data set into an empty database and check it.
    Seed {
        /// `postgres://…/NAME` or `sqlite://PATH`, as `keyward serve` takes it.
        #[arg(long)]
        database_url: String,
        /// The tiny data set of the smoke run (50 organisations, 7,000 keys).
        #[arg(long)]
        quick: bool,
        /// Keys in bench-large (default 100,000; 2,000 with --quick), for the growth curve.
        #[arg(long)]
        large_keys: Option<usize>,
        /// Drop the database (or remove the SQLite file) first.
        #[arg(long)]
        fresh: bool,
        /// Where to write the load generator's files (tokens, keys, the secret key).
        #[arg(long)]
        out: PathBuf,
    },
    /// Run the workloads against a seeded database.
    Run(run::Args),
}

/// The workspace root, where `bench/` is.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Seed { database_url, quick, large_keys, fresh, out } => {
            let shape = if quick { data::Shape::QUICK } else { data::Shape::FULL };
            match large_keys.map(|n| shape.with_large_keys(n)).transpose() {
                Ok(custom) => seed::run(&database_url, custom.unwrap_or(shape), &out, fresh),
                Err(e) => Err(anyhow::anyhow!(e)),
            }
        }
        Command::Run(args) => run::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyward-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
