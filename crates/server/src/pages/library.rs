//! The client area: categories → course cards → course page → lesson viewer.
//! Access rules and course data come from the library's use cases
//! (`lectern_app::library`), the same the API calls, so a page never shows
//! what the API would hide.

use super::render::{render, PageError, PageIds};
use super::session::{CsrfForm, Reader};
use super::tree::KeptTree;
use super::viewer::{markdown_html, markdown_summary, Viewer};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::{Html, Redirect};
use lectern_app::library::{self, CourseContents};
use lectern_app::AppError;
use lectern_core::{CategoryId, CourseId, FileId};
use lectern_store::{Course, FileRecord, FileState, HitKind};
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

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
    let shelves = library::shelves(&state.app, caller.user(), only)
        .await
        .map_err(ApiError::from)?;
    let overviews = library::overviews(&state.app, caller.user())
        .await
        .map_err(ApiError::from)?;
    let sections = shelves
        .into_iter()
        .map(|shelf| Section {
            id: shelf.category.id,
            name: shelf.category.name,
            courses: shelf
                .courses
                .into_iter()
                .map(|course| {
                    let overview = overviews.get(&course.id);
                    card(course, overview)
                })
                .collect(),
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

/// The README without a first heading that only repeats the course's
/// name: the page shows the name above it already.
fn without_title<'t>(text: &'t str, name: &str) -> &'t str {
    let start = text.trim_start();
    let (first, rest) = start.split_once('\n').unwrap_or((start, ""));
    let title = first
        .strip_prefix("# ")
        .map(|t| t.trim().trim_end_matches('#').trim());
    match title {
        Some(title) if title.eq_ignore_ascii_case(name.trim()) => rest,
        _ => text,
    }
}

/// A course's files by their path inside the course, for markdown links.
fn siblings(files: &[FileRecord]) -> HashMap<String, FileId> {
    files
        .iter()
        .filter(|f| f.state == FileState::Present)
        .map(|f| (f.path_in_course().into_owned(), f.id))
        .collect()
}

fn completed_ids(contents: &CourseContents) -> HashSet<FileId> {
    contents
        .progress
        .iter()
        .filter(|p| p.completed)
        .map(|p| p.file_id)
        .collect()
}

/// What the course and lesson pages show of a course.
#[derive(Serialize)]
struct CoursePage {
    id: CourseId,
    name: String,
    cover_file_id: Option<FileId>,
    progress: ProgressPage,
    /// The tree's HTML (see `tree.rs`).
    tree: Value,
}

#[derive(Serialize)]
struct ProgressPage {
    completed: usize,
    total: usize,
    percent: f64,
}

impl CoursePage {
    /// `done`: the reader's completed lessons; `current`: the lesson open.
    fn of(
        state: &AppState,
        c: &CourseContents,
        done: &HashSet<FileId>,
        current: Option<FileId>,
    ) -> Result<Self, PageError> {
        let tree = c.kept(&state.app, "pages.course.tree", || KeptTree::of(c.tree()))?;
        Ok(CoursePage {
            id: c.course.id,
            name: c.course.name.clone(),
            cover_file_id: c.cover,
            progress: ProgressPage {
                completed: c.completed,
                total: c.lessons,
                percent: c.percent,
            },
            tree: tree.html(done, current)?,
        })
    }
}

async fn contents(
    state: &AppState,
    caller: &Caller,
    id: CourseId,
) -> Result<CourseContents, ApiError> {
    Ok(library::course(&state.app, caller.user(), id).await?)
}

pub async fn course(
    State(state): State<AppState>,
    reader: Reader,
    PageIds(id): PageIds<i64>,
) -> Result<Html<String>, PageError> {
    let contents = contents(&state, &reader.0, CourseId(id)).await?;
    let description = contents.kept(
        &state.app,
        "pages.course.description",
        || -> Result<_, PageError> {
            Ok(contents
                .course
                .description
                .as_deref()
                .map(|text| without_title(text, &contents.course.name))
                .map(|text| markdown_html(text, "README.md", &siblings(&contents.files))))
        },
    )?;
    let done = completed_ids(&contents);
    let resume = contents
        .lessons()
        .find(|f| !done.contains(&f.id))
        .or(contents.lessons().next())
        .map(|f| f.id);
    render(
        "course.html",
        context! {
            title => &contents.course.name,
            course => CoursePage::of(&state, &contents, &done, None)?,
            description => description.as_deref(),
            resume,
            started => !contents.progress.is_empty(),
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
    let file = library::visible_file(&state.app, reader.0.user(), FileId(id))
        .await
        .map_err(ApiError::from)?;
    let contents = contents(&state, &reader.0, file.course_id).await?;
    let viewer = Viewer::of(&file);
    let (text, too_large) = match viewer.reads_text() {
        true => read_text(&state, &file).await?,
        false => (None, false),
    };
    let html = match (viewer, &text) {
        (Viewer::Markdown, Some(text)) => Some(markdown_html(
            text,
            &file.path_in_course(),
            &siblings(&contents.files),
        )),
        _ => None,
    };
    let own = contents.progress_of(file.id);
    let lessons: Vec<&FileRecord> = contents.lessons().collect();
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
            course => CoursePage::of(&state, &contents, &completed_ids(&contents), Some(file.id))?,
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
            tracks => tracks(&contents, &file),
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
    let (bytes, whole) = library::read_head(&state.app, file, TEXT_LIMIT).await?;
    if !whole {
        return Ok((None, true));
    }
    Ok((Some(String::from_utf8_lossy(&bytes).into_owned()), false))
}

fn tracks(contents: &CourseContents, media: &FileRecord) -> Vec<Track> {
    let mut seen = BTreeMap::new();
    for s in contents.subtitles().of(media) {
        let lang = s.subtitle_lang.clone().unwrap_or_else(|| "und".to_owned());
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

/// A search hit as the search page shows it.
#[derive(Serialize)]
struct Hit {
    id: i64,
    #[serde(skip)]
    course: bool,
    name: String,
    course_name: String,
    path: Option<String>,
    snippet: Option<String>,
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
        false => Some(library::search(&state.app, reader.0.user(), query, 50).await),
    };
    let (hits, error) = match found {
        None => (Vec::new(), None),
        Some(Ok(found)) => (found.hits, None),
        Some(Err(AppError::Invalid(message))) => (Vec::new(), Some(message)),
        Some(Err(other)) => return Err(ApiError::from(other).into()),
    };
    let results = hits.into_iter().map(|hit| Hit {
        id: hit.file_id.map_or(hit.course_id.0, |f| f.0),
        course: hit.kind == HitKind::Course,
        name: hit.name,
        course_name: hit.course_name,
        path: hit.path,
        snippet: hit.snippet,
    });
    let (courses, files): (Vec<Hit>, Vec<Hit>) = results.partition(|h| h.course);
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
    let user = reader.0.user();
    let saved = library::set_progress(&state.app, user, FileId(id), None, Some(form.completed))
        .await
        .map_err(ApiError::from)?;
    Ok(Redirect::to(&format!("/files/{}", saved.file_id)))
}

#[cfg(test)]
mod tests {
    use super::without_title;

    #[test]
    fn a_readme_heading_that_repeats_the_course_name_is_left_out() {
        let readme = "# Colour Theory\n\nWhy do some colour schemes feel calm?\n";
        assert_eq!(
            without_title(readme, "Colour Theory"),
            "\nWhy do some colour schemes feel calm?\n"
        );
        assert_eq!(
            without_title("\n#  colour theory ##\nText", "Colour Theory"),
            "Text"
        );
        for kept in [
            "# Colour Theory 2\nText",
            "## Colour Theory\nText",
            "Text\n# Colour Theory",
        ] {
            assert_eq!(without_title(kept, "Colour Theory"), kept);
        }
        assert_eq!(without_title("# Colour Theory", "Colour Theory"), "");
    }
}
