//! The HTTP surface: GraphiQL on `GET /graphql`, queries on `POST /graphql`
//! ([`crate::http::graphql`]), event ingest, the object routes, and the operator endpoints. The API
//! routes read their bodies within MAX_REQUEST_BYTES ([`crate::context::limits::body`]), so an
//! oversized request is refused with 413 before any of it is parsed; the object routes have their
//! own, larger limit (`MAX_OBJECT_UPLOAD_BYTES`, see [`crate::speckle::objects`]); the operator
//! endpoints take no body.

use async_graphql::http::GraphiQLSource;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sea_orm::ConnectionTrait;

pub mod graphql;

use self::graphql::Endpoint;
use crate::context::limits::body::limited;
use crate::context::state::AppState;
use crate::schema::AppSchema;

pub fn router(app: AppState, schema: AppSchema) -> Router {
    let limits = &app.config.limits;
    let (max, deadline) = (limits.max_request_bytes, limits.request_deadline);
    // Body limits are per router: a router with another limit (object uploads) brings its own.
    let graphql = Router::new()
        .route("/graphql", get(graphiql).post(graphql::graphql))
        .with_state(Endpoint::new(app.clone(), schema));
    let ingest = Router::new()
        .route("/api/events", post(crate::webhooks::ingest::ingest))
        .route(
            "/api/events/batch",
            post(crate::webhooks::batch::ingest_batch),
        )
        .with_state(app.clone());
    limited(graphql, max, deadline)
        .merge(limited(ingest, max, deadline))
        .merge(crate::speckle::objects::router(app.clone()))
        .merge(operator_router(app))
        .merge(crate::console::router())
}

/// `/healthz`, `/readyz`, `/metrics`: served by `serve`, and by `worker` on `--metrics-bind`.
pub fn operator_router(app: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(app)
}

async fn graphiql() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}

/// Liveness: the process answers.
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
async fn readyz(State(app): State<AppState>) -> Response {
    match app.db.execute_unprepared("SELECT 1").await {
        Ok(_) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

/// Prometheus text format: deliveries by outcome, latency, in-flight, queue depth.
async fn metrics(State(app): State<AppState>) -> Response {
    let depth = match streamhooks_worker::queue_depth(&app.db).await {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(error = %e, "queue depth unavailable");
            None
        }
    };
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(depth) + &app.limits.in_flight.render(),
    )
        .into_response()
}
