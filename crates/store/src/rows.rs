//! Row-to-record mapping shared by every backend. Each backend reads its
//! result rows through [`Columns`] (by column name), so a record is mapped
//! once here whatever the driver. A stored value that does not parse (an
//! unknown state, a path with `..`) is reported as damage, never trusted.

use crate::accounts::{
    ApiToken, ApiTokenId, Grant, GrantId, GrantRecord, Group, GroupId, Progress, User, UserId,
};
use crate::audit::AuditEntry;
use crate::model::*;
use crate::{Result, StoreError};
use lectern_core::scan::{ScanCounts, ScanIssue};
use lectern_core::{CategoryId, CourseId, FileId, LibraryPath, ScanId, Sha256Digest};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

/// A result row of any driver, read by column name. A NULL where the
/// schema allows none is damage, named by its column.
pub trait Columns {
    fn int_or_null(&self, name: &str) -> Result<Option<i64>>;
    fn real_or_null(&self, name: &str) -> Result<Option<f64>>;
    fn text_or_null(&self, name: &str) -> Result<Option<&str>>;
    /// A path's stored value as its bytes (SQLite's TEXT or BLOB,
    /// PostgreSQL's BYTEA).
    fn bytes_or_null(&self, name: &str) -> Result<Option<&[u8]>>;

    /// A yes/no column: SQLite's 0/1 integer by default, a backend with a
    /// boolean type reads its own.
    fn flag(&self, name: &str) -> Result<bool> {
        Ok(self.int(name)? != 0)
    }
    fn int(&self, name: &str) -> Result<i64> {
        self.int_or_null(name)?.ok_or_else(|| null(name))
    }
    fn real(&self, name: &str) -> Result<f64> {
        self.real_or_null(name)?.ok_or_else(|| null(name))
    }
    fn text(&self, name: &str) -> Result<&str> {
        self.text_or_null(name)?.ok_or_else(|| null(name))
    }
    fn bytes(&self, name: &str) -> Result<&[u8]> {
        self.bytes_or_null(name)?.ok_or_else(|| null(name))
    }
}

fn null(column: &str) -> StoreError {
    StoreError::damaged(format!("a NULL value in column {column}"))
}

pub(crate) fn parse<T: FromStr<Err = String>>(text: &str) -> Result<T> {
    text.parse().map_err(StoreError::damaged)
}

/// A stored library path, parsed once here: a value that does not parse is
/// damage, named by its table, row and column.
pub(crate) fn path(bytes: &[u8], table: &str, id: i64, column: &str) -> Result<LibraryPath> {
    LibraryPath::from_bytes(bytes)
        .map_err(|e| StoreError::damaged(format!("{table} row {id}, column {column}: {e}")))
}

pub(crate) fn digest(text: &str, id: i64) -> Result<Sha256Digest> {
    Sha256Digest::from_hex(text)
        .map_err(|e| StoreError::damaged(format!("files row {id}, column sha256: {e}")))
}

pub(crate) fn size(value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| StoreError::damaged(format!("negative size {value}")))
}

/// The text a category or course path is stored as. Their names are shown,
/// compared and joined in SQL as text, so one that is not UTF-8 is refused
/// here, never written lossily (the scanner reports such a folder instead;
/// the files inside courses may have any name).
pub fn stored(path: &LibraryPath) -> Result<&str> {
    path.to_str().ok_or_else(|| {
        StoreError::other(format!(
            "the category or course folder {} is not named in valid UTF-8",
            path.display()
        ))
    })
}

/// Hands out one shared copy of each distinct text (a file type): a
/// library's 100,000 files have a few dozen.
#[derive(Default)]
pub struct Interner(HashMap<String, Arc<str>>);

impl Interner {
    pub(crate) fn get(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        self.0.insert(text.to_owned(), shared.clone());
        shared
    }
}

pub fn category(row: &impl Columns) -> Result<Category> {
    Ok(Category {
        id: CategoryId(row.int("id")?),
        name: row.text("name")?.to_owned(),
    })
}

pub fn course(row: &impl Columns) -> Result<Course> {
    let id = row.int("id")?;
    Ok(Course {
        id: CourseId(id),
        category_id: CategoryId(row.int("category_id")?),
        name: row.text("name")?.to_owned(),
        path: path(row.bytes("path")?, "courses", id, "path")?,
        description: row.text_or_null("description")?.map(str::to_owned),
    })
}

pub fn file_record(row: &impl Columns) -> Result<FileRecord> {
    let id = row.int("id")?;
    let path = self::path(row.bytes("path")?, "files", id, "path")?;
    let subtitle_for = match row.bytes_or_null("subtitle_for")? {
        Some(media) => Some(self::path(media, "files", id, "subtitle_for")?),
        None => None,
    };
    Ok(FileRecord {
        id: FileId(id),
        course_id: CourseId(row.int("course_id")?),
        name: path.name_lossy().into_owned(),
        path,
        size: size(row.int("size")?)?,
        mtime_ns: row.int("mtime_ns")?,
        sha256: digest(row.text("sha256")?, id)?,
        mime: row.text("mime")?.to_owned(),
        role: parse(row.text("role")?)?,
        subtitle_for,
        subtitle_lang: row.text_or_null("subtitle_lang")?.map(str::to_owned),
        state: parse(row.text("state")?)?,
    })
}

pub fn scan_record(row: &impl Columns) -> Result<ScanRecord> {
    let count = |name: &str| -> Result<u64> { size(row.int(name)?) };
    Ok(ScanRecord {
        id: ScanId(row.int("id")?),
        kind: parse(row.text("kind")?)?,
        course_id: row.int_or_null("course_id")?.map(CourseId),
        started_by: row.text("started_by")?.to_owned(),
        started_at: row.int("started_at")?,
        finished_at: row.int_or_null("finished_at")?,
        status: parse(row.text("status")?)?,
        reason: row.text_or_null("reason")?.map(str::to_owned),
        verify: row.flag("verify")?,
        forced: row.flag("forced")?,
        counts: ScanCounts {
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

pub fn scan_issue(row: &impl Columns) -> Result<ScanIssue> {
    Ok(ScanIssue {
        kind: parse(row.text("kind")?)?,
        path: row.text("path")?.to_owned(),
        message: row.text("message")?.to_owned(),
    })
}

pub fn lock_info(row: &impl Columns) -> Result<LockInfo> {
    Ok(LockInfo {
        operation: row.text("operation")?.to_owned(),
        owner: LockOwner {
            holder: row.text("holder")?.to_owned(),
            host: row.text("host")?.to_owned(),
            pid: row.int("pid")?,
            pid_start: row.int_or_null("pid_start")?,
        },
        token: row.text("token")?.to_owned(),
        acquired_at: row.int("acquired_at")?,
        expires_at: row.int("expires_at")?,
    })
}

/// The columns [`user`] reads.
pub const USER_COLUMNS: &str = "id, username, role, disabled, created_at";

pub fn user(row: &impl Columns) -> Result<User> {
    Ok(User {
        id: UserId(row.int("id")?),
        username: row.text("username")?.to_owned(),
        role: parse(row.text("role")?)?,
        disabled: row.flag("disabled")?,
        created_at: row.int("created_at")?,
    })
}

pub fn progress(row: &impl Columns) -> Result<Progress> {
    Ok(Progress {
        file_id: FileId(row.int("file_id")?),
        position_seconds: row.real_or_null("position_seconds")?,
        completed: row.flag("completed")?,
        updated_at: row.int("updated_at")?,
    })
}

/// A group with its member and grant counts (the backends' `GROUP_SELECT`).
pub fn group(row: &impl Columns) -> Result<Group> {
    Ok(Group {
        id: GroupId(row.int("id")?),
        name: row.text("name")?.to_owned(),
        created_at: row.int("created_at")?,
        member_count: row.int("member_count")?.max(0) as u64,
        grant_count: row.int("grant_count")?.max(0) as u64,
    })
}

/// A grant, with the path of the category or course it opens.
pub fn grant_record(row: &impl Columns) -> Result<GrantRecord> {
    let grant = match (
        row.int_or_null("category_id")?,
        row.int_or_null("course_id")?,
    ) {
        (Some(id), None) => Grant::Category(CategoryId(id)),
        (None, Some(id)) => Grant::Course(CourseId(id)),
        _ => {
            return Err(StoreError::damaged(
                "a grant must name exactly one category or course",
            ))
        }
    };
    let id = row.int("id")?;
    let path = LibraryPath::parse(row.text("path")?).map_err(|e| {
        StoreError::damaged(format!("grants row {id}: what it opens has no path: {e}"))
    })?;
    Ok(GrantRecord {
        id: GrantId(id),
        group_id: GroupId(row.int("group_id")?),
        grant,
        path,
        created_at: row.int("created_at")?,
    })
}

/// An API token with its owner's name (never its hash).
pub fn api_token(row: &impl Columns) -> Result<ApiToken> {
    Ok(ApiToken {
        id: ApiTokenId(row.int("id")?),
        name: row.text("name")?.to_owned(),
        user_id: UserId(row.int("user_id")?),
        username: row.text("username")?.to_owned(),
        created_at: row.int("created_at")?,
        expires_at: row.int_or_null("expires_at")?,
        last_used_at: row.int_or_null("last_used_at")?,
    })
}

/// An audit log entry.
pub fn audit_entry(row: &impl Columns) -> Result<AuditEntry> {
    let status = row.int_or_null("status")?;
    let status = status
        .map(u16::try_from)
        .transpose()
        .map_err(|_| StoreError::damaged(format!("an audit entry's status {status:?}")))?;
    Ok(AuditEntry {
        id: row.int("id")?,
        created_at: row.int("created_at")?,
        actor: row.text("actor")?.to_owned(),
        actor_id: row.int_or_null("actor_id")?.map(UserId),
        action: row.text("action")?.to_owned(),
        target: row.text_or_null("target")?.map(str::to_owned),
        detail: row.text_or_null("detail")?.map(str::to_owned),
        outcome: parse(row.text("outcome")?)?,
        status,
        address: row.text_or_null("address")?.map(str::to_owned),
    })
}
