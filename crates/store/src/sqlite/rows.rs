//! SQLite's result rows in the shared mapping (`crate::rows`): how a path
//! is stored, the index's bulk reads, and both drivers' rows as
//! [`Columns`].

use super::bulk;
use crate::model::*;
pub use crate::rows::{
    category, course, file_record, lock_info, scan_issue, scan_record, stored, Columns, Interner,
};
use crate::rows::{digest, parse, path, size};
use crate::{Result, StoreError};
use lectern_core::{CourseId, FileId, LibraryPath};
use rusqlite::types::{FromSqlError, ValueRef};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteArgumentValue, SqliteRow, SqliteTypeInfo};
use sqlx::{Encode, Row, Sqlite, Type};

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

impl Columns for SqliteRow {
    fn int_or_null(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.try_get(name)?)
    }
    fn real_or_null(&self, name: &str) -> Result<Option<f64>> {
        Ok(self.try_get(name)?)
    }
    fn text_or_null(&self, name: &str) -> Result<Option<&str>> {
        Ok(self.try_get(name)?)
    }
    fn bytes_or_null(&self, name: &str) -> Result<Option<&[u8]>> {
        Ok(self.try_get(name)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn int_or_null(&self, name: &str) -> Result<Option<i64>> {
        let value = self.get_ref(name)?;
        value.as_i64_or_null().map_err(|e| wrong_type(name, e))
    }
    fn real_or_null(&self, name: &str) -> Result<Option<f64>> {
        // A REAL column hands back a whole number as an INTEGER value when
        // it was written as one through another tool.
        match self.get_ref(name)? {
            ValueRef::Integer(whole) => Ok(Some(whole as f64)),
            value => value.as_f64_or_null().map_err(|e| wrong_type(name, e)),
        }
    }
    fn text_or_null(&self, name: &str) -> Result<Option<&str>> {
        let value = self.get_ref(name)?;
        value.as_str_or_null().map_err(|e| wrong_type(name, e))
    }
    fn bytes_or_null(&self, name: &str) -> Result<Option<&[u8]>> {
        let value = self.get_ref(name)?;
        value.as_bytes_or_null().map_err(|e| wrong_type(name, e))
    }
}

/// A stored value of a type its column never holds.
fn wrong_type(column: &str, e: FromSqlError) -> StoreError {
    StoreError::damaged(format!("column {column}: {e}"))
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
        let (read_at, _) = store
            .file_at(lectern_core::FileId(file))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(format!("{read_at:?}"), format!("{read:?}"));

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
            // The same mapping over rusqlite's rows (`reads.rs`).
            let e = store.file_at(lectern_core::FileId(file)).await.unwrap_err();
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

    #[tokio::test]
    async fn a_value_of_a_type_its_column_never_holds_is_damage_naming_the_column() {
        let (store, _dir, course, file) = one_file().await;
        let user = store
            .create_user(&crate::NewUser {
                username: "u".into(),
                password_hash: "x".into(),
                role: crate::Role::User,
            })
            .await
            .unwrap();
        store
            .set_progress(user.id, lectern_core::FileId(file), Some(1.5), Some(true))
            .await
            .unwrap();
        sqlx::query("UPDATE progress SET position_seconds = 'far' WHERE user_id = ?")
            .bind(user.id.0)
            .execute(&store.pool)
            .await
            .unwrap();
        // SQLite keeps text that is no number as text, even in a REAL column.
        let course = lectern_core::CourseId(course);
        let e = store.course_progress_at(user.id, course).await.unwrap_err();
        assert!(damaged_message(e).contains("position_seconds"));
        store.close().await;
    }

    #[tokio::test]
    async fn the_role_check_takes_the_four_roles_without_an_in_list() {
        let (store, _dir, _course, file) = one_file().await;
        let schema: String = sqlx::query_scalar(
            "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'files'",
        )
        .fetch_one(&store.pool)
        .await
        .unwrap();
        // Migration 0011 rewrote it: an IN list costs a temporary index per insert.
        assert!(!schema.contains("role IN"), "{schema}");
        assert!(schema.contains("role = 'subtitle'"), "{schema}");
        for role in ["material", "description", "cover", "subtitle"] {
            sqlx::query("UPDATE files SET role = ? WHERE id = ?")
                .bind(role)
                .bind(file)
                .execute(&store.pool)
                .await
                .unwrap();
        }
        for role in ["bogus", "Material", ""] {
            let refused = sqlx::query("UPDATE files SET role = ? WHERE id = ?")
                .bind(role)
                .bind(file)
                .execute(&store.pool)
                .await;
            assert!(refused.is_err(), "role {role:?} was accepted");
        }
        store.close().await;
    }
}
