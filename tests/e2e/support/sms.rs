//! A keyward whose SMS go to a fake Twilio over HTTP, with the owner's SMS settings made.

use std::ops::Deref;

use fake_twilio::FakeTwilio;
use serde_json::json;

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
