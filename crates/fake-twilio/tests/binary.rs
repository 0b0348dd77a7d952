//! The `fake-twilio` binary as the TypeScript contract tests use it: start it, read the one
//! `listening on …` line, talk to it over HTTP, stop it with SIGTERM.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, ChildStdout, Command, Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};

/// Kills the child if the test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> (Running, BufReader<ChildStdout>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-twilio"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    (Running(child), stdout)
}

#[tokio::test]
async fn prints_its_url_serves_and_stops_on_sigterm() {
    let (mut running, mut stdout) =
        spawn(&["--account-sid", "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "--auth-token", "tok", "--slow-delay-ms", "10"]);
    // Blocks until the binary has bound its port: the line is the readiness signal.
    let mut line = String::new();
    stdout.read_line(&mut line).expect("reads the line");
    let url = line.strip_suffix('\n').and_then(|l| l.strip_prefix("listening on ")).expect("listening line");
    let port = url.strip_prefix("http://127.0.0.1:").expect("loopback URL");
    assert!(port.parse::<u16>().is_ok_and(|p| p != 0), "{line:?}");

    let client = reqwest::Client::new();
    let messages = format!("{url}/2010-04-01/Accounts/ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/Messages.json");
    let next = client.post(format!("{url}/_fake/next")).json(&json!([{"status": 503}])).send().await.unwrap();
    assert_eq!(next.status(), StatusCode::NO_CONTENT);
    let send = |to: &'static str| {
        client
            .post(&messages)
            .basic_auth("ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Some("tok"))
            .form(&[("To", to), ("From", "+15005550006"), ("Body", "Oak Park: Main Gate code 4821#.")])
            .send()
    };
    assert_eq!(send("+447400123456").await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    let created = send("+447400000504").await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED, "the 10 ms slow delay was applied");
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["sid"], "SM00000000000000000000000000000001");
    assert_eq!(body["account_sid"], "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");

    let requests: Value = client.get(format!("{url}/_fake/requests")).send().await.unwrap().json().await.unwrap();
    assert_eq!(requests.as_array().map(Vec::len), Some(2));
    assert_eq!(requests[1]["form"][0], json!(["To", "+447400000504"]));

    let pid = running.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs").success());
    let status = running.0.wait().expect("exits");
    assert!(status.success(), "a clean exit on SIGTERM: {status}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "exactly one line on stdout");
}

#[test]
fn refuses_to_listen_beyond_loopback() {
    let (mut running, mut stdout) = spawn(&["--listen", "0.0.0.0:0"]);
    let status = running.0.wait().expect("exits");
    assert!(!status.success());
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    assert_eq!(out, "", "no listening line");
    let mut err = String::new();
    running.0.stderr.take().expect("piped stderr").read_to_string(&mut err).unwrap();
    assert!(err.contains("loopback only"), "{err}");
}
