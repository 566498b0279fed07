//! One part of an object upload, from its bytes to checked objects: gunzip (bounded), UTF-8,
//! a JSON array of JSON objects, each with a well-formed `id`. Pure and synchronous, so the
//! handler runs it on the blocking pool: a large batch takes real CPU time to inflate and parse.
//!
//! The id rule is Speckle's (32 characters) narrowed to ASCII letters and digits: every Speckle
//! SDK sends 32 hexadecimal characters, and an id with a tab or a newline would corrupt the
//! `id\tjson` lines that `getobjects` streams back. The id is not recomputed from the content:
//! each SDK hashes its own serialisation, which a server cannot reproduce byte for byte.

use std::io::Read;

use axum::body::Bytes;
use flate2::read::MultiGzDecoder;
use serde::Deserialize;
use serde_json::value::RawValue;

/// Length of a Speckle object id.
pub const ID_LEN: usize = 32;

/// An object ready to store: its id and its JSON text exactly as uploaded.
#[derive(Debug)]
pub struct NewObject {
    pub id: String,
    pub data: String,
}

/// How a part is encoded, from its `Content-Type` (and the gzip magic bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Plain,
}

/// Why a part was refused; the handler turns these into 400 and 413 answers.
#[derive(Debug)]
pub enum PartError {
    /// The part, decompressed, is larger than what is left of the upload's budget.
    TooLarge,
    Invalid(String),
}

/// The part's encoding from its content type, as Speckle accepts them: `application/gzip`, or
/// JSON as `text/plain`, `application/json` or `application/octet-stream` (or no type at all,
/// which multipart defines as `text/plain`).
pub fn encoding(content_type: Option<&str>) -> Result<Encoding, String> {
    let essence = content_type
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    match essence.as_str() {
        "application/gzip" | "application/x-gzip" => Ok(Encoding::Gzip),
        "" | "text/plain" | "application/json" | "application/octet-stream" => Ok(Encoding::Plain),
        other => Err(format!(
            "has the content type {:?}; send application/gzip, application/json, \
             text/plain or application/octet-stream",
            shorten(other)
        )),
    }
}

/// Decodes one part. `budget` is how many decompressed bytes the upload may still hold; returns
/// the objects and the bytes used.
pub fn decode(
    bytes: Bytes,
    declared: Encoding,
    budget: usize,
) -> Result<(Vec<NewObject>, usize), PartError> {
    // JSON never starts with 0x1f, so the gzip magic is unambiguous whatever the type said.
    let gzipped = declared == Encoding::Gzip || bytes.starts_with(&[0x1f, 0x8b]);
    let raw: Vec<u8> = if gzipped {
        let mut out = Vec::new();
        // One byte more than allowed is enough to know the budget is exceeded; a gzip bomb stops
        // there instead of inflating in memory.
        let limit = u64::try_from(budget).unwrap_or(u64::MAX).saturating_add(1);
        MultiGzDecoder::new(&bytes[..])
            .take(limit)
            .read_to_end(&mut out)
            .map_err(|e| PartError::Invalid(format!("is not valid gzip data ({e})")))?;
        if out.len() > budget {
            return Err(PartError::TooLarge);
        }
        out
    } else {
        if bytes.len() > budget {
            return Err(PartError::TooLarge);
        }
        Vec::from(bytes)
    };
    let text = String::from_utf8(raw)
        .map_err(|e| PartError::Invalid(format!("is not UTF-8 text ({e})")))?;
    let objects = parse(&text).map_err(PartError::Invalid)?;
    Ok((objects, text.len()))
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
}

/// Parses a batch: a JSON array of objects, each with a well-formed `id`.
pub fn parse(text: &str) -> Result<Vec<NewObject>, String> {
    let items: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| {
        if text.trim_start().starts_with('[') {
            format!("is not valid JSON ({e})")
        } else {
            "is not a JSON array of objects".to_owned()
        }
    })?;
    let mut objects = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let n = i + 1;
        let json = item.get();
        // A struct deserialises from a JSON array too; only objects are objects.
        if !json.starts_with('{') {
            return Err(format!("has an item {n} that is not a JSON object"));
        }
        let head: Head = serde_json::from_str(json)
            .map_err(|e| format!("has an object {n} that cannot be read ({e})"))?;
        let id = head
            .id
            .ok_or_else(|| format!("has an object {n} without an \"id\""))?;
        let id: String = serde_json::from_str(id.get())
            .map_err(|_| format!("has an object {n} whose \"id\" is not a string"))?;
        check_id(&id).map_err(|why| format!("has an object {n} whose \"id\" {why}"))?;
        objects.push(NewObject {
            id,
            data: json.to_owned(),
        });
    }
    Ok(objects)
}

/// The id rule (see the module comment); `Err` says what is wrong with it.
pub fn check_id(id: &str) -> Result<(), String> {
    if id.len() != ID_LEN || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "{:?} is not {ID_LEN} ASCII letters and digits (a Speckle object hash)",
            shorten(id)
        ));
    }
    Ok(())
}

/// Client text quoted back in a refusal, cut to a readable length.
pub fn shorten(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}
