//! Random identifiers in Speckle's shape: 10 lowercase hex characters for user-visible objects,
//! longer for secrets. A collision on insert surfaces as a unique-key error, never a silent
//! overwrite.

use rand::Rng;

const HEX: &[u8; 16] = b"0123456789abcdef";

fn random_hex(len: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| HEX[rng.gen_range(0..16)] as char)
        .collect()
}

/// A new object id (stream, branch, commit, webhook, user, token id).
pub fn new_id() -> String {
    random_hex(10)
}

/// A new token secret: 32 hex characters, 128 bits from the OS generator.
pub fn new_secret() -> String {
    random_hex(32)
}
