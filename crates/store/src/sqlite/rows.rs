//! Row-to-record mapping. A stored value that does not parse (an unknown
//! state, a path with `..`) is reported as corruption, never trusted.

use super::bulk;
use crate::model::*;
use crate::{Result, StoreError};
use lectern_core::scan::ScanIssue;
use lectern_core::{CategoryId, CourseId, FileId, LibraryPath, ScanId, Sha256Digest};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteArgumentValue, SqliteRow, SqliteTypeInfo};
use sqlx::{Encode, Row, Sqlite, Type};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

fn parse<T: FromStr<Err = String>>(text: &str) -> Result<T> {
    text.parse().map_err(StoreError::damaged)
}

/// A stored library path, parsed once here: a value that does not parse is
/// damage, named by its table, row and column. Read as bytes, which SQLite
/// gives for a TEXT and a BLOB value alike (see [`StoredPath`]).
fn path(bytes: &[u8], table: &str, id: i64, column: &str) -> Result<LibraryPath> {
    LibraryPath::from_bytes(bytes)
        .map_err(|e| StoreError::damaged(format!("{table} row {id}, column {column}: {e}")))
}

fn digest(text: &str, id: i64) -> Result<Sha256Digest> {
    Sha256Digest::from_hex(text)
        .map_err(|e| StoreError::damaged(format!("files row {id}, column sha256: {e}")))
}

/// A file's library path as the value it is stored as: its text when it is
/// valid UTF-8, so the index reads as text in any SQLite tool; otherwise its
/// exact bytes, as a BLOB. SQLite keeps a BLOB as given even in a TEXT
/// column, and a BLOB never equals a text, so two names that show alike
/// (one of them not UTF-8) stay two rows, and a lookup bound the same way
/// finds each.
#[derive(Clone, Copy)]
pub struct StoredPath<'a>(pub &'a LibraryPath);

impl Type<Sqlite> for StoredPath<'_> {
    fn type_info() -> SqliteTypeInfo {
        <&str as Type<Sqlite>>::type_info()
    }
}

impl<'q> Encode<'q, Sqlite> for StoredPath<'q> {
    fn encode_by_ref(
        &self,
        buf: &mut Vec<SqliteArgumentValue<'q>>,
    ) -> std::result::Result<IsNull, BoxDynError> {
        match self.0.to_str() {
            Some(text) => <&str as Encode<Sqlite>>::encode(text, buf),
            None => <&[u8] as Encode<Sqlite>>::encode(self.0.as_bytes(), buf),
        }
    }
}

/// The text a category or course path is stored as. Their names are shown,
/// compared and joined in SQL as text, so one that is not UTF-8 is refused
/// here, never written lossily (the scanner reports such a folder instead;
/// the files inside courses may have any name, see [`StoredPath`]).
pub fn stored(path: &LibraryPath) -> Result<&str> {
    path.to_str().ok_or_else(|| {
        StoreError::other(format!(
            "the category or course folder {} is not named in valid UTF-8",
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
    let id = row.try_get("id")?;
    Ok(Course {
        id: CourseId(id),
        category_id: CategoryId(row.try_get("category_id")?),
        name: row.try_get("name")?,
        path: path(row.try_get("path")?, "courses", id, "path")?,
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

/// A known file, from a row of the columns [`KNOWN_FILE`] names, read in
/// bulk (see `bulk.rs`).
pub fn known_file(row: &rusqlite::Row<'_>, mimes: &mut Interner) -> Result<KnownFile> {
    let id = row.get(0)?;
    let subtitle = match bulk::bytes(row, 8)? {
        Some(media) => Some(Box::new(SubtitleLink {
            media_path: path(media, "files", id, "subtitle_for")?,
            lang: bulk::text(row, 9)?.map(str::to_owned),
        })),
        None => None,
    };
    let text = |column| -> Result<&str> {
        bulk::text(row, column)?
            .ok_or_else(|| StoreError::damaged(format!("files row {id}: a NULL value")))
    };
    Ok(KnownFile {
        id: FileId(id),
        course_id: CourseId(row.get(1)?),
        path: path(
            bulk::bytes(row, 2)?.unwrap_or_default(),
            "files",
            id,
            "path",
        )?,
        facts: FileFacts {
            size: size(row.get(3)?)?,
            mtime_ns: row.get(4)?,
            sha256: digest(text(5)?, id)?,
            mime: mimes.get(text(6)?),
            role: parse(text(7)?)?,
            subtitle,
        },
        state: parse(text(10)?)?,
    })
}

/// The columns [`known_file`] reads, in its order.
pub const KNOWN_FILE: &str = "SELECT id, course_id, path, size, mtime_ns, sha256, mime, role, \
                              subtitle_for, subtitle_lang, state FROM files";

pub fn file_record(row: SqliteRow) -> Result<FileRecord> {
    let id = row.try_get("id")?;
    let path = path(row.try_get("path")?, "files", id, "path")?;
    let subtitle_for = match row.try_get::<Option<&[u8]>, _>("subtitle_for")? {
        Some(media) => Some(self::path(media, "files", id, "subtitle_for")?),
        None => None,
    };
    Ok(FileRecord {
        id: FileId(id),
        course_id: CourseId(row.try_get("course_id")?),
        name: path.name_lossy().into_owned(),
        path,
        size: size(row.try_get("size")?)?,
        mtime_ns: row.try_get("mtime_ns")?,
        sha256: digest(row.try_get("sha256")?, id)?,
        mime: row.try_get("mime")?,
        role: parse(row.try_get("role")?)?,
        subtitle_for,
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

#[cfg(test)]
mod tests {
    use crate::model::*;
    use crate::sqlite::SqliteStore;
    use crate::Store;
    use lectern_core::{LibraryPath, Sha256Digest};

    async fn one_file() -> (SqliteStore, tempfile::TempDir, i64, i64) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        let course_path = LibraryPath::parse("Cat/K").unwrap();
        let course = store
            .ensure_courses(std::slice::from_ref(&course_path))
            .await
            .unwrap()[&course_path];
        let batch = ChangeBatch {
            added: vec![NewFile {
                course_id: course,
                path: LibraryPath::parse("Cat/K/a.md").unwrap(),
                facts: FileFacts {
                    size: 1,
                    mtime_ns: 1,
                    sha256: Sha256Digest([1; 32]),
                    mime: "text/markdown".into(),
                    role: FileRole::Material,
                    subtitle: None,
                },
            }],
            ..ChangeBatch::default()
        };
        store.apply(&batch).await.unwrap();
        let file = store.all_files().await.unwrap()[0].id;
        (store, dir, course.0, file.0)
    }

    async fn damage(store: &SqliteStore, sql: &str, id: i64) {
        sqlx::query(sql)
            .bind(id)
            .execute(&store.pool)
            .await
            .unwrap();
    }

    fn damaged_message(e: crate::StoreError) -> String {
        assert!(e.is_damage(), "{e}");
        e.to_string()
    }

    #[tokio::test]
    async fn stored_paths_and_digests_that_do_not_parse_are_damage_naming_the_row() {
        let (store, _dir, course, file) = one_file().await;
        let read = store
            .file(lectern_core::FileId(file))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.path, "Cat/K/a.md");
        assert_eq!(read.sha256, Sha256Digest([1; 32]));

        for (sql, column) in [
            (
                "UPDATE files SET path = 'Cat/K/../a.md' WHERE id = ?",
                "path",
            ),
            (
                "UPDATE files SET path = 'Cat/K/a.md', subtitle_for = '/abs' WHERE id = ?",
                "subtitle_for",
            ),
            (
                "UPDATE files SET subtitle_for = NULL, sha256 = 'zz' WHERE id = ?",
                "sha256",
            ),
        ] {
            damage(&store, sql, file).await;
            let wanted = format!("files row {file}, column {column}");
            let e = store.file(lectern_core::FileId(file)).await.unwrap_err();
            assert!(damaged_message(e).contains(&wanted), "{wanted}");
            let e = store.known_files(Scope::All).await.unwrap_err();
            assert!(damaged_message(e).contains(&wanted), "{wanted}");
        }

        damage(&store, "UPDATE courses SET path = '' WHERE id = ?", course).await;
        let e = store.courses(None).await.unwrap_err();
        let wanted = format!("courses row {course}, column path");
        assert!(damaged_message(e).contains(&wanted), "{wanted}");
        store.close().await;
    }
}
