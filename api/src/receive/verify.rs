//! The checks `streamhooks receive` makes on one request, written from the receiver's side
//! (as seed 000, Speckle's docs and the Standard Webhooks libraries do them), independently of
//! the dispatcher's signing code:
//! - the body: `{"payload":"<json string>"}` (`speckle-string`) or `{"payload":{…}}`
//!   (`speckle-object`), detected unless `--format` names one;
//! - `X-WEBHOOK-SIGNATURE`: hex HMAC-SHA256 with the secret over the payload string, or over the
//!   raw body for `speckle-object`;
//! - `webhook-id` / `webhook-timestamp` / `webhook-signature`: the timestamp within the
//!   tolerance (a replay is refused), and one of the space-separated `v1,<base64>` entries the
//!   HMAC of `id.timestamp.body` under the secret's UTF-8 bytes.
//!
//! The decision a reader may question: a request with none of the Standard Webhooks headers is
//! accepted (and says so), because Speckle servers send none and this receiver stands in for
//! their subscribers too; a request with only some of them is refused, since no sender does that.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use streamhooks_worker::wire::Format;

/// What to check a request against.
#[derive(Clone, Debug)]
pub struct Expect<'a> {
    /// Verify signatures with this secret; `None` checks no signature.
    pub secret: Option<&'a str>,
    /// The body format required; `None` accepts either and says which it was.
    pub format: Option<Format>,
    /// How far `webhook-timestamp` may be from now, either way.
    pub tolerance: Duration,
}

/// A request that passed.
#[derive(Debug)]
pub struct Verified {
    pub payload: Value,
    pub format: Format,
    /// One line per check: (what, result), e.g. ("X-WEBHOOK-SIGNATURE", "ok: …").
    pub checks: Vec<(&'static str, String)>,
    /// Every signature present was verified with the secret.
    pub signed: bool,
}

/// Why a request was refused; the status it gets and the sentence printed.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Malformed(String),
    BadSignature(String),
    /// A timestamp outside the tolerance: a replay, or a sender's clock far off.
    Stale(String),
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::BadSignature(_) | Self::Stale(_) => StatusCode::UNAUTHORIZED,
        }
    }

    pub fn sentence(&self) -> &str {
        match self {
            Self::Malformed(s) | Self::BadSignature(s) | Self::Stale(s) => s,
        }
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether `given` is the HMAC-SHA256 under `key` of `parts` concatenated (compared in constant
/// time).
fn verify(key: &[u8], parts: &[&[u8]], given: &[u8]) -> bool {
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(key) else {
        return false;
    };
    for p in parts {
        m.update(p);
    }
    m.verify_slice(given).is_ok()
}

/// `12s`, `3m 20s`, `2h 5m`: how far a timestamp is from now.
pub fn span(secs: u64) -> String {
    let (big, small, unit, sub) = match secs {
        s if s < 60 => return format!("{s}s"),
        s if s < 3600 => (s / 60, s % 60, "m", "s"),
        s => (s / 3600, s % 3600 / 60, "h", "m"),
    };
    if small == 0 {
        format!("{big}{unit}")
    } else {
        format!("{big}{unit} {small}{sub}")
    }
}

/// Checks one request received at `now`.
pub fn check(
    body: &[u8],
    headers: &HeaderMap,
    expect: &Expect<'_>,
    now: SystemTime,
) -> Result<Verified, Refusal> {
    let mut checks = Vec::new();
    let mut outer: Value = serde_json::from_slice(body)
        .map_err(|e| Refusal::Malformed(format!("the body is not JSON: {e}")))?;
    let (format, payload_text, payload) = match outer.get_mut("payload").map(Value::take) {
        Some(Value::String(p)) => {
            let v = serde_json::from_str(&p)
                .map_err(|e| Refusal::Malformed(format!("the payload string is not JSON: {e}")))?;
            (Format::SpeckleString, Some(p), v)
        }
        Some(v @ Value::Object(_)) => (Format::SpeckleObject, None, v),
        _ => {
            return Err(Refusal::Malformed(
                "the body has no \"payload\" string or object".into(),
            ))
        }
    };
    match expect.format {
        Some(f) if f != format => {
            return Err(Refusal::Malformed(format!(
                "the body is {format}, not the {f} that --format asks for"
            )))
        }
        Some(_) => checks.push(("format", format!("ok: {format}"))),
        None => checks.push(("format", format!("{format} (detected)"))),
    }

    // X-WEBHOOK-SIGNATURE: over the payload string, or the raw body for speckle-object.
    let signed_part = payload_text.as_deref().map_or(body, str::as_bytes);
    let over = match format {
        Format::SpeckleString => "hex HMAC-SHA256 of the payload string",
        Format::SpeckleObject => "hex HMAC-SHA256 of the raw body",
    };
    let speckle = expect.secret.map(|secret| {
        header(headers, "x-webhook-signature").map(|given| {
            hex::decode(given.trim()).is_ok_and(|g| verify(secret.as_bytes(), &[signed_part], &g))
        })
    });
    let standard = standard(body, headers, expect, now, &mut checks)?;
    // During a rotation X-WEBHOOK-SIGNATURE is the new secret's while the Standard Webhooks
    // signature carries the old one's too; a matching `webhook-signature` (which also covers the
    // id and the timestamp) is enough then. Without it, X-WEBHOOK-SIGNATURE must match.
    let line =
        match (speckle, standard) {
            (None, _) => "not checked (no --secret)".to_owned(),
            (Some(Some(true)), _) => format!("ok: {over}"),
            (Some(found), Standard::Verified) => {
                format!(
            "{} with --secret (it is always the current secret's; webhook-signature matched)",
            if found.is_some() { "does not match" } else { "missing" }
        )
            }
            (Some(None), _) => {
                return Err(Refusal::BadSignature(
                    "X-WEBHOOK-SIGNATURE is missing".into(),
                ))
            }
            (Some(Some(false)), _) => {
                return Err(Refusal::BadSignature(format!(
                    "X-WEBHOOK-SIGNATURE is not the {over} with --secret"
                )))
            }
        };
    checks.insert(1, ("X-WEBHOOK-SIGNATURE", line));
    Ok(Verified {
        payload,
        format,
        checks,
        signed: expect.secret.is_some(),
    })
}

/// What the Standard Webhooks headers came to (refusals are errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standard {
    Absent,
    Unchecked,
    Verified,
}

/// The Standard Webhooks headers: timestamp, then signatures.
fn standard(
    body: &[u8],
    headers: &HeaderMap,
    expect: &Expect<'_>,
    now: SystemTime,
    checks: &mut Vec<(&'static str, String)>,
) -> Result<Standard, Refusal> {
    let names = ["webhook-id", "webhook-timestamp", "webhook-signature"];
    let [id, ts, sig] = names.map(|n| header(headers, n));
    let (id, ts, sig) = match (id, ts, sig) {
        (Some(id), Some(ts), Some(sig)) => (id, ts, sig),
        (None, None, None) => {
            checks.push((
                "webhook-signature",
                "absent (no Standard Webhooks headers; Speckle servers send none)".into(),
            ));
            return Ok(Standard::Absent);
        }
        found => {
            let missing: Vec<&str> = [found.0, found.1, found.2]
                .iter()
                .zip(names)
                .filter(|(v, _)| v.is_none())
                .map(|(_, n)| n)
                .collect();
            return Err(Refusal::Malformed(format!(
                "incomplete Standard Webhooks headers: {} missing",
                missing.join(" and ")
            )));
        }
    };
    let sent: i64 = ts
        .trim()
        .parse()
        .map_err(|_| Refusal::Malformed(format!("webhook-timestamp {ts:?} is not Unix seconds")))?;
    let now_s = i64::try_from(now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs())
        .unwrap_or(i64::MAX);
    let tolerance = i64::try_from(expect.tolerance.as_secs()).unwrap_or(i64::MAX);
    let age = now_s.saturating_sub(sent);
    let tol = span(expect.tolerance.as_secs());
    if age > tolerance {
        return Err(Refusal::Stale(format!(
            "webhook-timestamp {sent} is {} old, beyond the {tol} tolerance: a replay, or a clock far off",
            span(age.unsigned_abs())
        )));
    }
    if -age > tolerance {
        return Err(Refusal::Stale(format!(
            "webhook-timestamp {sent} is {} in the future, beyond the {tol} tolerance",
            span(age.unsigned_abs())
        )));
    }
    let when = if age >= 0 { "old" } else { "ahead" };
    checks.push((
        "webhook-timestamp",
        format!("ok: {} {when}, within {tol}", span(age.unsigned_abs())),
    ));

    let Some(secret) = expect.secret else {
        checks.push(("webhook-signature", "not checked (no --secret)".into()));
        return Ok(Standard::Unchecked);
    };
    let entries: Vec<&str> = sig.split(' ').filter(|e| !e.is_empty()).collect();
    let mut v1 = 0;
    for (i, entry) in entries.iter().enumerate() {
        let Some(b64) = entry.strip_prefix("v1,") else {
            continue;
        };
        v1 += 1;
        let Ok(given) = STANDARD.decode(b64) else {
            continue;
        };
        let message = [id.as_bytes(), b".", ts.as_bytes(), b".", body];
        if verify(secret.as_bytes(), &message, &given) {
            checks.push((
                "webhook-signature",
                format!(
                    "ok: entry {} of {} matches (webhook-id {id})",
                    i + 1,
                    entries.len()
                ),
            ));
            return Ok(Standard::Verified);
        }
    }
    Err(Refusal::BadSignature(format!(
        "webhook-signature: none of its {v1} v1 entries is the HMAC-SHA256 of \
         \"id.timestamp.body\" with --secret"
    )))
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
