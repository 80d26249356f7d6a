//! Searching the library: what people type, and what they find.

use lectern_core::{CategoryId, CourseId, FileId};
use serde::Serialize;

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
