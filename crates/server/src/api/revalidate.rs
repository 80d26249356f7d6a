//! ETags and `304 Not Modified` for the browse answers. The ETag is a hash
//! of the JSON sent, so it changes exactly when the answer does, whatever
//! changed it (a scan, a grant, the reader's own progress), and a client
//! that revalidates gets an empty 304 for an answer it already holds.

use crate::error::ApiError;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// `value` as JSON with its ETag, or 304 when `If-None-Match` holds it.
/// Browsers keep it but ask again each time (`no-cache`), and only for
/// this reader (`private`): it depends on their grants and progress.
pub fn json<T: Serialize>(headers: &HeaderMap, value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| ApiError::Internal(format!("cannot write the answer as JSON: {e}")))?;
    let digest = Sha256::digest(&body);
    let etag = format!("\"{}\"", hex::encode(&digest[..16]));
    let tag = HeaderValue::from_str(&etag)
        .map_err(|e| ApiError::Internal(format!("cannot send the ETag {etag}: {e}")))?;
    let cache = HeaderValue::from_static("private, no-cache");
    if matches_any(headers, header::IF_NONE_MATCH, &etag) {
        let headers = [(header::ETAG, tag), (header::CACHE_CONTROL, cache)];
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    let json = HeaderValue::from_static("application/json");
    let headers = [
        (header::CONTENT_TYPE, json),
        (header::ETAG, tag),
        (header::CACHE_CONTROL, cache),
    ];
    Ok((headers, body).into_response())
}

/// Whether a list of ETags in header `name` holds `etag` (or `*`); a weak
/// `W/` tag matches its strong form, as `If-None-Match` compares.
pub fn matches_any(headers: &HeaderMap, name: header::HeaderName, etag: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag == etag || tag.strip_prefix("W/") == Some(etag))
        })
}
