//! Where the secrets key comes from: `SECRETS_KEY` (environment only: a flag would show the key
//! in the process list), a key given by an embedding program, or a key file. The file is created
//! with mode 0600 on first run so the embedded default needs no set-up, and an existing one that
//! other users may read is refused rather than used: the key is only as private as its file.
//! Whether creating a missing file is safe is not decided here (see [`super::store::prepare`]).

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use clap::Args;
use rand::RngCore;

use super::cipher::{Secrets, KEY_LEN};

/// Environment variable holding the key itself.
pub const KEY_ENV: &str = "SECRETS_KEY";

/// Where the key comes from; flattened into every command that reads or writes secrets.
#[derive(Args, Clone)]
pub struct SecretsConfig {
    /// File holding the key that encrypts webhook secrets (32 bytes as base64 or hex), used when
    /// the SECRETS_KEY environment variable is not set; created with mode 0600 on first run. Every
    /// process sharing a database needs the same key.
    #[arg(
        long = "secrets-key-file",
        env = "SECRETS_KEY_FILE",
        default_value = "streamhooks.key"
    )]
    pub key_file: PathBuf,

    /// The key itself, as base64 or hex. Read from `SECRETS_KEY` when `None`; an embedding
    /// program (the test kit) may set it directly.
    #[arg(skip)]
    pub key: Option<String>,
}

impl fmt::Debug for SecretsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsConfig")
            .field("key_file", &self.key_file)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A key that cannot be used; the sentence names the variable or file to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

/// Where the key in use came from, for the start-up log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    Given,
    File(PathBuf),
    Created(PathBuf),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Env => write!(f, "{KEY_ENV}"),
            KeySource::Given => write!(f, "the embedding program"),
            KeySource::File(p) => write!(f, "key file {}", p.display()),
            KeySource::Created(p) => write!(f, "key file {} (created now)", p.display()),
        }
    }
}

/// What [`SecretsConfig::load`] found.
pub enum Loaded {
    Key(Secrets, KeySource),
    /// No key configured and no key file yet: the caller decides whether creating one is safe.
    MissingFile(PathBuf),
}

impl SecretsConfig {
    /// A config that uses exactly `key` (base64 or hex), as the test kit does.
    pub fn with_key(key: impl Into<String>) -> Self {
        Self {
            key_file: PathBuf::new(),
            key: Some(key.into()),
        }
    }

    /// Refuses, before anything else starts, a key that cannot be right: a malformed
    /// `SECRETS_KEY`, or a key file that is unreadable, too open or of the wrong length. A
    /// missing key file is fine here; whether to create it is decided once the database is open.
    pub fn validate(&self) -> Result<(), KeyError> {
        self.load().map(|_| ())
    }

    /// The key from the config, `SECRETS_KEY` or the key file, without creating anything.
    pub fn load(&self) -> Result<Loaded, KeyError> {
        if let Some(k) = &self.key {
            return Ok(Loaded::Key(
                Secrets::new(&parse_key(k, "the configured secrets key")?),
                KeySource::Given,
            ));
        }
        if let Ok(k) = std::env::var(KEY_ENV) {
            if !k.trim().is_empty() {
                let key = parse_key(&k, KEY_ENV)?;
                return Ok(Loaded::Key(Secrets::new(&key), KeySource::Env));
            }
        }
        let path = &self.key_file;
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Loaded::MissingFile(path.clone()))
            }
            Err(e) => Err(file_error(path, &format!("cannot be read: {e}"))),
            Ok(_) => Ok(Loaded::Key(
                read_key_file(path)?,
                KeySource::File(path.clone()),
            )),
        }
    }
}

impl Secrets {
    /// A key from its base64 or hex text.
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        Ok(Self::new(&parse_key(text, "The secrets key")?))
    }
}

/// A key file's path as sentences show it: in full (two processes in different working
/// directories each find their own `streamhooks.key`).
pub(super) fn shown_path(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_owned())
        .display()
        .to_string()
}

fn file_error(path: &Path, what: &str) -> KeyError {
    KeyError(format!(
        "The secrets key file {} (SECRETS_KEY_FILE) {what}",
        path.display()
    ))
}

pub(crate) fn read_key_file(path: &Path) -> Result<Secrets, KeyError> {
    let meta =
        std::fs::metadata(path).map_err(|e| file_error(path, &format!("cannot be read: {e}")))?;
    if !meta.is_file() {
        return Err(file_error(path, "is not a regular file."));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(file_error(
                path,
                &format!(
                    "is readable or writable by other users (mode {mode:04o}); make it private with `chmod 600 {}`.",
                    path.display()
                ),
            ));
        }
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_string(&mut text))
        .map_err(|e| file_error(path, &format!("cannot be read: {e}")))?;
    let key = parse_key(
        &text,
        &format!("The secrets key file {} (SECRETS_KEY_FILE)", path.display()),
    )?;
    Ok(Secrets::new(&key))
}

/// Writes a new random key to `path` with mode 0600 (never replacing a file: if another process
/// created it first, that key is the one to use).
pub fn create_key_file(path: &Path) -> Result<(Secrets, KeySource), KeyError> {
    let mut key = [0u8; KEY_LEN];
    rand::rngs::OsRng
        .try_fill_bytes(&mut key)
        .map_err(|e| KeyError(format!("Cannot generate a secrets key: {e}")))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = match opts.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Ok((read_key_file(path)?, KeySource::File(path.to_owned())))
        }
        Err(e) => {
            return Err(file_error(
                path,
                &format!(
                    "cannot be created: {e}; set SECRETS_KEY_FILE to a writable path, or SECRETS_KEY to a key."
                ),
            ))
        }
    };
    let text = format!("{}\n", STANDARD.encode(key));
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| file_error(path, &format!("cannot be written: {e}")))?;
    Ok((Secrets::new(&key), KeySource::Created(path.to_owned())))
}

/// 32 bytes from 64 hex digits or base64 (standard or URL-safe, padded or not). The key itself is
/// never repeated in the error.
pub fn parse_key(text: &str, what: &str) -> Result<[u8; KEY_LEN], KeyError> {
    let t = text.trim();
    let decoded = if t.len() == 2 * KEY_LEN && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(t).ok()
    } else {
        [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(t).ok())
    };
    let bytes = decoded.ok_or_else(|| {
        KeyError(format!(
            "{what} must be 32 bytes written as base64 (44 characters) or hex (64 characters), \
             but it is {} characters that are neither; make one with `openssl rand -base64 32`.",
            t.chars().count()
        ))
    })?;
    <[u8; KEY_LEN]>::try_from(bytes.as_slice()).map_err(|_| {
        KeyError(format!(
            "{what} must be 32 bytes written as base64 or hex, but it decodes to {} bytes; \
             make one with `openssl rand -base64 32`.",
            bytes.len()
        ))
    })
}

/// A random key as base64, e.g. for a test server or a new key file.
pub fn generate_key() -> Result<String, KeyError> {
    let mut key = [0u8; KEY_LEN];
    rand::rngs::OsRng
        .try_fill_bytes(&mut key)
        .map_err(|e| KeyError(format!("Cannot generate a secrets key: {e}")))?;
    Ok(STANDARD.encode(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_base64_or_hex_and_nothing_else() {
        let raw = [0xabu8; KEY_LEN];
        for text in [
            STANDARD.encode(raw),
            STANDARD_NO_PAD.encode(raw),
            URL_SAFE.encode(raw),
            hex::encode(raw),
            format!("  {}\n", STANDARD.encode(raw)),
        ] {
            assert_eq!(parse_key(&text, "SECRETS_KEY"), Ok(raw), "{text}");
        }
        let short = parse_key(&STANDARD.encode([1u8; 16]), "SECRETS_KEY").err();
        assert!(
            short.is_some_and(|e| e.0.starts_with("SECRETS_KEY must be 32 bytes")
                && e.0.contains("decodes to 16 bytes"))
        );
        let junk = parse_key("hunter2 is my key", "SECRETS_KEY").err();
        assert!(junk.is_some_and(|e| e.0.contains("SECRETS_KEY") && !e.0.contains("hunter2")));
        let key = |b: u8| Secrets::new(&[b; KEY_LEN]);
        assert_eq!(key(3).fingerprint(), key(3).fingerprint());
        assert_ne!(key(3).fingerprint(), key(4).fingerprint());
        assert!(key(3).same_key(&key(3)) && !key(3).same_key(&key(4)));
    }
}
