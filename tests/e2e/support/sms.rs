//! A keyward whose SMS go to a fake Twilio over HTTP, with the owner's SMS settings made.

use std::ops::Deref;
use std::time::Duration;

use fake_twilio::FakeTwilio;
use serde_json::json;
use tokio::process::Child;

pub use super::server::LoggedServer;
use super::server::{self, SECRET_KEY};
use super::{Backend, TestApp};

/// The fake's sender number: a valid one in Twilio's test set.
pub const FROM: &str = "+15005550006";
/// A valid GB mobile, as `07400 123456` normalises.
pub const PHONE: &str = "+447400123456";

pub struct SmsApp {
    pub app: TestApp,
    pub fake: FakeTwilio,
}

impl Deref for SmsApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl SmsApp {
    pub async fn start(backend: Backend) -> Option<SmsApp> {
        Self::start_with(backend, &[]).await
    }

    /// With extra `KEYWARD_*` settings (limits, timeouts).
    pub async fn start_with(backend: Backend, env: &[(&str, &str)]) -> Option<SmsApp> {
        let fake = FakeTwilio::start(fake_twilio::Config::default()).await.expect("start the fake Twilio");
        let url = fake.url();
        // A short request timeout, so that the fake's slow number is an unknown outcome
        // within the test's patience.
        let mut all = vec![("KEYWARD_TWILIO_BASE_URL", url.as_str()), ("KEYWARD_SMS_REQUEST_TIMEOUT_MS", "1500")];
        all.extend_from_slice(env);
        let app = TestApp::start_with(backend, &all).await?;
        let sms = SmsApp { app, fake };
        sms.configure(&fake_twilio::Config::default().auth_token).await;
        Some(sms)
    }

    /// The owner saves the SMS settings, with `auth_token`.
    pub async fn configure(&self, auth_token: &str) {
        let config = fake_twilio::Config::default();
        self.owner
            .ok(
                "settings.updateSms",
                json!({"accountSid": config.account_sid, "authToken": auth_token, "fromNumber": FROM}),
            )
            .await;
    }
}

impl SmsApp {
    /// The settings another `keyward serve` on this app's database needs to send to the
    /// same fake (PostgreSQL: the shared secret key; SQLite finds the key file), then `extra`.
    fn extra_server_env<'a>(&self, fake_url: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = vec![("KEYWARD_TWILIO_BASE_URL", fake_url), ("KEYWARD_SMS_REQUEST_TIMEOUT_MS", "1500")];
        if self.db.backend == Backend::Postgres {
            env.push(("KEYWARD_SECRET_KEY", SECRET_KEY));
        }
        env.extend_from_slice(extra);
        env
    }

    /// Another `keyward serve` on this app's database, sending to the same fake; returns
    /// the process and its base URL.
    pub async fn spawn_server(&self, extra: &[(&str, &str)]) -> (Child, String) {
        let fake_url = self.fake.url();
        server::spawn_server(&self.db.url, &self.extra_server_env(&fake_url, extra)).await
    }

    /// Like [`SmsApp::spawn_server`], with the server's stderr (its log) captured.
    pub async fn spawn_logged_server(&self, extra: &[(&str, &str)]) -> LoggedServer {
        let fake_url = self.fake.url();
        server::spawn_logged_server(&self.db.url, &self.extra_server_env(&fake_url, extra)).await
    }
}

/// `kill -9`: the process gets no chance to tidy up. Waits (at most 10 s) until it is gone.
pub async fn kill(child: &mut Child) {
    child.start_kill().expect("send SIGKILL");
    tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("a killed process is gone within 10 s")
        .expect("wait for the killed process");
}

/// Waits (bounded, 10 s) until `condition` holds, checking every few milliseconds.
#[track_caller]
pub fn eventually(what: &'static str, mut condition: impl FnMut() -> bool) -> impl Future<Output = ()> {
    let caller = std::panic::Location::caller();
    async move {
        let give_up = tokio::time::Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(tokio::time::Instant::now() < give_up, "{what}: not within 10 s (at {caller})");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
