//! The web console: `GET /` serves a small page (plain HTML, CSS and ES-module JavaScript from
//! `assets/`, compiled into the binary) that signs in with a personal access token and manages
//! webhooks through the public GraphQL API, like any other client: this module adds no endpoint
//! for anything the API does, only the files.
//!
//! The decision a reader may question: assets are served under `/assets/<digest>/…`, where the
//! digest is computed from the files' bytes at start-up, and cached for a year as immutable,
//! while the page itself is `no-cache`. An upgraded binary therefore changes every asset URL the
//! page names, so a browser can never mix an old script with a new page; a request for another
//! digest is a 404 rather than today's file, for the same reason. Every response carries a strict
//! Content-Security-Policy (no inline script or style, nothing from elsewhere, Trusted Types so
//! that `innerHTML` with a string throws) as a second line of defence behind the scripts' rule of
//! putting receiver- and user-controlled text into the page only as text.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

/// One file of the console: its name under `/assets/<digest>/`, content type, and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("assets/", $name)),
        }
    };
}

static ASSETS: &[Asset] = &[
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("status.js", JS),
    asset!("streams.js", JS),
    asset!("webhooks.js", JS),
    asset!("form.js", JS),
    asset!("deliveries.js", JS),
    asset!("recover.js", JS),
];

const INDEX_TEMPLATE: &str = include_str!("assets/index.html");

/// The digest naming this build's assets: any change to any file changes every URL.
static DIGEST: LazyLock<String> = LazyLock::new(|| {
    let mut h = Sha256::new();
    h.update(INDEX_TEMPLATE.as_bytes());
    for a in ASSETS {
        h.update(a.name.as_bytes());
        h.update((a.body.len() as u64).to_le_bytes());
        h.update(a.body);
    }
    hex::encode(&h.finalize()[..8])
});

static INDEX: LazyLock<String> =
    LazyLock::new(|| INDEX_TEMPLATE.replace("{{ASSETS}}", &format!("/assets/{}", *DIGEST)));

/// The policy for every console response. `form-action 'none'`: forms are handled by script, so
/// a page whose script failed cannot post the token anywhere either.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; \
    trusted-types 'none'";

/// `GET /` and the assets below `/assets/`.
pub fn router() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/assets/{digest}/{file}", get(asset))
}

/// The URL prefix of this build's assets, e.g. `/assets/0123456789abcdef`.
pub fn assets_prefix() -> String {
    format!("/assets/{}", *DIGEST)
}

async fn index() -> Response {
    respond(
        StatusCode::OK,
        "text/html; charset=utf-8",
        "no-cache",
        INDEX.as_bytes(),
    )
}

async fn asset(Path((digest, file)): Path<(String, String)>) -> Response {
    match ASSETS.iter().find(|a| a.name == file) {
        Some(a) if digest == *DIGEST => respond(
            StatusCode::OK,
            a.content_type,
            "public, max-age=31536000, immutable",
            a.body,
        ),
        _ => respond(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "no-store",
            b"No such console file in this version of streamhooks; reload the page.\n",
        ),
    }
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    cache: &'static str,
    body: &'static [u8],
) -> Response {
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, cache),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
    ];
    (status, headers, body).into_response()
}
