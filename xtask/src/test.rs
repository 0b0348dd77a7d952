//! `cargo xtask test`: the whole test suite, SQLite and PostgreSQL halves.
//!
//! Contract with the tests (tests/e2e/support): `KEYWARD_TEST_POSTGRES_URL` names the
//! PostgreSQL to use (default below); `KEYWARD_TEST_POSTGRES=skip` makes the PostgreSQL
//! variants return early. This command sets `skip` only when PostgreSQL is unreachable and
//! CI is not set, and says so loudly; under CI an unreachable PostgreSQL is a failure.

use std::path::Path;
use std::process::{Command, ExitCode, ExitStatus, Stdio};

use crate::postgres::{self, Target};
use crate::{cargo, is_ci};

const SKIP_VAR: &str = "KEYWARD_TEST_POSTGRES";

/// Whether the PostgreSQL half runs, and if not, why.
enum Postgres {
    Runs(String),
    Skipped(String),
}

pub fn run(args: &[String]) -> ExitCode {
    let postgres = match decide_postgres() {
        Ok(p) => p,
        Err(message) => {
            eprintln!("xtask test: ERROR: {message}");
            return ExitCode::FAILURE;
        }
    };
    if let Postgres::Skipped(why) = &postgres {
        banner(why);
    }

    let nextest = has_nextest();
    let mut failures = Vec::new();
    if nextest && !has_doctests(&crate::workspace_root()) {
        eprintln!(
            "xtask test: no doctests in the workspace (no Rust code fence in a doc comment): not running cargo test --doc"
        );
    } else if nextest {
        // nextest does not run doctests. They go first, so that the last runner summary
        // printed is nextest's for the whole suite. (A `--doc` build selects only the
        // libraries, so its features differ and it compiles part of the tree a second time:
        // that is why it is skipped when there is nothing to run.)
        eprintln!("xtask test: doctests: cargo test --workspace --doc");
        let mut doc = cargo();
        doc.args(["test", "--workspace", "--doc"]);
        let status = run_with_env(doc, &postgres);
        if !status.success() {
            failures.push(("doctests", status));
        }
    }

    let (name, mut runner) = if nextest {
        let mut c = cargo();
        c.args(["nextest", "run"]);
        ("cargo nextest run", c)
    } else {
        eprintln!("xtask test: cargo-nextest not found (`cargo install cargo-nextest --locked`); using cargo test");
        let mut c = cargo();
        c.arg("test");
        ("cargo test", c)
    };
    if !selects_packages(args) {
        runner.arg("--workspace");
    }
    runner.arg("--no-fail-fast").args(args);
    eprintln!("xtask test: {name} {}", shown_args(args));
    let status = run_with_env(runner, &postgres);
    if !status.success() {
        failures.push((name, status));
    }

    // The TypeScript half, on a whole run only (ARGS select Rust tests).
    let mut browser = None;
    let typescript = if !args.is_empty() {
        "not run (test arguments select Rust tests)".to_owned()
    } else {
        match crate::typescript::run() {
            Ok(crate::typescript::Outcome::Ran { status, browser_skipped }) => {
                browser = Some(browser_skipped.map_or_else(|| "RAN".to_owned(), |why| format!("SKIPPED: {why}")));
                if status.success() {
                    "RAN".to_owned()
                } else {
                    failures.push(("the TypeScript tests", status));
                    "FAILED".to_owned()
                }
            }
            Ok(crate::typescript::Outcome::Skipped(why)) => {
                crate::typescript::banner(&format!("TypeScript half SKIPPED: {why}"));
                format!("SKIPPED ({why})")
            }
            Err(why) => {
                eprintln!("xtask test: ERROR: {why}");
                failures.push(("the TypeScript tests", exit_status_failure()));
                "FAILED".to_owned()
            }
        }
    };

    let outcome = if failures.is_empty() {
        "passed".to_owned()
    } else {
        let what: Vec<String> = failures.iter().map(|(n, s)| format!("{n} {s}")).collect();
        format!("FAILED ({what})", what = what.join(", "))
    };
    eprint!("{}", summary(&outcome, &postgres, &typescript, browser.as_deref()));
    match failures.first() {
        None => ExitCode::SUCCESS,
        Some((_, status)) => exit_code(*status),
    }
}

/// The end of the run: what ran and what was skipped, each on its line, so that a skipped
/// half announced mid-run is not lost in the scroll-back. The last line says whether the
/// PostgreSQL half RAN or was SKIPPED (`.ci/run` checks it).
fn summary(outcome: &str, postgres: &Postgres, typescript: &str, browser: Option<&str>) -> String {
    let mut text = String::from("\nxtask test: summary\n");
    let mut skipped = Vec::new();
    match postgres {
        Postgres::Runs(at) => text.push_str(&format!("  Rust, PostgreSQL half: RAN against {at}\n")),
        Postgres::Skipped(why) => {
            text.push_str(&format!("  Rust, PostgreSQL half: SKIPPED: {why}\n"));
            skipped.push(format!("PostgreSQL (start it, or set {})", postgres::URL_VAR));
        }
    }
    text.push_str(&format!("  TypeScript half {typescript}\n"));
    if typescript.starts_with("SKIPPED") {
        skipped.push("TypeScript (install Node 20+ with npm)".to_owned());
    }
    if let Some(browser) = browser {
        text.push_str(&format!("  browser test (bindings/): {browser}\n"));
        if browser.starts_with("SKIPPED") {
            skipped.push("the browser test (apt-get install -y chromium)".to_owned());
        }
    }
    if !skipped.is_empty() {
        text.push_str(&format!("  NOT everything ran: {}. CI=true makes a skip a failure.\n", skipped.join("; ")));
    }
    match postgres {
        Postgres::Runs(at) => text.push_str(&format!("xtask test: {outcome}; PostgreSQL half RAN against {at}.\n")),
        Postgres::Skipped(why) => text.push_str(&format!("xtask test: {outcome}; PostgreSQL half SKIPPED: {why}.\n")),
    }
    text
}

fn decide_postgres() -> Result<Postgres, String> {
    let ci = is_ci();
    let url = postgres::url();
    if std::env::var(SKIP_VAR).is_ok_and(|v| v == "skip") {
        let why = format!("{SKIP_VAR}=skip is set");
        return if ci {
            Err(format!("{why}, but under CI the PostgreSQL half must run: unset it."))
        } else {
            Ok(Postgres::Skipped(why))
        };
    }
    let target = match Target::parse(&url) {
        Ok(target) => target,
        Err(e) => {
            // Not a URL we understand (a key=value string, say): let the tests try it.
            eprintln!("xtask test: cannot check PostgreSQL before the run ({e}); the tests will use it as it is.");
            return Ok(Postgres::Runs(url));
        }
    };
    match target.check() {
        Ok(()) => Ok(Postgres::Runs(target.to_string())),
        Err(e) if ci => Err(format!(
            "cannot reach PostgreSQL at {target} ({e}), from {} `{url}`.\n\
             Under CI (CI=true) the PostgreSQL half must run: start PostgreSQL or point {} at one.",
            if std::env::var_os(postgres::URL_VAR).is_some() { postgres::URL_VAR } else { "the default" },
            postgres::URL_VAR,
        )),
        Err(e) => Ok(Postgres::Skipped(format!("cannot reach {target} ({e})"))),
    }
}

fn banner(why: &str) {
    let rule = "=".repeat(78);
    eprintln!(
        "\n{rule}\n\
         PostgreSQL half SKIPPED: {why}.\n\
         Start PostgreSQL or set {} to run it; CI=true makes this a failure.\n\
         {rule}\n",
        postgres::URL_VAR
    );
}

/// Whether any Rust source in the workspace may hold a doctest: a doc comment with a code
/// fence, or documentation pulled in from a file (`#![doc = include_str!(...)]`).
fn has_doctests(root: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(root) else { return true };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            if name.starts_with('.') || name == "target" || name == "node_modules" {
                continue;
            }
            if has_doctests(&path) {
                return true;
            }
        } else if kind.is_file() && name.ends_with(".rs") {
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            if has_rust_fence(&text) {
                return true;
            }
        }
    }
    false
}

/// Whether doc comments open a code block that rustdoc compiles: a fence with no info
/// string, or `rust`, `no_run`, `should_panic`, `compile_fail`… — not `text` or `ignore`.
/// `#[doc = include_str!(…)]` counts too: the file it includes may hold one.
fn has_rust_fence(text: &str) -> bool {
    let mut in_fence = false;
    for line in text.lines().map(str::trim_start) {
        if line.starts_with('#') && line.contains("doc") && line.contains("include_str!") {
            return true;
        }
        let Some(doc) = line.strip_prefix("///").or_else(|| line.strip_prefix("//!")) else { continue };
        let Some(info) = doc.trim_start().strip_prefix("```") else { continue };
        if in_fence {
            in_fence = false;
            continue;
        }
        in_fence = true;
        let info = info.trim();
        if !(info.starts_with("text") || info.starts_with("ignore") || info.starts_with("console")) {
            return true;
        }
    }
    false
}

fn has_nextest() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the caller chose packages (`-p`/`--package`), so `--workspace` must not be added.
fn selects_packages(args: &[String]) -> bool {
    args.iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "-p" || a == "--package" || a.starts_with("--package=") || (a.starts_with("-p") && a.len() > 2))
}

fn shown_args(args: &[String]) -> String {
    let mut shown = if selects_packages(args) { String::new() } else { "--workspace ".to_owned() };
    shown.push_str("--no-fail-fast");
    for a in args {
        shown.push(' ');
        shown.push_str(a);
    }
    shown
}

fn run_with_env(mut command: Command, postgres: &Postgres) -> ExitStatus {
    if let Postgres::Skipped(_) = postgres {
        command.env(SKIP_VAR, "skip");
    }
    match command.status() {
        Ok(status) => status,
        Err(e) => {
            eprintln!("xtask test: cannot run {:?}: {e}", command.get_program());
            std::process::exit(1);
        }
    }
}

fn exit_code(status: ExitStatus) -> ExitCode {
    status.code().and_then(|c| u8::try_from(c).ok()).filter(|c| *c != 0).map_or(ExitCode::FAILURE, ExitCode::from)
}

/// A failed exit status, for a step that could not even start.
fn exit_status_failure() -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    ExitStatus::from_raw(1 << 8)
}

#[cfg(test)]
mod tests {
    use super::{Postgres, has_doctests, summary};

    #[test]
    fn the_summary_ends_with_every_skipped_half() {
        let all = summary("passed", &Postgres::Runs("127.0.0.1:5432".into()), "RAN", Some("RAN"));
        assert!(!all.contains("SKIPPED") && !all.contains("NOT everything"), "{all}");
        assert!(all.contains("TypeScript half RAN"), "{all}");
        assert!(all.ends_with("xtask test: passed; PostgreSQL half RAN against 127.0.0.1:5432.\n"), "{all}");

        let browser = summary("passed", &Postgres::Runs("pg".into()), "RAN", Some("SKIPPED: no chromium"));
        assert!(browser.contains("browser test (bindings/): SKIPPED: no chromium"), "{browser}");
        assert!(browser.contains("NOT everything ran: the browser test (apt-get install -y chromium)."), "{browser}");

        let none = summary("passed", &Postgres::Skipped("cannot reach pg".into()), "SKIPPED (npm not found)", None);
        assert!(
            none.contains("NOT everything ran: PostgreSQL (start it, or set KEYWARD_TEST_POSTGRES_URL); TypeScript"),
            "{none}"
        );
        assert!(none.ends_with("xtask test: passed; PostgreSQL half SKIPPED: cannot reach pg.\n"), "{none}");
    }

    #[test]
    fn doctests_are_found_by_their_code_fences() {
        let root = std::env::temp_dir().join(format!("xtask-doctests-{}", std::process::id()));
        let src = root.join("crates/a/src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(root.join("target/x")).unwrap();
        std::fs::write(root.join("target/x/lib.rs"), "/// ```\n/// 1;\n/// ```\n").unwrap();
        std::fs::write(src.join("lib.rs"), "//! Plain docs with `code`.\nfn f() {}\n").unwrap();
        assert!(!has_doctests(&root));
        std::fs::write(src.join("m.rs"), "    /// ```\n    /// assert!(true);\n    /// ```\n").unwrap();
        assert!(has_doctests(&root));
        std::fs::write(src.join("m.rs"), "#![doc = include_str!(\"../README.md\")]\n").unwrap();
        assert!(has_doctests(&root));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
