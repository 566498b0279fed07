//! The `X-WEBHOOK-SIGNATURE` header: hex HMAC-SHA256 over the UTF-8 bytes of the payload string,
//! keyed with the webhook's secret, exactly as Speckle computes it so existing receivers verify
//! unchanged. A webhook without a secret is still signed, with the empty key, as Speckle does:
//! receivers that always verify keep working, and the header's presence never depends on config.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Hex HMAC-SHA256 of `payload` under `secret` (lower case, 64 characters).
pub fn signature(secret: &str, payload: &str) -> String {
    // HMAC accepts keys of any length (long keys are hashed, short ones padded), so this cannot
    // fail; the fallback only keeps the function total without an `expect`.
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(payload.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
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
    }

    #[test]
    fn empty_secret_still_signs() {
        assert_eq!(
            signature("", ""),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"
        );
    }
}
