//! The signatures a delivery carries, each an HMAC-SHA256 keyed with the webhook secret's UTF-8
//! bytes:
//! - `X-WEBHOOK-SIGNATURE`: lower-case hex, over the payload string (`speckle-string`, exactly as
//!   Speckle computed it before 2.12) or over the raw request body (`speckle-object`, as Speckle
//!   computes it since), so existing receivers verify unchanged.
//! - `webhook-signature` (Standard Webhooks): `v1,` and base64, over `id.timestamp.body`.
//!
//! A webhook without a secret is still signed, with the empty key, as Speckle does: receivers that
//! always verify keep working, and the headers' presence never depends on config. The Standard
//! Webhooks message is fed to the MAC in parts rather than concatenated, so a 1 MB body is not
//! copied to be signed.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn mac(key: &[u8]) -> Option<Hmac<Sha256>> {
    // HMAC accepts keys of any length (long keys are hashed, short ones padded), so this cannot
    // fail; the `Option` only keeps the callers total without an `expect`.
    Hmac::<Sha256>::new_from_slice(key).ok()
}

/// Hex HMAC-SHA256 of `payload` under `secret` (lower case, 64 characters).
pub fn signature(secret: &str, payload: &str) -> String {
    signature_of_bytes(secret, payload.as_bytes())
}

/// Hex HMAC-SHA256 of `message` (e.g. the raw request body) under `secret`.
pub fn signature_of_bytes(secret: &str, message: &[u8]) -> String {
    match mac(secret.as_bytes()) {
        Some(mut m) => {
            m.update(message);
            hex::encode(m.finalize().into_bytes())
        }
        None => String::new(),
    }
}

/// One Standard Webhooks signature entry, `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
/// under the raw key bytes `key` (the secret's UTF-8 bytes here; what the libraries get after
/// decoding the base64 they are given). `id` and `timestamp` are the header values' bytes.
pub fn standard(key: &[u8], id: &[u8], timestamp: &[u8], body: &[u8]) -> String {
    let Some(mut m) = mac(key) else {
        return String::new();
    };
    m.update(id);
    m.update(b".");
    m.update(timestamp);
    m.update(b".");
    m.update(body);
    format!("v1,{}", STANDARD.encode(m.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc4231_test_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            signature_of_bytes("Jefe", b"what do ya want for nothing?"),
            signature("Jefe", "what do ya want for nothing?")
        );
    }

    #[test]
    fn empty_secret_still_signs() {
        assert_eq!(
            signature("", ""),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"
        );
    }

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py,
        // test_sign_function (commit b2fa7b8): key whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw.
        let key = STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap_or_default();
        assert_eq!(
            standard(
                &key,
                b"msg_p5jXN8AQM9LWM0D4loKWxJek",
                b"1614265330",
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
