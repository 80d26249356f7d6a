//! The audit log: appended to, and read newest first in pages.

use crate::audit::*;
use crate::Result;
use sqlx::{Sqlite, SqlitePool, Transaction};

pub async fn record(pool: &SqlitePool, entry: &NewAuditEntry) -> Result<i64> {
    insert(pool, entry).await
}

async fn insert<'e>(
    db: impl sqlx::Executor<'e, Database = Sqlite>,
    entry: &NewAuditEntry,
) -> Result<i64> {
    let id = sqlx::query_scalar(
        "INSERT INTO audit_log
             (created_at, actor, actor_id, action, target, detail, outcome, status, address)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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

/// See [`crate::Store::record_audit_counted`]. `IS` compares NULLs as
/// equal: a sign-in with no address is one key too.
pub async fn record_counted(
    tx: &mut Transaction<'_, Sqlite>,
    entry: &NewAuditEntry,
    since: i64,
) -> Result<i64> {
    let detail = entry.detail.as_deref().unwrap_or("{}");
    let updated: Option<i64> = sqlx::query_scalar(
        "UPDATE audit_log
         SET detail = json_set(?1, '$.count', coalesce(json_extract(detail, '$.count'), 1) + 1),
             status = ?2
         WHERE id = (SELECT id FROM audit_log
                     WHERE created_at >= ?3 AND action = ?4 AND actor = ?5
                       AND target IS ?6 AND address IS ?7 AND outcome = ?8
                     ORDER BY id DESC LIMIT 1)
         RETURNING id",
    )
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
    let first: String = sqlx::query_scalar("SELECT json_set(?, '$.count', 1)")
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
pub async fn list(pool: &SqlitePool, query: &AuditQuery) -> Result<AuditPage> {
    let size = query.page_size();
    let rows = sqlx::query(
        "SELECT * FROM audit_log
         WHERE (?1 IS NULL OR created_at >= ?1)
           AND (?2 IS NULL OR created_at < ?2)
           AND (?3 IS NULL OR actor = ?3)
           AND (?4 IS NULL OR action = ?4 OR substr(action, 1, length(?4) + 1) = ?4 || '.')
           AND (?5 IS NULL OR id < ?5)
         ORDER BY id DESC LIMIT ?6",
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
