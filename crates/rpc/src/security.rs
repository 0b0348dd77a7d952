//! Passwords (Argon2id) and bearer tokens (256 random bits, stored only as SHA-256
//! hashes). Hashing runs on a blocking thread: it is slow on purpose.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyward_domain::Error;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A fresh bearer token and the hash under which it is stored.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Argon2 needs 19 MiB per hash: without a bound, a burst of logins takes the server's
/// memory with it. At most `permits` hashes run at once; a caller waits at most `wait`
/// for a permit, then gets RATE_LIMITED.
#[derive(Clone)]
pub struct PasswordHashing {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl PasswordHashing {
    pub fn new(permits: usize, wait: Duration) -> PasswordHashing {
        PasswordHashing { permits: Arc::new(Semaphore::new(permits.max(1))), wait }
    }

    async fn permit(&self) -> Result<OwnedSemaphorePermit, Error> {
        let busy = || Error::RateLimited { retry_after_ms: u32::try_from(self.wait.as_millis()).unwrap_or(u32::MAX) };
        match tokio::time::timeout(self.wait, Arc::clone(&self.permits).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => Err(busy()),
        }
    }

    pub async fn hash(&self, password: String) -> Result<String, Error> {
        let permit = self.permit().await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            hash_password_now(&password)
        })
        .await
        .map_err(|e| Error::Internal(format!("password hashing task: {e}")))?
    }

    /// Checks a password against a stored hash. Without a hash (unknown email) it checks
    /// against a dummy one, so that both failures take the same time and look the same.
    pub async fn verify(&self, password: String, stored_hash: Option<String>) -> Result<bool, Error> {
        static DUMMY: LazyLock<String> =
            LazyLock::new(|| hash_password_now("not anyone's password").expect("hashing a constant works"));
        let permit = self.permit().await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let known = stored_hash.is_some();
            let hash = stored_hash.unwrap_or_else(|| DUMMY.clone());
            let matches = PasswordHash::new(&hash)
                .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok());
            known && matches
        })
        .await
        .map_err(|e| Error::Internal(format!("password hashing task: {e}")))
    }
}

fn hash_password_now(password: &str) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("password hashing: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, a_hash) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43); // 32 bytes, base64url without padding
        assert_eq!(a_hash, hash_token(&a));
        assert_ne!(a_hash, a);
    }

    #[tokio::test]
    async fn passwords_verify_only_against_their_hash() {
        let hashing = PasswordHashing::new(2, Duration::from_secs(30));
        let hash = hashing.hash("correct horse battery".to_owned()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hashing.verify("correct horse battery".to_owned(), Some(hash.clone())).await.unwrap());
        assert!(!hashing.verify("wrong horse battery".to_owned(), Some(hash)).await.unwrap());
        assert!(!hashing.verify("not anyone's password".to_owned(), None).await.unwrap());
    }

    #[tokio::test]
    async fn a_caller_who_cannot_get_a_permit_in_time_is_rate_limited() {
        let hashing = PasswordHashing::new(1, Duration::from_millis(50));
        let held = hashing.permit().await.unwrap();
        let refused = hashing.hash("correct horse battery".to_owned()).await.unwrap_err();
        assert_eq!(refused, Error::RateLimited { retry_after_ms: 50 });
        drop(held);
        assert!(hashing.hash("correct horse battery".to_owned()).await.is_ok());
    }
}
