//! Command-line flags; each also reads a `KEYWARD_*` environment variable.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "keyward", version, about = "The key and access-code register, over JSON-RPC")]
pub struct Cli {
    /// `text` for people, `json` for log collectors.
    #[arg(long, env = "KEYWARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve JSON-RPC over HTTP and WebSocket.
    Serve(Box<ServeArgs>),
    /// Apply pending migrations and exit.
    Migrate(DatabaseArgs),
    /// Create an organisation and its owner; prints the organisation id. The password
    /// comes from KEYWARD_PASSWORD or is asked for on the terminal.
    Bootstrap(BootstrapArgs),
    /// Re-seal every secret under a new secret key, in one transaction.
    RotateSecret(RotateSecretArgs),
    /// The audit log's hash chains.
    #[command(subcommand)]
    Audit(AuditCommand),
}

impl Command {
    /// The database flags every command has.
    pub fn database(&self) -> &DatabaseArgs {
        match self {
            Command::Serve(args) => &args.db,
            Command::Migrate(db) => db,
            Command::Bootstrap(args) => &args.db,
            Command::RotateSecret(args) => &args.db,
            Command::Audit(AuditCommand::Verify(args)) => &args.db,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Re-walk each organisation's chain (or one's) and report the first broken link, or
    /// how many events hold. Exits non-zero when a chain is broken.
    Verify(AuditVerifyArgs),
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Only this organisation (its id); every organisation by default.
    #[arg(long)]
    pub org: Option<String>,
}

#[derive(Debug, Args)]
pub struct SecretArgs {
    /// 32 random bytes, standard base64 (`openssl rand -base64 32`). Without it, on
    /// SQLite, a key file beside the database is used (created on first start).
    #[arg(long, env = "KEYWARD_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct RotateSecretArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub secret: SecretArgs,
    /// The new key. Without it, when the current key comes from a key file, a new key
    /// is generated and written to that file.
    #[arg(long, env = "KEYWARD_NEW_SECRET_KEY", hide_env_values = true)]
    pub new_secret_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// `sqlite://PATH` (relative or absolute) or `postgres://…`. Its value from the
    /// environment is not shown by `--help`: it may hold a password.
    #[arg(long, env = "KEYWARD_DATABASE_URL", hide_env_values = true, default_value = "sqlite://keyward.db")]
    pub database_url: String,
    /// Connections in the pool (1 to 1000). Default: on PostgreSQL 4 per core this
    /// process may use (8 on two cores; decision 193), on SQLite 4 (writes have a
    /// connection of their own; readers are fast and each keeps its own page cache).
    #[arg(long, env = "KEYWARD_DB_POOL_SIZE", value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub db_pool_size: Option<u16>,
}

impl DatabaseArgs {
    /// `--db-pool-size`, or the default for the database the URL names.
    pub fn pool_size(&self) -> usize {
        match self.db_pool_size {
            Some(size) => usize::from(size),
            None if self.database_url.starts_with("sqlite:") => 4,
            None => 4 * std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub secret: SecretArgs,
    #[command(flatten)]
    pub sms: SmsArgs,
    #[command(flatten)]
    pub transport: TransportArgs,
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, env = "KEYWARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Origins whose pages may call the API from a browser, comma-separated
    /// (`https://app.example.com,http://localhost:5173`). None by default.
    #[arg(long, env = "KEYWARD_CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<http::HeaderValue>,
    /// How long one database step of a call (waiting for a connection, connecting, the
    /// query or transaction) may take before the call answers UNAVAILABLE; `/health`
    /// answers 503 within it too. Also PostgreSQL's statement timeout.
    #[arg(long, env = "KEYWARD_DB_TIMEOUT_MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub db_timeout_ms: u64,
    /// How long a login lasts (at most a year).
    #[arg(long, env = "KEYWARD_TOKEN_TTL_MINUTES", default_value_t = 720,
          value_parser = clap::value_parser!(u64).range(0..=527_040))]
    pub token_ttl_minutes: u64,
    /// How often each organisation's audit chain head is logged (INFO, one line per
    /// organisation with new events), for an operator to keep an external copy.
    #[arg(long, env = "KEYWARD_AUDIT_ANCHOR_SECS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub audit_anchor_secs: u64,
    /// Serve Prometheus metrics on `GET /metrics` of the same listener (no token; no
    /// organisation's data in them). Off by default: `/metrics` is then 404.
    #[arg(long, env = "KEYWARD_METRICS")]
    pub metrics: bool,
    /// Let webhook endpoints use plain `http` and hosts that resolve to private,
    /// loopback or link-local addresses (tests, closed networks). Off by default: such
    /// endpoints are refused, when created and at every delivery.
    #[arg(long, env = "KEYWARD_ALLOW_PRIVATE_WEBHOOKS")]
    pub allow_private_webhooks: bool,
    /// FOR TESTS ONLY: the clock stands still until `POST /test/clock` moves it (which
    /// then runs the jobs that are due). Hidden; never set it in production.
    #[arg(long, env = "KEYWARD_TEST_CLOCK", hide = true)]
    pub test_clock: bool,
    /// How often this node looks for due background jobs (reminders, sweeps).
    #[arg(long, env = "KEYWARD_JOBS_POLL_MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub jobs_poll_ms: u64,
    #[command(flatten)]
    pub login: LoginArgs,
}

/// Limits on `auth.login` and on password hashing.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Login attempts per client address per minute, sustained (in memory, per node).
    #[arg(long, env = "KEYWARD_LOGIN_PER_ADDRESS_PER_MINUTE", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub login_per_address_per_minute: u32,
    /// Login attempts per email per minute, sustained (in memory, per node; known or not).
    #[arg(long, env = "KEYWARD_LOGIN_PER_EMAIL_PER_MINUTE", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub login_per_email_per_minute: u32,
    /// Consecutive failed logins after which an account is locked (counted in the
    /// database, shared by every node). Each further failure doubles the lock.
    #[arg(long, env = "KEYWARD_LOGIN_LOCK_AFTER", default_value_t = 10,
          value_parser = clap::value_parser!(i32).range(1..))]
    pub login_lock_after: i32,
    /// The first lock's length; it doubles with each further failure, up to a day.
    #[arg(long, env = "KEYWARD_LOGIN_LOCK_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub login_lock_secs: u64,
    /// Password hashes computed at once (Argon2 needs 19 MiB each).
    #[arg(long, env = "KEYWARD_PASSWORD_HASHING_PERMITS", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub password_hashing_permits: u32,
    /// How long a login may wait for a hashing permit before RATE_LIMITED.
    #[arg(long, env = "KEYWARD_PASSWORD_HASHING_WAIT_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub password_hashing_wait_ms: u64,
}

/// The transport's limits against connection exhaustion.
#[derive(Debug, Args)]
pub struct TransportArgs {
    /// Connections served at once; past it a few more are answered 503 "saturated"
    /// (`/health` too), then new ones are closed. Keep it below the open-files limit.
    #[arg(long, env = "KEYWARD_MAX_CONNECTIONS", default_value_t = 900, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Connections from one client address at once; more are answered 429 and closed.
    /// Behind a reverse proxy every client has the proxy's address: raise it to match.
    #[arg(long, env = "KEYWARD_MAX_CONNECTIONS_PER_IP", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_ip: u32,
    /// How long a client may take to send a request's headers (also how long an idle
    /// keep-alive connection stays open); then the connection is closed.
    #[arg(long, env = "KEYWARD_HEADER_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub header_timeout_ms: u64,
    /// How long a client may take to send a request's body once its headers are in;
    /// then it is answered 408 and the connection closed.
    #[arg(long, env = "KEYWARD_BODY_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub body_timeout_ms: u64,
    /// Memory, in MiB, that all request bodies being read and answered may take
    /// together (a chunked body counts as the 2 MiB limit); past it a request is
    /// answered 503 at once.
    #[arg(long, env = "KEYWARD_MAX_BODY_MEMORY_MIB", default_value_t = 256, value_parser = clap::value_parser!(u32).range(2..))]
    pub max_body_memory_mib: u32,
}

impl TransportArgs {
    pub fn limits(&self) -> keyward_rpc::server::Limits {
        keyward_rpc::server::Limits {
            max_connections: self.max_connections as usize,
            max_connections_per_ip: self.max_connections_per_ip as usize,
            header_timeout: std::time::Duration::from_millis(self.header_timeout_ms),
            body_timeout: std::time::Duration::from_millis(self.body_timeout_ms),
            max_body_memory: self.max_body_memory_mib as usize * 1024 * 1024,
            ..keyward_rpc::server::Limits::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// The organisation's name.
    #[arg(long)]
    pub org: String,
    /// The owner's email (their login).
    #[arg(long)]
    pub email: String,
    /// The owner's display name.
    #[arg(long)]
    pub name: String,
}

/// An origin is a scheme, a host and an optional port: no path, no trailing slash.
fn parse_origin(text: &str) -> Result<http::HeaderValue, String> {
    let text = text.trim();
    let valid = (text.starts_with("http://") || text.starts_with("https://"))
        && !text.split_once("://").is_some_and(|(_, rest)| rest.is_empty() || rest.contains('/'));
    if !valid {
        return Err(format!("{text:?} is not an origin like https://app.example.com"));
    }
    http::HeaderValue::from_str(text).map_err(|e| e.to_string())
}

/// SMS through Twilio; the limits' defaults are the contract's.
#[derive(Debug, Args)]
pub struct SmsArgs {
    /// Twilio's API, or a Twilio-compatible endpoint (tests use a local fake).
    #[arg(long, env = "KEYWARD_TWILIO_BASE_URL", default_value = "https://api.twilio.com")]
    pub twilio_base_url: String,
    /// Region (ISO 3166 alpha-2) in which national phone numbers are read.
    #[arg(long, env = "KEYWARD_SMS_DEFAULT_REGION", default_value = "GB")]
    pub sms_default_region: String,
    /// Messages per minute per organisation, sustained (in memory, per node).
    #[arg(long, env = "KEYWARD_SMS_ORG_PER_MINUTE", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub sms_org_per_minute: u32,
    /// Messages an organisation may send at once (in memory, per node).
    #[arg(long, env = "KEYWARD_SMS_ORG_BURST", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub sms_org_burst: u32,
    /// Messages per recipient number per rolling hour (counted in the database).
    #[arg(long, env = "KEYWARD_SMS_RECIPIENT_PER_HOUR", default_value_t = 5, value_parser = clap::value_parser!(i32).range(1..))]
    pub sms_recipient_per_hour: i32,
    /// Messages per organisation per UTC day (counted in the database).
    #[arg(long, env = "KEYWARD_SMS_ORG_PER_DAY", default_value_t = 500, value_parser = clap::value_parser!(i32).range(1..))]
    pub sms_org_per_day: i32,
    /// How long one request to Twilio may take before its outcome counts as unknown.
    #[arg(long, env = "KEYWARD_SMS_REQUEST_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub sms_request_timeout_ms: u64,
    /// keyward's public base URL (`https://keys.example.com`). When set, Twilio reports
    /// delivery to `{url}/twilio/status?org={orgId}`, signed with the organisation's token.
    #[arg(long, env = "KEYWARD_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
    /// A send still `pending` after this long (the server stopped mid-send) becomes
    /// `unknown`; it is never re-sent. Checked at start-up and every minute.
    #[arg(long, env = "KEYWARD_SMS_PENDING_TIMEOUT_SECS", default_value_t = 60)]
    pub sms_pending_timeout_secs: u64,
}

/// An absolute http(s) URL without a trailing slash, query or fragment.
fn parse_public_url(text: &str) -> Result<String, String> {
    let url = text.trim().trim_end_matches('/');
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(['?', '#', ' '])
        && url.split_once("://").is_some_and(|(_, rest)| !rest.is_empty());
    if ok { Ok(url.to_owned()) } else { Err(format!("{text:?} is not a URL like https://keys.example.com")) }
}
