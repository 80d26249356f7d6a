//! Full-text search through the FTS5 tables of migration 0003, which
//! triggers keep in step with `courses` and `files`.

use super::rows;
use crate::accounts::Visibility;
use crate::search::{HitKind, SearchHit, SearchQuery};
use crate::Result;
use lectern_core::{CategoryId, CourseId};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};
use std::cmp::Ordering;

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
    let file = rows::file_record(row)?;
    Ok(SearchHit {
        kind: HitKind::File,
        category_id,
        course_id: file.course_id,
        file_id: Some(file.id),
        path: Some(file.path_in_course().into_owned()),
        name: file.name,
        course_name,
        snippet: None,
        rank,
    })
}

/// Best rank first; on a tie courses before files, then by id, so the
/// same data always gives the same answer.
fn best_first(a: &SearchHit, b: &SearchHit) -> Ordering {
    let id = |h: &SearchHit| h.file_id.map_or(h.course_id.0, |f| f.0);
    a.rank
        .total_cmp(&b.rank)
        .then_with(|| (a.kind == HitKind::File).cmp(&(b.kind == HitKind::File)))
        .then_with(|| id(a).cmp(&id(b)))
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
