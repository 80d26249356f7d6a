//! The records the store reads and writes. Timestamps are milliseconds since
//! the Unix epoch; file modification times are nanoseconds, as the scanner
//! compares them exactly.

use lectern_core::scan::{ScanCounts, ScanKind, ScanStatus};
use lectern_core::{CategoryId, CourseId, FileId, LibraryPath, ScanId, Sha256Digest};
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    pub id: CategoryId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Course {
    pub id: CourseId,
    pub category_id: CategoryId,
    pub name: String,
    /// `Category/Course`, relative to ROOT.
    pub path: LibraryPath,
    /// The text of the course's README.md, if it has one.
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    Present,
    Missing,
}

/// What a file is to its course, decided from its name and place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileRole {
    /// A lesson or any other material.
    Material,
    /// The course's README.md: its description.
    Description,
    /// The course picture (cover.jpg|png|webp at the course's top).
    Cover,
    /// Captions for the media file named in `subtitle_for`.
    Subtitle,
}

lectern_core::text_enum!(FileState { Present => "present", Missing => "missing" });
lectern_core::text_enum!(FileRole {
    Material => "material",
    Description => "description",
    Cover => "cover",
    Subtitle => "subtitle",
});

/// Where a subtitle file belongs: the media file beside it, and its language
/// tag when the name carries one (`Welcome.en.srt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubtitleLink {
    pub media_path: LibraryPath,
    pub lang: Option<String>,
}

/// What the scanner learns about a file's content and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    pub size: u64,
    pub mtime_ns: i64,
    pub sha256: Sha256Digest,
    /// Shared: a library has a few dozen types over many thousand files.
    pub mime: Arc<str>,
    pub role: FileRole,
    /// Boxed: few files are subtitles, and a scan holds a library's worth.
    pub subtitle: Option<Box<SubtitleLink>>,
}

/// A full file record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRecord {
    pub id: FileId,
    pub course_id: CourseId,
    /// Relative to ROOT.
    pub path: LibraryPath,
    /// The last name of `path`, as text to show (lossy, were it not UTF-8).
    pub name: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub sha256: Sha256Digest,
    pub mime: String,
    pub role: FileRole,
    /// The media file a subtitle belongs to.
    pub subtitle_for: Option<LibraryPath>,
    pub subtitle_lang: Option<String>,
    pub state: FileState,
}

impl FileRecord {
    /// The path inside its course (`01 Intro/01 Welcome.mp4`): what people
    /// see, below `Category/Course`. Lossy text, were the path not UTF-8.
    pub fn path_in_course(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.inside_course())
    }

    /// The exact name, escaped (`lectern_core::escaped`), when it is not
    /// valid UTF-8 and `name` is only its display form.
    pub fn raw_name(&self) -> Option<String> {
        lectern_core::escaped(self.path.name())
    }

    /// The exact path inside its course, escaped, when it is not valid
    /// UTF-8 and [`path_in_course`](Self::path_in_course) is only its
    /// display form.
    pub fn raw_path_in_course(&self) -> Option<String> {
        lectern_core::escaped(self.inside_course())
    }

    /// The path's bytes below `Category/Course`.
    pub fn inside_course(&self) -> &[u8] {
        self.path.strip_prefix(2).unwrap_or(self.path.as_bytes())
    }
}

/// The slice of a file record the scanner compares against the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFile {
    pub id: FileId,
    pub course_id: CourseId,
    pub path: LibraryPath,
    pub facts: FileFacts,
    pub state: FileState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    pub course_id: CourseId,
    pub path: LibraryPath,
    pub facts: FileFacts,
}

/// A known file seen again: at the same path (`path` unchanged) or, for a
/// move, at a new path, possibly in another course. Its id is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub id: FileId,
    pub course_id: CourseId,
    pub path: LibraryPath,
    pub facts: FileFacts,
}

/// One transaction's worth of changes from a scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeBatch {
    /// Missing records to delete first: a vanished file moved onto their
    /// path, and the path can hold one record only.
    pub purged: Vec<FileId>,
    pub added: Vec<NewFile>,
    pub changed: Vec<FileChange>,
    pub missing: Vec<FileId>,
    /// New README.md text for a course (`None` when it has none any more).
    pub descriptions: Vec<(CourseId, Option<String>)>,
}

impl ChangeBatch {
    pub fn is_empty(&self) -> bool {
        self.purged.is_empty()
            && self.added.is_empty()
            && self.changed.is_empty()
            && self.missing.is_empty()
            && self.descriptions.is_empty()
    }

    pub fn len(&self) -> usize {
        self.purged.len()
            + self.added.len()
            + self.changed.len()
            + self.missing.len()
            + self.descriptions.len()
    }
}

/// Which part of the index a scan looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    /// The courses of the category named by this folder (depth 1).
    Category(LibraryPath),
    Course(CourseId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewScan {
    pub kind: ScanKind,
    pub course_id: Option<CourseId>,
    pub started_by: String,
    pub verify: bool,
    pub forced: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanRecord {
    pub id: ScanId,
    pub kind: ScanKind,
    pub course_id: Option<CourseId>,
    pub started_by: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub status: ScanStatus,
    pub reason: Option<String>,
    pub verify: bool,
    pub forced: bool,
    #[serde(flatten)]
    pub counts: ScanCounts,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CleanupCounts {
    pub files: u64,
    pub courses: u64,
    pub categories: u64,
}

/// The index at a glance: for the admin's overview, the root-path check
/// and the cleanup's preview.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IndexSummary {
    pub categories: u64,
    pub courses: u64,
    pub files_present: u64,
    pub files_missing: u64,
    pub bytes_present: u64,
    /// What a cleanup would purge now.
    pub orphans: CleanupCounts,
    /// The first paths of missing files, by path, as text to show (lossy,
    /// were one not UTF-8).
    pub missing_sample: Vec<String>,
}

/// The process holding (or asking for) the operation lock. Host, pid and the
/// pid's start time let another process on the same host see that a holder
/// died (SIGKILL) without waiting for its lease to run out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockOwner {
    pub holder: String,
    pub host: String,
    pub pid: i64,
    pub pid_start: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockInfo {
    pub operation: String,
    #[serde(flatten)]
    pub owner: LockOwner,
    pub token: String,
    pub acquired_at: i64,
    pub expires_at: i64,
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held_s = (crate::now_ms() - self.acquired_at).max(0) / 1000;
        write!(
            f,
            "{} held by {} on {} (pid {}) for {held_s} s",
            self.operation, self.owner.holder, self.owner.host, self.owner.pid
        )
    }
}
