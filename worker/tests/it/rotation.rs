//! The dispatcher's side of formats and rotation, on both databases: a `speckle-object` row is
//! sent as `{"payload":<P>}` signed over the raw body; a previous secret signs while its stored
//! grace lasts and not after; retention erases previous secrets whose grace is over. Signatures
//! are computed here with `hmac` directly.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Utc;
use entity::webhook_config;
use hmac::{Hmac, Mac};
use sea_orm::{ActiveModelTrait, Set};
use sha2::Sha256;
use streamhooks_worker::retention;
use tokio_util::sync::CancellationToken;

use crate::common::*;

fn hmac(key: &str, msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn v1(key: &str, hit: &Received) -> String {
    let msg = [
        hit.header("webhook-id").unwrap_or("").as_bytes(),
        b".",
        hit.header("webhook-timestamp").unwrap_or("").as_bytes(),
        b".",
        &hit.body,
    ]
    .concat();
    format!("v1,{}", STANDARD.encode(hmac(key, &msg)))
}

/// Sets the webhook's format and previous secret (sealed like the API seals it).
async fn configure(
    db: &sea_orm::DatabaseConnection,
    hook: &webhook_config::Model,
    format: &str,
    previous: Option<(&str, i64)>,
) {
    let mut am: webhook_config::ActiveModel = hook.clone().into();
    am.format = Set(format.to_owned());
    am.previous_secret = Set(previous.map(|(p, _)| key().seal(p).expect("seal")));
    am.previous_secret_expires_at = Set(previous.map(|(_, until)| until));
    am.update(db).await.expect("update webhook");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_bodies_and_the_previous_secret_during_its_grace_only() {
    for t in databases().await {
        let db = &t.db;
        let rx = TestReceiver::start().await;
        let s = insert_stream(db).await;
        let hook = insert_webhook(db, &s, &rx.url(), Some("new 🔑")).await;
        assert_eq!(hook.format, "speckle-string", "the column's default");
        let w = start(db, config());
        let now = Utc::now().timestamp_millis();
        let payload = r#"{"a":"ünï 🌻","b":[1,2.5,null]}"#;

        // speckle-object, previous secret still in its grace: two entries, current first.
        configure(db, &hook, "speckle-object", Some(("old", now + 60_000))).await;
        let id = insert_event(db, &hook, payload).await;
        w.notifier.wake();
        let hit = rx.expect_next(Duration::from_secs(10)).await;
        assert_eq!(hit.body, format!("{{\"payload\":{payload}}}").as_bytes());
        assert_eq!(
            hit.header("x-webhook-signature"),
            Some(hex::encode(hmac("new 🔑", &hit.body)).as_str()),
            "over the raw body, with the current secret"
        );
        assert_eq!(hit.header("webhook-id"), Some(id.to_string().as_str()));
        assert_eq!(
            hit.header("webhook-signature"),
            Some(format!("{} {}", v1("new 🔑", &hit), v1("old", &hit)).as_str()),
            "{}",
            t.name
        );
        assert_eq!(wait_finished(db, id).await.status, 2);

        // The grace is over: the previous secret no longer signs.
        configure(db, &hook, "speckle-string", Some(("old", now - 1))).await;
        let id = insert_event(db, &hook, payload).await;
        w.notifier.wake();
        let hit = rx.expect_next(Duration::from_secs(10)).await;
        assert_eq!(
            hit.body,
            serde_json::json!({ "payload": payload })
                .to_string()
                .as_bytes()
        );
        assert_eq!(
            hit.header("x-webhook-signature"),
            Some(hex::encode(hmac("new 🔑", payload.as_bytes())).as_str())
        );
        assert_eq!(
            hit.header("webhook-signature"),
            Some(v1("new 🔑", &hit).as_str())
        );
        assert_eq!(wait_finished(db, id).await.status, 2);
        w.stop().await;

        // Retention erases the expired previous secret and keeps one still in its grace.
        let other = insert_webhook(db, &s, &rx.url(), Some("x")).await;
        configure(db, &other, "speckle-string", Some(("kept", now + 60_000))).await;
        retention::run_once(db, &config(), 100, &CancellationToken::new())
            .await
            .expect("retention pass");
        let expired = webhook(db, &hook.id).await;
        assert_eq!(
            (expired.previous_secret, expired.previous_secret_expires_at),
            (None, None)
        );
        let kept = webhook(db, &other.id).await;
        assert_eq!(
            kept.previous_secret
                .as_deref()
                .map(|p| key().open(p).expect("opens")),
            Some("kept".to_owned())
        );
        t.cleanup().await;
    }
}
