//! A request that its deadline (REQUEST_DEADLINE) stops while it commits does not strand its
//! events: the commit finishes, and since nobody waits for the hand-over any more, the rows the
//! commit leased to this process's dispatcher are given back at once, so another process's
//! `streamhooks worker` claims and sends them within its poll interval instead of after the lease
//! (here 30 s), as its first attempt, with nothing recorded as interrupted. Both on the shared
//! database (a SQLite file, or PostgreSQL when TEST_DATABASE_URL is set, as `.ci/run` does).
//!
//! The serving process runs a dispatcher (else it would lease nothing) that polls only every
//! minute, so the delivery within the test's seconds normally comes from the other process. It
//! may also come from the serving process's own claim: on a busy machine its first claim, or the
//! wake-up that follows its LISTEN connection, can run after the give-back, and a claim can take
//! the row only once its lease was given back. What the tests pin down is that the event was
//! claimed (the serving process's hand-over count does not move), as attempt 1, within
//! the other process's poll interval. On PostgreSQL both tests strand the event without the
//! give-back. On SQLite a commit is in
//! practice answered within the poll that sends it, so the window is narrow there; the first
//! test still pins down what happens when a request is dropped inside it.

use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};

use entity::ids::{StreamId, UserId};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use streamhooks_api::testkit::process::{self, KillOnDrop};
use streamhooks_api::testkit::{TestDatabase, TestReceiver, TestServer, TestUser};
use streamhooks_worker::handoff::Stash;
use streamhooks_worker::outbox::{emit, Event, Outbox};

const BIN: &str = env!("CARGO_BIN_EXE_streamhooks");
/// The other process's poll interval: the bound on how long given-back rows wait.
const POLL: Duration = Duration::from_millis(300);
const LEASE: &str = "30s";
/// How long the PostgreSQL test's commits take (its trigger's `pg_sleep`).
const SLOW_COMMIT: Duration = Duration::from_millis(1500);

/// The serving process: API and a dispatcher that claims only once a minute.
async fn serving(extra: &[&str]) -> TestServer {
    let db = TestDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut args = vec![
        "--allow-local-network",
        "true",
        "--lease",
        LEASE,
        "--poll-interval",
        "60s",
        "--worker-name",
        "serving-process",
    ];
    args.extend_from_slice(extra);
    TestServer::start_on(db, &args, true).await
}

/// `streamhooks worker` on `server`'s database, polling every [`POLL`].
fn other_worker(server: &TestServer) -> KillOnDrop {
    let poll = format!("{}ms", POLL.as_millis());
    let child = process::worker(BIN, server)
        .args(["--lease", LEASE])
        .args(["--poll-interval", &poll, "--worker-name", "other-process"])
        .spawn()
        .unwrap_or_else(|e| panic!("spawn worker: {e}"));
    KillOnDrop(child)
}

/// A user, a stream and a webhook on it pointing at `rx`, pinged once: the ping is handed to the
/// serving process's dispatcher and sent by it, so that dispatcher has made its first claim (at
/// start) and now waits for its next poll, a minute away.
async fn webhook(server: &TestServer, rx: &TestReceiver) -> (TestUser, String, String) {
    let owner = server.create_user("Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "deadline").await;
    let hook = server
        .create_webhook(&owner, &stream, &rx.url(), &["stream_update"], None)
        .await;
    server.ping(&owner, &stream, &hook, None).await;
    rx.next(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("the ping was not sent"));
    (owner, stream, hook)
}

/// The delivery reaches `rx` within `within` of `since` (the other worker's poll interval and
/// some slack for a busy machine, far below the lease), as attempt 1, and the history records
/// that one attempt, claimed rather than handed over (module docs): a lease taken over when it
/// ran out would have shown an interrupted attempt 1 and sent attempt 2.
async fn delivered_by_a_claim(
    server: &TestServer,
    rx: &TestReceiver,
    (owner, stream, hook): (&TestUser, &str, &str),
    since: Instant,
    within: Duration,
    handed_before: u64,
) {
    let got = rx
        .next(within)
        .await
        .unwrap_or_else(|| panic!("nothing delivered within {within:?}"));
    let waited = since.elapsed();
    assert!(waited < within, "delivered after {waited:?}");
    assert_eq!(
        got.header("x-webhook-attempt"),
        Some("1"),
        "not a lease taken over"
    );
    let h = server
        .wait_for_history(owner, stream, hook, Duration::from_secs(10), |h| {
            h.first().is_some_and(|e| e["status"] == json!(2))
        })
        .await;
    assert_eq!(h.len(), 2, "the ping and the event: {h:?}");
    let d = server
        .gql_ok(
            &owner.token,
            "query($s: String!, $w: String!) { stream(id: $s) { webhooks(id: $w) { items { history { items { attempts { number outcome worker } } } } } } }",
            json!({ "s": stream, "w": hook }),
        )
        .await;
    let items = &d["stream"]["webhooks"]["items"][0]["history"]["items"];
    let attempts = &items[0]["attempts"];
    assert!(
        [json!("other-process"), json!("serving-process")].contains(&attempts[0]["worker"]),
        "{attempts}"
    );
    assert_eq!(
        attempts,
        &json!([{ "number": 1, "outcome": "success", "worker": attempts[0]["worker"] }])
    );
    assert_eq!(
        server.running.state.metrics.taken_count(true),
        handed_before,
        "the event was handed over in memory instead of given back"
    );
    assert_eq!(
        items[1]["attempts"][0]["worker"],
        json!("serving-process"),
        "the ping went through the hand-off"
    );
}

/// The commit of a change that queued an event (leased to the serving process's dispatcher) is
/// stopped while it is in flight: `AppState::commit` is polled once (the commit is under way)
/// and then dropped, as the endpoint drops a request whose REQUEST_DEADLINE passes. On a
/// current-thread runtime, so that nothing else runs between the two. Both backends.
#[tokio::test]
async fn a_commit_stopped_by_its_deadline_gives_its_leases_back_to_any_worker() {
    let server = serving(&[]).await;
    let rx = TestReceiver::start().await;
    let (owner, stream, hook) = webhook(&server, &rx).await;
    let _other = other_worker(&server);
    let st = &server.running.state;
    let handed = st.metrics.taken_count(true);
    {
        let stash = st
            .handoff
            .clone()
            .map(Stash::new)
            .unwrap_or_else(|| panic!("the serving process runs a dispatcher"));
        let txn = st.begin().await.unwrap_or_else(|e| panic!("{e}"));
        let event = Event::new(
            &StreamId::from(stream.as_str()),
            &UserId::from(owner.id.as_str()),
            "stream_update",
            "Stream metadata changed".into(),
            json!({ "old": {}, "new": {} }),
        );
        let out = Outbox::handing_over(&st.server_info, &stash);
        let queued = emit(&txn, &out, &event)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(queued, 1);
        let commit = st.commit(txn, queued, Some(&stash));
        tokio::pin!(commit);
        let first = std::future::poll_fn(|cx| Poll::Ready(commit.as_mut().poll(cx))).await;
        assert!(first.is_pending(), "the commit is under way, not finished");
    }
    let stopped = Instant::now();
    delivered_by_a_claim(
        &server,
        &rx,
        (&owner, &stream, &hook),
        stopped,
        POLL * 5,
        handed,
    )
    .await;
    server.shutdown().await;
}

/// The same through HTTP on PostgreSQL, where a commit can be made slow from outside: a deferred
/// constraint trigger that sleeps runs inside COMMIT, after the request's deadline (500 ms) has
/// answered TIMEOUT. (SQLite has nothing that runs at commit; the test above covers it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_http_a_request_past_its_deadline_after_commit_strands_nothing() {
    let server = serving(&["--request-deadline", "500ms"]).await;
    if !server.db.is_postgres() {
        return;
    }
    let rx = TestReceiver::start().await;
    let (owner, stream, hook) = webhook(&server, &rx).await;
    server
        .running
        .state
        .db
        .execute_unprepared(
            "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN PERFORM pg_sleep(1.5); RETURN NULL; END $$; \
             CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON webhooks_events \
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _other = other_worker(&server);
    let handed = server.running.state.metrics.taken_count(true);
    let answer: Value = server
        .gql(
            Some(&owner.token),
            "mutation($s: StreamUpdateInput!) { streamUpdate(stream: $s) }",
            json!({ "s": { "id": stream, "description": "changed" } }),
        )
        .await;
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        json!("TIMEOUT"),
        "{answer}"
    );
    // The commit ends SLOW_COMMIT after it began, about a second after the answer.
    let answered = Instant::now();
    delivered_by_a_claim(
        &server,
        &rx,
        (&owner, &stream, &hook),
        answered,
        SLOW_COMMIT + POLL * 5,
        handed,
    )
    .await;
    server.shutdown().await;
}
