//! `run`: starts `keyward serve` on a seeded database, drives each workload with wrk
//! (`bench/wrk/*.lua`: a warm-up, then the measured run), reads the server's peak RSS,
//! and for PostgreSQL runs the same statements with pgbench (`bench/pgbench/*.sql`) for
//! the ceiling. Prints one Markdown table.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use keyward_persistence::connection::DatabaseUrl;

#[derive(clap::Args)]
pub struct Args {
    /// The seeded database, as `keyward serve` takes it.
    #[arg(long)]
    database_url: String,
    /// The seed's output folder (tokens, keys, secret key).
    #[arg(long)]
    data: PathBuf,
    /// The server binary.
    #[arg(long, default_value = "target/release/keyward")]
    server: PathBuf,
    /// Where the server listens.
    #[arg(long, default_value = "127.0.0.1:18080")]
    listen: String,
    /// Seconds of warm-up, then of measurement, per workload.
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// The workloads to run, in order.
    #[arg(long, value_delimiter = ',', default_value = "L1,L2,L3,L4,L5,W1")]
    workloads: Vec<String>,
    /// L5's page (40 on the full data set; the quick one has 2 pages per organisation).
    #[arg(long, default_value_t = 40)]
    l5_page: u32,
    /// Also run bench/pgbench/<workload>.sql with pgbench (PostgreSQL only).
    #[arg(long)]
    pgbench: bool,
    /// A name for the table's heading (e.g. "PostgreSQL").
    #[arg(long, default_value = "")]
    label: String,
}

/// Connections, as the benchmark page says.
const CONNECTIONS: u32 = 16;

struct Measured {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    resyncs: u64,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    ensure!(args.data.join("large.txt").exists(), "{} holds no seed output: run the seed first", args.data.display());
    let secret_key = std::fs::read_to_string(args.data.join("secret-key")).context("reading the seed's secret-key")?;
    let log = std::fs::File::create(args.data.join("server.log"))?;
    let mut server = Command::new(&args.server)
        .args(["serve", "--database-url", &args.database_url, "--listen", &args.listen])
        .env("KEYWARD_SECRET_KEY", secret_key.trim())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {} (build it: cargo build --release -p keyward)", args.server.display()))?;
    let result = drive(args, &mut server);
    // Ours to stop: the server this run started.
    let _ = server.kill();
    let _ = server.wait();
    result
}

fn drive(args: &Args, server: &mut Child) -> anyhow::Result<()> {
    wait_healthy(&args.listen, server)?;
    let pgbench_vars = if args.pgbench { Some(read_vars(&args.data.join("pgbench.vars"))?) } else { None };
    let title = if args.label.is_empty() { args.database_url.clone() } else { args.label.clone() };
    println!("\n{title}: {CONNECTIONS} connections, {} s warm-up, {} s measured\n", args.warmup, args.seconds);
    println!(
        "| workload | req/s | p50 ms | p99 ms | errors | peak RSS MB |{}",
        if args.pgbench { " pgbench calls/s | server / pgbench |" } else { "" }
    );
    println!("|---|---:|---:|---:|---:|---:|{}", if args.pgbench { "---:|---:|" } else { "" });
    let mut failed = Vec::new();
    for workload in &args.workloads {
        if args.warmup > 0 {
            wrk(args, workload, args.warmup)?;
        }
        let m = wrk(args, workload, args.seconds)?;
        let rss = peak_rss_mb(server.id())?;
        let mut line =
            format!("| {workload} | {:.0} | {:.2} | {:.2} | {} | {rss:.0} |", m.rps, m.p50_ms, m.p99_ms, m.errors);
        if let Some(vars) = &pgbench_vars {
            // W1's script runs the three calls of a cycle per transaction.
            let calls = if workload == "W1" { 3.0 } else { 1.0 };
            match pgbench(args, workload, vars)? {
                Some(tps) => line.push_str(&format!(" {:.0} | {:.2} |", calls * tps, m.rps / (calls * tps))),
                None => line.push_str(" none finished | – |"),
            }
        }
        if m.resyncs > 0 {
            line.push_str(&format!(" ({} keys left mid-cycle by an earlier run, resynced)", m.resyncs));
        }
        println!("{line}");
        if m.errors > 0 {
            failed.push(format!("{workload}: {} errors", m.errors));
        }
    }
    if !failed.is_empty() {
        bail!("errors answered (see {}): {}", args.data.join("server.log").display(), failed.join(", "));
    }
    Ok(())
}

/// Polls `GET /health` until the server answers 200 (it migrates and checks its key first).
fn wait_healthy(listen: &str, server: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = server.try_wait()? {
            bail!("keyward serve exited ({status}) before answering; see server.log in the seed's folder");
        }
        if health(listen).unwrap_or(false) {
            return Ok(());
        }
        ensure!(Instant::now() < deadline, "keyward serve did not answer GET /health on {listen} within 120 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn health(listen: &str) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect(listen)?;
    stream.write_all(format!("GET /health HTTP/1.1\r\nHost: {listen}\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.starts_with("HTTP/1.1 200"))
}

/// One wrk run of `bench/wrk/<workload>.lua`.
fn wrk(args: &Args, workload: &str, seconds: u64) -> anyhow::Result<Measured> {
    let script = format!("bench/wrk/{workload}.lua");
    ensure!(crate::workspace_root().join(&script).exists(), "no workload {workload} ({script})");
    // W1 writes: one connection per thread, each with its own keys. Reads: 2 threads.
    let threads = if workload == "W1" { CONNECTIONS } else { 2 };
    let extra = match workload {
        "W1" => CONNECTIONS.to_string(),
        "L5" => args.l5_page.to_string(),
        _ => String::new(),
    };
    let data = std::fs::canonicalize(&args.data)?;
    let output = Command::new("wrk")
        .args(["-t", &threads.to_string(), "-c", &CONNECTIONS.to_string(), "-d", &format!("{seconds}s")])
        .args(["--timeout", "10s", "-s", &script, &format!("http://{}/", args.listen), "--"])
        .arg(&data)
        .arg(extra)
        .current_dir(crate::workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .context("running wrk (Debian package wrk)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(output.status.success(), "wrk failed on {workload}: {stdout}");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("BENCH "))
        .with_context(|| format!("no result from wrk: {stdout}"))?;
    let values: BTreeMap<&str, f64> = line
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
        .collect();
    let get = |k: &str| values.get(k).copied().with_context(|| format!("wrk's result lacks {k}: {line}"));
    let errors = get("rpc_errors")? + get("socket_errors")? + get("http_errors")?;
    Ok(Measured {
        rps: get("requests")? / (get("duration_us")? / 1e6),
        p50_ms: get("p50_us")? / 1e3,
        p99_ms: get("p99_us")? / 1e3,
        errors: errors as u64,
        resyncs: get("resyncs")? as u64,
    })
}

/// The server's peak resident memory so far (`VmHWM`), in MB.
fn peak_rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/PID/status")?;
    Ok(kb / 1024.0)
}

/// `name=value` lines: the ids the pgbench scripts refer to (`:large_org` …).
fn read_vars(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
}

/// pgbench over `bench/pgbench/<workload>.sql`: prepared statements, 16 clients.
fn pgbench(args: &Args, workload: &str, vars: &[(String, String)]) -> anyhow::Result<Option<f64>> {
    let script = format!("bench/pgbench/{workload}.sql");
    ensure!(crate::workspace_root().join(&script).exists(), "no pgbench script {script}");
    let mut command = Command::new("pgbench");
    command
        .args(["-n", "-M", "prepared", "-c", &CONNECTIONS.to_string(), "-j", "2"])
        .args(["-T", &args.seconds.to_string(), "-f", &script])
        .current_dir(crate::workspace_root());
    for (name, value) in vars {
        command.arg("-D").arg(format!("{name}={value}"));
    }
    // As the server connects (on loopback: without TLS, decision 181).
    let url: DatabaseUrl = args.database_url.parse().map_err(anyhow::Error::msg)?;
    let url = url.libpq_url().context("pgbench needs a PostgreSQL URL")?;
    let output = command.arg(url).output().context("running pgbench")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(output.status.success(), "pgbench failed on {script}: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    // No tps line when no transaction finished in time (a stalled machine, a tiny -T).
    Ok(stdout.lines().find_map(|l| l.strip_prefix("tps = ")).and_then(|v| v.split_whitespace().next()?.parse().ok()))
}
