//! Webhook secrets at rest: sealed with AES-256-GCM under one server key, so a copy of the
//! database (a backup, a stolen disk, a support dump) does not hand out the keys that sign every
//! delivery. The API seals on create/update; the dispatcher opens just before signing.
//!
//! A stored secret names its scheme before the first `:`:
//! - `v1:<base64(nonce ‖ ciphertext ‖ tag)>`: AES-256-GCM, a fresh random 96-bit nonce per value,
//!   fixed associated data. A future scheme is `v2:` beside it.
//! - `plain:<text>`: a secret written before encryption existed. Migration
//!   `m20261123_000003` adds the marker in SQL (it has no key), and [`store::prepare`] seals those
//!   at start-up. The marker, rather than "whatever lacks `v1:`", is the decision a reader will
//!   question: it is what keeps an old plaintext secret that happens to start with `v1:` from
//!   being mistaken for a sealed one, with no second column to keep in step.
//!
//! The key is `SECRETS_KEY` or else a key file created with mode 0600 on first run ([`key`]); the
//! database records which key it is used with (a check value, [`cipher::Secrets::check_value`])
//! and refuses processes with another ([`check`]). Every sealed value is just a string, so a
//! second secret per webhook (the previous one, during a rotation's grace) is one more column in
//! [`stored::SEALED_COLUMNS`] and the same two calls.
//!
//! The files, lowest first: [`cipher`] (the key as a cipher), [`key`] (where the key comes
//! from), [`stored`] (the stored values and the error of the database side), [`check`] (one key
//! per database) and [`store`] (the start-up pass, the re-key and the scrub).

pub(crate) mod check;
pub(crate) mod cipher;
pub(crate) mod key;
pub(crate) mod store;
pub(crate) mod stored;
