//! The harness: a fresh database per test (a SQLite file, or a PostgreSQL database that
//! is dropped afterwards), the real `keyward` binary serving it on a free port, and a
//! small JSON-RPC client.

pub mod client;
pub mod database;
mod pg_template;
pub mod proxy;
pub mod raw_http;
pub mod server;
pub mod sms;
pub mod webhooks;

pub use client::{Client, RpcError};
pub use database::Backend;
pub use server::TestApp;
pub use sms::SmsApp;

/// Declares a test body once and runs it on both databases, as `NAME::sqlite` and
/// `NAME::postgres`. The body's app type (`TestApp`, `SmsApp`) says how it starts.
#[macro_export]
macro_rules! on_both_databases {
    ($(async fn $name:ident($app:ident: $app_type:ty) $body:block)+) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($app: $app_type) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(app) = <$app_type>::start($crate::support::Backend::Sqlite).await {
                        run(app).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = <$app_type>::start($crate::support::Backend::Postgres).await {
                        run(app).await;
                    }
                }
            }
        )+
    };
}

/// A test of one database only (its own faults, or PostgreSQL's several nodes), named
/// `NAME::postgres` or `NAME::sqlite` like the tests of [`on_both_databases!`] (so that
/// CI's count of PostgreSQL tests sees it). The body checks `postgres_skipped` itself.
#[macro_export]
macro_rules! on_one_database {
    ($backend:ident: $(async fn $name:ident() $body:block)+) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $backend() $body
            }
        )+
    };
}

/// Like [`on_both_databases!`], with extra `KEYWARD_*` settings for the server:
/// `on_both_databases_with! { &[("KEYWARD_…", "…")]; async fn name(app: SmsApp) { … } }`.
#[macro_export]
macro_rules! on_both_databases_with {
    ($env:expr; $(async fn $name:ident($app:ident: $app_type:ty) $body:block)+) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($app: $app_type) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(app) = <$app_type>::start_with($crate::support::Backend::Sqlite, $env).await {
                        run(app).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = <$app_type>::start_with($crate::support::Backend::Postgres, $env).await {
                        run(app).await;
                    }
                }
            }
        )+
    };
}
