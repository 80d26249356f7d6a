//! Long-lived API tokens: created by an admin, looked up like sessions.

use super::accounts::{conflict, user};
use super::reads::Readers;
use super::rows::Columns;
use crate::accounts::*;
use crate::{now_ms, Result};
use sqlx::SqlitePool;

/// A token's last use is written at most this often, so that a script
/// polling every second does not turn each lookup into a write.
const LAST_USED_EVERY_MS: i64 = 60_000;

const TOKEN_COLUMNS: &str = "t.id, t.name, t.user_id, u.username, t.created_at, t.expires_at,
    t.last_used_at";

pub async fn create(pool: &SqlitePool, new: &NewApiToken) -> Result<ApiToken> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_tokens (name, user_id, token_hash, csrf_token, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&new.name)
    .bind(new.user_id.0)
    .bind(&new.token_hash)
    .bind(&new.csrf_token)
    .bind(now_ms())
    .bind(new.expires_at)
    .fetch_one(pool)
    .await
    .map_err(|e| conflict(e, "that token already exists"))?;
    let row = sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?"
    ))
    .bind(id)
    .fetch_one(pool)
    .await?;
    crate::rows::api_token(&row)
}

pub async fn list(pool: &SqlitePool) -> Result<Vec<ApiToken>> {
    let rows = sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id"
    ))
    .fetch_all(pool)
    .await?;
    rows.iter().map(crate::rows::api_token).collect()
}

pub async fn delete(pool: &SqlitePool, id: ApiTokenId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM api_tokens WHERE id = ?")
        .bind(id.0)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A live token (not expired, owner not disabled) as a session of kind `Api`.
pub async fn session(
    pool: &SqlitePool,
    readers: &Readers,
    token_hash: &str,
) -> Result<Option<Session>> {
    let now = now_ms();
    let found = readers.optional(
        "SELECT u.id, u.username, u.role, u.disabled, u.created_at,
                t.id AS token_id, t.csrf_token, t.expires_at, t.last_used_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = ?1 AND (t.expires_at IS NULL OR t.expires_at > ?2)
               AND NOT u.disabled",
        rusqlite::params![token_hash, now],
        |row| {
            let session = Session {
                user: user(row)?,
                kind: SessionKind::Api,
                csrf_token: row.text("csrf_token")?.to_owned(),
                expires_at: row.int_or_null("expires_at")?.unwrap_or(i64::MAX),
            };
            Ok((
                session,
                row.int("token_id")?,
                row.int_or_null("last_used_at")?,
            ))
        },
    )?;
    let Some((session, token_id, last_used)) = found else {
        return Ok(None);
    };
    if last_used.is_none_or(|at| now - at >= LAST_USED_EVERY_MS) {
        touch(pool, token_id, now).await;
    }
    Ok(Some(session))
}

/// Bookkeeping only: a failure to record the use must not refuse the caller.
async fn touch(pool: &SqlitePool, id: i64, now: i64) {
    let done = sqlx::query("UPDATE api_tokens SET last_used_at = ? WHERE id = ?")
        .bind(now)
        .bind(id)
        .execute(pool)
        .await;
    if let Err(e) = done {
        tracing::warn!("cannot record the use of API token {id}: {e}");
    }
}
