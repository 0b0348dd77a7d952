//! The TypeScript half of `cargo xtask test`: `bindings/` (npm ci, strict typecheck, the
//! contract, type-level and browser tests against the real binaries).
//!
//! Without npm, or without Chromium for the browser test, that part is skipped with a
//! banner, as the PostgreSQL half is; under CI either is a failure (`.ci/run` installs
//! Chromium first).

use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};

use crate::{cargo, is_ci, workspace_root};

const CHROMIUM: &str = "/usr/bin/chromium";
/// Read by bindings/test/browser.test.ts.
const BROWSER_SKIP_VAR: &str = "KEYWARD_TEST_BROWSER";

pub enum Outcome {
    /// The npm steps ran; `browser_skipped` says why the browser test did not, if so.
    Ran {
        status: ExitStatus,
        browser_skipped: Option<String>,
    },
    Skipped(String),
}

pub fn run() -> Result<Outcome, String> {
    let ci = is_ci();
    if !has("npm") {
        let why = "npm not found (Node 20+ with npm runs the bindings/ tests)".to_owned();
        return if ci { Err(why) } else { Ok(Outcome::Skipped(why)) };
    }
    let browser = std::path::Path::new(CHROMIUM).exists();
    let mut browser_skipped = None;
    if !browser {
        let why = format!("{CHROMIUM} not found: `apt-get install -y chromium` runs the browser test");
        if ci {
            return Err(why);
        }
        banner(&format!("browser test SKIPPED: {why}"));
        browser_skipped = Some(why);
    }

    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace_root().join("target"), PathBuf::from);
    let keyward = target.join("debug/keyward");
    let fake = target.join("debug/fake-twilio");
    if !keyward.exists() || !fake.exists() {
        eprintln!("xtask test: building keyward and fake-twilio for the TypeScript tests");
        let status =
            cargo().args(["build", "-p", "keyward", "-p", "fake-twilio"]).status().map_err(|e| e.to_string())?;
        if !status.success() {
            return Ok(Outcome::Ran { status, browser_skipped });
        }
    }

    let bindings = workspace_root().join("bindings");
    let npm = |args: &[&str]| -> Result<ExitStatus, String> {
        eprintln!("xtask test: npm {}", args.join(" "));
        let mut command = Command::new("npm");
        command
            .args(args)
            .current_dir(&bindings)
            .env("KEYWARD_BIN", &keyward)
            .env("FAKE_TWILIO_BIN", &fake)
            .stdin(Stdio::null());
        if !browser {
            command.env(BROWSER_SKIP_VAR, "skip");
        }
        command.status().map_err(|e| format!("cannot run npm: {e}"))
    };
    for step in [&["ci", "--no-audit", "--no-fund"][..], &["run", "typecheck"], &["test"]] {
        let status = npm(step)?;
        if !status.success() {
            return Ok(Outcome::Ran { status, browser_skipped });
        }
    }
    Ok(Outcome::Ran { status: ExitStatus::default(), browser_skipped })
}

fn has(program: &str) -> bool {
    Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

pub fn banner(message: &str) {
    let rule = "=".repeat(78);
    eprintln!("\n{rule}\n{message}.\nCI=true makes this a failure.\n{rule}\n");
}
