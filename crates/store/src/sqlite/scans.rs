use crate::model::NewScan;
use crate::{now_ms, Result};
use lectern_core::scan::{ScanCounts, ScanIssue, ScanStatus};
use lectern_core::ScanId;
use sqlx::{Sqlite, SqlitePool, Transaction};

pub async fn begin(pool: &SqlitePool, scan: &NewScan) -> Result<ScanId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO scans (kind, course_id, started_by, started_at, status, verify, forced)
         VALUES (?, ?, ?, ?, 'running', ?, ?) RETURNING id",
    )
    .bind(scan.kind.as_str())
    .bind(scan.course_id.map(|c| c.0))
    .bind(&scan.started_by)
    .bind(now_ms())
    .bind(scan.verify)
    .bind(scan.forced)
    .fetch_one(pool)
    .await?;
    Ok(ScanId(id))
}

pub async fn record_issues(
    tx: &mut Transaction<'static, Sqlite>,
    scan: ScanId,
    issues: &[ScanIssue],
) -> Result<()> {
    for issue in issues {
        sqlx::query("INSERT INTO scan_issues (scan_id, kind, path, message) VALUES (?, ?, ?, ?)")
            .bind(scan.0)
            .bind(issue.kind.as_str())
            .bind(&issue.path)
            .bind(&issue.message)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Stores the counts, and with `end` the final status and its reason.
pub async fn set_counts(
    pool: &SqlitePool,
    scan: ScanId,
    end: Option<(ScanStatus, Option<&str>)>,
    c: &ScanCounts,
) -> Result<()> {
    let (status, reason, finished_at) = match end {
        Some((status, reason)) => (status, reason, Some(now_ms())),
        None => (ScanStatus::Running, None, None),
    };
    sqlx::query(
        "UPDATE scans SET status = ?, reason = COALESCE(?, reason), finished_at = ?,
             added = ?, updated = ?, removed = ?, moved = ?, unchanged = ?, errors = ?,
             hashed_files = ?, hashed_bytes = ?
         WHERE id = ?",
    )
    .bind(status.as_str())
    .bind(reason)
    .bind(finished_at)
    .bind(c.added as i64)
    .bind(c.updated as i64)
    .bind(c.removed as i64)
    .bind(c.moved as i64)
    .bind(c.unchanged as i64)
    .bind(c.errors as i64)
    .bind(c.hashed_files as i64)
    .bind(c.hashed_bytes as i64)
    .bind(scan.0)
    .execute(pool)
    .await?;
    Ok(())
}
