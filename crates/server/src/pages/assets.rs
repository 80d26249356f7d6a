//! The stylesheet and script, compiled into the binary.

use crate::error::ApiError;
use axum::extract::Path;
use axum::http::header;
use axum::response::IntoResponse;

const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    ),
];

pub async fn asset(Path(name): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let (_, mime, body) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or(ApiError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, *mime),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        *body,
    ))
}
