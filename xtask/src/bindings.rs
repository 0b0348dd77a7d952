//! `cargo xtask bindings [--check]`: the TypeScript bindings in `bindings/src/index.ts`,
//! their TanStack Query options in `bindings/src/tanstack.ts`, and the OpenRPC document
//! `docs/openrpc.json`.
//!
//! The generator is a test of the rpc crate (`bindings_are_fresh`, where the procedure
//! list and the Rust types are), so that xtask stays dependency-free and the ordinary
//! test run is the drift check. This runs just that test, with the whole workspace
//! selected so that it reuses the build of `cargo xtask test`.

use std::process::ExitCode;

use crate::cargo;

pub fn run(args: &[String]) -> ExitCode {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => {
            eprintln!("xtask bindings: usage: cargo xtask bindings [--check]");
            return ExitCode::from(2);
        }
    };
    let status = cargo()
        .args(["test", "--workspace", "--quiet", "--lib", "--", "bindings::bindings_are_fresh", "--exact"])
        .env("KEYWARD_BINDINGS", if check { "check" } else { "write" })
        .status();
    match status {
        Ok(s) if s.success() => {
            eprintln!(
                "xtask bindings: bindings/src/index.ts, tanstack.ts and docs/openrpc.json are {}",
                if check { "up to date" } else { "written" }
            );
            ExitCode::SUCCESS
        }
        Ok(_) => {
            eprintln!(
                "xtask bindings: bindings/src/index.ts, tanstack.ts or docs/openrpc.json differs from the Rust types; run `cargo xtask bindings` and commit it"
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("xtask bindings: cannot run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}
