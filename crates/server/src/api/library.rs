//! What signed-in people browse: categories, courses, files and progress.
//! Everything outside the caller's grants answers 404, exactly as if it did
//! not exist, so neither titles nor ids leak.

use crate::api::views::{self, ProgressView};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorEnvelope, Ids, JsonBody};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use lectern_core::{CategoryId, CourseId, FileId, LibraryPath};
use lectern_store::settings::library_open;
use lectern_store::{Course, FileRecord, FileRole, FileState, Store, Visibility};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

pub async fn visibility(state: &AppState, caller: &Caller) -> Result<Visibility, ApiError> {
    let open = library_open(state.store.as_ref()).await?;
    Ok(Visibility::of(state.store.as_ref(), caller.user(), open).await?)
}

/// The course, if the caller may see it.
pub async fn visible_course(
    state: &AppState,
    caller: &Caller,
    id: CourseId,
) -> Result<Course, ApiError> {
    let course = state.store.course(id).await?.ok_or(ApiError::NotFound)?;
    let seen = visibility(state, caller).await?;
    if !seen.course(course.category_id, course.id) {
        return Err(ApiError::NotFound);
    }
    Ok(course)
}

/// The file, if present and in a course the caller may see.
pub async fn visible_file(
    state: &AppState,
    caller: &Caller,
    id: FileId,
) -> Result<FileRecord, ApiError> {
    let file = state.store.file(id).await?.ok_or(ApiError::NotFound)?;
    visible_course(state, caller, file.course_id).await?;
    if file.state != FileState::Present {
        return Err(ApiError::NotFound);
    }
    Ok(file)
}

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
pub async fn visible_courses(
    state: &AppState,
    caller: &Caller,
) -> Result<BTreeMap<CategoryId, Vec<Course>>, ApiError> {
    let seen = visibility(state, caller).await?;
    let mut by_category: BTreeMap<CategoryId, Vec<Course>> = BTreeMap::new();
    for course in state.store.courses(None).await? {
        if seen.course(course.category_id, course.id) {
            by_category
                .entry(course.category_id)
                .or_default()
                .push(course);
        }
    }
    Ok(by_category)
}

#[utoipa::path(
    get,
    path = "/categories",
    tag = "library",
    responses(
        (status = 200, description = "The categories holding a course the caller may see, with how many", body = [CategorySummary]),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    ),
)]
pub async fn categories(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<CategorySummary>>, ApiError> {
    let courses = visible_courses(&state, &caller).await?;
    let list = state
        .store
        .categories()
        .await?
        .into_iter()
        .filter_map(|c| {
            let count = courses.get(&c.id)?.len();
            Some(CategorySummary {
                id: c.id,
                name: c.name,
                course_count: count,
            })
        })
        .collect();
    Ok(Json(list))
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
    params(("id" = i64, Path, description = "The category's id")),
    responses(
        (status = 200, description = "The category with the courses in it the caller may see", body = CategoryDetail),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 404, description = "No such category, or none of its courses is granted", body = ErrorEnvelope),
    ),
)]
pub async fn category(
    State(state): State<AppState>,
    caller: Caller,
    Ids(id): Ids<i64>,
) -> Result<Json<CategoryDetail>, ApiError> {
    let id = CategoryId(id);
    let mut courses = visible_courses(&state, &caller).await?;
    let visible = courses.remove(&id).ok_or(ApiError::NotFound)?;
    let category = state
        .store
        .categories()
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or(ApiError::NotFound)?;
    Ok(Json(CategoryDetail {
        id,
        name: category.name,
        courses: visible.into_iter().map(CourseSummary::from).collect(),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FileView {
    #[schema(value_type = i64)]
    id: FileId,
    #[schema(value_type = i64)]
    course_id: CourseId,
    name: String,
    /// Inside the course: `01 Intro/01 Welcome.mp4`.
    path: String,
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
        Self {
            id: f.id,
            course_id: f.course_id,
            name: f.name,
            path: inside,
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
pub fn subtitles_of(files: &[FileRecord]) -> HashMap<LibraryPath, Vec<SubtitleView>> {
    let mut map: HashMap<LibraryPath, Vec<SubtitleView>> = HashMap::new();
    for f in files.iter().filter(|f| f.role == FileRole::Subtitle) {
        if let Some(media) = &f.subtitle_for {
            map.entry(media.clone()).or_default().push(SubtitleView {
                id: f.id,
                lang: f.subtitle_lang.clone(),
            });
        }
    }
    map
}

#[utoipa::path(
    get,
    path = "/files/{id}",
    tag = "library",
    params(("id" = i64, Path, description = "The file's id")),
    responses(
        (status = 200, description = "The file's metadata", body = FileView),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 404, description = "No such present file, or its course is not granted", body = ErrorEnvelope),
    ),
)]
pub async fn file(
    State(state): State<AppState>,
    caller: Caller,
    Ids(id): Ids<i64>,
) -> Result<Json<FileView>, ApiError> {
    let file = visible_file(&state, &caller, FileId(id)).await?;
    let siblings = state.store.course_files(file.course_id).await?;
    let subtitles = subtitles_of(&siblings)
        .remove(&file.path)
        .unwrap_or_default();
    Ok(Json(FileView::new(file, subtitles)))
}

/// A course's sections and files, as folders nest on disk.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Node {
    Folder {
        name: String,
        // A folder holds nodes: without this the schema generator recurses forever.
        #[schema(no_recursion)]
        children: Vec<Node>,
    },
    File(FileView),
}

fn tree(files: Vec<FileRecord>) -> Vec<Node> {
    let mut subtitles = subtitles_of(&files);
    let mut root: Vec<Node> = Vec::new();
    for f in files.into_iter().filter(|f| f.state == FileState::Present) {
        let subs = subtitles.remove(&f.path).unwrap_or_default();
        let view = FileView::new(f, subs);
        let folders: Vec<String> = view.path.split('/').map(str::to_owned).collect();
        let mut level = &mut root;
        for name in &folders[..folders.len() - 1] {
            level = folder(level, name);
        }
        level.push(Node::File(view));
    }
    root
}

/// The children of the folder `name` at this level, made if missing. Files
/// arrive in natural order, so a folder is always the last one made.
fn folder<'a>(level: &'a mut Vec<Node>, name: &str) -> &'a mut Vec<Node> {
    let exists = matches!(level.last(), Some(Node::Folder { name: n, .. }) if n == name);
    if !exists {
        level.push(Node::Folder {
            name: name.to_owned(),
            children: Vec::new(),
        });
    }
    match level.last_mut() {
        Some(Node::Folder { children, .. }) => children,
        _ => unreachable!("a folder was just pushed"),
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
    pub tree: Vec<Node>,
    pub progress: CourseProgress,
}

#[utoipa::path(
    get,
    path = "/courses/{id}",
    tag = "library",
    params(("id" = i64, Path, description = "The course's id")),
    responses(
        (status = 200, description = "The course, its file tree and the caller's progress", body = CourseDetail),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 404, description = "No such course, or not granted", body = ErrorEnvelope),
    ),
)]
pub async fn course(
    State(state): State<AppState>,
    caller: Caller,
    Ids(id): Ids<i64>,
) -> Result<Json<CourseDetail>, ApiError> {
    let (detail, _) = course_detail(&state, &caller, CourseId(id)).await?;
    Ok(Json(detail))
}

/// The course as the caller sees it, and its file records (natural order),
/// which the pages need for their viewer.
pub async fn course_detail(
    state: &AppState,
    caller: &Caller,
    id: CourseId,
) -> Result<(CourseDetail, Vec<FileRecord>), ApiError> {
    let course = visible_course(state, caller, id).await?;
    let files = state.store.course_files(course.id).await?;
    let progress = course_progress(state.store.as_ref(), caller, course.id, &files).await?;
    let cover = files
        .iter()
        .find(|f| f.role == FileRole::Cover && f.state == FileState::Present)
        .map(|f| f.id);
    let detail = CourseDetail {
        course: course.into(),
        cover_file_id: cover,
        tree: tree(files.clone()),
        progress,
    };
    Ok((detail, files))
}

/// Completion counts the course's lessons: present material files.
async fn course_progress(
    store: &dyn Store,
    caller: &Caller,
    course: CourseId,
    files: &[FileRecord],
) -> Result<CourseProgress, ApiError> {
    let lessons: Vec<FileId> = files
        .iter()
        .filter(|f| f.role == FileRole::Material && f.state == FileState::Present)
        .map(|f| f.id)
        .collect();
    let progress = store.course_progress(caller.user().id, course).await?;
    let completed = progress
        .iter()
        .filter(|p| p.completed && lessons.contains(&p.file_id))
        .count();
    let total = lessons.len();
    let percent = if total == 0 {
        0.0
    } else {
        (completed as f64 * 1000.0 / total as f64).round() / 10.0
    };
    Ok(CourseProgress {
        completed,
        total,
        percent,
        files: views::all(progress),
    })
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
    if update.position_seconds.is_none() && update.completed.is_none() {
        return Err(ApiError::BadRequest(
            "give position_seconds, completed, or both".into(),
        ));
    }
    if update
        .position_seconds
        .is_some_and(|p| !p.is_finite() || p < 0.0)
    {
        return Err(ApiError::BadRequest(
            "position_seconds must be a number of seconds, 0 or more".into(),
        ));
    }
    let file = visible_file(&state, &caller, FileId(id)).await?;
    let saved = state
        .store
        .set_progress(
            caller.user().id,
            file.id,
            update.position_seconds,
            update.completed,
        )
        .await?;
    Ok(Json(saved.into()))
}
