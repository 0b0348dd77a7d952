//! The `keyward` binary: `serve`, `migrate`, `bootstrap`. Configuration and wiring only;
//! everything else lives in the library crates.

mod cli;
mod secret_key;
mod tasks;
mod telemetry;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use keyward_domain::{Role, Secret, validate};
use keyward_persistence::repo::audit;
use keyward_persistence::repo::logins::LockPolicy;
use keyward_persistence::repo::sms::Caps;
use keyward_persistence::repo::users::{self, NewUser};
use keyward_persistence::time::TestClock;
use keyward_persistence::{DatabaseUrl, Db, Sealer, SecretKey, secrets};
use keyward_rpc::{App, Logins, Sms, jobs, security, server};
use keyward_sms::burst::BurstLimiter;
use keyward_sms::phone;
use keyward_sms::twilio::{RetryPolicy, TwilioClient};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use cli::{Cli, Command, DatabaseArgs};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    // Blocking threads run database work (one per connection, plus as many opening one)
    // and little else; tokio's default of 512 lets idle ones pile up (and their stacks).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(2 * cli.command.database().pool_size() + 4)
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Migrate(db) => {
            connect_and_migrate(&db, None).await?;
            Ok(())
        }
        Command::Bootstrap(args) => bootstrap(args).await,
        Command::RotateSecret(args) => rotate_secret(args).await,
        Command::Audit(cli::AuditCommand::Verify(args)) => verify_audit(args).await,
    }
}

fn database_url(args: &DatabaseArgs) -> anyhow::Result<DatabaseUrl> {
    let url: DatabaseUrl = args.database_url.parse().map_err(anyhow::Error::msg)?;
    // SQLite creates the file, not its directory: say so, before the key file (created
    // beside it) or the connection fails with a less helpful message.
    if let DatabaseUrl::Sqlite(path) = &url
        && let Some(directory) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !directory.is_dir()
    {
        bail!(
            "the directory {} of the SQLite database {} does not exist: create it (mkdir -p {}) \
             or choose another KEYWARD_DATABASE_URL",
            directory.display(),
            path.display(),
            directory.display()
        );
    }
    Ok(url)
}

/// `bound`: how long one database step may take (`serve`); `None` for the operator's
/// commands, which wait as long as the database needs.
async fn connect_and_migrate(args: &DatabaseArgs, bound: Option<Duration>) -> anyhow::Result<Db> {
    let url = database_url(args)?;
    let db = Db::connect(&url, args.pool_size(), bound)
        .await
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("cannot open the database {}", url.redacted()))?;
    let applied = db.migrate().await.context("cannot migrate the database")?;
    tracing::info!(database = %url.redacted(), migrations_applied = applied.len(), "database ready");
    Ok(db)
}

/// Refuses a key that is not the one the database's secrets are sealed with: better no
/// start than errors on every code read later. A key file created just now for a
/// database that already has secrets means the real key file was lost: it is removed
/// again rather than left to mislead.
async fn check_secret_key(db: &Db, secret: &secret_key::Resolved) -> anyhow::Result<Sealer> {
    let sealer = Sealer::new(&secret.key);
    if let (true, Some(file)) = (secret.created, &secret.file)
        && db.run(secrets::key_recorded).await?
    {
        let _ = std::fs::remove_file(file);
        bail!(
            "the key file {} is missing, but this database's secrets are sealed under a key: \
             restore the key file from your backup (or set KEYWARD_SECRET_KEY)",
            file.display()
        );
    }
    let check = sealer.clone();
    if !db.run(move |c| secrets::key_matches(c, &check)).await? {
        bail!(
            "the secret key does not match the key this database's secrets are sealed with; \
             refusing to start. Configure the right KEYWARD_SECRET_KEY (or key file), or use \
             `keyward rotate-secret` with the old key to move to a new one"
        );
    }
    Ok(sealer)
}

async fn serve(args: cli::ServeArgs) -> anyhow::Result<()> {
    // First: everything after this reads the clock.
    let test_clock = args.test_clock.then(|| {
        tracing::warn!("the TEST CLOCK is on: time stands still until POST /test/clock moves it; never in production");
        TestClock::start()
    });
    let secret = secret_key::resolve(args.secret.secret_key.as_deref(), &database_url(&args.db)?)?;
    let db = connect_and_migrate(&args.db, Some(Duration::from_millis(args.db_timeout_ms))).await?;
    let sealer = check_secret_key(&db, &secret).await?;
    let sms = sms_service(&args.sms)?;
    let pending_timeout = Duration::from_secs(args.sms.sms_pending_timeout_secs);
    // A live send lasts at most the retry deadline plus one request; a shorter pending
    // timeout would call a send in flight `unknown` (fine only for a stopped cluster).
    let longest_send = RetryPolicy::default().deadline + Duration::from_millis(args.sms.sms_request_timeout_ms);
    if pending_timeout < longest_send {
        tracing::warn!(
            pending_timeout_secs = pending_timeout.as_secs(),
            longest_send_secs = longest_send.as_secs(),
            "KEYWARD_SMS_PENDING_TIMEOUT_SECS is shorter than a send can take: sends still in flight on \
             other nodes may be marked unknown"
        );
    }
    // Before serving: what a previous run left pending is settled first.
    tasks::sweep_pending_sms(&db, pending_timeout).await;
    let logins = logins(&args.login)?;
    let limiters = vec![Arc::clone(&sms.burst), Arc::clone(&logins.per_address), Arc::clone(&logins.per_email)];
    let app = Arc::new(App {
        db: db.clone(),
        sealer,
        token_ttl: Duration::from_secs(args.token_ttl_minutes * 60),
        sms,
        passwords: password_hashing(&args.login),
        logins,
        webhooks: keyward_rpc::webhooks::Webhooks::new(args.allow_private_webhooks).map_err(anyhow::Error::msg)?,
    });
    let runner = jobs::Runner::new(Arc::clone(&app), jobs::Settings::new(pending_timeout));
    let polling = test_clock.is_none();
    let metrics = args.metrics.then(metrics_recorder).transpose()?;
    let options = server::Options {
        listen: args.listen,
        cors_origins: args.cors_origins,
        limits: args.transport.limits(),
        metrics: metrics.clone().map(|handle| -> keyward_rpc::metrics::Render { Arc::new(move || handle.render()) }),
        test_clock,
        jobs: Arc::clone(&runner),
    };
    let (handle, addr) =
        server::start(app, options).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    // Before announcing the address: whoever reads it may send SIGTERM at once.
    let shutdown = shutdown_signal()?;
    tracing::info!(%addr, "serving JSON-RPC on http://{addr}/ (WebSocket on the same port)");
    // A plain line on stdout, for scripts and tests that start keyward on port 0.
    println!("keyward listening on http://{addr}");

    let mut tasks = vec![
        tokio::spawn(tasks::sweep(limiters)),
        tokio::spawn(tasks::anchor_audit_chains(db, Duration::from_secs(args.audit_anchor_secs))),
    ];
    // With the test clock, jobs run only when the test moves it (POST /test/clock).
    if polling {
        tasks.push(tokio::spawn(runner.poll(Duration::from_millis(args.jobs_poll_ms))));
    }
    if let Some(handle) = metrics {
        tasks.push(tokio::spawn(tasks::metrics_upkeep(handle)));
    }
    shutdown.await?;
    tracing::info!("shutting down: finishing calls in flight");
    for task in &tasks {
        task.abort();
    }
    // Stop accepting; calls in flight finish, within the drain limit.
    handle.stop();
    if tokio::time::timeout(Duration::from_secs(25), handle.stopped()).await.is_err() {
        tracing::warn!("calls still running after 25 s; exiting anyway");
    }
    Ok(())
}

/// Installs the process's metrics recorder (the `metrics` facade has one, global) and
/// returns the handle that renders it. Latencies are rendered as histograms with
/// [`keyward_rpc::metrics::CALL_DURATION_BUCKETS`].
fn metrics_recorder() -> anyhow::Result<PrometheusHandle> {
    use keyward_rpc::metrics;
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(metrics::CALL_DURATION.to_owned()), metrics::CALL_DURATION_BUCKETS)
        .and_then(PrometheusBuilder::install_recorder)
        .context("cannot set up the metrics recorder")?;
    metrics::describe();
    Ok(handle)
}

fn password_hashing(args: &cli::LoginArgs) -> security::PasswordHashing {
    let permits = usize::try_from(args.password_hashing_permits).unwrap_or(1);
    security::PasswordHashing::new(permits, Duration::from_millis(args.password_hashing_wait_ms))
}

fn logins(args: &cli::LoginArgs) -> anyhow::Result<Logins> {
    let nonzero = |n: u32| NonZeroU32::new(n).context("login limits are at least 1");
    let (per_address, per_email) =
        (nonzero(args.login_per_address_per_minute)?, nonzero(args.login_per_email_per_minute)?);
    Ok(Logins {
        per_address: Arc::new(BurstLimiter::new(per_address, per_address)),
        per_email: Arc::new(BurstLimiter::new(per_email, per_email)),
        lock: LockPolicy { lock_after: args.login_lock_after, first_lock: Duration::from_secs(args.login_lock_secs) },
    })
}

/// Installs the SIGTERM handler now (a SIGTERM that arrives before it would kill the
/// process outright), and returns the wait for SIGTERM or Ctrl-C.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = anyhow::Result<()>>> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            result = tokio::signal::ctrl_c() => result?,
        }
        Ok(())
    })
}

fn sms_service(args: &cli::SmsArgs) -> anyhow::Result<Sms> {
    let nonzero = |n: u32| NonZeroU32::new(n).context("SMS limits are at least 1");
    let policy = RetryPolicy::default();
    let client = TwilioClient::new(&args.twilio_base_url, Duration::from_millis(args.sms_request_timeout_ms), policy)
        .map_err(anyhow::Error::msg)?;
    if args.twilio_base_url.starts_with("http://") {
        tracing::warn!(url = %args.twilio_base_url, "SMS goes to a plain-HTTP endpoint: fine for a local fake only");
    }
    Ok(Sms {
        // Counts each send's outcome (a no-op without `--metrics`).
        sender: Arc::new(keyward_rpc::metrics::CountingSender(Arc::new(client))),
        burst: Arc::new(BurstLimiter::new(nonzero(args.sms_org_per_minute)?, nonzero(args.sms_org_burst)?)),
        default_region: phone::region(&args.sms_default_region)
            .map_err(anyhow::Error::msg)
            .context("KEYWARD_SMS_DEFAULT_REGION")?,
        caps: Caps {
            per_recipient_per_hour: args.sms_recipient_per_hour,
            per_organisation_per_day: args.sms_org_per_day,
        },
        public_url: args.public_url.clone(),
    })
}

async fn bootstrap(args: cli::BootstrapArgs) -> anyhow::Result<()> {
    let org_name = validate::required_line("org", &args.org, validate::SHORT_TEXT_MAX)?;
    let email = validate::email("email", &args.email)?;
    let name = validate::required_line("name", &args.name, validate::SHORT_TEXT_MAX)?;
    let password = validate::password("password", owner_password()?)?;
    let hashing = security::PasswordHashing::new(1, Duration::from_secs(60));
    let password_hash = hashing.hash(password).await?;
    let db = connect_and_migrate(&args.db, None).await?;
    let owner = NewUser { email, name, role: Role::Owner, password_hash };
    let (org, _) = db.write(move |c| users::bootstrap(c, &org_name, owner)).await?;
    println!("{}", org.id);
    Ok(())
}

/// The new owner's password: `KEYWARD_PASSWORD`, or asked for twice on the terminal.
fn owner_password() -> anyhow::Result<Secret> {
    use std::io::IsTerminal;
    const NO_TERMINAL: &str = "no terminal to ask for the password: set KEYWARD_PASSWORD";
    if let Ok(password) = std::env::var("KEYWARD_PASSWORD") {
        return Ok(Secret::from(password));
    }
    if !std::io::stdin().is_terminal() {
        bail!(NO_TERMINAL);
    }
    let ask = |prompt: &str| rpassword::prompt_password(prompt).map(Secret::from).context(NO_TERMINAL);
    let first = ask("Password for the owner: ")?;
    if ask("Again: ")? != first {
        bail!("the passwords differ");
    }
    Ok(first)
}

async fn rotate_secret(args: cli::RotateSecretArgs) -> anyhow::Result<()> {
    let current = secret_key::resolve(args.secret.secret_key.as_deref(), &database_url(&args.db)?)?;
    let db = connect_and_migrate(&args.db, None).await?;
    let old = check_secret_key(&db, &current).await?;
    let new_key = match &args.new_secret_key {
        Some(text) => SecretKey::from_base64(text).map_err(anyhow::Error::msg).context("KEYWARD_NEW_SECRET_KEY")?,
        None if current.file.is_some() => SecretKey::generate(),
        None => bail!("set KEYWARD_NEW_SECRET_KEY (or --new-secret-key) to the new key"),
    };
    // A key file gets the new key: written beside the old one first, swapped in only once
    // the database has committed, so that neither failure leaves a key that opens nothing.
    let pending = match &current.file {
        Some(file) => {
            let pending = file.with_extension("key.new");
            let _ = std::fs::remove_file(&pending);
            secret_key::write_key_file(&pending, &new_key)?;
            Some((pending, file.clone()))
        }
        None => None,
    };
    let new = Sealer::new(&new_key);
    let resealed = db.write(move |c| secrets::rotate(c, &old, &new)).await?;
    match pending {
        Some((pending, file)) => {
            std::fs::rename(&pending, &file)
                .with_context(|| format!("cannot replace the key file {}", file.display()))?;
            println!("re-sealed {resealed} secrets; the new key is in {}", file.display());
        }
        None => println!("re-sealed {resealed} secrets; configure the new KEYWARD_SECRET_KEY before the next start"),
    }
    Ok(())
}

/// `keyward audit verify`: one line per organisation on stdout; an error (and a non-zero
/// exit) when any chain is broken.
async fn verify_audit(args: cli::AuditVerifyArgs) -> anyhow::Result<()> {
    let db = connect_and_migrate(&args.db, None).await?;
    let orgs = match args.org {
        Some(org_id) => {
            let known = db.run(audit::organisation_ids).await?;
            if !known.contains(&org_id) {
                bail!("no organisation {org_id} in this database");
            }
            vec![org_id]
        }
        None => db.run(audit::organisation_ids).await?,
    };
    let mut broken = 0;
    for org_id in orgs {
        let id = org_id.clone();
        let report = db.run(move |c| audit::verify(c, &id)).await?;
        match report.broken {
            None => println!("organisation {org_id}: {} events verified, chain intact", report.verified),
            Some(link) => {
                broken += 1;
                println!(
                    "organisation {org_id}: BROKEN at event {} (seq {}): {}; expected {}, found {} \
                     ({} events verified before it)",
                    link.event_id,
                    link.seq,
                    link.reason.as_str(),
                    link.expected_hash,
                    link.found_hash,
                    report.verified
                );
            }
        }
    }
    if broken > 0 {
        bail!("{broken} audit chain(s) broken");
    }
    Ok(())
}
