//! The library index on PostgreSQL: categories, courses and file records.
//! A batch is written with one statement per kind of change, its rows
//! passed as arrays (`unnest`), not one round trip per file.

use super::search;
use super::Tx;
use crate::model::*;
use crate::rows::{self as map, Columns, Interner};
use crate::search::entry;
use crate::{now_ms, Result, StoreError};
use lectern_core::{CategoryId, CourseId, FileId, LibraryPath};
use sqlx::postgres::PgPool;
use std::collections::{HashMap, HashSet};

const KNOWN_FILE: &str = "SELECT id, course_id, path, size, mtime_ns, sha256, mime, role, \
                          subtitle_for, subtitle_lang, state FROM files";

pub async fn known_files(pool: &PgPool, scope: Scope) -> Result<Vec<KnownFile>> {
    let rows = match &scope {
        Scope::All => {
            sqlx::query(&format!("{KNOWN_FILE} ORDER BY id"))
                .fetch_all(pool)
                .await?
        }
        Scope::Course(id) => {
            sqlx::query(&format!("{KNOWN_FILE} WHERE course_id = $1 ORDER BY id"))
                .bind(id.0)
                .fetch_all(pool)
                .await?
        }
        Scope::Category(path) => {
            sqlx::query(&format!(
                "{KNOWN_FILE} WHERE course_id IN (SELECT c.id FROM courses c \
                 JOIN categories k ON k.id = c.category_id WHERE k.name = $1) ORDER BY id"
            ))
            .bind(map::stored(path)?)
            .fetch_all(pool)
            .await?
        }
    };
    let mut mimes = Interner::default();
    rows.iter().map(|row| known_file(row, &mut mimes)).collect()
}

fn known_file(row: &impl Columns, mimes: &mut Interner) -> Result<KnownFile> {
    let record = map::file_record(row)?;
    let subtitle = record.subtitle_for.map(|media_path| {
        Box::new(SubtitleLink {
            media_path,
            lang: record.subtitle_lang,
        })
    });
    Ok(KnownFile {
        id: record.id,
        course_id: record.course_id,
        path: record.path,
        facts: FileFacts {
            size: record.size,
            mtime_ns: record.mtime_ns,
            sha256: record.sha256,
            mime: mimes.get(&record.mime),
            role: record.role,
            subtitle,
        },
        state: record.state,
    })
}

pub async fn ensure_courses(
    tx: &mut Tx,
    course_paths: &[LibraryPath],
) -> Result<HashMap<LibraryPath, CourseId>> {
    let mut ids = HashMap::with_capacity(course_paths.len());
    for path in course_paths {
        let text = map::stored(path)?;
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

async fn ensure_category(tx: &mut Tx, name: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO categories (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn ensure_course(tx: &mut Tx, category: &str, name: &str, path: &str) -> Result<CourseId> {
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM courses WHERE path = $1")
        .bind(path)
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(id) = existing {
        return Ok(CourseId(id));
    }
    ensure_category(tx, category).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO courses (category_id, name, path, created_at, search)
         SELECT id, $1, $2, $3, $4::tsvector FROM categories WHERE name = $5 RETURNING id",
    )
    .bind(name)
    .bind(path)
    .bind(now_ms())
    .bind(search::document(name, ""))
    .bind(category)
    .fetch_one(&mut **tx)
    .await?;
    Ok(CourseId(id))
}

pub async fn rename_category(tx: &mut Tx, id: CategoryId, name: &LibraryPath) -> Result<bool> {
    let new = map::stored(name)?;
    if name.depth() != 1 {
        return Err(StoreError::other(format!(
            "{new} is not a category folder name"
        )));
    }
    let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM categories WHERE name = $1")
        .bind(new)
        .fetch_optional(&mut **tx)
        .await?;
    let old: Option<String> = sqlx::query_scalar("SELECT name FROM categories WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(old) = old.filter(|_| taken.is_none()) else {
        return Ok(false);
    };
    sqlx::query("UPDATE categories SET name = $1 WHERE id = $2")
        .bind(new)
        .bind(id.0)
        .execute(&mut **tx)
        .await?;
    // `Old/Course` becomes `New/Course`: the part after the old name stays.
    sqlx::query(
        "UPDATE courses SET path = $1 || substr(path, length($2) + 1),
             generation = nextval('generations')
         WHERE category_id = $3",
    )
    .bind(new)
    .bind(&old)
    .bind(id.0)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

pub async fn move_course(tx: &mut Tx, id: CourseId, to: &LibraryPath) -> Result<bool> {
    let path = map::stored(to)?;
    let Some((category, name)) = path.split_once('/').filter(|_| to.depth() == 2) else {
        return Err(StoreError::other(format!(
            "{path} is not a Category/Course path"
        )));
    };
    let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM courses WHERE path = $1")
        .bind(path)
        .fetch_optional(&mut **tx)
        .await?;
    if taken.is_some() {
        return Ok(false);
    }
    ensure_category(tx, category).await?;
    let description: Option<Option<String>> =
        sqlx::query_scalar("SELECT description FROM courses WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut **tx)
            .await?;
    let Some(description) = description else {
        return Ok(false);
    };
    let moved = sqlx::query(
        "UPDATE courses SET name = $1, path = $2,
             category_id = (SELECT id FROM categories WHERE name = $3),
             generation = nextval('generations'), search = $4::tsvector
         WHERE id = $5",
    )
    .bind(name)
    .bind(path)
    .bind(category)
    .bind(search::document(name, description.as_deref().unwrap_or("")))
    .bind(id.0)
    .execute(&mut **tx)
    .await?;
    Ok(moved.rows_affected() == 1)
}

/// The columns of files written by a batch, one array per column, in the
/// order of [`Rows::push`].
#[derive(Default)]
struct Rows {
    ids: Vec<i64>,
    courses: Vec<i64>,
    paths: Vec<Vec<u8>>,
    sizes: Vec<i64>,
    mtimes: Vec<i64>,
    hashes: Vec<String>,
    mimes: Vec<String>,
    roles: Vec<&'static str>,
    subtitles_for: Vec<Option<Vec<u8>>>,
    langs: Vec<Option<String>>,
    documents: Vec<Option<String>>,
}

impl Rows {
    fn push(&mut self, id: i64, course: CourseId, path: &LibraryPath, f: &FileFacts) {
        self.ids.push(id);
        self.courses.push(course.0);
        self.paths.push(path.as_bytes().to_vec());
        self.sizes.push(i64::try_from(f.size).unwrap_or(i64::MAX));
        self.mtimes.push(f.mtime_ns);
        self.hashes.push(f.sha256.to_hex());
        self.mimes.push(f.mime.to_string());
        self.roles.push(f.role.as_str());
        let subtitle = f.subtitle.as_deref();
        self.subtitles_for
            .push(subtitle.map(|s| s.media_path.as_bytes().to_vec()));
        self.langs.push(subtitle.and_then(|s| s.lang.clone()));
        let material = f.role == FileRole::Material;
        let document = entry(FileId(id), path.as_bytes(), material);
        self.documents
            .push(document.as_ref().map(search::file_document));
    }

    fn bind<'q>(
        &'q self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        query
            .bind(&self.ids)
            .bind(&self.courses)
            .bind(&self.paths)
            .bind(&self.sizes)
            .bind(&self.mtimes)
            .bind(&self.hashes)
            .bind(&self.mimes)
            .bind(&self.roles)
            .bind(&self.subtitles_for)
            .bind(&self.langs)
            .bind(&self.documents)
    }
}

/// The batch's rows as a table `u`, parameters `$1` to `$11`.
const UNNEST: &str = "unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bigint[],
        $5::bigint[], $6::text[], $7::text[], $8::text[], $9::bytea[], $10::text[], $11::text[])
     AS u(id, course_id, path, size, mtime_ns, sha256, mime, role, subtitle_for,
          subtitle_lang, document)";

pub async fn apply(tx: &mut Tx, batch: &ChangeBatch) -> Result<()> {
    let now = now_ms();
    let mut touched: HashSet<i64> = batch.descriptions.iter().map(|(c, _)| c.0).collect();
    touched.extend(batch.added.iter().map(|f| f.course_id.0));
    touched.extend(batch.changed.iter().map(|c| c.course_id.0));
    let ids = |list: &[FileId]| list.iter().map(|id| id.0).collect::<Vec<i64>>();
    let changed: Vec<i64> = batch.changed.iter().map(|c| c.id.0).collect();
    // A moved file leaves a course: it is touched too.
    let left: Vec<i64> = sqlx::query_scalar("SELECT course_id FROM files WHERE id = ANY($1)")
        .bind(&changed)
        .fetch_all(&mut **tx)
        .await?;
    touched.extend(left);
    let purged: Vec<i64> = sqlx::query_scalar(
        "DELETE FROM files WHERE state = 'missing' AND id = ANY($1) RETURNING course_id",
    )
    .bind(ids(&batch.purged))
    .fetch_all(&mut **tx)
    .await?;
    touched.extend(purged);
    let missing: Vec<i64> = sqlx::query_scalar(
        "UPDATE files SET state = 'missing', missing_since = COALESCE(missing_since, $1),
             search = NULL
         WHERE id = ANY($2) RETURNING course_id",
    )
    .bind(now)
    .bind(ids(&batch.missing))
    .fetch_all(&mut **tx)
    .await?;
    touched.extend(missing);
    update_files(tx, &batch.changed, now).await?;
    insert_files(tx, &batch.added, now).await?;
    describe(tx, &batch.descriptions).await?;
    let touched: Vec<i64> = touched.into_iter().collect();
    sqlx::query("UPDATE courses SET generation = nextval('generations') WHERE id = ANY($1)")
        .bind(&touched)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn update_files(tx: &mut Tx, changed: &[FileChange], now: i64) -> Result<()> {
    if changed.is_empty() {
        return Ok(());
    }
    let mut rows = Rows::default();
    for c in changed {
        rows.push(c.id.0, c.course_id, &c.path, &c.facts);
    }
    let sql = format!(
        "UPDATE files SET course_id = u.course_id, path = u.path, size = u.size,
             mtime_ns = u.mtime_ns, sha256 = u.sha256, mime = u.mime, role = u.role,
             subtitle_for = u.subtitle_for, subtitle_lang = u.subtitle_lang,
             state = 'present', missing_since = NULL, updated_at = $12,
             search = u.document::tsvector
         FROM {UNNEST} WHERE files.id = u.id"
    );
    rows.bind(sqlx::query(&sql))
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_files(tx: &mut Tx, added: &[NewFile], now: i64) -> Result<()> {
    if added.is_empty() {
        return Ok(());
    }
    // The search document does not depend on the id, which the insert gives.
    let mut rows = Rows::default();
    for f in added {
        rows.push(0, f.course_id, &f.path, &f.facts);
    }
    let sql = format!(
        "INSERT INTO files (course_id, path, size, mtime_ns, sha256, mime, role,
             subtitle_for, subtitle_lang, indexed_at, updated_at, state, search)
         SELECT u.course_id, u.path, u.size, u.mtime_ns, u.sha256, u.mime, u.role,
             u.subtitle_for, u.subtitle_lang, $12, $12, 'present', u.document::tsvector
         FROM {UNNEST} ORDER BY u.path"
    );
    rows.bind(sqlx::query(&sql))
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// New descriptions, and each course's search document with them.
async fn describe(tx: &mut Tx, descriptions: &[(CourseId, Option<String>)]) -> Result<()> {
    for (course, description) in descriptions {
        let name: Option<String> = sqlx::query_scalar("SELECT name FROM courses WHERE id = $1")
            .bind(course.0)
            .fetch_optional(&mut **tx)
            .await?;
        let Some(name) = name else { continue };
        let document = search::document(&name, description.as_deref().unwrap_or(""));
        sqlx::query("UPDATE courses SET description = $1, search = $2::tsvector WHERE id = $3")
            .bind(description)
            .bind(document)
            .bind(course.0)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Marks the index as changed, in the writing transaction.
pub async fn changed(tx: &mut Tx) -> Result<()> {
    sqlx::query("UPDATE index_generation SET value = nextval('generations') WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn cleanup(tx: &mut Tx) -> Result<CleanupCounts> {
    sqlx::query(
        "UPDATE courses SET generation = nextval('generations')
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
pub async fn summary(pool: &PgPool, sample: u32) -> Result<IndexSummary> {
    let row = sqlx::query(
        "SELECT
           (SELECT COUNT(*) FROM categories) AS categories,
           (SELECT COUNT(*) FROM courses) AS courses,
           (SELECT COUNT(*) FROM files WHERE state = 'present') AS present,
           (SELECT COUNT(*) FROM files WHERE state = 'missing') AS missing,
           (SELECT COALESCE(SUM(size), 0)::bigint FROM files WHERE state = 'present') AS bytes,
           (SELECT COUNT(*) FROM courses WHERE NOT EXISTS (SELECT 1 FROM files
              WHERE files.course_id = courses.id AND files.state = 'present')) AS empty_courses,
           (SELECT COUNT(*) FROM categories WHERE NOT EXISTS (SELECT 1 FROM courses
              JOIN files ON files.course_id = courses.id
              WHERE courses.category_id = categories.id AND files.state = 'present'))
             AS empty_categories",
    )
    .fetch_one(pool)
    .await?;
    let count = |name: &str| -> Result<u64> { Ok(row.int(name)?.max(0) as u64) };
    let paths: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT path FROM files WHERE state = 'missing' ORDER BY path LIMIT $1")
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
