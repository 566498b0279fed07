//! The HTTP surface: GraphiQL on `GET /graphql`, queries on `POST /graphql`, and the operator
//! endpoints. The body limit wraps everything, so an oversized request is refused with 413
//! before any of it is parsed. The object routes are merged after that layer: they have their
//! own, larger limit (`MAX_OBJECT_UPLOAD_BYTES`, see [`crate::backend::objects`]).

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sea_orm::ConnectionTrait;
use tower_http::limit::RequestBodyLimitLayer;

use crate::graphql::AppSchema;
use crate::state::AppState;

#[derive(Clone)]
struct HttpState {
    app: AppState,
    schema: AppSchema,
}

pub fn router(app: AppState, schema: AppSchema) -> Router {
    let limit = app.config.max_request_bytes;
    let objects = crate::backend::objects::router(app.clone());
    let rest = Router::new()
        .route("/api/events", post(crate::webhooks::ingest::ingest))
        .with_state(app.clone())
        .merge(operator_router(app.clone()))
        .merge(crate::console::router());
    Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .with_state(HttpState { app, schema })
        .merge(rest)
        .layer(RequestBodyLimitLayer::new(limit))
        .merge(objects) // after the layer: object routes have their own, larger limit
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

async fn graphql(State(s): State<HttpState>, headers: HeaderMap, req: GraphQLRequest) -> Response {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = match crate::auth::from_header(&s.app.db, header).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = ?e, "token lookup failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response();
        }
    };
    GraphQLResponse::from(s.schema.execute(req.into_inner().data(auth)).await).into_response()
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
        app.metrics.render(depth),
    )
        .into_response()
}
