//! `/metrics` and `/healthz` on `PROMETHEUS_METRICS_PORT`, where Speckle's chart and its
//! Prometheus scrape config expect the stock service's. The series are ours (the stock service's
//! are Node's and knex's): deliveries by outcome, their duration, requests in flight, and the
//! events pending or in flight per database. `/healthz` answers 200 while some database was polled
//! successfully in the last 30 s (the liveness file's rule), else 503.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use sea_orm::sqlx::PgPool;
use streamhooks_worker::speckle::probe::Probe;
use streamhooks_worker::Metrics;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What the two endpoints read.
#[derive(Clone)]
pub struct Scraped {
    pub metrics: Arc<Metrics>,
    /// Each region's key and pool.
    pub regions: Vec<(String, PgPool)>,
    pub probe: Arc<Probe>,
}

/// Serves until `cancel` on `listener`.
pub async fn serve(listener: TcpListener, scraped: Scraped, cancel: CancellationToken) {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(scraped);
    let stopped = axum::serve(listener, app)
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await;
    if let Err(e) = stopped {
        tracing::error!(error = %e, "the metrics endpoint stopped");
    }
}

/// Binds `addr`, with a sentence when it cannot.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen for /metrics on {addr} (PROMETHEUS_METRICS_PORT): {e}"))
}

async fn metrics(State(s): State<Scraped>) -> Response {
    let mut total = Some(0i64);
    let mut per_region = String::new();
    for (key, pool) in &s.regions {
        match streamhooks_worker::speckle::queue_depth(pool).await {
            Ok(n) => {
                total = total.map(|t| t + n);
                let _ = writeln!(
                    per_region,
                    "streamhooks_speckle_pending{{region=\"{}\"}} {n}",
                    key.replace(['\\', '"', '\n'], "_")
                );
            }
            Err(e) => {
                tracing::debug!(region = %key, error = %e, "cannot count pending events for /metrics");
                total = None;
            }
        }
    }
    let mut body = s.metrics.render(total);
    if !per_region.is_empty() {
        body.push_str(
            "# HELP streamhooks_speckle_pending Speckle events at status 0 or 1, per database.\n",
        );
        body.push_str("# TYPE streamhooks_speckle_pending gauge\n");
        body.push_str(&per_region);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

async fn healthz(State(s): State<Scraped>) -> Response {
    let age_ms = Utc::now().timestamp_millis() - s.probe.last_poll_ms();
    if age_ms <= 30_000 {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "no database was polled successfully in the last 30 s\n",
        )
            .into_response()
    }
}
