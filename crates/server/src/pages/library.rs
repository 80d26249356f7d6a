//! The client area: categories → course cards → course page → lesson viewer.
//! Access rules and course data come from the API's own functions, so a page
//! never shows what the API would hide.

use super::render::{render, PageError, PageIds};
use super::session::{CsrfForm, Reader};
use super::viewer::{markdown_html, markdown_summary, Viewer};
use crate::api::content::read_head;
use crate::api::library::{
    course_detail, subtitles_of, visible_courses, visible_file, CourseDetail,
};
use crate::api::search::search_visible;
use crate::api::views::HitKind;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::{Html, Redirect};
use lectern_core::{CategoryId, CourseId, FileId};
use lectern_store::{Category, Course, FileRecord, FileRole, FileState};
use minijinja::context;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The most of a file's text a page shows; longer files are downloads.
const TEXT_LIMIT: u64 = 1024 * 1024;

#[derive(Serialize)]
struct Card {
    id: CourseId,
    name: String,
    summary: Option<String>,
    cover_file_id: Option<FileId>,
    lessons: u64,
    completed: u64,
    percent: u64,
}

#[derive(Serialize)]
struct Section {
    id: CategoryId,
    name: String,
    courses: Vec<Card>,
}

pub async fn home(
    State(state): State<AppState>,
    reader: Reader,
) -> Result<Html<String>, PageError> {
    let sections = sections(&state, &reader.0, None).await?;
    render(
        "courses.html",
        context! { title => "Library", sections, ..reader.layout() },
    )
}

pub async fn category(
    State(state): State<AppState>,
    reader: Reader,
    PageIds(id): PageIds<i64>,
) -> Result<Html<String>, PageError> {
    let sections = sections(&state, &reader.0, Some(CategoryId(id))).await?;
    let Some(title) = sections.first().map(|s| s.name.clone()) else {
        return Err(ApiError::NotFound.into());
    };
    render(
        "courses.html",
        context! { title, sections, ..reader.layout() },
    )
}

/// The categories the caller may see (or just `only`), each with its
/// visible courses as cards.
async fn sections(
    state: &AppState,
    caller: &Caller,
    only: Option<CategoryId>,
) -> Result<Vec<Section>, PageError> {
    let mut courses = visible_courses(state, caller).await?;
    let overviews: HashMap<CourseId, _> = state
        .store
        .course_overviews(caller.user().id)
        .await?
        .into_iter()
        .map(|o| (o.course_id, o))
        .collect();
    let categories: Vec<Category> = state.store.categories().await?;
    let sections = categories
        .into_iter()
        .filter(|c| only.is_none_or(|id| id == c.id))
        .filter_map(|category| {
            let cards = courses.remove(&category.id)?;
            let cards = cards
                .into_iter()
                .map(|course| {
                    let overview = overviews.get(&course.id);
                    card(course, overview)
                })
                .collect();
            Some(Section {
                id: category.id,
                name: category.name,
                courses: cards,
            })
        })
        .collect();
    Ok(sections)
}

fn card(course: Course, overview: Option<&lectern_store::CourseOverview>) -> Card {
    let (lessons, completed) = overview.map_or((0, 0), |o| (o.lessons, o.completed));
    Card {
        id: course.id,
        summary: course
            .description
            .as_deref()
            .and_then(|d| markdown_summary(d, 200)),
        name: course.name,
        cover_file_id: overview.and_then(|o| o.cover_file_id),
        lessons,
        completed,
        percent: percent(completed, lessons),
    }
}

fn percent(done: u64, total: u64) -> u64 {
    (done * 100).checked_div(total).unwrap_or(0)
}

/// A course's files by their path inside the course, for markdown links.
fn siblings(files: &[FileRecord]) -> HashMap<String, FileId> {
    files
        .iter()
        .filter(|f| f.state == FileState::Present)
        .map(|f| (f.path_in_course().into_owned(), f.id))
        .collect()
}

/// The course's lessons in reading order.
fn lessons(files: &[FileRecord]) -> Vec<&FileRecord> {
    files
        .iter()
        .filter(|f| f.role == FileRole::Material && f.state == FileState::Present)
        .collect()
}

fn completed_ids(detail: &CourseDetail) -> Vec<FileId> {
    detail
        .progress
        .files
        .iter()
        .filter(|p| p.completed)
        .map(|p| p.file_id)
        .collect()
}

pub async fn course(
    State(state): State<AppState>,
    reader: Reader,
    PageIds(id): PageIds<i64>,
) -> Result<Html<String>, PageError> {
    let (detail, files) = course_detail(&state, &reader.0, CourseId(id)).await?;
    let description = detail
        .course
        .description
        .as_deref()
        .map(|text| markdown_html(text, "README.md", &siblings(&files)));
    let done = completed_ids(&detail);
    let lessons = lessons(&files);
    let resume = lessons
        .iter()
        .find(|f| !done.contains(&f.id))
        .or(lessons.first())
        .map(|f| f.id);
    render(
        "course.html",
        context! {
            title => &detail.course.name,
            course => &detail,
            description,
            completed_ids => done,
            resume,
            started => !detail.progress.files.is_empty(),
            ..reader.layout()
        },
    )
}

#[derive(Serialize)]
struct Track {
    id: FileId,
    lang: String,
    label: String,
}

pub async fn file(
    State(state): State<AppState>,
    reader: Reader,
    PageIds(id): PageIds<i64>,
) -> Result<Html<String>, PageError> {
    let file = visible_file(&state, &reader.0, FileId(id)).await?;
    let (detail, files) = course_detail(&state, &reader.0, file.course_id).await?;
    let viewer = Viewer::of(&file);
    let (text, too_large) = match viewer.reads_text() {
        true => read_text(&state, &file).await?,
        false => (None, false),
    };
    let html = match (viewer, &text) {
        (Viewer::Markdown, Some(text)) => Some(markdown_html(
            text,
            &file.path_in_course(),
            &siblings(&files),
        )),
        _ => None,
    };
    let own = detail.progress.files.iter().find(|p| p.file_id == file.id);
    let lessons = lessons(&files);
    let at = lessons.iter().position(|f| f.id == file.id);
    let step = |offset: isize| {
        at.and_then(|i| i.checked_add_signed(offset))
            .and_then(|i| lessons.get(i))
            .map(|f| context! { id => f.id, name => &f.name })
    };
    render(
        "file.html",
        context! {
            title => &file.name,
            course => &detail,
            completed_ids => completed_ids(&detail),
            file => context! {
                id => file.id,
                name => &file.name,
                path => file.path_in_course(),
                mime => &file.mime,
                size => file.size,
            },
            viewer,
            text => if html.is_none() { text } else { None },
            html,
            too_large,
            tracks => tracks(&files, &file),
            resume => own.and_then(|p| p.position_seconds).unwrap_or(0.0),
            completed => own.is_some_and(|p| p.completed),
            is_lesson => at.is_some(),
            previous => step(-1),
            next => step(1),
            ..reader.layout()
        },
    )
}

/// The file's text, or `(None, true)` when it is too long to show.
async fn read_text(
    state: &AppState,
    file: &FileRecord,
) -> Result<(Option<String>, bool), ApiError> {
    let (bytes, whole) = read_head(state, file, TEXT_LIMIT).await?;
    if !whole {
        return Ok((None, true));
    }
    Ok((Some(String::from_utf8_lossy(&bytes).into_owned()), false))
}

fn tracks(files: &[FileRecord], media: &FileRecord) -> Vec<Track> {
    let mut by_media = subtitles_of(files);
    let subtitles = by_media.remove(&media.path).unwrap_or_default();
    let mut seen = BTreeMap::new();
    for s in subtitles {
        let lang = s.lang.unwrap_or_else(|| "und".to_owned());
        seen.entry(lang).or_insert(s.id);
    }
    seen.into_iter()
        .map(|(lang, id)| Track {
            id,
            label: language_label(&lang),
            lang,
        })
        .collect()
}

/// A readable name for the common subtitle languages; the tag otherwise.
fn language_label(tag: &str) -> String {
    let name = match tag.to_ascii_lowercase().as_str() {
        "en" => "English",
        "de" => "Deutsch",
        "fr" => "Français",
        "es" => "Español",
        "it" => "Italiano",
        "nl" => "Nederlands",
        "pt" => "Português",
        "und" => "Subtitles",
        _ => return tag.to_owned(),
    };
    name.to_owned()
}

#[derive(Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    q: String,
}

/// The search box's page. A blank or too long query is shown as a message
/// on the page, not as an error page.
pub async fn search(
    State(state): State<AppState>,
    reader: Reader,
    Query(form): Query<SearchForm>,
) -> Result<Html<String>, PageError> {
    let query = form.q.trim();
    let found = match query.is_empty() {
        true => None,
        false => Some(search_visible(&state, &reader.0, query, 50).await),
    };
    let (results, error) = match found {
        None => (Vec::new(), None),
        Some(Ok(found)) => (found.results, None),
        Some(Err(ApiError::BadRequest(message))) => (Vec::new(), Some(message)),
        Some(Err(other)) => return Err(other.into()),
    };
    let (courses, files): (Vec<_>, Vec<_>) =
        results.into_iter().partition(|r| r.kind == HitKind::Course);
    render(
        "search.html",
        context! { title => "Search", query, courses, files, error, ..reader.layout() },
    )
}

#[derive(Deserialize)]
pub struct Completion {
    completed: bool,
}

/// The "mark complete" button: saved, then back to the lesson.
pub async fn complete(
    State(state): State<AppState>,
    PageIds(id): PageIds<i64>,
    CsrfForm { reader, form }: CsrfForm<Completion>,
) -> Result<Redirect, PageError> {
    let file = visible_file(&state, &reader.0, FileId(id)).await?;
    state
        .store
        .set_progress(reader.0.user().id, file.id, None, Some(form.completed))
        .await?;
    Ok(Redirect::to(&format!("/files/{}", file.id)))
}
