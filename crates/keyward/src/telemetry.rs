//! Logs: human-readable by default, JSON with `--log-format json`; the level comes from
//! `RUST_LOG` (default `info`). Logs go to stderr; stdout carries only results.
//!
//! Whatever `RUST_LOG` asks for, the WebSocket library logs at most at `DEBUG`: at
//! `TRACE` it prints every message and frame, passwords and code values included.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::cli::LogFormat;

/// Libraries whose `TRACE` lines hold message bodies.
const BODY_LOGGING_TARGETS: [&str; 2] = ["tungstenite", "tokio_tungstenite"];

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let no_bodies =
        BODY_LOGGING_TARGETS.iter().fold(Targets::new().with_default(LevelFilter::TRACE), |targets, target| {
            targets.with_target(*target, LevelFilter::DEBUG)
        });
    let registry = tracing_subscriber::registry().with(filter).with(no_bodies);
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match format {
        LogFormat::Text => registry.with(layer).init(),
        LogFormat::Json => registry.with(layer.json().with_current_span(true).with_span_list(false)).init(),
    }
}
