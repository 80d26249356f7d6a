//! Long-lived API tokens: created by an admin, looked up like sessions.

use super::accounts::conflict;
use crate::accounts::*;
use crate::rows::{self as map, Columns};
use crate::{now_ms, Result};
use sqlx::postgres::PgPool;

/// A token's last use is written at most this often, so that a script
/// polling every second does not turn each lookup into a write.
const LAST_USED_EVERY_MS: i64 = 60_000;

const TOKEN_COLUMNS: &str = "t.id, t.name, t.user_id, u.username, t.created_at, t.expires_at,
    t.last_used_at";

/// One statement: the new row, read back with its owner's name.
pub async fn create(pool: &PgPool, new: &NewApiToken) -> Result<ApiToken> {
    let row = sqlx::query(&format!(
        "WITH t AS (
             INSERT INTO api_tokens (name, user_id, token_hash, csrf_token, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING *)
         SELECT {TOKEN_COLUMNS} FROM t JOIN users u ON u.id = t.user_id"
    ))
    .bind(&new.name)
    .bind(new.user_id.0)
    .bind(&new.token_hash)
    .bind(&new.csrf_token)
    .bind(now_ms())
    .bind(new.expires_at)
    .fetch_one(pool)
    .await
    .map_err(|e| conflict(e, "that token already exists"))?;
    crate::rows::api_token(&row)
}

pub async fn list(pool: &PgPool) -> Result<Vec<ApiToken>> {
    let rows = sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id"
    ))
    .fetch_all(pool)
    .await?;
    rows.iter().map(crate::rows::api_token).collect()
}

pub async fn delete(pool: &PgPool, id: ApiTokenId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM api_tokens WHERE id = $1")
        .bind(id.0)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A live token (not expired, owner not disabled) as a session of kind `Api`.
pub(super) async fn session(pool: &PgPool, token_hash: &str) -> Result<Option<Session>> {
    let now = now_ms();
    let row = sqlx::query(
        "SELECT u.id, u.username, u.role, u.disabled, u.created_at,
                t.id AS token_id, t.csrf_token, t.expires_at, t.last_used_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)
               AND NOT u.disabled",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let session = Session {
        user: map::user(&row)?,
        kind: SessionKind::Api,
        csrf_token: row.text("csrf_token")?.to_owned(),
        expires_at: row.int_or_null("expires_at")?.unwrap_or(i64::MAX),
    };
    let (token_id, last_used) = (row.int("token_id")?, row.int_or_null("last_used_at")?);
    if last_used.is_none_or(|at| now - at >= LAST_USED_EVERY_MS) {
        touch(pool, token_id, now).await;
    }
    Ok(Some(session))
}

/// Bookkeeping only: a failure to record the use must not refuse the caller.
async fn touch(pool: &PgPool, id: i64, now: i64) {
    let done = sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(pool)
        .await;
    if let Err(e) = done {
        tracing::warn!("cannot record the use of API token {id}: {e}");
    }
}
