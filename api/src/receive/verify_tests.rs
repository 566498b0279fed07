//! Unit tests of the receiver's checks, with requests signed here by hand (hex and base64 of
//! `hmac` directly), each check failing on its own.

use axum::http::HeaderValue;

use super::super::report;
use super::*;

fn hmac(key: &str, msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap_or_else(|_| unreachable!());
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

const P: &str = r#"{"event":{"event_name":"stream_update"},"n":"🌻 ünï"}"#;

/// A request as the dispatcher sends it, at Unix time `ts`, signed with `keys` (current first).
fn request(format: Format, keys: &[&str], ts: u64) -> (Vec<u8>, HeaderMap) {
    let body = match format {
        Format::SpeckleString => serde_json::json!({ "payload": P }).to_string(),
        Format::SpeckleObject => format!("{{\"payload\":{P}}}"),
    };
    let speckle = match format {
        Format::SpeckleString => hmac(keys[0], P.as_bytes()),
        Format::SpeckleObject => hmac(keys[0], body.as_bytes()),
    };
    let msg = format!("7.{ts}.{body}");
    let standard: Vec<String> = keys
        .iter()
        .map(|k| format!("v1,{}", STANDARD.encode(hmac(k, msg.as_bytes()))))
        .collect();
    let mut h = HeaderMap::new();
    let mut put = |k: &'static str, v: String| {
        h.insert(
            k,
            HeaderValue::from_str(&v).unwrap_or_else(|e| panic!("{e}")),
        );
    };
    put("x-webhook-signature", hex::encode(speckle));
    put("webhook-id", "7".into());
    put("webhook-timestamp", ts.to_string());
    put("webhook-signature", standard.join(" "));
    (body.into_bytes(), h)
}

fn now() -> (SystemTime, u64) {
    let t = SystemTime::now();
    (
        t,
        t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs(),
    )
}

fn expect(secret: Option<&str>) -> Expect<'_> {
    Expect {
        secret,
        format: None,
        tolerance: Duration::from_secs(300),
    }
}

fn result(v: &Verified, what: &str) -> String {
    v.checks
        .iter()
        .find(|(w, _)| *w == what)
        .map(|(_, r)| r.clone())
        .unwrap_or_default()
}

#[test]
fn both_formats_verify_and_say_which_entry_matched() {
    let (t, ts) = now();
    for format in Format::ALL {
        let (body, h) = request(format, &["n3w", "0ld"], ts);
        for (secret, entry, speckle) in [
            ("n3w", "entry 1 of 2", "ok: "),
            (
                "0ld",
                "entry 2 of 2",
                "does not match with --secret (it is always the current",
            ),
        ] {
            let v = check(&body, &h, &expect(Some(secret)), t)
                .unwrap_or_else(|r| panic!("{format} {secret}: {r:?}"));
            assert_eq!(v.format, format);
            assert_eq!(v.payload["n"], "🌻 ünï");
            assert!(v.signed);
            assert!(result(&v, "webhook-signature").contains(entry), "{v:?}");
            assert!(
                result(&v, "X-WEBHOOK-SIGNATURE").starts_with(speckle),
                "{v:?}"
            );
            assert!(result(&v, "webhook-timestamp").starts_with("ok: "));
            assert_eq!(result(&v, "format"), format!("{format} (detected)"));
            assert_eq!(v.checks[1].0, "X-WEBHOOK-SIGNATURE");
        }
        // Without the Standard Webhooks headers the old secret is refused: only
        // X-WEBHOOK-SIGNATURE is left, and it is the new secret's.
        let mut bare = h.clone();
        for n in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            bare.remove(n);
        }
        assert!(matches!(
            check(&body, &bare, &expect(Some("0ld")), t),
            Err(Refusal::BadSignature(_))
        ));
        // Signed by the previous secret only (the current one moved on): entry 2 matches.
        let (body, mut h) = request(format, &["other", "0ld"], ts);
        let (_, h_old) = request(format, &["0ld"], ts);
        h.insert("x-webhook-signature", h_old["x-webhook-signature"].clone());
        let v = check(&body, &h, &expect(Some("0ld")), t).unwrap_or_else(|r| panic!("{r:?}"));
        assert!(result(&v, "webhook-signature").contains("entry 2 of 2"));
    }
}

#[test]
fn wrong_secrets_stale_timestamps_and_odd_bodies_are_refused() {
    let (t, ts) = now();
    let (body, h) = request(Format::SpeckleObject, &["s"], ts);
    let refused = |b: &[u8], h: &HeaderMap, e: &Expect<'_>| check(b, h, e, t).map(|_| ());
    assert!(matches!(
        refused(&body, &h, &expect(Some("wrong"))),
        Err(Refusal::BadSignature(_))
    ));
    // A correct X-WEBHOOK-SIGNATURE but a forged webhook-signature.
    let mut forged = h.clone();
    forged.insert(
        "webhook-signature",
        HeaderValue::from_static("v1,AAAA v2,xyz"),
    );
    assert_eq!(
        refused(&body, &forged, &expect(Some("s"))),
        Err(Refusal::BadSignature(
            "webhook-signature: none of its 1 v1 entries is the HMAC-SHA256 of \
             \"id.timestamp.body\" with --secret"
                .into()
        ))
    );
    // A replay: genuinely signed, six minutes ago.
    let (old_body, old_h) = request(Format::SpeckleObject, &["s"], ts - 360);
    assert_eq!(
        refused(&old_body, &old_h, &expect(Some("s"))),
        Err(Refusal::Stale(format!(
            "webhook-timestamp {} is 6m old, beyond the 5m tolerance: a replay, or a clock far off",
            ts - 360
        )))
    );
    assert!(matches!(
        refused(&old_body, &old_h, &expect(None)),
        Err(Refusal::Stale(_))
    ));
    let (new_body, new_h) = request(Format::SpeckleObject, &["s"], ts + 3600);
    assert!(matches!(
        refused(&new_body, &new_h, &expect(Some("s"))),
        Err(Refusal::Stale(_))
    ));
    // Some Standard Webhooks headers but not all.
    let mut partial = h.clone();
    partial.remove("webhook-id");
    assert_eq!(
        refused(&body, &partial, &expect(None)),
        Err(Refusal::Malformed(
            "incomplete Standard Webhooks headers: webhook-id missing".into()
        ))
    );
    // --format that does not match the body.
    let strict = Expect {
        format: Some(Format::SpeckleString),
        ..expect(Some("s"))
    };
    assert!(matches!(
        refused(&body, &h, &strict),
        Err(Refusal::Malformed(m)) if m == "the body is speckle-object, not the speckle-string that --format asks for"
    ));
    for bad in [
        &b"nope"[..],
        br#"{"payload": 3}"#,
        br#"{"payload": "{nope"}"#,
    ] {
        assert!(matches!(
            refused(bad, &HeaderMap::new(), &expect(None)),
            Err(Refusal::Malformed(_))
        ));
    }
}

#[test]
fn speckle_requests_without_standard_headers_pass_and_say_so() {
    let (t, ts) = now();
    let (body, mut h) = request(Format::SpeckleString, &["s"], ts);
    for n in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        h.remove(n);
    }
    let v = check(&body, &h, &expect(Some("s")), t).unwrap_or_else(|r| panic!("{r:?}"));
    assert!(result(&v, "webhook-signature").starts_with("absent"));
    let printed = report(&v, "stream_update", "7", StatusCode::OK);
    assert!(
        printed
            .starts_with("--- stream_update (delivery 7, speckle-string, signature ok) -> 200\n"),
        "{printed}"
    );
    let v = check(&body, &h, &expect(None), t).unwrap_or_else(|r| panic!("{r:?}"));
    assert!(!v.signed);
    assert_eq!(span(300), "5m");
    assert_eq!(span(3725), "1h 2m");
}
