//! Row-to-record mapping. A stored value that does not parse (an unknown
//! state, a path with `..`) is reported as corruption, never trusted.

use crate::model::*;
use crate::{Result, StoreError};
use lectern_core::scan::ScanIssue;
use lectern_core::{CategoryId, CourseId, FileId, LibraryPath, ScanId, Sha256Digest};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

fn parse<T: FromStr<Err = String>>(text: &str) -> Result<T> {
    text.parse().map_err(StoreError::damaged)
}

fn path(text: &str) -> Result<LibraryPath> {
    LibraryPath::parse(text).map_err(|e| StoreError::damaged(e.to_string()))
}

/// The text a library path is stored as. The columns are TEXT, so a path
/// that is not UTF-8 is refused here, never written lossily; storing such
/// names exactly is a later change to the schema.
pub fn stored(path: &LibraryPath) -> Result<&str> {
    path.to_str().ok_or_else(|| {
        StoreError::other(format!(
            "the path {} is not valid UTF-8, which the index cannot hold yet",
            path.display()
        ))
    })
}

fn size(value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| StoreError::damaged(format!("negative size {value}")))
}

pub fn category(row: SqliteRow) -> Result<Category> {
    Ok(Category {
        id: CategoryId(row.try_get("id")?),
        name: row.try_get("name")?,
    })
}

pub fn course(row: SqliteRow) -> Result<Course> {
    Ok(Course {
        id: CourseId(row.try_get("id")?),
        category_id: CategoryId(row.try_get("category_id")?),
        name: row.try_get("name")?,
        path: row.try_get("path")?,
        description: row.try_get("description")?,
    })
}

/// Hands out one shared copy of each distinct text (a file type).
#[derive(Default)]
pub struct Interner(HashMap<String, Arc<str>>);

impl Interner {
    fn get(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        self.0.insert(text.to_owned(), shared.clone());
        shared
    }
}

pub fn known_file(row: SqliteRow, mimes: &mut Interner) -> Result<KnownFile> {
    let subtitle = match row.try_get::<Option<&str>, _>("subtitle_for")? {
        Some(media) => Some(Box::new(SubtitleLink {
            media_path: path(media)?,
            lang: row.try_get("subtitle_lang")?,
        })),
        None => None,
    };
    Ok(KnownFile {
        id: FileId(row.try_get("id")?),
        course_id: CourseId(row.try_get("course_id")?),
        path: path(row.try_get("path")?)?,
        facts: FileFacts {
            size: size(row.try_get("size")?)?,
            mtime_ns: row.try_get("mtime_ns")?,
            sha256: Sha256Digest::from_hex(row.try_get("sha256")?)
                .map_err(|e| StoreError::damaged(e.to_string()))?,
            mime: mimes.get(row.try_get("mime")?),
            role: parse(row.try_get("role")?)?,
            subtitle,
        },
        state: parse(row.try_get("state")?)?,
    })
}

pub fn file_record(row: SqliteRow) -> Result<FileRecord> {
    let path = path(row.try_get("path")?)?;
    Ok(FileRecord {
        id: FileId(row.try_get("id")?),
        course_id: CourseId(row.try_get("course_id")?),
        name: path.name_lossy().into_owned(),
        path: path.to_string_lossy().into_owned(),
        size: size(row.try_get("size")?)?,
        mtime_ns: row.try_get("mtime_ns")?,
        sha256: row.try_get("sha256")?,
        mime: row.try_get("mime")?,
        role: parse(row.try_get("role")?)?,
        subtitle_for: row.try_get("subtitle_for")?,
        subtitle_lang: row.try_get("subtitle_lang")?,
        state: parse(row.try_get("state")?)?,
    })
}

pub fn scan_record(row: SqliteRow) -> Result<ScanRecord> {
    let count = |name: &str| -> Result<u64> { size(row.try_get(name)?) };
    Ok(ScanRecord {
        id: ScanId(row.try_get("id")?),
        kind: parse(row.try_get("kind")?)?,
        course_id: row.try_get::<Option<i64>, _>("course_id")?.map(CourseId),
        started_by: row.try_get("started_by")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        status: parse(row.try_get("status")?)?,
        reason: row.try_get("reason")?,
        verify: row.try_get("verify")?,
        forced: row.try_get("forced")?,
        counts: lectern_core::scan::ScanCounts {
            added: count("added")?,
            updated: count("updated")?,
            removed: count("removed")?,
            moved: count("moved")?,
            unchanged: count("unchanged")?,
            errors: count("errors")?,
            hashed_files: count("hashed_files")?,
            hashed_bytes: count("hashed_bytes")?,
        },
    })
}

pub fn scan_issue(row: SqliteRow) -> Result<ScanIssue> {
    Ok(ScanIssue {
        kind: parse(row.try_get("kind")?)?,
        path: row.try_get("path")?,
        message: row.try_get("message")?,
    })
}

pub fn lock_info(row: SqliteRow) -> Result<LockInfo> {
    Ok(LockInfo {
        operation: row.try_get("operation")?,
        owner: LockOwner {
            holder: row.try_get("holder")?,
            host: row.try_get("host")?,
            pid: row.try_get("pid")?,
            pid_start: row.try_get("pid_start")?,
        },
        token: row.try_get("token")?,
        acquired_at: row.try_get("acquired_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}
