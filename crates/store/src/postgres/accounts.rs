//! People, sessions, what they may see, and their progress. Groups and
//! their grants are in `groups`, API tokens in `tokens`.

use super::Tx;
use crate::accounts::*;
use crate::rows::{self as map, Columns, USER_COLUMNS};
use crate::{now_ms, Result, StoreError};
use lectern_core::{CategoryId, CourseId, FileId};
use sqlx::postgres::PgPool;
use std::collections::HashSet;

pub(super) use crate::sqlx_error::conflict;

pub async fn create_user(pool: &PgPool, new: &NewUser) -> Result<User> {
    let row = sqlx::query(&format!(
        "INSERT INTO users (username, password_hash, role, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4) RETURNING {USER_COLUMNS}"
    ))
    .bind(&new.username)
    .bind(&new.password_hash)
    .bind(new.role.as_str())
    .bind(now_ms())
    .fetch_one(pool)
    .await
    .map_err(|e| conflict(e, &format!("the username {:?} is taken", new.username)))?;
    map::user(&row)
}

pub async fn user_by_id(pool: &PgPool, id: UserId) -> Result<Option<User>> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(map::user).transpose()
}

/// Usernames are matched without regard to ASCII case, as the unique
/// index on `lower(username)` keeps them apart.
pub async fn user_login(pool: &PgPool, username: &str) -> Result<Option<(User, String)>> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower(username) = lower($1)"
    ))
    .bind(username)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => Ok(Some((
            map::user(&row)?,
            row.text("password_hash")?.to_owned(),
        ))),
        None => Ok(None),
    }
}

pub async fn users(pool: &PgPool) -> Result<Vec<User>> {
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY lower(username)"
    ))
    .fetch_all(pool)
    .await?;
    rows.iter().map(map::user).collect()
}

/// Refuses to leave no enabled admin behind. The caller's transaction
/// holds the write lock, so two admins demoting each other at once run one
/// after the other and the second sees the first's change.
const LAST_ADMIN_GUARD: &str = "NOT (role = 'admin' AND NOT disabled AND NOT EXISTS (
        SELECT 1 FROM users o WHERE o.id <> users.id AND o.role = 'admin' AND NOT o.disabled))";

const LAST_ADMIN: &str = "this is the last enabled administrator: make another one first";

pub async fn update_user(tx: &mut Tx, id: UserId, c: &UserChanges) -> Result<Option<User>> {
    // The guard matters only when the row stops being an enabled admin.
    let row = sqlx::query(&format!(
        "UPDATE users SET password_hash = COALESCE($1, password_hash), role = COALESCE($2, role),
             disabled = COALESCE($3, disabled), updated_at = $4
         WHERE id = $5
           AND ((COALESCE($2, role) = 'admin' AND NOT COALESCE($3, disabled)) OR {LAST_ADMIN_GUARD})
         RETURNING {USER_COLUMNS}"
    ))
    .bind(c.password_hash.as_deref())
    .bind(c.role.map(Role::as_str))
    .bind(c.disabled)
    .bind(now_ms())
    .bind(id.0)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some(row) => map::user(&row).map(Some),
        None if exists(tx, id).await? => Err(StoreError::Conflict(LAST_ADMIN.into())),
        None => Ok(None),
    }
}

pub async fn delete_user(tx: &mut Tx, id: UserId) -> Result<bool> {
    let done = sqlx::query(&format!(
        "DELETE FROM users WHERE id = $1 AND {LAST_ADMIN_GUARD}"
    ))
    .bind(id.0)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 && exists(tx, id).await? {
        return Err(StoreError::Conflict(LAST_ADMIN.into()));
    }
    Ok(done.rows_affected() == 1)
}

/// Whether the user is there: what tells a guarded change that did nothing
/// because of the guard from one that found no one.
async fn exists(tx: &mut Tx, id: UserId) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)")
            .bind(id.0)
            .fetch_one(&mut **tx)
            .await?,
    )
}

pub async fn count_admins(pool: &PgPool) -> Result<u64> {
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled")
            .fetch_one(pool)
            .await?;
    Ok(n.max(0) as u64)
}

pub async fn granted(pool: &PgPool, user: UserId) -> Result<Visibility> {
    let rows = sqlx::query(
        "SELECT g.category_id, g.course_id FROM grants g
         JOIN group_members m ON m.group_id = g.group_id WHERE m.user_id = $1",
    )
    .bind(user.0)
    .fetch_all(pool)
    .await?;
    let (mut categories, mut courses) = (HashSet::new(), HashSet::new());
    for row in &rows {
        categories.extend(row.int_or_null("category_id")?.map(CategoryId));
        courses.extend(row.int_or_null("course_id")?.map(CourseId));
    }
    Ok(Visibility::Only {
        categories,
        courses,
    })
}

pub async fn create_session(pool: &PgPool, s: &NewSession) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, kind, csrf_token, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&s.token_hash)
    .bind(s.user_id.0)
    .bind(s.kind.as_str())
    .bind(&s.csrf_token)
    .bind(now_ms())
    .bind(s.expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// A live login session by its token's hash, or else a live API token.
pub async fn session(pool: &PgPool, token_hash: &str) -> Result<Option<Session>> {
    let row = sqlx::query(
        "SELECT u.id, u.username, u.role, u.disabled, u.created_at,
                s.kind, s.csrf_token, s.expires_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled",
    )
    .bind(token_hash)
    .bind(now_ms())
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => Ok(Some(Session {
            user: map::user(&row)?,
            kind: map::parse(row.text("kind")?)?,
            csrf_token: row.text("csrf_token")?.to_owned(),
            expires_at: row.int("expires_at")?,
        })),
        None => super::tokens::session(pool, token_hash).await,
    }
}

pub async fn delete_session(pool: &PgPool, token_hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn delete_user_sessions(pool: &PgPool, user: UserId) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user.0)
        .execute(pool)
        .await?;
    Ok(())
}

/// One statement: what is given replaces what is stored, the rest stays.
pub async fn set_progress(
    pool: &PgPool,
    user: UserId,
    file: FileId,
    position: Option<f64>,
    completed: Option<bool>,
) -> Result<Progress> {
    let row = sqlx::query(
        "INSERT INTO progress (user_id, file_id, position_seconds, completed, updated_at)
         VALUES ($1, $2, $3, COALESCE($4, false), $5)
         ON CONFLICT (user_id, file_id) DO UPDATE SET
             position_seconds = COALESCE($3, progress.position_seconds),
             completed = COALESCE($4, progress.completed),
             updated_at = $5
         RETURNING file_id, position_seconds, completed, updated_at",
    )
    .bind(user.0)
    .bind(file.0)
    .bind(position)
    .bind(completed)
    .bind(now_ms())
    .fetch_one(pool)
    .await?;
    map::progress(&row)
}

pub async fn course_overviews(pool: &PgPool, user: UserId) -> Result<Vec<CourseOverview>> {
    let rows = sqlx::query(
        "SELECT c.id,
           (SELECT MIN(f.id) FROM files f
             WHERE f.course_id = c.id AND f.role = 'cover' AND f.state = 'present') AS cover,
           (SELECT COUNT(*) FROM files f
             WHERE f.course_id = c.id AND f.role = 'material' AND f.state = 'present') AS lessons,
           (SELECT COUNT(*) FROM files f JOIN progress p ON p.file_id = f.id
             WHERE f.course_id = c.id AND f.role = 'material' AND f.state = 'present'
               AND p.user_id = $1 AND p.completed) AS completed
         FROM courses c ORDER BY c.id",
    )
    .bind(user.0)
    .fetch_all(pool)
    .await?;
    rows.iter().map(course_overview).collect()
}

fn course_overview(row: &impl Columns) -> Result<CourseOverview> {
    Ok(CourseOverview {
        course_id: CourseId(row.int("id")?),
        cover_file_id: row.int_or_null("cover")?.map(FileId),
        lessons: row.int("lessons")?.max(0) as u64,
        completed: row.int("completed")?.max(0) as u64,
    })
}

pub async fn course_progress(
    pool: &PgPool,
    user: UserId,
    course: CourseId,
) -> Result<Vec<Progress>> {
    let rows = sqlx::query(
        "SELECT p.file_id, p.position_seconds, p.completed, p.updated_at
         FROM progress p JOIN files f ON f.id = p.file_id
         WHERE p.user_id = $1 AND f.course_id = $2 ORDER BY p.file_id",
    )
    .bind(user.0)
    .bind(course.0)
    .fetch_all(pool)
    .await?;
    rows.iter().map(map::progress).collect()
}

pub async fn course_progress_at(
    pool: &PgPool,
    user: UserId,
    course: CourseId,
) -> Result<(i64, Vec<Progress>)> {
    // One row with no progress when there is none: the generation always
    // comes back.
    let rows = sqlx::query(concat!(
        "SELECT g.generation, p.file_id, p.position_seconds, p.completed, p.updated_at
         FROM (SELECT ",
        generation_of!("$2"),
        " AS generation) g
         LEFT JOIN (SELECT p.* FROM progress p JOIN files f ON f.id = p.file_id
                    WHERE p.user_id = $1 AND f.course_id = $2) p ON true
         ORDER BY p.file_id"
    ))
    .bind(user.0)
    .bind(course.0)
    .fetch_all(pool)
    .await?;
    let generation = match rows.first() {
        Some(row) => row.int("generation")?,
        None => return Err(StoreError::other("the course generation did not come back")),
    };
    let mut list = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.int_or_null("file_id")?.is_some() {
            list.push(map::progress(row)?);
        }
    }
    Ok((generation, list))
}

pub async fn remember_address(
    tx: &mut Tx,
    user: UserId,
    address: &str,
    forget_before: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO known_addresses (user_id, address, last_seen) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, address) DO UPDATE SET last_seen = excluded.last_seen",
    )
    .bind(user.0)
    .bind(address)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    // Old addresses of every account go, and this account keeps only its
    // newest: a roaming phone cannot grow the table without bound.
    sqlx::query("DELETE FROM known_addresses WHERE last_seen < $1")
        .bind(forget_before)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "DELETE FROM known_addresses WHERE user_id = $1 AND address NOT IN (
             SELECT address FROM known_addresses WHERE user_id = $1
             ORDER BY last_seen DESC, address LIMIT $2)",
    )
    .bind(user.0)
    .bind(MAX_KNOWN_ADDRESSES)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn known_address(pool: &PgPool, user: UserId, address: &str, since: i64) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM known_addresses
                        WHERE user_id = $1 AND address = $2 AND last_seen >= $3)",
    )
    .bind(user.0)
    .bind(address)
    .bind(since)
    .fetch_one(pool)
    .await?)
}
