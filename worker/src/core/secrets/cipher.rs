//! The server key as a cipher: [`Secrets`] seals a webhook secret into its stored form and opens
//! it again, with AES-256-GCM, a fresh random 96-bit nonce per value and fixed associated data.
//! Where the key comes from is [`super::key`]'s business, what the database holds
//! [`super::store`]'s; this file knows neither, so both stand on it.

use std::fmt;
use std::sync::Arc;

use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of a sealed value.
pub const SEALED: &str = "v1:";
/// Prefix the migration puts on secrets stored before encryption existed.
pub const LEGACY: &str = "plain:";
/// Associated data of every sealed secret: a ciphertext made for something else under the same
/// key does not open as a webhook secret.
const AAD: &[u8] = b"streamhooks webhook secret";
/// Bytes in a key (AES-256).
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Why a stored secret could not be opened. The `Display` text completes "the secret …".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("was encrypted under another key, or its stored value is damaged")]
    WrongKey,
    #[error("is stored in a form this server does not read")]
    UnknownForm,
    #[error("is still stored in plain text and waits to be encrypted at start-up")]
    Legacy,
}

/// Sealing failed: the OS random generator did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encrypt the webhook secret: {0}")]
pub struct SealError(String);

/// What the key check value is computed over (see [`Secrets::check_value`]).
const CHECK_TEXT: &[u8] = b"streamhooks secrets key check v1";

/// The server key, ready to seal and open; cheap to clone (the expanded key is shared).
#[derive(Clone)]
pub struct Secrets {
    cipher: Arc<Aes256Gcm>,
    /// SHA-256 of the key: compared to tell keys apart, its start shown as the fingerprint.
    digest: [u8; 32],
    fingerprint: String,
    check: String,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets(fingerprint {})", self.fingerprint)
    }
}

impl Secrets {
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        // A short digest lets operators check that processes share a key without showing it.
        let digest: [u8; 32] = Sha256::digest(key).into();
        let fingerprint = hex::encode(&digest[..4]);
        let check = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .map(|mac| hex::encode(mac.chain_update(CHECK_TEXT).finalize().into_bytes()))
            .unwrap_or_default();
        Self {
            cipher: Arc::new(Aes256Gcm::new(GenericArray::from_slice(key))),
            digest,
            fingerprint,
            check,
        }
    }

    /// Eight hex digits derived from the key (not the key): equal keys, equal fingerprints.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Whether `other` is the same key.
    pub fn same_key(&self, other: &Secrets) -> bool {
        self.digest == other.digest
    }

    /// What the database records to recognise this key (`secrets_key_check`): hex HMAC-SHA256 of
    /// a fixed text under the key. It tells keys apart without revealing anything of the key.
    pub fn check_value(&self) -> &str {
        &self.check
    }

    /// The stored form of `plaintext`: `v1:` and base64 of a fresh nonce, the ciphertext and tag.
    pub fn seal(&self, plaintext: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|e| SealError(e.to_string()))?;
        let sealed = self
            .cipher
            .encrypt(
                GenericArray::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: AAD,
                },
            )
            .map_err(|_| SealError("the cipher refused the input".into()))?;
        let mut raw = Vec::with_capacity(NONCE_LEN + sealed.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        Ok(format!("{SEALED}{}", STANDARD_NO_PAD.encode(raw)))
    }

    /// The plaintext of a stored secret sealed under this key.
    pub fn open(&self, stored: &str) -> Result<String, OpenError> {
        let Some(body) = stored.strip_prefix(SEALED) else {
            return Err(if stored.starts_with(LEGACY) {
                OpenError::Legacy
            } else {
                OpenError::UnknownForm
            });
        };
        let raw = STANDARD_NO_PAD
            .decode(body)
            .map_err(|_| OpenError::UnknownForm)?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(OpenError::UnknownForm);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                GenericArray::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: AAD,
                },
            )
            .map_err(|_| OpenError::WrongKey)?;
        String::from_utf8(plain).map_err(|_| OpenError::WrongKey)
    }
}

/// The plaintext of a secret still in its pre-encryption form, if it is one.
pub fn legacy_plaintext(stored: &str) -> Option<&str> {
    stored.strip_prefix(LEGACY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Secrets {
        Secrets::new(&[byte; KEY_LEN])
    }

    #[test]
    fn sealed_values_round_trip_and_differ_each_time() {
        let k = key(7);
        for plain in [
            "",
            "s3cr3t",
            "v1:looks sealed",
            "🔑 ünïcødé",
            &"x".repeat(256),
        ] {
            let a = k.seal(plain).unwrap_or_default();
            let b = k.seal(plain).unwrap_or_default();
            assert!(a.starts_with(SEALED), "{a}");
            assert_ne!(a, b, "a fresh nonce per value");
            if !plain.is_empty() {
                assert!(!a.contains(plain), "{a}");
            }
            assert_eq!(k.open(&a).as_deref(), Ok(plain));
        }
    }

    #[test]
    fn check_values_tell_keys_apart_and_show_nothing_of_the_key() {
        let (a, b) = (key(1), key(2));
        assert_eq!(a.check_value(), key(1).check_value(), "stable for one key");
        assert_ne!(a.check_value(), b.check_value());
        assert_eq!(a.check_value().len(), 64, "hex of 32 bytes");
        assert!(!a.check_value().contains(&hex::encode([1u8; KEY_LEN])));
        assert!(
            !a.check_value().starts_with(a.fingerprint()),
            "not the key's digest"
        );
    }

    #[test]
    fn another_key_or_a_damaged_value_does_not_open() {
        let sealed = key(1).seal("s3cr3t").unwrap_or_default();
        assert_eq!(key(2).open(&sealed), Err(OpenError::WrongKey));
        // Flip one character of the ciphertext: the tag no longer matches.
        let mut damaged = sealed.clone().into_bytes();
        let i = damaged.len() - 5;
        damaged[i] = if damaged[i] == b'A' { b'B' } else { b'A' };
        let damaged = String::from_utf8(damaged).unwrap_or_default();
        assert_eq!(key(1).open(&damaged), Err(OpenError::WrongKey));
        assert_eq!(key(1).open("v1:AAAA"), Err(OpenError::UnknownForm));
        assert_eq!(key(1).open("v1:!!!"), Err(OpenError::UnknownForm));
        assert_eq!(key(1).open("s3cr3t"), Err(OpenError::UnknownForm));
        assert_eq!(key(1).open("plain:s3cr3t"), Err(OpenError::Legacy));
        assert_eq!(legacy_plaintext("plain:v1:abc"), Some("v1:abc"));
    }
}
