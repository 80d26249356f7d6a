//! Full-text search on PostgreSQL's own `tsvector`, finding what the
//! SQLite backend's FTS5 tables find. Lectern splits and folds the words
//! itself ([`fold`]: runs of letters and digits, lower case, diacritics
//! removed, as FTS5's `unicode61 remove_diacritics 2` tokenizer does) and
//! hands PostgreSQL finished lexemes, so no text search configuration,
//! dictionary or extension of the server changes what is found.

use crate::accounts::Visibility;
use crate::rows::{self as map, Columns};
use crate::search::{best_first, Entry, HitKind, SearchHit, SearchQuery};
use crate::Result;
use lectern_core::{CategoryId, CourseId};
use sqlx::postgres::{PgPool, PgRow};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The most positions a `tsvector` keeps; later words share the last.
const MAX_POSITION: usize = 16_383;

/// The words of `text` as the search compares them.
pub fn fold(text: &str) -> Vec<String> {
    let plain: String = text
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect();
    plain
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A `tsvector` literal of the words of each part, the first weighted
/// `A` (names), the second `B` (descriptions, folders), positions running
/// on across both. The words are letters and digits only, so quoting
/// them needs no escapes.
pub fn document(name: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut position = 0;
    for (text, weight) in [(name, 'A'), (rest, 'B')] {
        for word in fold(text) {
            position = (position + 1).min(MAX_POSITION);
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&format!("'{word}':{position}{weight}"));
        }
    }
    out
}

/// The document of a file entry (a lesson's name and its folders).
pub fn file_document(entry: &Entry) -> String {
    document(&entry.name, &entry.section)
}

/// The query as a `tsquery` literal: every typed word must match, each
/// as a prefix; a word that folds into several (`intro-ba`) is a phrase
/// whose last word is a prefix. `None` when nothing is left to find.
fn tsquery(query: &SearchQuery) -> Option<String> {
    let terms: Vec<String> = query
        .words()
        .iter()
        .map(|w| fold(w))
        .filter(|words| !words.is_empty())
        .map(|words| {
            let phrase: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
            format!("({}:*)", phrase.join(" <-> "))
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" & "))
}

/// Granted categories and courses (`$2`, `$3`), or everything when `$2`
/// is NULL; applied in SQL so a hidden hit never takes a place.
macro_rules! visible {
    () => {
        "($2::bigint[] IS NULL OR c.category_id = ANY($2) OR c.id = ANY($3))"
    };
}

// Names weigh ten times a description, five times a folder (the weights
// are for D, C, B and A). Negated: lower ranks are better, as with bm25.
const COURSE_SQL: &str = concat!(
    "SELECT c.id, c.category_id, c.name, c.description,
        -ts_rank('{0, 0, 0.1, 1}', c.search, $1::tsquery, 0)::float8 AS score
     FROM courses c
     WHERE c.search @@ $1::tsquery AND ",
    visible!(),
    " ORDER BY score, c.id LIMIT $4"
);

const FILE_SQL: &str = concat!(
    file_columns!(),
    ", c.name AS course_name, c.category_id AS category_id,
        -ts_rank('{0, 0, 0.2, 1}', files.search, $1::tsquery, 0)::float8 AS score
     FROM files JOIN courses c ON c.id = files.course_id
     WHERE files.search @@ $1::tsquery AND files.state = 'present' AND ",
    visible!(),
    " ORDER BY score, files.id LIMIT $4"
);

pub async fn search(
    pool: &PgPool,
    query: &SearchQuery,
    seen: &Visibility,
    limit: u32,
) -> Result<Vec<SearchHit>> {
    let Some(expression) = tsquery(query) else {
        return Ok(Vec::new());
    };
    if limit == 0 {
        return Ok(Vec::new());
    }
    let (categories, courses) = match seen {
        Visibility::Everything => (None, None),
        Visibility::Only {
            categories,
            courses,
        } => (
            Some(categories.iter().map(|c| c.0).collect::<Vec<i64>>()),
            Some(courses.iter().map(|c| c.0).collect::<Vec<i64>>()),
        ),
    };
    let fetch = |sql: &'static str| {
        sqlx::query(sql)
            .bind(&expression)
            .bind(categories.clone())
            .bind(courses.clone().unwrap_or_default())
            .bind(i64::from(limit))
            .fetch_all(pool)
    };
    let words = fold(query.words().join(" ").as_str());
    let mut hits = Vec::new();
    for row in fetch(COURSE_SQL).await? {
        hits.push(course_hit(&row, &words)?);
    }
    for row in fetch(FILE_SQL).await? {
        hits.push(file_hit(&row)?);
    }
    hits.sort_by(best_first);
    hits.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(hits)
}

fn course_hit(row: &PgRow, words: &[String]) -> Result<SearchHit> {
    let name = row.text("name")?.to_owned();
    let snippet = row
        .text_or_null("description")?
        .map(|text| snippet(text, words))
        .filter(|s| !s.is_empty());
    Ok(SearchHit {
        kind: HitKind::Course,
        category_id: CategoryId(row.int("category_id")?),
        course_id: CourseId(row.int("id")?),
        file_id: None,
        course_name: name.clone(),
        name,
        raw_name: None,
        path: None,
        snippet,
        rank: row.real_or_null("score")?.unwrap_or(0.0),
    })
}

fn file_hit(row: &PgRow) -> Result<SearchHit> {
    let file = map::file_record(row)?;
    Ok(SearchHit {
        kind: HitKind::File,
        category_id: CategoryId(row.int("category_id")?),
        course_id: file.course_id,
        file_id: Some(file.id),
        path: Some(file.path_in_course().into_owned()),
        raw_name: file.raw_name(),
        name: file.name,
        course_name: row.text("course_name")?.to_owned(),
        snippet: None,
        rank: row.real_or_null("score")?.unwrap_or(0.0),
    })
}

/// The most words a snippet shows, as the SQLite backend's.
const SNIPPET_WORDS: usize = 12;

/// Up to [`SNIPPET_WORDS`] words of `text` from a little before the first
/// word the query matches (or from its beginning), in one line, with `…`
/// where text is left out.
fn snippet(text: &str, words: &[String]) -> String {
    let spans = word_spans(text);
    if spans.is_empty() {
        return String::new();
    }
    let hit = spans
        .iter()
        .position(|&(start, end)| {
            let found = fold(&text[start..end]);
            found
                .iter()
                .any(|f| words.iter().any(|w| f.starts_with(w.as_str())))
        })
        .unwrap_or(0);
    let first = hit
        .saturating_sub(SNIPPET_WORDS / 4)
        .min(spans.len().saturating_sub(SNIPPET_WORDS));
    let last = (first + SNIPPET_WORDS).min(spans.len()) - 1;
    // From the first word's start (or the text's, keeping leading
    // punctuation) to the end of the last word's trailing punctuation.
    let from = if first == 0 { 0 } else { spans[first].0 };
    let to = spans.get(last + 1).map_or(text.len(), |&(next, _)| {
        trailing_end(text, spans[last].1, next)
    });
    let mut out = text[from..to]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if first > 0 {
        out.insert(0, '…');
    }
    if last + 1 < spans.len() {
        out.push('…');
    }
    out
}

/// Where the text after a word stops belonging to it: its punctuation up
/// to the next space.
fn trailing_end(text: &str, end: usize, next: usize) -> usize {
    text[end..next]
        .find(char::is_whitespace)
        .map_or(next, |space| end + space)
}

/// The byte ranges of the words of `text` (runs of letters, digits and
/// the marks that go with them).
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let inside = c.is_alphanumeric() || is_combining_mark(c);
        match (inside, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(text: &str) -> Option<String> {
        tsquery(&SearchQuery::parse(text).unwrap())
    }

    #[test]
    fn words_fold_to_lower_case_without_diacritics() {
        assert_eq!(
            fold("¡Bienvenidós! Café-Théorie 01"),
            ["bienvenidos", "cafe", "theorie", "01"]
        );
        // ø has no decomposition, so it stays.
        assert_eq!(fold("Ünïcødé – 1.txt"), ["unicøde", "1", "txt"]);
    }

    #[test]
    fn documents_weigh_names_and_number_positions() {
        assert_eq!(
            document("01 Welcome", "Intro/"),
            "'01':1A 'welcome':2A 'intro':3B"
        );
        assert_eq!(document("", ""), "");
    }

    #[test]
    fn typed_text_becomes_prefix_terms_never_operators() {
        assert_eq!(
            query("  caf  Theory ").as_deref(),
            Some("('caf':*) & ('theory':*)")
        );
        assert_eq!(
            query(r#"a"b NEAR(x"#).as_deref(),
            Some("('a' <-> 'b':*) & ('near' <-> 'x':*)")
        );
        assert_eq!(query(r#"" * - :"#), None, "nothing to find");
        assert_eq!(
            query("'; DROP TABLE x").as_deref(),
            Some("('drop':*) & ('table':*) & ('x':*)")
        );
    }

    #[test]
    fn a_snippet_is_the_text_around_the_word_in_one_line() {
        let short = "¡Bienvenidos!\n\nOrdering food and asking for the bill.";
        assert_eq!(
            snippet(short, &["bill".into()]),
            "¡Bienvenidos! Ordering food and asking for the bill."
        );
        let long = "one two three four five six seven eight nine ten eleven twelve \
                    thirteen fourteen fifteen sixteen target seventeen eighteen.";
        let s = snippet(long, &["target".into()]);
        assert!(s.starts_with('…') && s.contains("target"), "{s}");
        assert_eq!(
            s.trim_matches('…').split_whitespace().count(),
            SNIPPET_WORDS
        );
        assert!(snippet(long, &["zzz".into()]).starts_with("one two"));
    }
}
