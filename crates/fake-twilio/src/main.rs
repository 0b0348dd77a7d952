//! `fake-twilio`: the fake Twilio server as a process, for the TypeScript contract tests.
//!
//! Prints exactly one line, `listening on http://127.0.0.1:PORT`, once the port is bound, then
//! serves until SIGTERM or Ctrl-C. Tests read that line instead of guessing when it is ready.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use fake_twilio::{Config, DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeTwilio};

#[derive(Parser)]
#[command(version, about = "Dev-only fake of Twilio's create-Message API, on loopback")]
struct Args {
    /// Address to bind; loopback only. Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Account SID accepted as the Basic user name and expected in the path.
    #[arg(long, default_value = DEFAULT_ACCOUNT_SID)]
    account_sid: String,
    /// Auth Token accepted as the Basic password with the Account SID.
    #[arg(long, default_value = DEFAULT_AUTH_TOKEN)]
    auth_token: String,
    /// An API key accepted as Basic credentials, as `SK…:secret`. Repeatable.
    #[arg(long = "api-key", value_name = "SID:SECRET", value_parser = parse_api_key)]
    api_keys: Vec<(String, String)>,
    /// How long `+447400000504` waits before answering 201.
    #[arg(long, default_value_t = 30_000)]
    slow_delay_ms: u64,
}

fn parse_api_key(value: &str) -> Result<(String, String), String> {
    value
        .split_once(':')
        .map(|(sid, secret)| (sid.to_owned(), secret.to_owned()))
        .ok_or_else(|| "expected SID:SECRET".to_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-twilio: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> std::io::Result<()> {
    let config = Config {
        account_sid: args.account_sid,
        auth_token: args.auth_token,
        api_keys: args.api_keys,
        slow_delay: Duration::from_millis(args.slow_delay_ms),
    };
    // Handlers go in before the line is printed: a test may send SIGTERM as soon as it has
    // read it, and the default disposition would kill the process instead of stopping it.
    let stop = stop_signal()?;
    let fake = FakeTwilio::start_on(config, args.listen).await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", fake.url())?;
    stdout.flush()?;
    drop(stdout);
    stop.await;
    drop(fake);
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT). Both handlers are installed when this is called,
/// not when the future is first polled.
#[cfg(unix)]
fn stop_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn stop_signal() -> std::io::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
