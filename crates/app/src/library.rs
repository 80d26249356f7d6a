//! What signed-in people browse: categories, courses, files, their own
//! progress, and search. The grant rules live here, once: everything
//! outside the reader's grants is `NotFound`, exactly as if it did not
//! exist, so neither titles nor ids leak through any front end.

use crate::context::App;
use crate::error::AppError;
use crate::index_cache::{Key, Source};
use lectern_core::{CategoryId, CourseId, FileId, LibraryPath};
use lectern_store::settings::library_open;
use lectern_store::{
    Category, Course, CourseOverview, FileRecord, FileRole, FileState, Progress, SearchHit,
    SearchQuery, User, Visibility,
};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

pub const DEFAULT_SEARCH_LIMIT: u32 = 20;
pub const MAX_SEARCH_LIMIT: u32 = 100;

fn not_found() -> AppError {
    AppError::NotFound("not found".into())
}

/// What `reader` may see: everything for an admin or an open library,
/// else what their groups are granted.
pub async fn visibility(app: &App, reader: &User) -> Result<Visibility, AppError> {
    // An admin sees everything whatever the setting says: not read for them.
    if reader.role == lectern_store::Role::Admin {
        return Ok(Visibility::Everything);
    }
    let open = library_open(app.store.as_ref()).await?;
    Ok(Visibility::of(app.store.as_ref(), reader, open).await?)
}

pub async fn visible_course(app: &App, reader: &User, id: CourseId) -> Result<Course, AppError> {
    Ok(visible_index(app, reader, id).await?.1.course.clone())
}

/// The index of a course the reader may see, with the course generation it
/// was read at: the grant rule for a course, once.
async fn visible_index(
    app: &App,
    reader: &User,
    id: CourseId,
) -> Result<(i64, Arc<CourseIndex>), AppError> {
    let generation = app.store.course_generation(id).await?;
    visible_index_at(app, reader, id, generation).await
}

/// [`visible_index`] with the course generation as the caller read it.
async fn visible_index_at(
    app: &App,
    reader: &User,
    id: CourseId,
    generation: i64,
) -> Result<(i64, Arc<CourseIndex>), AppError> {
    let (generation, index) = course_index(app, id, generation).await?;
    let index = index.ok_or_else(not_found)?;
    let seen = visibility(app, reader).await?;
    if !seen.course(index.course.category_id, index.course.id) {
        return Err(not_found());
    }
    Ok((generation, index))
}

/// Every category with its courses, in the store's order, as the index
/// holds them now: built once per index generation, shared by every reader
/// (each sees only what their grants let through).
struct Catalogue {
    shelves: Vec<(Category, Vec<Course>)>,
}

async fn catalogue(app: &App) -> Result<Arc<Catalogue>, AppError> {
    let key = Key {
        kind: "catalogue",
        id: 0,
    };
    let (_, catalogue) = app
        .index_cache
        .get_or_build(app.store.as_ref(), key, Source::Index, || async {
            let mut by_category: HashMap<CategoryId, Vec<Course>> = HashMap::new();
            for course in app.store.courses(None).await? {
                by_category
                    .entry(course.category_id)
                    .or_default()
                    .push(course);
            }
            let shelves = app.store.categories().await?.into_iter();
            let shelves = shelves
                .map(|c| {
                    let courses = by_category.remove(&c.id).unwrap_or_default();
                    (c, courses)
                })
                .collect();
            Ok(Catalogue { shelves })
        })
        .await?;
    Ok(catalogue)
}

/// A present file of a course the reader may see.
pub async fn visible_file(app: &App, reader: &User, id: FileId) -> Result<FileRecord, AppError> {
    Ok(visible_file_in(app, reader, id).await?.0)
}

/// A present file of a course the reader may see, with its course's index.
async fn visible_file_in(
    app: &App,
    reader: &User,
    id: FileId,
) -> Result<(FileRecord, Arc<CourseIndex>), AppError> {
    let (file, generation) = app.store.file_at(id).await?.ok_or_else(not_found)?;
    let (_, index) = visible_index_at(app, reader, file.course_id, generation).await?;
    if file.state != FileState::Present {
        return Err(not_found());
    }
    Ok((file, index))
}

/// A category with the courses in it the reader may see.
pub struct Shelf {
    pub category: Category,
    pub courses: Vec<Course>,
}

/// The categories holding a course the reader may see (or only `only`),
/// each with those courses.
pub async fn shelves(
    app: &App,
    reader: &User,
    only: Option<CategoryId>,
) -> Result<Vec<Shelf>, AppError> {
    let seen = visibility(app, reader).await?;
    let catalogue = catalogue(app).await?;
    let shelves = catalogue
        .shelves
        .iter()
        .filter(|(c, _)| only.is_none_or(|id| id == c.id))
        .filter_map(|(category, courses)| {
            let courses: Vec<Course> = courses
                .iter()
                .filter(|c| seen.course(c.category_id, c.id))
                .cloned()
                .collect();
            (!courses.is_empty()).then(|| Shelf {
                category: category.clone(),
                courses,
            })
        })
        .collect();
    Ok(shelves)
}

/// The categories holding a course the reader may see, each with how many:
/// what listing the categories needs, without copying the courses.
pub async fn category_counts(app: &App, reader: &User) -> Result<Vec<(Category, usize)>, AppError> {
    let seen = visibility(app, reader).await?;
    let catalogue = catalogue(app).await?;
    let counts = catalogue
        .shelves
        .iter()
        .filter_map(|(category, courses)| {
            let count = courses
                .iter()
                .filter(|c| seen.course(c.category_id, c.id))
                .count();
            (count > 0).then(|| (category.clone(), count))
        })
        .collect();
    Ok(counts)
}

/// One category the reader may see something of.
pub async fn category(app: &App, reader: &User, id: CategoryId) -> Result<Shelf, AppError> {
    let mut found = shelves(app, reader, Some(id)).await?;
    found.pop().ok_or_else(not_found)
}

/// The reader's progress through each course, for the course cards.
pub async fn overviews(
    app: &App,
    reader: &User,
) -> Result<HashMap<CourseId, CourseOverview>, AppError> {
    let list = app.store.course_overviews(reader.id).await?;
    Ok(list.into_iter().map(|o| (o.course_id, o)).collect())
}

/// What the index holds of a course: the same for every reader, built
/// once per course generation.
pub struct CourseIndex {
    pub course: Course,
    /// Every file the index holds for it, missing ones included.
    pub files: Vec<FileRecord>,
    pub cover: Option<FileId>,
    /// The present lessons (material files).
    lesson_ids: HashSet<FileId>,
}

/// A course as its reader sees it: its files and cover (through
/// [`CourseIndex`], which it derefs to), and the reader's progress.
pub struct CourseContents {
    pub index: Arc<CourseIndex>,
    /// The course generation `index` was read at, for what a front end
    /// derives from it alone ([`IndexCache::derived`](crate::index_cache::IndexCache::derived)).
    pub generation: i64,
    /// The reader's progress on its files.
    pub progress: Vec<Progress>,
    /// Present lessons (material files) completed, of `lessons`.
    pub completed: usize,
    pub lessons: usize,
    /// `completed` of `lessons`, to one decimal.
    pub percent: f64,
}

impl std::ops::Deref for CourseContents {
    type Target = CourseIndex;
    fn deref(&self) -> &CourseIndex {
        &self.index
    }
}

impl CourseContents {
    /// The present lessons, in reading order.
    pub fn lessons(&self) -> impl Iterator<Item = &FileRecord> {
        self.files.iter().filter(|f| is_lesson(f))
    }

    pub fn progress_of(&self, file: FileId) -> Option<&Progress> {
        self.progress.iter().find(|p| p.file_id == file)
    }

    /// The present files, as a tree of the folders inside the course.
    pub fn tree(&self) -> Vec<Node<&FileRecord>> {
        let present = self.files.iter().filter(|f| f.state == FileState::Present);
        tree(present.map(|f| (f.inside_course(), f)))
    }

    /// Each media file's subtitles, as the index pairs them, by the
    /// media's path: built once, then looked up per file.
    pub fn subtitles(&self) -> Subtitles<'_> {
        subtitles(&self.files)
    }

    /// What `build` works out from the course's index alone (a front end's
    /// rendering of its tree), kept as `kind` beside the index until the
    /// course changes. The reader's progress never goes into it.
    pub fn kept<T, E>(
        &self,
        app: &App,
        kind: &'static str,
        build: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
    {
        let key = Key {
            kind,
            id: self.course.id.0,
        };
        app.index_cache.derived(self.generation, key, build)
    }
}

/// Subtitles by the path of the media they caption.
pub struct Subtitles<'a>(HashMap<&'a LibraryPath, Vec<&'a FileRecord>>);

impl<'a> Subtitles<'a> {
    pub fn of(&self, media: &FileRecord) -> &[&'a FileRecord] {
        self.0.get(&media.path).map_or(&[], Vec::as_slice)
    }
}

fn subtitles(files: &[FileRecord]) -> Subtitles<'_> {
    let mut map: HashMap<&LibraryPath, Vec<&FileRecord>> = HashMap::new();
    let captions = files.iter().filter(|f| f.role == FileRole::Subtitle);
    for caption in captions {
        if let Some(media) = &caption.subtitle_for {
            map.entry(media).or_default().push(caption);
        }
    }
    Subtitles(map)
}

/// A present file of a course the reader may see, with its subtitles.
pub async fn file(
    app: &App,
    reader: &User,
    id: FileId,
) -> Result<(FileRecord, Vec<FileRecord>), AppError> {
    let (file, index) = visible_file_in(app, reader, id).await?;
    let found = subtitles(&index.files)
        .of(&file)
        .iter()
        .map(|f| (*f).clone())
        .collect();
    Ok((file, found))
}

fn is_lesson(file: &FileRecord) -> bool {
    file.role == FileRole::Material && file.state == FileState::Present
}

pub async fn course(app: &App, reader: &User, id: CourseId) -> Result<CourseContents, AppError> {
    let (generation, progress) = app.store.course_progress_at(reader.id, id).await?;
    let (generation, index) = visible_index_at(app, reader, id, generation).await?;
    let completed = progress
        .iter()
        .filter(|p| p.completed && index.lesson_ids.contains(&p.file_id))
        .count();
    let total = index.lesson_ids.len();
    let percent = if total == 0 {
        0.0
    } else {
        (completed as f64 * 1000.0 / total as f64).round() / 10.0
    };
    Ok(CourseContents {
        index,
        generation,
        progress,
        completed,
        lessons: total,
        percent,
    })
}

/// The course's index, or `None` for no such course (kept too: a flood of
/// unknown ids costs one lookup each, not a query each), with the course
/// generation it was read at.
async fn course_index(
    app: &App,
    id: CourseId,
    generation: i64,
) -> Result<(i64, Option<Arc<CourseIndex>>), AppError> {
    let key = Key {
        kind: "course",
        id: id.0,
    };
    let (generation, kept) = app
        .index_cache
        .get_or_build_at(
            app.store.as_ref(),
            key,
            Source::Course(id),
            generation,
            || async {
                let Some(course) = app.store.course(id).await? else {
                    return Ok(None);
                };
                let files = app.store.course_files(course.id).await?;
                let lesson_ids = files
                    .iter()
                    .filter(|f| is_lesson(f))
                    .map(|f| f.id)
                    .collect();
                let cover = files
                    .iter()
                    .find(|f| f.role == FileRole::Cover && f.state == FileState::Present)
                    .map(|f| f.id);
                Ok(Some(Arc::new(CourseIndex {
                    course,
                    files,
                    cover,
                    lesson_ids,
                })))
            },
        )
        .await?;
    Ok((generation, kept.as_ref().clone()))
}

/// A folder or a file of a course's tree.
#[derive(Debug, PartialEq)]
pub enum Node<F> {
    Folder {
        /// The folder's name to show: exact when it is valid UTF-8.
        name: String,
        /// The exact bytes, escaped (see [`lectern_core::escaped`]), for a
        /// name that is not valid UTF-8.
        raw_name: Option<String>,
        children: Vec<Node<F>>,
    },
    File(F),
}

impl<F> Node<F> {
    /// The same tree with each file turned into `G`.
    pub fn map<G>(self, f: &mut impl FnMut(F) -> G) -> Node<G> {
        match self {
            Node::Folder {
                name,
                raw_name,
                children,
            } => Node::Folder {
                name,
                raw_name,
                children: children.into_iter().map(|c| c.map(f)).collect(),
            },
            Node::File(file) => Node::File(f(file)),
        }
    }
}

/// Files by their `/`-separated path inside the course, in order, nested
/// into their folders (a folder appears where its first file does). Folders
/// are told apart by their bytes, so two whose names show alike stay two.
pub fn tree<'p, F>(files: impl IntoIterator<Item = (&'p [u8], F)>) -> Vec<Node<F>> {
    let mut root: Vec<Node<F>> = Vec::new();
    for (path, file) in files {
        let folders: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
        let mut level = &mut root;
        for name in &folders[..folders.len() - 1] {
            level = folder(level, name);
        }
        level.push(Node::File(file));
    }
    root
}

fn folder<'a, F>(level: &'a mut Vec<Node<F>>, bytes: &[u8]) -> &'a mut Vec<Node<F>> {
    // The display form and the escaped bytes together are the bytes.
    let name = String::from_utf8_lossy(bytes);
    let raw = lectern_core::escaped(bytes);
    let exists = matches!(level.last(),
        Some(Node::Folder { name: n, raw_name: r, .. }) if *n == name && *r == raw);
    if !exists {
        level.push(Node::Folder {
            name: name.into_owned(),
            raw_name: raw,
            children: Vec::new(),
        });
    }
    match level.last_mut() {
        Some(Node::Folder { children, .. }) => children,
        // Pushed just above when it was not there.
        _ => unreachable!("a folder was just pushed"),
    }
}

/// Saves the reader's position in a file and whether they completed it.
pub async fn set_progress(
    app: &App,
    reader: &User,
    file: FileId,
    position_seconds: Option<f64>,
    completed: Option<bool>,
) -> Result<Progress, AppError> {
    if position_seconds.is_none() && completed.is_none() {
        return Err(AppError::Invalid(
            "give position_seconds, completed, or both".into(),
        ));
    }
    if position_seconds.is_some_and(|p| !p.is_finite() || p < 0.0) {
        return Err(AppError::Invalid(
            "position_seconds must be a number of seconds, 0 or more".into(),
        ));
    }
    let file = visible_file(app, reader, file).await?;
    let saved = app
        .store
        .set_progress(reader.id, file.id, position_seconds, completed)
        .await?;
    Ok(saved)
}

/// What a search understood, and its hits among what the reader may see.
pub struct Found {
    pub query: String,
    pub hits: Vec<SearchHit>,
}

pub fn bad_limit() -> AppError {
    AppError::Invalid(format!(
        "limit must be a whole number from 1 to {MAX_SEARCH_LIMIT}"
    ))
}

/// Courses and files matching `text` (each word the start of a word,
/// ignoring case and accents), best first, only from what the reader may
/// see; at most `limit` (1 to [`MAX_SEARCH_LIMIT`]).
pub async fn search(app: &App, reader: &User, text: &str, limit: u32) -> Result<Found, AppError> {
    let query = SearchQuery::parse(text).map_err(|e| AppError::Invalid(e.to_string()))?;
    if !(1..=MAX_SEARCH_LIMIT).contains(&limit) {
        return Err(bad_limit());
    }
    let seen = visibility(app, reader).await?;
    let hits = app.store.search(&query, &seen, limit).await?;
    Ok(Found {
        query: query.text().to_owned(),
        hits,
    })
}

/// Where an indexed file is on disk now, and whether it still has the
/// indexed size and mtime.
pub struct Located {
    pub path: PathBuf,
    pub fresh: bool,
}

/// `NotFound` when the file is gone from disk or is not a file any more.
pub async fn locate(app: &App, file: &FileRecord) -> Result<Located, AppError> {
    let root = app.library_root().await?.ok_or_else(not_found)?;
    let path = file.path.to_path(&root);
    let meta = tokio::fs::metadata(&path).await.map_err(|_| not_found())?;
    if !meta.is_file() {
        return Err(not_found());
    }
    let fresh = meta.len() == file.size && lectern_scanner::mtime_ns(&meta) == file.mtime_ns;
    Ok(Located { path, fresh })
}

/// The first `limit` bytes of an indexed file, and whether that was all.
pub async fn read_head(
    app: &App,
    file: &FileRecord,
    limit: u64,
) -> Result<(Vec<u8>, bool), AppError> {
    use tokio::io::AsyncReadExt;
    let located = locate(app, file).await?;
    let opened = tokio::fs::File::open(&located.path)
        .await
        .map_err(|_| not_found())?;
    let mut bytes = Vec::new();
    opened
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| AppError::internal(format!("cannot read {}", file.path.display()), e))?;
    let whole = bytes.len() as u64 <= limit;
    bytes.truncate(limit as usize);
    Ok((bytes, whole))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_nest_into_their_folders_in_order() {
        let files: [(&[u8], _); 5] = [
            (b"01 Intro/a.md", 1),
            (b"01 Intro/b.md", 2),
            (b"02 \xfe/c.md", 3),
            (b"02 \xff/d.md", 4),
            (b"e.md", 5),
        ];
        let nodes = tree(files);
        let folder = |name: &str, raw: Option<&str>, children| Node::Folder {
            name: name.into(),
            raw_name: raw.map(str::to_owned),
            children,
        };
        assert_eq!(
            nodes,
            vec![
                folder("01 Intro", None, vec![Node::File(1), Node::File(2)]),
                folder("02 \u{fffd}", Some("02 %FE"), vec![Node::File(3)]),
                folder("02 \u{fffd}", Some("02 %FF"), vec![Node::File(4)]),
                Node::File(5),
            ]
        );
    }
}
