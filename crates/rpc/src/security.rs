//! Passwords (Argon2id) and bearer tokens (256 random bits, stored only as SHA-256
//! hashes). Hashing runs on a blocking thread: it is slow on purpose.

use std::sync::{Arc, LazyLock, Mutex, mpsc};
use std::time::Duration;

use argon2::password_hash::{self, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyward_domain::{Error, Secret};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

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
/// memory with it. At most `permits` hashes run at once, each on one of `permits` threads
/// of its own, and each thread reuses one block of Argon2 memory for every hash (an
/// allocation per hash, freed after, is not given back by the allocator: RSS grew by
/// about 19 MiB per login, on whichever threads ran them). So hashing takes at most
/// `permits` × 19 MiB, ever. A caller waits at most `wait` for a permit, then gets
/// RATE_LIMITED.
#[derive(Clone)]
pub struct PasswordHashing {
    permits: Arc<Semaphore>,
    wait: Duration,
    jobs: mpsc::Sender<Job>,
}

/// Work for a hashing thread, given that thread's Argon2 memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

impl PasswordHashing {
    pub fn new(permits: usize, wait: Duration) -> PasswordHashing {
        let permits = permits.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..permits {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("password-hashing-{n}"))
                .spawn(move || {
                    let mut memory = Vec::new();
                    loop {
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&mut memory),
                            Err(_) => return, // every sender is gone
                        }
                    }
                })
                .expect("start a password hashing thread");
        }
        PasswordHashing { permits: Arc::new(Semaphore::new(permits)), wait, jobs }
    }

    /// A turn at hashing, once a permit is free (waited for at most `wait`). The call's
    /// database connection goes back to the pool first: waiting and hashing take long.
    pub async fn turn(&self) -> Result<Turn<'_>, Error> {
        keyward_persistence::let_go_of_connection();
        let busy = || Error::RateLimited { retry_after_ms: u32::try_from(self.wait.as_millis()).unwrap_or(u32::MAX) };
        match tokio::time::timeout(self.wait, Arc::clone(&self.permits).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Turn { jobs: &self.jobs, _permit: permit }),
            Ok(Err(_)) | Err(_) => Err(busy()),
        }
    }

    pub async fn hash(&self, password: Secret) -> Result<String, Error> {
        self.turn().await?.hash(password).await
    }
}

/// A permit to hash one password: held from [`PasswordHashing::turn`] until the hash is done.
pub struct Turn<'a> {
    jobs: &'a mpsc::Sender<Job>,
    _permit: OwnedSemaphorePermit,
}

impl Turn<'_> {
    /// Runs `f` on a hashing thread; the turn ends with it.
    async fn run<T: Send + 'static>(self, f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static) -> Result<T, Error> {
        // A step since the turn began (counting a login attempt) may have taken one again.
        keyward_persistence::let_go_of_connection();
        let (answer, answered) = oneshot::channel();
        self.jobs
            .send(Box::new(move |memory| {
                let _ = answer.send(f(memory));
            }))
            .map_err(|_| Error::Internal("the password hashing threads have stopped".to_owned()))?;
        answered.await.map_err(|_| Error::Internal("password hashing failed".to_owned()))
    }

    pub async fn hash(self, password: Secret) -> Result<String, Error> {
        self.run(move |memory| hash_password_now(memory, password.expose())).await?
    }

    /// Checks a password against a stored hash. Without a hash (unknown email) it checks
    /// against a dummy one, so that both failures take the same time and look the same.
    pub async fn verify(self, password: Secret, stored_hash: Option<String>) -> Result<bool, Error> {
        static DUMMY: LazyLock<String> = LazyLock::new(|| {
            hash_password_now(&mut Vec::new(), "not anyone's password").expect("hashing a constant works")
        });
        self.run(move |memory| {
            let known = stored_hash.is_some();
            let hash = stored_hash.unwrap_or_else(|| DUMMY.clone());
            let matches = verify_password_now(memory, password.expose(), &hash).unwrap_or(false);
            known && matches
        })
        .await
    }
}

/// Argon2 of `password` and `salt` into `out`, in `memory` (grown once, then reused).
fn argon2_into(
    memory: &mut Vec<Block>,
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
}

/// A new PHC string for `password` on the calling thread, for tools that write users
/// without a server (the benchmark seed); the server hashes through [`PasswordHashing`].
pub fn hash_password_blocking(password: &str) -> Result<String, Error> {
    hash_password_now(&mut Vec::new(), password)
}

/// A new PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) with the default
/// parameters and a random salt.
fn hash_password_now(memory: &mut Vec<Block>, password: &str) -> Result<String, Error> {
    let failed = |e: &dyn std::fmt::Display| Error::Internal(format!("password hashing: {e}"));
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt_string = SaltString::encode_b64(&salt).map_err(|e| failed(&e))?;
    let params = Params::default();
    let (algorithm, version) = (Algorithm::Argon2id, Version::V0x13);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(
        memory,
        &Argon2::new(algorithm, version, params.clone()),
        &params,
        password.as_bytes(),
        &salt,
        &mut out,
    )
    .map_err(|e| failed(&e))?;
    let hash = PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(version.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(salt_string.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches a stored PHC string; `Err` for a string that is not an
/// Argon2 hash we can check.
fn verify_password_now(memory: &mut Vec<Block>, password: &str, stored: &str) -> Result<bool, password_hash::Error> {
    let parsed = PasswordHash::new(stored)?;
    let algorithm = Algorithm::try_from(parsed.algorithm)?;
    let version = parsed.version.map(Version::try_from).transpose()?.unwrap_or_default();
    let params = Params::try_from(&parsed)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(password_hash::Error::PhcStringField);
    };
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf)?;
    let mut out = vec![0u8; expected.len()];
    argon2_into(
        memory,
        &Argon2::new(algorithm, version, params.clone()),
        &params,
        password.as_bytes(),
        salt,
        &mut out,
    )?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out)? == expected)
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
        let hash = hashing.hash(Secret::from("correct horse battery")).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let verify = async |password: &str, hash: Option<String>| {
            hashing.turn().await.unwrap().verify(Secret::from(password), hash).await.unwrap()
        };
        assert!(verify("correct horse battery", Some(hash.clone())).await);
        assert!(!verify("wrong horse battery", Some(hash)).await);
        assert!(!verify("not anyone's password", None).await);
    }

    /// Hashes stored before (written by the argon2 crate's own API) still verify, and ours
    /// verify with it: the same PHC strings.
    #[test]
    fn hashes_are_the_argon2_crates_own() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let theirs = Argon2::default().hash_password(b"correct horse battery", &salt).unwrap().to_string();
        let mut memory = Vec::new();
        assert!(verify_password_now(&mut memory, "correct horse battery", &theirs).unwrap());
        assert!(!verify_password_now(&mut memory, "correct horse batterz", &theirs).unwrap());
        let ours = hash_password_now(&mut memory, "correct horse battery").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse battery", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"wrong", &parsed).is_err());
        assert!(verify_password_now(&mut memory, "x", "not a hash").is_err());
        assert_eq!(memory.len(), Params::default().block_count(), "one block of memory, reused");
    }

    #[tokio::test]
    async fn a_caller_who_cannot_get_a_permit_in_time_is_rate_limited() {
        let hashing = PasswordHashing::new(1, Duration::from_millis(50));
        let held = hashing.turn().await.unwrap();
        let refused = hashing.hash(Secret::from("correct horse battery")).await.unwrap_err();
        assert_eq!(refused, Error::RateLimited { retry_after_ms: 50 });
        drop(held);
        assert!(hashing.hash(Secret::from("correct horse battery")).await.is_ok());
    }
}
