//! Where the secret key comes from: `KEYWARD_SECRET_KEY`, or on the embedded SQLite
//! default a key file beside the database, created on first start (mode 0600).
//! PostgreSQL deployments must configure the key: a file on one node's disk would not
//! be shared by the others.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use keyward_persistence::{DatabaseUrl, SecretKey};

/// The configured key, and the key file it came from, if any.
pub struct Resolved {
    pub key: SecretKey,
    pub file: Option<PathBuf>,
    /// The key file was created just now: the database must not have secrets yet.
    pub created: bool,
}

pub fn key_file_for(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

pub fn resolve(configured: Option<&str>, url: &DatabaseUrl) -> anyhow::Result<Resolved> {
    if let Some(text) = configured {
        let key = SecretKey::from_base64(text).map_err(anyhow::Error::msg).context("KEYWARD_SECRET_KEY is invalid")?;
        return Ok(Resolved { key, file: None, created: false });
    }
    let DatabaseUrl::Sqlite(database) = url else {
        bail!(
            "KEYWARD_SECRET_KEY is required with PostgreSQL: set it to 32 random bytes in base64 \
             (openssl rand -base64 32) and keep it safe; access codes are sealed under it"
        );
    };
    let file = key_file_for(database);
    if file.exists() {
        let text =
            std::fs::read_to_string(&file).with_context(|| format!("cannot read the key file {}", file.display()))?;
        let key = SecretKey::from_base64(&text)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("the key file {} is invalid", file.display()))?;
        return Ok(Resolved { key, file: Some(file), created: false });
    }
    let key = SecretKey::generate();
    write_key_file(&file, &key)?;
    tracing::warn!(
        key_file = %file.display(),
        "no KEYWARD_SECRET_KEY configured: created a secret key file beside the database; \
         back it up with the database, since access codes cannot be read without it"
    );
    Ok(Resolved { key, file: Some(file), created: true })
}

/// Writes a key file readable by its owner only; refuses to overwrite one.
pub fn write_key_file(file: &Path, key: &SecretKey) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .with_context(|| format!("cannot create the key file {}", file.display()))?;
    writeln!(f, "{}", key.to_base64()).with_context(|| format!("cannot write the key file {}", file.display()))?;
    f.sync_all()?;
    Ok(())
}
