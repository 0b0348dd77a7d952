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
    Serve(ServeArgs),
    /// Apply pending migrations and exit.
    Migrate(DatabaseArgs),
    /// Create an organisation and its owner; prints the organisation id. The password
    /// comes from KEYWARD_PASSWORD or is asked for on the terminal.
    Bootstrap(BootstrapArgs),
    /// Re-seal every secret under a new secret key, in one transaction.
    RotateSecret(RotateSecretArgs),
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
    /// `sqlite://PATH` (relative or absolute) or `postgres://…`.
    #[arg(long, env = "KEYWARD_DATABASE_URL", default_value = "sqlite://keyward.db")]
    pub database_url: String,
    /// Connections in the pool.
    #[arg(long, env = "KEYWARD_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub secret: SecretArgs,
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, env = "KEYWARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Origins whose pages may call the API from a browser, comma-separated
    /// (`https://app.example.com,http://localhost:5173`). None by default.
    #[arg(long, env = "KEYWARD_CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<http::HeaderValue>,
    /// How long a login lasts (at most a year).
    #[arg(long, env = "KEYWARD_TOKEN_TTL_MINUTES", default_value_t = 720,
          value_parser = clap::value_parser!(u64).range(0..=527_040))]
    pub token_ttl_minutes: u64,
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
