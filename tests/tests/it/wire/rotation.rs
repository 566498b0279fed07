//! Secret rotation with grace, as receivers see it: after a change both the old and the new
//! secret verify with the official libraries (two `v1,` entries), `X-WEBHOOK-SIGNATURE` is the
//! new secret's only, a second change keeps only the secret it replaced, setting the same secret
//! again changes nothing, clearing the secret ends the grace, and a zero grace keeps nothing.

use std::time::Duration;

use serde_json::json;
use streamhooks_api::testkit::{Received, TestReceiver, TestServer, TestUser, TEST_ARGS};

use super::{assert_verdicts, header, python, verify, Check};

const UPDATE: &str = "mutation($w: WebhookUpdateInput!) { webhookUpdate(webhook: $w) }";
const PING: &str = "mutation($w: WebhookPingInput!) { webhookPing(webhook: $w) }";

struct Hook<'a> {
    server: &'a TestServer,
    owner: &'a TestUser,
    stream: &'a str,
    id: String,
    receiver: TestReceiver,
}

impl Hook<'_> {
    async fn set_secret(&self, secret: &str) {
        self.server
            .gql_ok(
                &self.owner.token,
                UPDATE,
                json!({ "w": { "id": self.id, "streamId": self.stream, "secret": secret } }),
            )
            .await;
    }

    /// Sends a ping and returns the request the receiver got.
    async fn ping(&self) -> Received {
        self.server
            .gql_ok(
                &self.owner.token,
                PING,
                json!({ "w": { "id": self.id, "streamId": self.stream } }),
            )
            .await;
        self.receiver
            .next(Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("the ping was not delivered"))
    }
}

async fn hook<'a>(
    server: &'a TestServer,
    owner: &'a TestUser,
    stream: &'a str,
    format: &str,
    secret: &str,
) -> Hook<'a> {
    let receiver = TestReceiver::start().await;
    let input = json!({ "streamId": stream, "url": receiver.url(), "triggers": ["stream_update"],
                        "secret": secret, "format": format });
    let id = server.create_webhook_with(owner, input).await;
    Hook {
        server,
        owner,
        stream,
        id,
        receiver,
    }
}

/// A captured request, named, with each check and whether it should accept the request.
type Case<'a> = (&'a str, &'a Received, Vec<(Check, bool)>);

fn entries(r: &Received) -> usize {
    header(r, "webhook-signature").split(' ').count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_and_new_secrets_both_verify_during_the_grace() {
    let Some(python) = python() else { return };
    let server = TestServer::start().await;
    let owner = server.create_user("Owner Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "Rotation 🔁").await;
    let (a, b, c) = ("first secret", "second 🔑", "third ünï");
    for format in ["speckle-string", "speckle-object"] {
        // The speckle check each format's receivers run on X-WEBHOOK-SIGNATURE.
        let x = |secret: &str| match format {
            "speckle-string" => Check::seed000(secret),
            _ => Check::speckle(secret),
        };
        let std = |secret: &str| Check::library("standardwebhooks", secret, "whsec");
        let svix = |secret: &str| Check::library("svix", secret, "whsec");
        let h = hook(&server, &owner, &stream, format, a).await;
        let r1 = h.ping().await;
        h.set_secret(b).await;
        let r2 = h.ping().await;
        h.set_secret(c).await;
        let r3 = h.ping().await;
        h.set_secret(c).await;
        let r4 = h.ping().await;
        h.set_secret("").await;
        let r5 = h.ping().await;
        assert_eq!(
            [&r1, &r2, &r3, &r4, &r5].map(entries),
            [1, 2, 2, 2, 1],
            "{format}: webhook-signature entries"
        );

        let cases: Vec<Case<'_>> = vec![
            (
                "before any change",
                &r1,
                vec![
                    (x(a), true),
                    (std(a), true),
                    (svix(a), true),
                    (std(b), false),
                ],
            ),
            (
                "after the first change",
                &r2,
                vec![
                    (x(b), true),
                    (x(a), false),
                    (std(a), true),
                    (std(b), true),
                    (svix(a), true),
                    (svix(b), true),
                    (Check::library("standardwebhooks", a, "bytes"), true),
                    (Check::library("svix", b, "base64"), true),
                    (Check::replay("standardwebhooks", a), false),
                    (Check::replay("svix", b), false),
                ],
            ),
            (
                "after a second change within the grace",
                &r3,
                vec![
                    (x(c), true),
                    (x(b), false),
                    (std(c), true),
                    (std(b), true),
                    (svix(b), true),
                    (std(a), false),
                    (svix(a), false),
                ],
            ),
            (
                "after setting the same secret again",
                &r4,
                vec![
                    (x(c), true),
                    (std(c), true),
                    (svix(b), true),
                    (std(a), false),
                ],
            ),
            (
                "after clearing the secret",
                &r5,
                vec![
                    (x(""), true),
                    (x(c), false),
                    (std(c), false),
                    (std(b), false),
                    (svix(b), false),
                ],
            ),
        ];
        let jobs: Vec<(&str, &Received, Vec<Check>)> = cases
            .iter()
            .map(|(n, r, cs)| (*n, *r, cs.iter().map(|(c, _)| c.clone()).collect()))
            .collect();
        let verdicts = verify(&python, &jobs).await;
        for ((name, _, cs), v) in cases.iter().zip(&verdicts) {
            let (checks, expected): (Vec<Check>, Vec<bool>) = cs.iter().cloned().unzip();
            assert_verdicts(&format!("{format}, {name}"), &checks, v, &expected);
        }
        let replays = &verdicts[1][8..];
        assert!(
            replays
                .iter()
                .all(|v| v.error.contains("Message timestamp too old")),
            "{replays:?}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_grace_keeps_no_previous_secret() {
    let Some(python) = python() else { return };
    let mut args = TEST_ARGS.to_vec();
    args.extend(["--secret-rotation-grace", "0s"]);
    let server = TestServer::start_with(&args, true).await;
    let owner = server.create_user("Owner Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "No grace").await;
    let h = hook(&server, &owner, &stream, "speckle-object", "old").await;
    h.set_secret("new").await;
    let r = h.ping().await;
    assert_eq!(entries(&r), 1);
    let checks = vec![
        Check::library("standardwebhooks", "new", "whsec"),
        Check::library("standardwebhooks", "old", "whsec"),
        Check::library("svix", "old", "whsec"),
    ];
    let v = verify(&python, &[("zero grace", &r, checks.clone())]).await;
    assert_verdicts("zero grace", &checks, &v[0], &[true, false, false]);
    server.shutdown().await;
}
