//! Webhooks (issue 14 §3): where a delivery may go ([`target`]), how it is signed
//! ([`sign`], Standard Webhooks), and how one attempt is made and recorded ([`deliver`],
//! the work of the `webhook_delivery` job).

pub mod deliver;
pub mod sign;
pub mod target;

use std::sync::Arc;
use std::time::Duration;

/// What webhooks need besides the database: the HTTP client and the server's flag.
pub struct Webhooks {
    /// `--allow-private-webhooks`: plain `http` and private, loopback or link-local
    /// targets are allowed (tests, closed networks).
    pub allow_private: bool,
    pub client: reqwest::Client,
}

/// How long one attempt may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

impl Webhooks {
    /// The client: no redirects followed, a 10 s timeout, and a resolver that refuses
    /// names resolving to private addresses (unless allowed), so that the address
    /// connected to is the one checked.
    pub fn new(allow_private: bool) -> Result<Webhooks, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(concat!("keyward-webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(target::CheckedResolver { allow_private }))
            .build()
            .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))?;
        Ok(Webhooks { allow_private, client })
    }
}
