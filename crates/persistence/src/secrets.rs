//! Secrets at rest: access code values, Twilio auth tokens and webhook signing secrets are sealed with
//! AES-256-GCM under the server's secret key, with a fresh random nonce per seal.
//! Exact-match lookups go through a keyed hash (HMAC-SHA256), never the plaintext.
//!
//! Two sub-keys are derived from the one configured key (HMAC-SHA256 of the key over a
//! fixed label), so that the cipher key and the lookup key are independent.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use keyward_domain::Error;
use rand::RngCore;
use sha2::Sha256;

use crate::connection::AnyConnection;
use crate::error::{StoreError, StoreResult, is_unique_violation};
use crate::schema::{access_codes, doorcodes, secret_check};

const NONCE_LEN: usize = 12;
/// Sealed in `secret_check` when a database first meets a key; opening it at start-up
/// tells whether the configured key is the one the database's secrets are sealed with.
const CHECK_PLAINTEXT: &str = "keyward secret check v1";

/// The server's 32-byte secret key (`KEYWARD_SECRET_KEY`, standard base64).
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    pub fn from_base64(text: &str) -> Result<SecretKey, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| "the secret key must be standard base64 (openssl rand -base64 32)".to_owned())?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            format!("the secret key must be 32 bytes, not {} (openssl rand -base64 32)", b.len())
        })?;
        Ok(SecretKey(bytes))
    }

    pub fn generate() -> SecretKey {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        SecretKey(bytes)
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    fn derive(&self, label: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

/// Seals, opens and hashes secrets under one secret key.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
    lookup_key: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    pub fn new(key: &SecretKey) -> Sealer {
        let cipher = Aes256Gcm::new_from_slice(&key.derive("keyward/seal/v1")).expect("a 32-byte key");
        Sealer { cipher, lookup_key: key.derive("keyward/lookup/v1") }
    }

    /// `base64(nonce ‖ ciphertext+tag)`.
    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("AES-GCM seals any length we store");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        STANDARD.encode(out)
    }

    /// Opens a sealed value; fails if it was sealed under another key or tampered with.
    pub fn open(&self, sealed: &str) -> Result<String, Error> {
        let fail = || Error::Internal("a sealed secret does not open under the configured key".to_owned());
        let bytes = STANDARD.decode(sealed).map_err(|_| fail())?;
        if bytes.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plaintext = self.cipher.decrypt(Nonce::from_slice(nonce), ciphertext).map_err(|_| fail())?;
        String::from_utf8(plaintext).map_err(|_| fail())
    }

    /// The keyed hash under which a value can be found by exact match.
    pub fn lookup(&self, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.lookup_key).expect("HMAC takes any key length");
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Whether a key was ever recorded for this database (its secrets are sealed under one).
pub fn key_recorded(conn: &mut AnyConnection) -> StoreResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(secret_check::table.select(secret_check::id))).get_result(conn)?)
}

/// Whether the configured key is the database's: records the check value on first use,
/// and afterwards opens it. `false` means the key is wrong (start-up must refuse).
pub fn key_matches(conn: &mut AnyConnection, sealer: &Sealer) -> StoreResult<bool> {
    let stored: Option<String> = secret_check::table.select(secret_check::sealed).first(conn).optional()?;
    match stored {
        Some(sealed) => Ok(sealer.open(&sealed).is_ok_and(|p| p == CHECK_PLAINTEXT)),
        None => {
            let inserted = diesel::insert_into(secret_check::table)
                .values((secret_check::id.eq(1), secret_check::sealed.eq(sealer.seal(CHECK_PLAINTEXT))))
                .execute(conn);
            match inserted.map_err(StoreError::from) {
                Ok(_) => Ok(true),
                // Another node started first and recorded its key: check against that.
                Err(e) if is_unique_violation(&e) => key_matches(conn, sealer),
                Err(e) => Err(e),
            }
        }
    }
}

/// Re-seals every secret from `old` to `new`, with the check value; call inside one
/// write transaction so that the database is never half under each key. Returns how
/// many secrets were re-sealed.
pub fn rotate(conn: &mut AnyConnection, old: &Sealer, new: &Sealer) -> StoreResult<usize> {
    if !key_matches(conn, old)? {
        return Err(Error::Internal("the current secret key does not match this database".to_owned()).into());
    }
    let codes: Vec<(String, String)> =
        access_codes::table.select((access_codes::id, access_codes::code_sealed)).load(conn)?;
    for (id, sealed) in &codes {
        let code = old.open(sealed)?;
        diesel::update(access_codes::table.find(id))
            .set((access_codes::code_sealed.eq(new.seal(&code)), access_codes::code_lookup.eq(new.lookup(&code))))
            .execute(conn)?;
    }
    let doorcodes: Vec<(String, String)> =
        doorcodes::table.select((doorcodes::id, doorcodes::code_sealed)).load(conn)?;
    for (id, sealed) in &doorcodes {
        let code = old.open(sealed)?;
        diesel::update(doorcodes::table.find(id))
            .set((doorcodes::code_sealed.eq(new.seal(&code)), doorcodes::code_lookup.eq(new.lookup(&code))))
            .execute(conn)?;
    }
    let tokens = crate::repo::sms::sealed_tokens(conn)?;
    for (org_id, sealed) in &tokens {
        crate::repo::sms::reseal_token(conn, org_id, &new.seal(&old.open(sealed)?))?;
    }
    let webhook_secrets = crate::repo::webhooks::sealed_secrets(conn)?;
    for (id, sealed) in &webhook_secrets {
        crate::repo::webhooks::reseal_secret(conn, id, &new.seal(&old.open(sealed)?))?;
    }
    diesel::update(secret_check::table.find(1))
        .set(secret_check::sealed.eq(new.seal(CHECK_PLAINTEXT)))
        .execute(conn)?;
    Ok(codes.len() + doorcodes.len() + tokens.len() + webhook_secrets.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_under_their_key() {
        let sealer = Sealer::new(&SecretKey::generate());
        let a = sealer.seal("1234#");
        let b = sealer.seal("1234#");
        assert_ne!(a, b, "a fresh nonce per seal");
        assert!(!a.contains("1234"));
        assert_eq!(sealer.open(&a).unwrap(), "1234#");
        let other = Sealer::new(&SecretKey::generate());
        assert!(other.open(&a).is_err());
        assert!(sealer.open("not base64!").is_err());
        assert!(sealer.open("AAAA").is_err());
    }

    #[test]
    fn lookups_are_keyed_and_stable() {
        let key = SecretKey::generate();
        let sealer = Sealer::new(&key);
        assert_eq!(sealer.lookup("1234"), Sealer::new(&key).lookup("1234"));
        assert_ne!(sealer.lookup("1234"), sealer.lookup("1235"));
        assert_ne!(sealer.lookup("1234"), Sealer::new(&SecretKey::generate()).lookup("1234"));
        assert_eq!(sealer.lookup("1234").len(), 64);
    }

    #[test]
    fn keys_parse_from_base64_of_32_bytes() {
        let key = SecretKey::generate();
        assert_eq!(SecretKey::from_base64(&key.to_base64()).unwrap().0, key.0);
        assert!(SecretKey::from_base64("c2hvcnQ=").unwrap_err().contains("32 bytes"));
        assert!(SecretKey::from_base64("%%%").unwrap_err().contains("base64"));
        assert_eq!(format!("{key:?}"), "SecretKey(***)");
    }
}
