//! Unit tests of [`super`]: the bodies of both formats byte for byte, and every signature checked
//! with `hmac` and `base64` directly rather than through `sign`, so a bug there cannot hide.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::*;

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn payloads() -> Vec<String> {
    vec![
        serde_json::json!({"streamId": "s", "event": {"event_name": "stream_update", "data": {"n": 1.5, "big": 12_345_678_901_u64}}}).to_string(),
        serde_json::json!({"name": "Ünïcødé – ñandú, 日本語, \u{2028}\u{7f}\u{1f} \"q\" \\ 🌻👩‍👩‍👧‍👦"}).to_string(),
        serde_json::json!({"description": "x".repeat(1 << 20)}).to_string(),
    ]
}

fn key() -> Secrets {
    Secrets::new(&[9; 32])
}

fn webhook(format: &str, secret: Option<&str>, previous: Option<(&str, i64)>) -> Endpoint {
    let k = key();
    let seal = |s: &str| k.seal(s).unwrap_or_default();
    Endpoint {
        id: "w1".into(),
        url: "http://127.0.0.1:1/".into(),
        secret: secret.map(seal),
        enabled: true,
        disabled_reason: None,
        format: format.into(),
        previous_secret: previous.map(|(p, _)| seal(p)),
        previous_secret_expires_at: previous.map(|(_, until)| until),
    }
}

fn header<'a>(h: &'a Headers, name: &str) -> &'a str {
    let mut found = h.iter().filter(|(n, _)| n.as_str() == name);
    let first = found
        .next()
        .and_then(|(_, v)| v.to_str().ok())
        .unwrap_or("");
    assert!(found.next().is_none(), "{name} sent once");
    first
}

#[test]
fn bodies_are_serde_json_bytes_of_either_shape() {
    for p in payloads() {
        let string = body(Format::SpeckleString, &p).unwrap_or_default();
        assert_eq!(
            string,
            serde_json::json!({ "payload": p }).to_string().as_bytes(),
            "speckle-string"
        );
        let value: serde_json::Value = serde_json::from_str(&p).unwrap_or_default();
        let object = body(Format::SpeckleObject, &p).unwrap_or_default();
        assert_eq!(
            object,
            serde_json::json!({ "payload": value })
                .to_string()
                .as_bytes(),
            "speckle-object"
        );
        assert_eq!(object.len(), p.len() + 12);
    }
}

#[test]
fn formats_parse_by_name_only() {
    assert_eq!("speckle-object".parse(), Ok(Format::SpeckleObject));
    assert_eq!("speckle-string".parse(), Ok(Format::SpeckleString));
    let err = "Speckle-Object"
        .parse::<Format>()
        .expect_err("case matters");
    assert_eq!(
        err,
        "Unknown webhook format \"Speckle-Object\"; valid formats are: speckle-string, speckle-object"
    );
    assert_eq!(Format::default(), Format::SpeckleString);
}

#[test]
fn every_header_signs_what_the_receiver_gets() {
    let now = SystemTime::now();
    let ts = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let later = Utc::now().timestamp_millis() + 60_000;
    for format in Format::ALL {
        for p in payloads() {
            let w = webhook(format.as_str(), Some("n3w 🔑"), Some(("0ld", later)));
            let d = Delivery {
                id: 42,
                event_name: "stream_update",
                attempt: 3,
                payload: &p,
            };
            let out = prepare(&key(), &w, &d, now).unwrap_or_else(|e| panic!("{e:?}"));
            let h = &out.headers;
            assert_eq!(out.body, body(format, &p).unwrap_or_default());
            assert_eq!(header(h, "content-type"), "application/json");
            assert_eq!(header(h, "x-webhook-delivery"), "42");
            assert_eq!(header(h, "x-webhook-event"), "stream_update");
            assert_eq!(header(h, "x-webhook-attempt"), "3");
            assert_eq!(header(h, "webhook-id"), "42");
            assert_eq!(header(h, "webhook-timestamp"), ts.to_string());
            let signed = match format {
                Format::SpeckleString => p.as_bytes(),
                Format::SpeckleObject => &out.body,
            };
            assert_eq!(
                header(h, "x-webhook-signature"),
                hex::encode(hmac("n3w 🔑".as_bytes(), signed)),
                "{format}: the current secret only"
            );
            let msg = [b"42.", ts.to_string().as_bytes(), b".", &out.body].concat();
            let expected = format!(
                "v1,{} v1,{}",
                STANDARD.encode(hmac("n3w 🔑".as_bytes(), &msg)),
                STANDARD.encode(hmac(b"0ld", &msg))
            );
            assert_eq!(header(h, "webhook-signature"), expected, "{format}");
        }
    }
}

#[test]
fn the_previous_secret_signs_only_during_its_grace_and_never_without_a_secret() {
    let now = SystemTime::now();
    let now_ms = Utc::now().timestamp_millis();
    let entries = |w: &Endpoint| {
        let d = Delivery {
            id: 1,
            event_name: "stream_update",
            attempt: 1,
            payload: "{}",
        };
        let out = prepare(&key(), w, &d, now).unwrap_or_else(|e| panic!("{e:?}"));
        header(&out.headers, "webhook-signature").split(' ').count()
    };
    let fmt = "speckle-string";
    assert_eq!(
        entries(&webhook(fmt, Some("b"), Some(("a", now_ms + 5_000)))),
        2
    );
    assert_eq!(
        entries(&webhook(fmt, Some("b"), Some(("a", now_ms - 5_000)))),
        1
    );
    assert_eq!(entries(&webhook(fmt, Some("b"), None)), 1);
    // Cleared secret: no previous, whatever the row holds; the empty key signs.
    let cleared = webhook(fmt, None, Some(("a", now_ms + 5_000)));
    assert_eq!(entries(&cleared), 1);
    let keys = Keys::open(&key(), &cleared, now_ms).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((keys.current.as_str(), keys.previous), ("", None));
    // The same secret set again is one entry, not two equal ones.
    assert_eq!(
        entries(&webhook(fmt, Some("a"), Some(("a", now_ms + 5_000)))),
        1
    );
    // A previous secret sealed under another key is left out; the current one still signs.
    let mut other = webhook(fmt, Some("b"), None);
    other.previous_secret = Some(Secrets::new(&[1; 32]).seal("a").unwrap_or_default());
    other.previous_secret_expires_at = Some(now_ms + 5_000);
    assert_eq!(entries(&other), 1);
    let later = now + Duration::from_secs(10);
    let d = Delivery {
        id: 1,
        event_name: "stream_update",
        attempt: 1,
        payload: "{}",
    };
    let w = webhook(fmt, Some("b"), Some(("a", now_ms + 5_000)));
    let out = prepare(&key(), &w, &d, later).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        header(&out.headers, "webhook-signature").split(' ').count(),
        1
    );
}

#[test]
fn unknown_formats_and_unreadable_secrets_are_not_sent() {
    let d = Delivery {
        id: 1,
        event_name: "stream_update",
        attempt: 1,
        payload: "{}",
    };
    let e = prepare(&key(), &webhook("nope", None, None), &d, SystemTime::now())
        .map(|_| ())
        .expect_err("not sendable");
    assert_eq!(e.outcome, Outcome::NotSent);
    assert!(
        e.message.contains("speckle-string, speckle-object"),
        "{}",
        e.message
    );
    let mut w = webhook("speckle-object", None, None);
    w.secret = Some(Secrets::new(&[1; 32]).seal("s").unwrap_or_default());
    let e = prepare(&key(), &w, &d, SystemTime::now())
        .map(|_| ())
        .expect_err("not sendable");
    assert!(
        e.retryable && e.message.starts_with("Not sent:"),
        "{}",
        e.message
    );
}
