//! `GET /api/search?q=&limit=`: courses and files whose names (or a
//! course's description) match every word typed, best first, only from
//! what the caller may see (SPEC §2, §4).

use crate::api::views::HitKind;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use lectern_app::library;
use lectern_core::{CategoryId, CourseId};
use lectern_store::SearchHit;
use serde::{Deserialize, Serialize};

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
    /// The name, exact whenever it is valid UTF-8 (see a file's `name`).
    pub name: String,
    /// Present only for a file name that is not valid UTF-8: its exact
    /// bytes, escaped as a file's `raw_name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_name: Option<String>,
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
            raw_name: hit.raw_name,
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
        None => library::DEFAULT_SEARCH_LIMIT,
        Some(text) => text.trim().parse().map_err(|_| library::bad_limit())?,
    };
    let found = library::search(&state.app, caller.user(), &q, limit).await?;
    Ok(Json(SearchResults::from(found)))
}

impl From<library::Found> for SearchResults {
    fn from(found: library::Found) -> Self {
        SearchResults {
            query: found.query,
            results: found.hits.into_iter().map(SearchResult::from).collect(),
        }
    }
}
