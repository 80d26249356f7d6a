//! File bytes: found by id, never by a path from the request, and served
//! by tower-http's range-aware file service. Its ETag is the file's SHA-256,
//! given only while the file on disk still has the indexed size and mtime,
//! so a stale hash is never sent.

use super::revalidate::matches_any;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorEnvelope, Ids};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lectern_app::library::{self, Located};
use lectern_core::FileId;
use lectern_store::FileRole;
use tower::ServiceExt;
use tower_http::services::ServeFile;

#[utoipa::path(
    get,
    path = "/files/{id}/content",
    tag = "library",
    params(
        ("id" = i64, Path, description = "The file's id"),
        ("Range" = Option<String>, Header, description = "One byte range, `bytes=START-END`"),
        ("If-Range" = Option<String>, Header, description = "The ETag the client holds: the range applies only to that version"),
        ("If-Match" = Option<String>, Header, description = "ETags (or `*`): 412 unless the file is one of them; a file that changed on disk since the last scan has no ETag and matches only `*`"),
        ("If-None-Match" = Option<String>, Header, description = "ETags the client holds: 304 when one matches"),
        ("If-Unmodified-Since" = Option<String>, Header, description = "An HTTP date: 412 when the file was modified after it"),
        ("If-Modified-Since" = Option<String>, Header, description = "An HTTP date: 304 when the file was not modified after it"),
    ),
    responses(
        (status = 200, description = "The bytes, as the indexed type (any media type: the file's own); `ETag` (the quoted SHA-256) while the file still matches the index, `Last-Modified`, `Accept-Ranges: bytes`. HTML, XML and SVG come as an attachment with a sandbox CSP.", headers(
            ("Content-Type" = String, description = "The file's indexed type"),
            ("Content-Length" = u64, description = "The file's size"),
            ("Accept-Ranges" = String, description = "`bytes`"),
            ("ETag" = String, description = "The quoted SHA-256, while the file matches the index"),
            ("Last-Modified" = String, description = "The file's modification time"),
        ), content_type = "*/*"),
        (status = 206, description = "The requested range", headers(
            ("Content-Range" = String, description = "`bytes START-END/SIZE`"),
            ("Content-Length" = u64, description = "The range's length"),
        ), content_type = "*/*"),
        (status = 304, description = "The client's copy (`If-None-Match`, `If-Modified-Since`) is current"),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 404, description = "No such present file, its course is not granted, or it is gone from the disk", body = ErrorEnvelope),
        (status = 412, description = "`If-Match` or `If-Unmodified-Since` names another version (`precondition_failed`)", body = ErrorEnvelope),
        (status = 416, description = "The range is outside the file; `Content-Range: bytes */SIZE`", body = ErrorEnvelope),
    ),
)]
pub async fn content(
    State(state): State<AppState>,
    caller: Caller,
    Ids(id): Ids<i64>,
    request: Request,
) -> Result<Response, ApiError> {
    let file = library::visible_file(&state.app, caller.user(), FileId(id)).await?;
    let Located { path, fresh } = library::locate(&state.app, &file).await?;
    let etag = fresh.then(|| format!("\"{}\"", file.sha256));

    let (mut parts, body) = request.into_parts();
    if !if_match_passes(&parts.headers, etag.as_deref()) {
        return Ok(ApiError::PreconditionFailed.into_response());
    }
    if let Some(etag) = &etag {
        if matches_any(&parts.headers, header::IF_NONE_MATCH, etag) {
            let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
            set(not_modified.headers_mut(), header::ETAG, etag);
            return Ok(not_modified);
        }
    }
    // If-Range names the version the client holds: a range only applies to
    // that version, otherwise the whole file is sent.
    let if_range = parts.headers.remove(header::IF_RANGE);
    if if_range.is_some_and(|v| etag.as_deref() != v.to_str().ok()) {
        parts.headers.remove(header::RANGE);
    }
    // 1 MiB reads instead of the default 64 KiB: a sixteenth of the
    // blocking-thread round trips, the difference between 0.6× and 1.1× of
    // nginx's throughput in benches/serve.sh, for 1 MiB per download.
    let served = ServeFile::new(&path)
        .with_buf_chunk_size(DOWNLOAD_CHUNK)
        .oneshot(Request::from_parts(parts, body))
        .await
        .map_err(|e| ApiError::Internal(format!("cannot serve {}: {e}", file.path.display())))?;
    if let Some(refused) = refusal(&served) {
        return Ok(refused);
    }
    let mut response = served.map(Body::new);
    decorate(response.headers_mut(), &file.mime, etag.as_deref());
    Ok(response)
}

/// HEAD of [`content`]: the same headers and status, no bytes. The work is
/// [`content`]'s alone (tower-http answers a HEAD from the file's metadata,
/// without opening it); this function only carries HEAD's own operation in
/// the OpenAPI document, which says what HEAD sends back.
#[utoipa::path(
    head,
    path = "/files/{id}/content",
    tag = "library",
    operation_id = "content_head",
    params(
        ("id" = i64, Path, description = "The file's id"),
        ("Range" = Option<String>, Header, description = "One byte range, `bytes=START-END`"),
        ("If-Match" = Option<String>, Header, description = "As for GET"),
        ("If-None-Match" = Option<String>, Header, description = "As for GET"),
    ),
    responses(
        (status = 200, description = "The headers GET would send (`Content-Type`, `Content-Length`, `Accept-Ranges`, `ETag`, `Last-Modified`), no body", headers(
            ("Content-Type" = String, description = "The file's indexed type"),
            ("Content-Length" = u64, description = "The file's size"),
            ("Accept-Ranges" = String, description = "`bytes`"),
            ("ETag" = String, description = "The quoted SHA-256, while the file matches the index"),
        )),
        (status = 206, description = "The headers of the requested range, no body"),
        (status = 304, description = "The client's copy is current"),
        (status = 401, description = "Not signed in (the envelope's headers, no body)", body = ErrorEnvelope),
        (status = 404, description = "No such present file, or its course is not granted (the envelope's headers, no body)", body = ErrorEnvelope),
        (status = 412, description = "`If-Match` or `If-Unmodified-Since` names another version (the envelope's headers, no body)", body = ErrorEnvelope),
        (status = 416, description = "The range is outside the file (the envelope's headers, no body)", body = ErrorEnvelope),
    ),
)]
pub async fn content_head(
    state: State<AppState>,
    caller: Caller,
    ids: Ids<i64>,
    request: Request,
) -> Result<Response, ApiError> {
    content(state, caller, ids, request).await
}

/// `If-Match` (RFC 9110 §13.1.1): `*`, or the current ETag by strong
/// comparison; without an ETag (the file changed since the scan) only `*`.
fn if_match_passes(headers: &HeaderMap, etag: Option<&str>) -> bool {
    let mut given = headers
        .get_all(header::IF_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .peekable();
    if given.peek().is_none() {
        return true;
    }
    given.any(|tag| tag == "*" || Some(tag) == etag)
}

/// The file service's own refusals, as the envelope like every other
/// error: 416 with the size the client needs to ask again (`bytes */SIZE`),
/// and 412 for `If-Unmodified-Since`.
pub(crate) fn refusal<B>(served: &axum::http::Response<B>) -> Option<Response> {
    match served.status() {
        StatusCode::RANGE_NOT_SATISFIABLE => {
            let mut refused = ApiError::RangeNotSatisfiable.into_response();
            if let Some(range) = served.headers().get(header::CONTENT_RANGE) {
                refused
                    .headers_mut()
                    .insert(header::CONTENT_RANGE, range.clone());
            }
            Some(refused)
        }
        StatusCode::PRECONDITION_FAILED => Some(ApiError::PreconditionFailed.into_response()),
        _ => None,
    }
}

const DOWNLOAD_CHUNK: usize = 1 << 20;

/// The most of a subtitle file converted; real ones are far smaller.
const SUBTITLE_LIMIT: u64 = 8 * 1024 * 1024;

/// A subtitle file as WebVTT, the only format `<track>` plays.
#[utoipa::path(
    get,
    path = "/files/{id}/vtt",
    tag = "library",
    params(("id" = i64, Path, description = "A subtitle file's id (`role: subtitle`)")),
    responses(
        (status = 200, description = "The subtitles as WebVTT (SRT converted)", content_type = "text/vtt", body = String),
        (status = 400, description = "The subtitle file is too large to convert", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 404, description = "No such present subtitle file, or its course is not granted", body = ErrorEnvelope),
    ),
)]
pub async fn webvtt(
    State(state): State<AppState>,
    caller: Caller,
    Ids(id): Ids<i64>,
) -> Result<Response, ApiError> {
    let file = library::visible_file(&state.app, caller.user(), FileId(id)).await?;
    if file.role != FileRole::Subtitle {
        return Err(ApiError::NotFound);
    }
    let (bytes, whole) = library::read_head(&state.app, &file, SUBTITLE_LIMIT).await?;
    if !whole {
        return Err(ApiError::BadRequest(format!(
            "{} is too large to convert",
            file.name
        )));
    }
    let vtt = crate::subtitles::to_webvtt(&bytes);
    Ok((
        [
            (header::CONTENT_TYPE, "text/vtt; charset=utf-8"),
            (header::CACHE_CONTROL, "private, no-cache"),
        ],
        vtt,
    )
        .into_response())
}

fn set(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// The indexed type, never sniffed; and HTML from the library is never run
/// in Lectern's origin: it downloads, and would be sandboxed if opened.
fn decorate(headers: &mut HeaderMap, mime: &str, etag: Option<&str>) {
    if let Some(etag) = etag {
        set(headers, header::ETAG, etag);
    }
    set(headers, header::CONTENT_TYPE, mime);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::CACHE_CONTROL, "private, no-cache");
    if mime.contains("html") || mime.contains("xml") || mime.contains("svg") {
        set(headers, header::CONTENT_DISPOSITION, "attachment");
        set(
            headers,
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'",
        );
    }
}
