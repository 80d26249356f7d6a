//! What signed-in people browse: categories, courses, files and progress.
//! Everything outside the caller's grants answers 404, exactly as if it did
//! not exist, so neither titles nor ids leak.

use crate::api::revalidate;
use crate::api::views::{self, ProgressView};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorEnvelope, Ids, JsonBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use lectern_app::library;
use lectern_app::App;
use lectern_core::{CategoryId, CourseId, FileId};
use lectern_store::{Course, FileRecord};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::sync::Arc;

#[derive(Serialize, utoipa::ToSchema)]
pub struct CategorySummary {
    #[schema(value_type = i64)]
    id: CategoryId,
    name: String,
    course_count: usize,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CourseSummary {
    #[schema(value_type = i64)]
    pub id: CourseId,
    #[schema(value_type = i64)]
    pub category_id: CategoryId,
    pub name: String,
    pub description: Option<String>,
}

impl From<Course> for CourseSummary {
    fn from(c: Course) -> Self {
        Self {
            id: c.id,
            category_id: c.category_id,
            name: c.name,
            description: c.description,
        }
    }
}

/// Courses the caller may see, by category.
#[utoipa::path(
    get,
    path = "/categories",
    tag = "library",
    params(("If-None-Match" = Option<String>, Header, description = "The ETag of the answer the client holds: 304 when it still holds")),
    responses(
        (status = 200, description = "The categories holding a course the caller may see, with how many", body = [CategorySummary]),
        (status = 304, description = "Not modified: the answer still has the ETag given in If-None-Match"),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    ),
)]
pub async fn categories(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let counts = library::category_counts(&state.app, caller.user()).await?;
    let list = counts
        .into_iter()
        .map(|(category, course_count)| CategorySummary {
            id: category.id,
            name: category.name,
            course_count,
        })
        .collect::<Vec<_>>();
    revalidate::json(&headers, &list)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CategoryDetail {
    #[schema(value_type = i64)]
    id: CategoryId,
    name: String,
    courses: Vec<CourseSummary>,
}

#[utoipa::path(
    get,
    path = "/categories/{id}",
    tag = "library",
    params(("If-None-Match" = Option<String>, Header, description = "The ETag of the answer the client holds: 304 when it still holds"), ("id" = i64, Path, description = "The category's id")),
    responses(
        (status = 200, description = "The category with the courses in it the caller may see", body = CategoryDetail),
        (status = 304, description = "Not modified: the answer still has the ETag given in If-None-Match"),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 404, description = "No such category, or none of its courses is granted", body = ErrorEnvelope),
    ),
)]
pub async fn category(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Ids(id): Ids<i64>,
) -> Result<Response, ApiError> {
    let shelf = library::category(&state.app, caller.user(), CategoryId(id)).await?;
    let detail = CategoryDetail {
        id: shelf.category.id,
        name: shelf.category.name,
        courses: shelf.courses.into_iter().map(CourseSummary::from).collect(),
    };
    revalidate::json(&headers, &detail)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FileView {
    #[schema(value_type = i64)]
    id: FileId,
    #[schema(value_type = i64)]
    course_id: CourseId,
    /// The file's name on disk, exactly, whenever it is valid UTF-8;
    /// otherwise a display form (U+FFFD for the bytes that are not), and
    /// `raw_name` holds the exact name.
    name: String,
    /// Present only when the name on disk is not valid UTF-8: its exact
    /// bytes, printable ASCII but `%` as they are and every other byte as
    /// `%XX` (any percent-decoder gives the bytes back).
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_name: Option<String>,
    /// Inside the course: `01 Intro/01 Welcome.mp4` (a display form, as
    /// `name`, were it not UTF-8).
    path: String,
    /// Present only when `path` is not valid UTF-8: its exact bytes,
    /// escaped as `raw_name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_path: Option<String>,
    size: u64,
    modified_at: String,
    sha256: String,
    mime: String,
    role: views::FileRole,
    state: views::FileState,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subtitles: Vec<SubtitleView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SubtitleView {
    #[schema(value_type = i64)]
    pub id: FileId,
    pub lang: Option<String>,
}

impl FileView {
    fn new(f: FileRecord, subtitles: Vec<SubtitleView>) -> Self {
        let inside = f.path_in_course().into_owned();
        let (raw_name, raw_path) = (f.raw_name(), f.raw_path_in_course());
        Self {
            id: f.id,
            course_id: f.course_id,
            raw_name,
            name: f.name,
            path: inside,
            raw_path,
            size: f.size,
            modified_at: rfc3339(f.mtime_ns),
            sha256: f.sha256.to_hex(),
            mime: f.mime,
            role: f.role.into(),
            state: f.state.into(),
            subtitles,
        }
    }
}

fn rfc3339(nanos: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Subtitles by the media file they belong to.
fn subtitle_views<'a>(subtitles: impl IntoIterator<Item = &'a FileRecord>) -> Vec<SubtitleView> {
    subtitles
        .into_iter()
        .map(|f| SubtitleView {
            id: f.id,
            lang: f.subtitle_lang.clone(),
        })
        .collect()
}

#[utoipa::path(
    get,
    path = "/files/{id}",
    tag = "library",
    params(("If-None-Match" = Option<String>, Header, description = "The ETag of the answer the client holds: 304 when it still holds"), ("id" = i64, Path, description = "The file's id")),
    responses(
        (status = 200, description = "The file's metadata", body = FileView),
        (status = 304, description = "Not modified: the answer still has the ETag given in If-None-Match"),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 404, description = "No such present file, or its course is not granted", body = ErrorEnvelope),
    ),
)]
pub async fn file(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Ids(id): Ids<i64>,
) -> Result<Response, ApiError> {
    let (file, subtitles) = library::file(&state.app, caller.user(), FileId(id)).await?;
    let subtitles = subtitle_views(&subtitles);
    revalidate::json(&headers, &FileView::new(file, subtitles))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Node {
    Folder {
        /// The folder's name, exact whenever it is valid UTF-8.
        name: String,
        /// Present only when the name is not valid UTF-8: its exact bytes,
        /// escaped as a file's `raw_name`.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw_name: Option<String>,
        // A folder holds nodes: without this the schema generator recurses forever.
        #[schema(no_recursion)]
        children: Vec<Node>,
    },
    File(FileView),
}

impl From<library::Node<FileView>> for Node {
    fn from(node: library::Node<FileView>) -> Self {
        match node {
            library::Node::Folder {
                name,
                raw_name,
                children,
            } => Node::Folder {
                name,
                raw_name,
                children: children.into_iter().map(Node::from).collect(),
            },
            library::Node::File(view) => Node::File(view),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CourseProgress {
    pub completed: usize,
    pub total: usize,
    pub percent: f64,
    pub files: Vec<ProgressView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CourseDetail {
    #[serde(flatten)]
    pub course: CourseSummary,
    #[schema(value_type = Option<i64>)]
    pub cover_file_id: Option<FileId>,
    #[schema(value_type = Vec<Node>)]
    pub tree: KeptJson,
    pub progress: CourseProgress,
}

#[utoipa::path(
    get,
    path = "/courses/{id}",
    tag = "library",
    params(("If-None-Match" = Option<String>, Header, description = "The ETag of the answer the client holds: 304 when it still holds"), ("id" = i64, Path, description = "The course's id")),
    responses(
        (status = 200, description = "The course, its file tree and the caller's progress", body = CourseDetail),
        (status = 304, description = "Not modified: the answer still has the ETag given in If-None-Match"),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 404, description = "No such course, or not granted", body = ErrorEnvelope),
    ),
)]
pub async fn course(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Ids(id): Ids<i64>,
) -> Result<Response, ApiError> {
    let contents = library::course(&state.app, caller.user(), CourseId(id)).await?;
    revalidate::json(&headers, &CourseDetail::of(&state.app, &contents)?)
}

/// JSON written once and sent again as it is.
pub struct KeptJson(Arc<Box<RawValue>>);

impl Serialize for KeptJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl CourseDetail {
    /// The tree is the same for every reader until the index changes: its
    /// JSON is written once per index generation and kept.
    fn of(app: &App, contents: &library::CourseContents) -> Result<Self, ApiError> {
        let tree = contents.kept(app, "api.course.tree", || tree_json(contents))?;
        Ok(CourseDetail {
            course: contents.course.clone().into(),
            cover_file_id: contents.cover,
            tree: KeptJson(tree),
            progress: CourseProgress {
                completed: contents.completed,
                total: contents.lessons,
                percent: contents.percent,
                files: views::all(contents.progress.clone()),
            },
        })
    }
}

fn tree_json(contents: &library::CourseContents) -> Result<Box<RawValue>, ApiError> {
    let captions = contents.subtitles();
    let mut view = |f: &FileRecord| {
        let subtitles = subtitle_views(captions.of(f).iter().copied());
        FileView::new(f.clone(), subtitles)
    };
    let tree: Vec<Node> = contents
        .tree()
        .into_iter()
        .map(|n| n.map(&mut view).into())
        .collect();
    serde_json::value::to_raw_value(&tree)
        .map_err(|e| ApiError::Internal(format!("cannot write the course's tree as JSON: {e}")))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressUpdate {
    position_seconds: Option<f64>,
    completed: Option<bool>,
}

#[utoipa::path(
    put,
    path = "/files/{id}/progress",
    tag = "library",
    params(("id" = i64, Path, description = "The file's id")),
    request_body = ProgressUpdate,
    responses(
        (status = 200, description = "The caller's stored progress on the file", body = ProgressView),
        (status = 400, description = "Neither field given, a negative or non-finite position, or a malformed body", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Signed in with the cookie but without the CSRF token (`csrf_rejected`)", body = ErrorEnvelope),
        (status = 404, description = "No such present file, or its course is not granted", body = ErrorEnvelope),
    ),
)]
pub async fn progress(
    State(state): State<AppState>,
    caller: Caller,
    Ids(id): Ids<i64>,
    JsonBody(update): JsonBody<ProgressUpdate>,
) -> Result<Json<ProgressView>, ApiError> {
    let (position, completed) = (update.position_seconds, update.completed);
    let saved =
        library::set_progress(&state.app, caller.user(), FileId(id), position, completed).await?;
    Ok(Json(saved.into()))
}
