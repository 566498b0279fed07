//! Outbound safety: with local network not allowed, nothing private is contacted, and the
//! recorded sentence says how to allow it.

use streamhooks_worker::metrics::Outcome;
use streamhooks_worker::WorkerConfig;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_destinations_are_refused_unless_allowed() {
    for t in databases().await {
        let db = &t.db;
        let rx = TestReceiver::start().await;
        let port = rx.addr.port();
        let s = insert_stream(db).await;
        let cases = [
            (
                format!("http://127.0.0.1:{port}/hook"),
                "Blocked: 127.0.0.1 is a loopback address",
            ),
            (
                "http://10.0.0.1/hook".to_owned(),
                "Blocked: 10.0.0.1 is a private address",
            ),
            (
                "http://169.254.169.254/latest/meta-data".to_owned(),
                "Blocked: 169.254.169.254 is a link-local address",
            ),
            (
                format!("http://[::1]:{port}/hook"),
                "Blocked: ::1 is a loopback address",
            ),
            (
                format!("http://[::ffff:127.0.0.1]:{port}/hook"),
                "Blocked: ::ffff:127.0.0.1 is a loopback address",
            ),
            (
                format!("http://localhost:{port}/hook"),
                "Blocked: localhost resolves to ",
            ),
        ];
        let cfg = WorkerConfig {
            allow_local_network: false,
            ..config()
        };
        let w = start(db, cfg);
        let mut ids = Vec::new();
        for (url, _) in &cases {
            let hook = insert_webhook(db, &s, url, None).await;
            ids.push(insert_event(db, &hook, "{}").await);
        }
        w.notifier.wake();
        for (id, (url, expected)) in ids.iter().zip(&cases) {
            let e = wait_finished(db, *id).await;
            assert_eq!(e.status, 3, "{url} on {}: {}", t.name, e.status_info);
            assert!(
                e.status_info.starts_with(expected),
                "{url}: {}",
                e.status_info
            );
            assert!(
                e.status_info.contains(
                    "set ALLOW_LOCAL_NETWORK=true or add it to ALLOWED_CIDRS to allow it."
                ),
                "{}",
                e.status_info
            );
            assert_eq!(e.retry_count, 0, "a blocked destination is not retried");
        }
        let metrics = w.metrics.clone();
        w.stop().await;
        assert_eq!(metrics.count(Outcome::Blocked), cases.len() as u64);
        assert!(
            rx.drain().await.is_empty(),
            "the loopback receiver was never contacted"
        );

        // The same destinations pass once their network is on the allow-list: the literal and
        // the name (whose ::1 answer is dropped, its 127.0.0.1 answer kept).
        let cfg = WorkerConfig {
            allow_local_network: false,
            allowed_cidrs: vec!["127.0.0.0/8".parse().expect("cidr")],
            ..config()
        };
        let w = start(db, cfg);
        for url in [
            format!("http://127.0.0.1:{port}/hook"),
            format!("http://localhost:{port}/hook"),
        ] {
            let hook = insert_webhook(db, &s, &url, None).await;
            let e = deliver_once(db, &w, &rx, &hook).await;
            assert_eq!(e.status, 2, "{url}: {}", e.status_info);
        }
        w.stop().await;
        t.cleanup().await;
    }
}

/// IPv6 forms that reach an IPv4 host through a translator or a tunnel: the well-known NAT64
/// prefix is judged by the IPv4 address inside it; SIIT, local-use NAT64 and Teredo addresses are
/// not public whatever they embed. All are IP literals, so they are refused before any connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn translated_and_tunnelled_ipv6_destinations_are_refused() {
    for t in databases().await {
        let db = &t.db;
        let rx = TestReceiver::start().await;
        let port = rx.addr.port();
        let s = insert_stream(db).await;
        let cases = [
            (
                format!("http://[::ffff:0:7f00:1]:{port}/hook"),
                "Blocked: ::ffff:0:7f00:1 is an IPv4-translated (SIIT, ::ffff:0:0:0/96) address",
            ),
            (
                format!("http://[64:ff9b:1::7f00:1]:{port}/hook"),
                "Blocked: 64:ff9b:1::7f00:1 is a local-use NAT64 (64:ff9b:1::/48) address",
            ),
            (
                "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook".to_owned(),
                "Blocked: 2001:0:4136:e378:8000:63bf:3fff:fdd2 is a Teredo (2001::/32) address",
            ),
            (
                format!("http://[64:ff9b::7f00:1]:{port}/hook"),
                "Blocked: 64:ff9b::7f00:1 is a loopback address",
            ),
            (
                "http://[64:ff9b::a9fe:a9fe]/latest/meta-data".to_owned(),
                "Blocked: 64:ff9b::a9fe:a9fe is a link-local address",
            ),
        ];
        let w = start(
            db,
            WorkerConfig {
                allow_local_network: false,
                ..config()
            },
        );
        let mut ids = Vec::new();
        for (url, _) in &cases {
            let hook = insert_webhook(db, &s, url, None).await;
            ids.push(insert_event(db, &hook, "{}").await);
        }
        w.notifier.wake();
        for (id, (url, expected)) in ids.iter().zip(&cases) {
            let e = wait_finished(db, *id).await;
            assert_eq!(e.status, 3, "{url} on {}: {}", t.name, e.status_info);
            assert!(
                e.status_info.starts_with(&format!(
                    "{expected}; set ALLOW_LOCAL_NETWORK=true or add it to ALLOWED_CIDRS to allow it."
                )),
                "{url}: {}",
                e.status_info
            );
            assert_eq!(e.retry_count, 0);
        }
        let metrics = w.metrics.clone();
        w.stop().await;
        assert_eq!(metrics.count(Outcome::Blocked), cases.len() as u64);
        assert!(rx.drain().await.is_empty());
        t.cleanup().await;
    }
}
