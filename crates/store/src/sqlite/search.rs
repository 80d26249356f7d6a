//! Full-text search through the FTS5 tables of migration 0003. Triggers
//! keep `course_search` in step with `courses`; `file_search` is written
//! here, in bulk with each batch of the index (migration 0008 says why).

use super::bulk::Connection;
use super::rows;
use crate::accounts::Visibility;
use crate::search::{best_first, HitKind, SearchHit, SearchQuery};
pub use crate::search::{entry, Entry};
use crate::Result;
use lectern_core::{CategoryId, CourseId, FileId};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

/// Who may see a course: `?2` the granted categories and `?3` the granted
/// courses as JSON arrays, or `?2` NULL for everything. Applied in SQL, so
/// a hidden hit never takes one of the `limit` places.
macro_rules! visible {
    () => {
        "(?2 IS NULL
          OR c.category_id IN (SELECT value FROM json_each(?2))
          OR c.id IN (SELECT value FROM json_each(?3)))"
    };
}

// Names weigh more than the text around them (bm25's column weights).
const COURSE_SQL: &str = concat!(
    "SELECT c.id, c.category_id, c.name,
        snippet(course_search, 1, '', '', '…', 12) AS snippet,
        bm25(course_search, 10.0, 1.0) AS score
    FROM course_search JOIN courses c ON c.id = course_search.rowid
    WHERE course_search MATCH ?1 AND ",
    visible!(),
    " ORDER BY score, c.id LIMIT ?4"
);

const FILE_SQL: &str = concat!(
    "SELECT f.*, c.name AS course_name, c.category_id AS category_id,
        bm25(file_search, 5.0, 1.0) AS score
    FROM file_search
    JOIN files f ON f.id = file_search.rowid
    JOIN courses c ON c.id = f.course_id
    WHERE file_search MATCH ?1 AND f.state = 'present' AND ",
    visible!(),
    " ORDER BY score, f.id LIMIT ?4"
);

pub async fn search(
    pool: &SqlitePool,
    query: &SearchQuery,
    seen: &Visibility,
    limit: u32,
) -> Result<Vec<SearchHit>> {
    let Some(expression) = fts5_expression(query) else {
        return Ok(Vec::new());
    };
    if limit == 0 {
        return Ok(Vec::new());
    }
    let scope = visible_json(seen);
    let mut hits = Vec::new();
    for row in fetch(pool, COURSE_SQL, &expression, &scope, limit).await? {
        hits.push(course_hit(row)?);
    }
    for row in fetch(pool, FILE_SQL, &expression, &scope, limit).await? {
        hits.push(file_hit(row)?);
    }
    // Each kind's best `limit`; the best `limit` of both together answer.
    hits.sort_by(best_first);
    hits.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(hits)
}

/// Each word as a quoted FTS5 string (inner `"` doubled) matched as a
/// prefix, all of them required: `"caf"* AND "theory"*`. Inside quotes
/// FTS5 reads no operators, so `NEAR(`, `-`, `:` or `*` typed by someone
/// are plain text. Words without a letter or digit hold nothing to find
/// and are left out; `None` when no word is left.
fn fts5_expression(query: &SearchQuery) -> Option<String> {
    let phrases: Vec<String> = query
        .words()
        .iter()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    (!phrases.is_empty()).then(|| phrases.join(" AND "))
}

/// The granted category and course ids as JSON arrays for `json_each`,
/// or `(None, None)` when everything is visible.
fn visible_json(seen: &Visibility) -> (Option<String>, Option<String>) {
    match seen {
        Visibility::Everything => (None, None),
        Visibility::Only {
            categories,
            courses,
        } => (
            Some(json_ids(categories.iter().map(|c| c.0))),
            Some(json_ids(courses.iter().map(|c| c.0))),
        ),
    }
}

fn json_ids(ids: impl Iterator<Item = i64>) -> String {
    let list: Vec<String> = ids.map(|id| id.to_string()).collect();
    format!("[{}]", list.join(","))
}

/// Takes files out of the search (gone missing, or about to be written again).
pub fn forget_files<'a>(conn: &Connection, ids: impl Iterator<Item = &'a FileId>) -> Result<()> {
    let mut forget = conn.prepare("DELETE FROM file_search WHERE rowid = ?1")?;
    for id in ids {
        forget.execute([id.0])?;
    }
    Ok(())
}

/// Adds entries to the search, in the writing transaction: FTS5 gathers
/// them in memory and writes its index once, at the commit.
pub fn index_files(conn: &Connection, entries: &[Entry]) -> Result<()> {
    let mut index =
        conn.prepare("INSERT INTO file_search (rowid, name, section) VALUES (?1, ?2, ?3)")?;
    for e in entries {
        index.execute((e.id.0, &e.name, &e.section))?;
    }
    Ok(())
}

async fn fetch(
    pool: &SqlitePool,
    sql: &'static str,
    expression: &str,
    (categories, courses): &(Option<String>, Option<String>),
    limit: u32,
) -> Result<Vec<SqliteRow>> {
    Ok(sqlx::query(sql)
        .bind(expression)
        .bind(categories.as_deref())
        .bind(courses.as_deref())
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?)
}

fn course_hit(row: SqliteRow) -> Result<SearchHit> {
    let name: String = row.try_get("name")?;
    let snippet: Option<String> = row.try_get("snippet")?;
    Ok(SearchHit {
        kind: HitKind::Course,
        category_id: CategoryId(row.try_get("category_id")?),
        course_id: CourseId(row.try_get("id")?),
        file_id: None,
        course_name: name.clone(),
        name,
        raw_name: None,
        path: None,
        snippet: snippet.map(one_line).filter(|s| !s.is_empty()),
        rank: row.try_get("score")?,
    })
}

/// A snippet of a README spans its line breaks; shown in one line.
fn one_line(text: String) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn file_hit(row: SqliteRow) -> Result<SearchHit> {
    let category_id = CategoryId(row.try_get("category_id")?);
    let course_name: String = row.try_get("course_name")?;
    let rank: f64 = row.try_get("score")?;
    let file = rows::file_record(&row)?;
    Ok(SearchHit {
        kind: HitKind::File,
        category_id,
        course_id: file.course_id,
        file_id: Some(file.id),
        path: Some(file.path_in_course().into_owned()),
        raw_name: file.raw_name(),
        name: file.name,
        course_name,
        snippet: None,
        rank,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expression(text: &str) -> Option<String> {
        fts5_expression(&SearchQuery::parse(text).unwrap())
    }

    #[test]
    fn words_are_quoted_prefixes_joined_by_and() {
        assert_eq!(
            expression("  caf  Theory ").as_deref(),
            Some(r#""caf"* AND "Theory"*"#)
        );
        assert_eq!(
            expression(r#"a"b NEAR(x"#).as_deref(),
            Some(r#""a""b"* AND "NEAR(x"*"#)
        );
        assert_eq!(expression(r#"" * - :"#), None, "nothing to find");
    }
}

/// The search index the store writes in bulk is the one the triggers of
/// migration 0003 wrote row by row: what its view gives for every row.
#[cfg(test)]
mod bulk {
    use crate::model::*;
    use crate::sqlite::SqliteStore;
    use crate::Store;
    use lectern_core::{LibraryPath, Sha256Digest};

    fn facts(n: u8, role: FileRole) -> FileFacts {
        FileFacts {
            size: u64::from(n),
            mtime_ns: i64::from(n),
            sha256: Sha256Digest([n; 32]),
            mime: "video/mp4".into(),
            role,
            subtitle: None,
        }
    }

    async fn rows(store: &SqliteStore, sql: &str) -> Vec<(i64, String, String)> {
        sqlx::query_as(sql).fetch_all(&store.pool).await.unwrap()
    }

    async fn assert_as_the_triggers_wrote(store: &SqliteStore, step: &str) {
        let written = rows(
            store,
            "SELECT rowid, name, section FROM file_search ORDER BY rowid",
        )
        .await;
        let view = rows(
            store,
            "SELECT id, name, section FROM file_search_source ORDER BY id",
        )
        .await;
        assert_eq!(written, view, "after {step}");
    }

    #[tokio::test]
    async fn the_bulk_search_index_equals_what_the_triggers_gave() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        let paths = [
            LibraryPath::parse("Cat/K").unwrap(),
            LibraryPath::parse("Two/L").unwrap(),
        ];
        let ids = store.ensure_courses(&paths).await.unwrap();
        let (k, l) = (ids[&paths[0]], ids[&paths[1]]);
        let names = [
            ("Cat/K/01 Intro/01 Welcome.mp4", FileRole::Material, k),
            ("Cat/K/top.pdf", FileRole::Material, k),
            ("Cat/K/README.md", FileRole::Description, k),
            ("Cat/K/a/b/c/deep café.mp4", FileRole::Material, k),
            ("Two/L/x y/Ünïcødé – 1.txt", FileRole::Material, l),
            ("Two/L/cover.jpg", FileRole::Cover, l),
        ];
        let added = (0u8..)
            .zip(names)
            .map(|(n, (path, role, course))| NewFile {
                course_id: course,
                path: LibraryPath::parse(path).unwrap(),
                facts: facts(n, role),
            })
            .collect();
        store
            .apply(&ChangeBatch {
                added,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_as_the_triggers_wrote(&store, "the first scan").await;

        let all = store.all_files().await.unwrap();
        let id = |path: &str| all.iter().find(|f| f.path == path).unwrap().id;
        let change = |from: &str, to: &str, course, role| FileChange {
            id: id(from),
            course_id: course,
            path: LibraryPath::parse(to).unwrap(),
            facts: facts(9, role),
        };
        store
            .apply(&ChangeBatch {
                changed: vec![
                    change(
                        "Cat/K/top.pdf",
                        "Two/L/moved/top.pdf",
                        l,
                        FileRole::Material,
                    ),
                    change("Cat/K/README.md", "Cat/K/README.md", k, FileRole::Material),
                    change("Two/L/cover.jpg", "Two/L/cover.jpg", l, FileRole::Material),
                ],
                missing: vec![id("Cat/K/01 Intro/01 Welcome.mp4")],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_as_the_triggers_wrote(&store, "moves, new roles and a file gone").await;

        store
            .apply(&ChangeBatch {
                changed: vec![change(
                    "Cat/K/01 Intro/01 Welcome.mp4",
                    "Cat/K/01 Intro/01 Welcome.mp4",
                    k,
                    FileRole::Material,
                )],
                missing: vec![id("Cat/K/a/b/c/deep café.mp4")],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_as_the_triggers_wrote(&store, "a file back and another gone").await;
        store
            .apply(&ChangeBatch {
                purged: vec![id("Cat/K/a/b/c/deep café.mp4")],
                ..Default::default()
            })
            .await
            .unwrap();
        store.cleanup().await.unwrap();
        assert_as_the_triggers_wrote(&store, "a purge and a cleanup").await;
        assert_eq!(
            rows(
                &store,
                "SELECT rowid, name, section FROM file_search ORDER BY rowid"
            )
            .await
            .len(),
            5
        );
        store.close().await;
    }
}
