//! Searching the library: what people type, and what they find.

use lectern_core::{CategoryId, CourseId, FileId};
use serde::Serialize;
use std::cmp::Ordering;

/// The longest search text accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// What someone typed, split into words. Each word is matched as a prefix
/// of a word in a name or description, and every word must match. The
/// words are plain text: a backend quotes them into its own query syntax,
/// so nothing typed is ever read as search operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    text: String,
    words: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("give some words to search for")]
    Empty,
    #[error("a search is at most {MAX_QUERY_CHARS} characters")]
    TooLong,
}

impl SearchQuery {
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong);
        }
        // Control characters (NUL included) separate words like spaces do.
        let words: Vec<String> = text
            .split(|c: char| c.is_whitespace() || c.is_control())
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        if words.is_empty() {
            return Err(QueryError::Empty);
        }
        Ok(Self {
            text: text.trim().to_owned(),
            words,
        })
    }

    /// The text as typed, without surrounding space.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn words(&self) -> &[String] {
        &self.words
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HitKind {
    Course,
    File,
}

/// One course or file found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub kind: HitKind,
    pub category_id: CategoryId,
    pub course_id: CourseId,
    /// Set for a file.
    pub file_id: Option<FileId>,
    /// The course's or file's name on disk (a display form for a file name
    /// that is not UTF-8).
    pub name: String,
    /// A file name that is not UTF-8, escaped (see `lectern_core::escaped`).
    pub raw_name: Option<String>,
    pub course_name: String,
    /// A file's path inside its course (`01 Intro/01 Welcome.mp4`).
    pub path: Option<String>,
    /// A course's description around the words found (or its beginning),
    /// plain text; `None` when it has none.
    pub snippet: Option<String>,
    /// Lower is better. Ranks compare within one answer only.
    pub rank: f64,
}

/// One file's search entry (SQLite's row in `file_search`): its name, and the folders between its
/// course and it (`01 Intro/` for `Cat/Course/01 Intro/01 Welcome.mp4`, empty
/// for a file at the course's top). Exactly what migration 0003's view
/// `file_search_source` gives for a UTF-8 path; a name that is not UTF-8 is
/// indexed in its display form, so the words around its odd bytes are found.
pub struct Entry {
    pub id: FileId,
    pub name: String,
    pub section: String,
}

/// The entry for a present file, or `None` for one the search leaves out:
/// only lessons and materials are found (README, cover and subtitles are
/// found through their course or media file).
pub fn entry(id: FileId, path: &[u8], material: bool) -> Option<Entry> {
    if !material {
        return None;
    }
    let last = path.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    let folders = &path[..last];
    let course_end = folders
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'/')
        .nth(1)
        .map_or(folders.len(), |(i, _)| i + 1);
    Some(Entry {
        id,
        name: String::from_utf8_lossy(&path[last..]).into_owned(),
        section: String::from_utf8_lossy(&folders[course_end..]).into_owned(),
    })
}

/// Best rank first; on a tie courses before files, then by id, so the
/// same data always gives the same answer.
pub fn best_first(a: &SearchHit, b: &SearchHit) -> Ordering {
    let id = |h: &SearchHit| h.file_id.map_or(h.course_id.0, |f| f.0);
    a.rank
        .total_cmp(&b.rank)
        .then_with(|| (a.kind == HitKind::File).cmp(&(b.kind == HitKind::File)))
        .then_with(|| id(a).cmp(&id(b)))
}
