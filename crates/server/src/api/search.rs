//! `GET /api/search?q=&limit=`: courses and files whose names (or a
//! course's description) match every word typed, best first, only from
//! what the caller may see (SPEC §2, §4).

use crate::api::library::visibility;
use crate::api::views::HitKind;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use lectern_core::{CategoryId, CourseId};
use lectern_store::{SearchHit, SearchQuery};
use serde::{Deserialize, Serialize};

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// The answer: the search as understood, and the hits best first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    pub query: String,
    pub results: Vec<SearchResult>,
}

/// One course or file found. `id` is the course's id for a course and the
/// file's id for a file.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResult {
    pub kind: HitKind,
    pub id: i64,
    pub name: String,
    #[schema(value_type = i64)]
    pub category_id: CategoryId,
    #[schema(value_type = i64)]
    pub course_id: CourseId,
    pub course_name: String,
    /// A file's path inside its course; null for a course.
    pub path: Option<String>,
    /// Plain text from a course's description; null for a file.
    pub snippet: Option<String>,
}

impl From<SearchHit> for SearchResult {
    fn from(hit: SearchHit) -> Self {
        Self {
            kind: hit.kind.into(),
            id: hit.file_id.map_or(hit.course_id.0, |f| f.0),
            name: hit.name,
            category_id: hit.category_id,
            course_id: hit.course_id,
            course_name: hit.course_name,
            path: hit.path,
            snippet: hit.snippet,
        }
    }
}

/// Searches what `caller` may see, for the API and the web pages alike.
/// A missing, blank or too long `q`, or a `limit` outside 1..=100, is the
/// caller's mistake.
pub async fn search_visible(
    state: &AppState,
    caller: &Caller,
    q: &str,
    limit: u32,
) -> Result<SearchResults, ApiError> {
    let query = SearchQuery::parse(q).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(bad_limit());
    }
    let seen = visibility(state, caller).await?;
    let hits = state.store.search(&query, &seen, limit).await?;
    Ok(SearchResults {
        query: query.text().to_owned(),
        results: hits.into_iter().map(SearchResult::from).collect(),
    })
}

fn bad_limit() -> ApiError {
    ApiError::BadRequest(format!(
        "limit must be a whole number from 1 to {MAX_LIMIT}"
    ))
}

/// Taken as text so that a bad value gets a message of our own.
#[derive(Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(
    get,
    path = "/search",
    tag = "search",
    params(
        ("q" = String, Query, min_length = 1, max_length = 200, pattern = r"[^\s\u0000-\u001f\u007f-\u009f]", description = "The words to find, 1 to 200 characters, not only spaces or control characters (which separate words); each matches the start of a word, ignoring case and accents"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "How many courses and files together, 1 to 100; 20 when left out"),
    ),
    responses(
        (status = 200, description = "The search as understood and the hits, best first, only from what the caller may see", body = SearchResults),
        (status = 400, description = "`q` missing, blank or too long, or `limit` out of range", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    ),
)]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Json<SearchResults>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let q = params
        .q
        .ok_or_else(|| ApiError::BadRequest("give the words to search for as q".into()))?;
    let limit = match params.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => text.trim().parse().map_err(|_| bad_limit())?,
    };
    Ok(Json(search_visible(&state, &caller, &q, limit).await?))
}
