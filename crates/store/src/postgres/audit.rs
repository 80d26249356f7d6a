//! The audit log: appended to, and read newest first in pages.

use super::Tx;
use crate::audit::*;
use crate::Result;
use sqlx::postgres::PgPool;
use sqlx::Postgres;

/// The JSON text `$detail` with its `"count"` set to `$count` (an SQL
/// number), written as SQLite's `json_set(detail, '$.count', count)`
/// writes it, so both backends store the same text: without spaces, the
/// keys in their order, `"count"` in its place or else last. A detail
/// that is no object is kept as it is.
macro_rules! with_count {
    ($detail:literal, $count:literal) => {
        concat!(
            "(SELECT CASE WHEN json_typeof(",
            $detail,
            "::json) <> 'object' THEN ",
            $detail,
            " ELSE '{' || concat_ws(',',
                 string_agg(to_json(e.key)::text || ':' ||
                            CASE WHEN e.key = 'count' THEN (",
            $count,
            ")::text ELSE e.value::text END, ',' ORDER BY e.n),
                 CASE WHEN bool_or(e.key = 'count') THEN NULL
                      ELSE '\"count\":' || (",
            $count,
            ")::text END) || '}' END
             FROM json_each(CASE WHEN json_typeof(",
            $detail,
            "::json) = 'object' THEN ",
            $detail,
            "::json ELSE '{}' END) WITH ORDINALITY AS e(key, value, n))"
        )
    };
}

pub async fn record(pool: &PgPool, entry: &NewAuditEntry) -> Result<i64> {
    insert(pool, entry).await
}

async fn insert<'e>(
    db: impl sqlx::Executor<'e, Database = Postgres>,
    entry: &NewAuditEntry,
) -> Result<i64> {
    let id = sqlx::query_scalar(
        "INSERT INTO audit_log
             (created_at, actor, actor_id, action, target, detail, outcome, status, address)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(entry.created_at)
    .bind(&entry.actor)
    .bind(entry.actor_id.map(|id| id.0))
    .bind(&entry.action)
    .bind(&entry.target)
    .bind(&entry.detail)
    .bind(entry.outcome.as_str())
    .bind(entry.status.map(i64::from))
    .bind(&entry.address)
    .fetch_one(db)
    .await?;
    Ok(id)
}

/// See [`crate::Store::record_audit_counted`]. `IS NOT DISTINCT FROM`
/// compares NULLs as equal: a sign-in with no address is one key too. The
/// caller's write lock keeps two counts of one key from both appending.
pub async fn record_counted(tx: &mut Tx, entry: &NewAuditEntry, since: i64) -> Result<i64> {
    let detail = entry.detail.as_deref().unwrap_or("{}");
    let updated: Option<i64> = sqlx::query_scalar(concat!(
        "UPDATE audit_log SET detail = ",
        with_count!(
            "$1",
            "COALESCE(CASE json_typeof(audit_log.detail::json -> 'count')
                 WHEN 'number' THEN (audit_log.detail::json ->> 'count')::numeric END, 1) + 1"
        ),
        ", status = $2
         WHERE id = (SELECT id FROM audit_log
                     WHERE created_at >= $3 AND action = $4 AND actor = $5
                       AND target IS NOT DISTINCT FROM $6
                       AND address IS NOT DISTINCT FROM $7 AND outcome = $8
                     ORDER BY id DESC LIMIT 1)
         RETURNING id"
    ))
    .bind(detail)
    .bind(entry.status.map(i64::from))
    .bind(since)
    .bind(&entry.action)
    .bind(&entry.actor)
    .bind(&entry.target)
    .bind(&entry.address)
    .bind(entry.outcome.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(id) = updated {
        return Ok(id);
    }
    let first: String = sqlx::query_scalar(concat!("SELECT ", with_count!("$1", "1")))
        .bind(detail)
        .fetch_one(&mut **tx)
        .await?;
    let entry = NewAuditEntry {
        detail: Some(first),
        ..entry.clone()
    };
    insert(&mut **tx, &entry).await
}

/// A filter left out binds NULL and matches everything. One more row than
/// the page is read to tell whether an older page exists.
pub async fn list(pool: &PgPool, query: &AuditQuery) -> Result<AuditPage> {
    let size = query.page_size();
    let rows = sqlx::query(
        "SELECT * FROM audit_log
         WHERE ($1::bigint IS NULL OR created_at >= $1)
           AND ($2::bigint IS NULL OR created_at < $2)
           AND ($3::text IS NULL OR actor = $3)
           AND ($4::text IS NULL OR action = $4 OR substr(action, 1, length($4) + 1) = $4 || '.')
           AND ($5::bigint IS NULL OR id < $5)
         ORDER BY id DESC LIMIT $6",
    )
    .bind(query.since)
    .bind(query.until)
    .bind(&query.actor)
    .bind(&query.action)
    .bind(query.before_id)
    .bind(i64::from(size) + 1)
    .fetch_all(pool)
    .await?;
    let mut entries = rows
        .iter()
        .map(crate::rows::audit_entry)
        .collect::<Result<Vec<_>>>()?;
    let more = entries.len() > size as usize;
    entries.truncate(size as usize);
    let next_before = if more {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(AuditPage {
        entries,
        next_before,
    })
}
