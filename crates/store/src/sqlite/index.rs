//! The library index: categories, courses and file records.

use super::bulk::{self, Connection};
use super::reads::Readers;
use super::rows::{self, Columns, StoredPath};
use super::search;
use crate::model::*;
use crate::{now_ms, Result, StoreError};
use lectern_core::{CategoryId, CourseId, FileId, LibraryPath};
use rusqlite::types::Value;
use rusqlite::OptionalExtension;
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::collections::{HashMap, HashSet};

type Tx = Transaction<'static, Sqlite>;

pub async fn known_files(pool: &SqlitePool, scope: Scope) -> Result<Vec<KnownFile>> {
    let (filter, value): (&str, Option<Value>) = match &scope {
        Scope::All => ("", None),
        Scope::Course(id) => (" WHERE course_id = ?1", Some(Value::Integer(id.0))),
        Scope::Category(path) => (
            " WHERE course_id IN (SELECT c.id FROM courses c \
             JOIN categories k ON k.id = c.category_id WHERE k.name = ?1)",
            Some(Value::Text(rows::stored(path)?.to_owned())),
        ),
    };
    let sql = format!("{}{filter} ORDER BY id", rows::KNOWN_FILE);
    let mut conn = pool.acquire().await?;
    bulk::on(&mut conn, |conn| {
        // Sized for the whole library up front; a folder's share is small.
        let count: i64 = match value {
            None => conn.query_row("SELECT count(*) FROM files", [], |row| row.get(0))?,
            Some(_) => 0,
        };
        let mut known = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
        let mut mimes = rows::Interner::default();
        let mut statement = conn.prepare(&sql)?;
        let mut found = statement.query(rusqlite::params_from_iter(value))?;
        while let Some(row) = found.next()? {
            known.push(rows::known_file(row, &mut mimes)?);
        }
        Ok(known)
    })
    .await
}

pub async fn ensure_courses(
    tx: &mut Tx,
    course_paths: &[LibraryPath],
) -> Result<HashMap<LibraryPath, CourseId>> {
    let mut ids = HashMap::with_capacity(course_paths.len());
    for path in course_paths {
        let text = rows::stored(path)?;
        let Some((category, course)) = text.split_once('/') else {
            return Err(StoreError::other(format!(
                "{text} is not a Category/Course path"
            )));
        };
        let id = ensure_course(tx, category, course, text).await?;
        ids.insert(path.clone(), id);
    }
    Ok(ids)
}

pub async fn rename_category(tx: &mut Tx, id: CategoryId, name: &LibraryPath) -> Result<bool> {
    let new = rows::stored(name)?;
    if name.depth() != 1 {
        return Err(StoreError::other(format!(
            "{new} is not a category folder name"
        )));
    }
    let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM categories WHERE name = ?")
        .bind(new)
        .fetch_optional(&mut **tx)
        .await?;
    let old: Option<String> = sqlx::query_scalar("SELECT name FROM categories WHERE id = ?")
        .bind(id.0)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(old) = old.filter(|_| taken.is_none()) else {
        return Ok(false);
    };
    sqlx::query("UPDATE categories SET name = ? WHERE id = ?")
        .bind(new)
        .bind(id.0)
        .execute(&mut **tx)
        .await?;
    // `Old/Course` becomes `New/Course`: the part after the old name stays.
    sqlx::query(
        "UPDATE courses SET path = ?1 || substr(path, length(?2) + 1), generation = random()
         WHERE category_id = ?3",
    )
    .bind(new)
    .bind(&old)
    .bind(id.0)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

pub async fn move_course(tx: &mut Tx, id: CourseId, to: &LibraryPath) -> Result<bool> {
    let path = rows::stored(to)?;
    let Some((category, name)) = path.split_once('/').filter(|_| to.depth() == 2) else {
        return Err(StoreError::other(format!(
            "{path} is not a Category/Course path"
        )));
    };
    let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM courses WHERE path = ?")
        .bind(path)
        .fetch_optional(&mut **tx)
        .await?;
    if taken.is_some() {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO categories (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
    )
    .bind(category)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    let moved = sqlx::query(
        "UPDATE courses SET name = ?1, path = ?2,
             category_id = (SELECT id FROM categories WHERE name = ?3), generation = random()
         WHERE id = ?4",
    )
    .bind(name)
    .bind(path)
    .bind(category)
    .bind(id.0)
    .execute(&mut **tx)
    .await?;
    Ok(moved.rows_affected() == 1)
}

async fn ensure_course(tx: &mut Tx, category: &str, name: &str, path: &str) -> Result<CourseId> {
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM courses WHERE path = ?")
        .bind(path)
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(id) = existing {
        return Ok(CourseId(id));
    }
    let now = now_ms();
    sqlx::query(
        "INSERT INTO categories (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
    )
    .bind(category)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO courses (category_id, name, path, created_at, generation)
         SELECT id, ?, ?, ?, random() FROM categories WHERE name = ? RETURNING id",
    )
    .bind(name)
    .bind(path)
    .bind(now)
    .bind(category)
    .fetch_one(&mut **tx)
    .await?;
    Ok(CourseId(id))
}

pub async fn apply(tx: &mut Tx, batch: &ChangeBatch) -> Result<()> {
    let now = now_ms();
    bulk::on(tx, |conn| apply_on(conn, batch, now)).await
}

/// The statements of [`apply`], each prepared once and run per row.
fn apply_on(conn: &Connection, batch: &ChangeBatch, now: i64) -> Result<()> {
    let mut touched = touched_courses(conn, batch)?;
    // Each course a file is purged from or goes missing in is touched too:
    // the statement that writes the row names it.
    let mut purge =
        conn.prepare("DELETE FROM files WHERE state = 'missing' AND id = ?1 RETURNING course_id")?;
    for id in &batch.purged {
        touched.extend(
            purge
                .query_row([id.0], |row| row.get(0).map(CourseId))
                .optional()?,
        );
    }
    let mut missing = conn.prepare(
        "UPDATE files SET state = 'missing', missing_since = COALESCE(missing_since, ?1)
         WHERE id = ?2 RETURNING course_id",
    )?;
    for id in &batch.missing {
        let course = missing.query_row((now, id.0), |row| row.get(0).map(CourseId));
        touched.extend(course.optional()?);
    }
    let mut searched = Vec::with_capacity(batch.added.len() + batch.changed.len());
    let mut update = conn.prepare(
        "UPDATE files SET course_id = ?1, path = ?2, size = ?3, mtime_ns = ?4, sha256 = ?5,
             mime = ?6, role = ?7, subtitle_for = ?8, subtitle_lang = ?9, state = 'present',
             missing_since = NULL, updated_at = ?10
         WHERE id = ?11",
    )?;
    for change in &batch.changed {
        let file = Stored::of(change.course_id, &change.path, &change.facts);
        update.execute(file.values(now, change.id.0))?;
        searched.extend(file.search_entry(change.id));
    }
    // In path order, so the path index is written page after page rather
    // than all over (the walk yields paths in no particular order).
    let mut added: Vec<Stored> = batch
        .added
        .iter()
        .map(|f| Stored::of(f.course_id, &f.path, &f.facts))
        .collect();
    added.sort_unstable_by(|a, b| a.path.0.cmp(b.path.0));
    let mut insert = conn.prepare(
        "INSERT INTO files (course_id, path, size, mtime_ns, sha256, mime, role, subtitle_for,
             subtitle_lang, indexed_at, updated_at, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, 'present')",
    )?;
    for file in &added {
        let (course, path, size, mtime, sha256, mime, role, subtitle, lang, now, _) =
            file.values(now, 0);
        insert.execute((
            course, path, size, mtime, sha256, mime, role, subtitle, lang, now,
        ))?;
        searched.extend(file.search_entry(FileId(conn.last_insert_rowid())));
    }
    let gone = batch
        .missing
        .iter()
        .chain(batch.changed.iter().map(|c| &c.id));
    search::forget_files(conn, gone)?;
    search::index_files(conn, &searched)?;
    let mut describe = conn.prepare("UPDATE courses SET description = ?1 WHERE id = ?2")?;
    for (course, description) in &batch.descriptions {
        describe.execute((description, course.0))?;
    }
    let mut changed = conn.prepare("UPDATE courses SET generation = random() WHERE id = ?1")?;
    for course in touched {
        changed.execute([course.0])?;
    }
    Ok(())
}

/// The courses whose generation `batch` changes, as far as known before
/// it is written: those its files are written into, and those its changed
/// files were in (a moved file leaves one). [`apply_on`] adds the courses
/// of the files it purges or marks missing as it writes them.
fn touched_courses(conn: &Connection, batch: &ChangeBatch) -> Result<HashSet<CourseId>> {
    let mut touched: HashSet<CourseId> = batch.descriptions.iter().map(|(c, _)| *c).collect();
    touched.extend(batch.added.iter().map(|f| f.course_id));
    touched.extend(batch.changed.iter().map(|c| c.course_id));
    let mut course_of = conn.prepare("SELECT course_id FROM files WHERE id = ?1")?;
    for change in &batch.changed {
        let course = course_of.query_row([change.id.0], |row| row.get(0).map(CourseId));
        touched.extend(course.optional()?);
    }
    Ok(touched)
}

/// A file to write: its paths as the values they are stored as, and its
/// facts.
struct Stored<'a> {
    course_id: CourseId,
    path: StoredPath<'a>,
    facts: &'a FileFacts,
    subtitle_for: Option<StoredPath<'a>>,
}

/// The values an insert or update binds, in [`Stored::values`]' order.
type Values<'a> = (
    i64,
    StoredPath<'a>,
    i64,
    i64,
    String,
    &'a str,
    &'a str,
    Option<StoredPath<'a>>,
    Option<&'a str>,
    i64,
    i64,
);

impl<'a> Stored<'a> {
    fn of(course_id: CourseId, path: &'a LibraryPath, facts: &'a FileFacts) -> Self {
        Self {
            course_id,
            path: StoredPath(path),
            facts,
            subtitle_for: facts.subtitle.as_ref().map(|s| StoredPath(&s.media_path)),
        }
    }

    /// Course, path, size, modification time, hash, type, role, subtitle
    /// link and language, the time written, and `id`.
    fn values(&self, now: i64, id: i64) -> Values<'a> {
        let f = self.facts;
        (
            self.course_id.0,
            self.path,
            f.size as i64,
            f.mtime_ns,
            f.sha256.to_hex(),
            &*f.mime,
            f.role.as_str(),
            self.subtitle_for,
            f.subtitle.as_ref().and_then(|s| s.lang.as_deref()),
            now,
            id,
        )
    }

    fn search_entry(&self, id: FileId) -> Option<search::Entry> {
        let material = self.facts.role == FileRole::Material;
        search::entry(id, self.path.0.as_bytes(), material)
    }
}

/// Marks the index as changed (migration 0009), in the writing transaction.
pub async fn changed(tx: &mut Tx) -> Result<()> {
    sqlx::query("UPDATE index_generation SET value = random() WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub fn generation(readers: &Readers) -> Result<i64> {
    let sql = "SELECT value AS generation FROM index_generation WHERE id = 1";
    generation_of(readers, sql, [])
}

pub fn course_generation(readers: &Readers, id: CourseId) -> Result<i64> {
    let sql = concat!("SELECT ", course_generation!("?1"), " AS generation");
    generation_of(readers, sql, [id.0])
}

fn generation_of(readers: &Readers, sql: &str, params: impl rusqlite::Params) -> Result<i64> {
    readers
        .optional(sql, params, |row| row.int_or_null("generation"))?
        .flatten()
        .ok_or_else(|| StoreError::damaged("the index generation is missing"))
}

pub async fn cleanup(tx: &mut Tx) -> Result<CleanupCounts> {
    sqlx::query(
        "UPDATE courses SET generation = random()
         WHERE id IN (SELECT course_id FROM files WHERE state = 'missing')",
    )
    .execute(&mut **tx)
    .await?;
    let files = sqlx::query("DELETE FROM files WHERE state = 'missing'")
        .execute(&mut **tx)
        .await?
        .rows_affected();
    let courses = sqlx::query(
        "DELETE FROM courses WHERE NOT EXISTS (SELECT 1 FROM files WHERE files.course_id = courses.id)",
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let categories = sqlx::query(
        "DELETE FROM categories
         WHERE NOT EXISTS (SELECT 1 FROM courses WHERE courses.category_id = categories.id)",
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(CleanupCounts {
        files,
        courses,
        categories,
    })
}

/// Counts by state, what [`cleanup`] would purge (the same conditions,
/// asked without deleting), and the first missing paths.
pub async fn summary(pool: &SqlitePool, sample: u32) -> Result<IndexSummary> {
    let row = sqlx::query(
        "SELECT
           (SELECT COUNT(*) FROM categories) AS categories,
           (SELECT COUNT(*) FROM courses) AS courses,
           (SELECT COUNT(*) FROM files WHERE state = 'present') AS present,
           (SELECT COUNT(*) FROM files WHERE state = 'missing') AS missing,
           (SELECT COALESCE(SUM(size), 0) FROM files WHERE state = 'present') AS bytes,
           (SELECT COUNT(*) FROM courses WHERE NOT EXISTS (SELECT 1 FROM files
              WHERE files.course_id = courses.id AND files.state = 'present')) AS empty_courses,
           (SELECT COUNT(*) FROM categories WHERE NOT EXISTS (SELECT 1 FROM courses
              JOIN files ON files.course_id = courses.id
              WHERE courses.category_id = categories.id AND files.state = 'present'))
             AS empty_categories",
    )
    .fetch_one(pool)
    .await?;
    let count = |name: &str| -> Result<u64> {
        let n: i64 = sqlx::Row::try_get(&row, name)?;
        Ok(n.max(0) as u64)
    };
    let paths: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT path FROM files WHERE state = 'missing' ORDER BY path LIMIT ?")
            .bind(i64::from(sample))
            .fetch_all(pool)
            .await?;
    let paths = paths
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    Ok(IndexSummary {
        categories: count("categories")?,
        courses: count("courses")?,
        files_present: count("present")?,
        files_missing: count("missing")?,
        bytes_present: count("bytes")?,
        orphans: CleanupCounts {
            files: count("missing")?,
            courses: count("empty_courses")?,
            categories: count("empty_categories")?,
        },
        missing_sample: paths,
    })
}
