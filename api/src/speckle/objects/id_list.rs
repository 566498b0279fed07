//! The `objects` id list that `POST /api/diff` and `POST /api/getobjects` send, read from the
//! request body in every shape Speckle's clients use.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde_json::Value;

use super::refusal::Refusal;

const ID_LIST_HELP: &str = "Invalid body. Please provide a JSON object containing the property \
    \"objects\" of type string. The value must be a JSON string representation of an array of \
    object IDs.";

/// The `objects` id list of `/api/diff` and `/api/getobjects`: a form field (what specklepy
/// sends) or a JSON body's property, holding a JSON array of ids as a string (as Speckle
/// expects) or as an array.
pub async fn id_list(req: Request, limit: usize) -> Result<Vec<String>, Refusal> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.trim_start().starts_with("application/json"));
    let body = Bytes::from_request(req, &()).await.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Refusal::too_large(limit)
        } else {
            Refusal::bad(format!(
                "The request body could not be read: {}",
                r.body_text()
            ))
        }
    })?;
    let list: Value = if is_json {
        let v: Value = serde_json::from_slice(&body).map_err(|_| Refusal::bad(ID_LIST_HELP))?;
        v.get("objects").cloned().unwrap_or(Value::Null)
    } else {
        url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == "objects")
            .map_or(Value::Null, |(_, v)| Value::String(v.into_owned()))
    };
    let list = match list {
        Value::String(s) => serde_json::from_str(&s).map_err(|_| Refusal::bad(ID_LIST_HELP))?,
        Value::Array(a) => Value::Array(a),
        _ => return Err(Refusal::bad(ID_LIST_HELP)),
    };
    serde_json::from_value(list).map_err(|_| Refusal::bad(ID_LIST_HELP))
}
