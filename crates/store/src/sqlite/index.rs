//! The library index: categories, courses and file records.

use super::rows::{self, StoredPath};
use super::search;
use crate::model::*;
use crate::{now_ms, Result, StoreError};
use lectern_core::{CategoryId, CourseId, FileId, LibraryPath};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};
use std::collections::HashMap;

type Tx = Transaction<'static, Sqlite>;

/// SQLite allows 32,766 bound values per statement; a new file takes 11.
const INSERT_CHUNK: usize = 1_000;
const ID_CHUNK: usize = 500;

/// Rows per page when loading the index for a scan.
const PAGE: i64 = 1_000;

pub async fn known_files(pool: &SqlitePool, scope: Scope) -> Result<Vec<KnownFile>> {
    const COLUMNS: &str = "SELECT id, course_id, path, size, mtime_ns, sha256, mime, role, \
                           subtitle_for, subtitle_lang, state FROM files";
    let (filter, value): (&str, Option<Value>) = match &scope {
        Scope::All => ("", None),
        Scope::Course(id) => (" AND course_id = ?3", Some(Value::Id(id.0))),
        Scope::Category(path) => (
            " AND course_id IN (SELECT c.id FROM courses c \
             JOIN categories k ON k.id = c.category_id WHERE k.name = ?3)",
            Some(Value::Text(rows::stored(path)?.to_owned())),
        ),
    };
    // Page by page in id order, which is the table's own order (a page in
    // path order would look every row up through the path index): a whole
    // library's rows fetched at once would be held twice, as rows and as
    // records, at the scan's peak. No `OR` in the WHERE clause, so SQLite
    // keeps using the rowid range.
    let sql = format!("{COLUMNS} WHERE id > ?1{filter} ORDER BY id LIMIT ?2");
    // Sized for the whole library up front; a folder's share is small.
    let count: i64 = match value {
        None => {
            sqlx::query_scalar("SELECT count(*) FROM files")
                .fetch_one(pool)
                .await?
        }
        Some(_) => 0,
    };
    let mut mimes = rows::Interner::default();
    let mut known: Vec<KnownFile> = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    loop {
        let after = known.last().map_or(0, |k| k.id.0);
        let query = sqlx::query(&sql).bind(after).bind(PAGE);
        let rows = match &value {
            Some(Value::Id(v)) => query.bind(*v).fetch_all(pool).await?,
            Some(Value::Text(v)) => query.bind(v.as_str()).fetch_all(pool).await?,
            None => query.fetch_all(pool).await?,
        };
        let full = rows.len() as i64 == PAGE;
        for row in rows {
            known.push(rows::known_file(row, &mut mimes)?);
        }
        if !full {
            return Ok(known);
        }
    }
}

/// What a scan's scope narrows the files to.
enum Value {
    Id(i64),
    Text(String),
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
        "UPDATE courses SET path = ?1 || substr(path, length(?2) + 1) WHERE category_id = ?3",
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
             category_id = (SELECT id FROM categories WHERE name = ?3)
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
        "INSERT INTO courses (category_id, name, path, created_at)
         SELECT id, ?, ?, ? FROM categories WHERE name = ? RETURNING id",
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
    let mut added: Vec<Stored> = batch
        .added
        .iter()
        .map(|f| Stored::of(f.course_id, &f.path, &f.facts))
        .collect();
    let changed: Vec<(FileId, Stored)> = batch
        .changed
        .iter()
        .map(|c| (c.id, Stored::of(c.course_id, &c.path, &c.facts)))
        .collect();
    let now = now_ms();
    for chunk in batch.purged.chunks(ID_CHUNK) {
        let mut q =
            QueryBuilder::<Sqlite>::new("DELETE FROM files WHERE state = 'missing' AND id IN (");
        push_ids(&mut q, chunk);
        q.build().persistent(false).execute(&mut **tx).await?;
    }
    mark_missing(tx, batch, now).await?;
    let mut searched = Vec::with_capacity(batch.added.len() + changed.len());
    for (id, file) in &changed {
        update_file(tx, *id, file, now).await?;
        let material = file.facts.role == FileRole::Material;
        searched.extend(search::entry(*id, file.path.0.as_bytes(), material));
    }
    // In path order, so the path index is written page after page rather
    // than all over (the walk yields paths in no particular order).
    added.sort_unstable_by(|a, b| a.path.0.cmp(b.path.0));
    for chunk in added.chunks(INSERT_CHUNK) {
        for (id, path, material) in insert_files(tx, chunk, now).await? {
            searched.extend(search::entry(id, &path, material));
        }
    }
    let gone: Vec<FileId> = batch
        .missing
        .iter()
        .copied()
        .chain(batch.changed.iter().map(|c| c.id))
        .collect();
    search::forget_files(tx, &gone).await?;
    search::index_files(tx, &searched).await?;
    for (course, description) in &batch.descriptions {
        sqlx::query("UPDATE courses SET description = ? WHERE id = ?")
            .bind(description)
            .bind(course.0)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn mark_missing(tx: &mut Tx, batch: &ChangeBatch, now: i64) -> Result<()> {
    for chunk in batch.missing.chunks(ID_CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "UPDATE files SET state = 'missing', missing_since = COALESCE(missing_since, ",
        );
        q.push_bind(now).push(") WHERE id IN (");
        push_ids(&mut q, chunk);
        q.build().persistent(false).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Appends `1, 2, 3)` as bound values, closing the `IN (` list.
pub(super) fn push_ids(q: &mut QueryBuilder<'_, Sqlite>, ids: &[FileId]) {
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(id.0);
    }
    q.push(")");
}

/// A file to write: its paths as the values they are stored as, and its
/// facts.
struct Stored<'a> {
    course_id: CourseId,
    path: StoredPath<'a>,
    facts: &'a FileFacts,
    subtitle_for: Option<StoredPath<'a>>,
}

impl<'a> Stored<'a> {
    fn of(course_id: CourseId, path: &'a LibraryPath, facts: &'a FileFacts) -> Self {
        Self {
            course_id,
            path: StoredPath(path),
            facts,
            subtitle_for: facts.subtitle.as_ref().map(|s| StoredPath(&s.media_path)),
        }
    }
}

async fn update_file(tx: &mut Tx, id: FileId, file: &Stored<'_>, now: i64) -> Result<()> {
    let f = file.facts;
    sqlx::query(
        "UPDATE files SET course_id = ?, path = ?, size = ?, mtime_ns = ?, sha256 = ?, mime = ?,
             role = ?, subtitle_for = ?, subtitle_lang = ?, state = 'present',
             missing_since = NULL, updated_at = ?
         WHERE id = ?",
    )
    .bind(file.course_id.0)
    .bind(file.path)
    .bind(f.size as i64)
    .bind(f.mtime_ns)
    .bind(f.sha256.to_hex())
    .bind(&*f.mime)
    .bind(f.role.as_str())
    .bind(file.subtitle_for)
    .bind(f.subtitle.as_ref().and_then(|s| s.lang.as_deref()))
    .bind(now)
    .bind(id.0)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inserts `files`, answering what the search index needs of each: its new
/// id and path, and whether it is a lesson or material.
async fn insert_files(
    tx: &mut Tx,
    files: &[Stored<'_>],
    now: i64,
) -> Result<Vec<(FileId, Vec<u8>, bool)>> {
    let mut q = QueryBuilder::<Sqlite>::new(
        "INSERT INTO files (course_id, path, size, mtime_ns, sha256, mime, role,
             subtitle_for, subtitle_lang, state, indexed_at, updated_at) ",
    );
    q.push_values(files, |mut row, file| {
        let f = file.facts;
        row.push_bind(file.course_id.0)
            .push_bind(file.path)
            .push_bind(f.size as i64)
            .push_bind(f.mtime_ns)
            .push_bind(f.sha256.to_hex())
            .push_bind(&*f.mime)
            .push_bind(f.role.as_str())
            .push_bind(file.subtitle_for)
            .push_bind(f.subtitle.as_ref().and_then(|s| s.lang.as_deref()))
            .push("'present'")
            .push_bind(now)
            .push_bind(now);
    });
    q.push(" RETURNING id, path, role = 'material' AS material");
    // Not kept in the statement cache: each row count makes a different,
    // large statement, and a cache of them costs megabytes.
    let rows = q.build().persistent(false).fetch_all(&mut **tx).await?;
    rows.iter()
        .map(|row| {
            Ok((
                FileId(row.try_get("id")?),
                row.try_get::<&[u8], _>("path")?.to_vec(),
                row.try_get("material")?,
            ))
        })
        .collect()
}

/// Marks the index as changed (migration 0009), in the writing transaction.
pub async fn changed(tx: &mut Tx) -> Result<()> {
    sqlx::query("UPDATE index_generation SET value = random() WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn generation(pool: &SqlitePool) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT value FROM index_generation WHERE id = 1")
            .fetch_one(pool)
            .await?,
    )
}

pub async fn cleanup(tx: &mut Tx) -> Result<CleanupCounts> {
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
