//! People, groups, grants, sessions and progress.

use super::reads::Readers;
use super::rows::Columns;
use crate::accounts::*;
use crate::{now_ms, Result, StoreError};
use lectern_core::{CategoryId, CourseId, FileId};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use std::collections::HashSet;

use crate::rows::progress;
pub(super) use crate::rows::{user, USER_COLUMNS};

pub(super) use crate::sqlx_error::conflict;

pub async fn create_user(pool: &SqlitePool, new: &NewUser) -> Result<User> {
    let now = now_ms();
    let row = sqlx::query(&format!(
        "INSERT INTO users (username, password_hash, role, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?) RETURNING {USER_COLUMNS}"
    ))
    .bind(&new.username)
    .bind(&new.password_hash)
    .bind(new.role.as_str())
    .bind(now)
    .bind(now)
    .fetch_one(pool)
    .await
    .map_err(|e| conflict(e, &format!("the username {:?} is taken", new.username)))?;
    user(&row)
}

pub async fn user_by_id(pool: &SqlitePool, id: UserId) -> Result<Option<User>> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
        .bind(id.0)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(user).transpose()
}

pub async fn user_login(pool: &SqlitePool, username: &str) -> Result<Option<(User, String)>> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower(username) = lower(?)"
    ))
    .bind(username)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => Ok(Some((user(&row)?, row.try_get("password_hash")?))),
        None => Ok(None),
    }
}

pub async fn users(pool: &SqlitePool) -> Result<Vec<User>> {
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY lower(username)"
    ))
    .fetch_all(pool)
    .await?;
    rows.iter().map(user).collect()
}

/// Refuses to leave no enabled admin behind. The check is inside the one
/// statement, so two admins demoting each other at once cannot both win.
const LAST_ADMIN_GUARD: &str = "NOT (role = 'admin' AND NOT disabled AND NOT EXISTS (
        SELECT 1 FROM users o WHERE o.id <> users.id AND o.role = 'admin' AND NOT o.disabled))";

const LAST_ADMIN: &str = "this is the last enabled administrator: make another one first";

pub async fn update_user(pool: &SqlitePool, id: UserId, c: &UserChanges) -> Result<Option<User>> {
    // The guard matters only when the row stops being an enabled admin.
    let done = sqlx::query(&format!(
        "UPDATE users SET password_hash = COALESCE(?1, password_hash), role = COALESCE(?2, role),
             disabled = COALESCE(?3, disabled), updated_at = ?4
         WHERE id = ?5
           AND ((COALESCE(?2, role) = 'admin' AND NOT COALESCE(?3, disabled)) OR {LAST_ADMIN_GUARD})"
    ))
    .bind(c.password_hash.as_deref())
    .bind(c.role.map(Role::as_str))
    .bind(c.disabled)
    .bind(now_ms())
    .bind(id.0)
    .execute(pool)
    .await?;
    let found = user_by_id(pool, id).await?;
    if done.rows_affected() == 0 && found.is_some() {
        return Err(StoreError::Conflict(LAST_ADMIN.into()));
    }
    Ok(found)
}

pub async fn delete_user(pool: &SqlitePool, id: UserId) -> Result<bool> {
    let done = sqlx::query(&format!(
        "DELETE FROM users WHERE id = ? AND {LAST_ADMIN_GUARD}"
    ))
    .bind(id.0)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 && user_by_id(pool, id).await?.is_some() {
        return Err(StoreError::Conflict(LAST_ADMIN.into()));
    }
    Ok(done.rows_affected() == 1)
}

pub async fn count_admins(pool: &SqlitePool) -> Result<u64> {
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled")
            .fetch_one(pool)
            .await?;
    Ok(n.max(0) as u64)
}

pub async fn create_group(pool: &SqlitePool, name: &str) -> Result<GroupId> {
    let id: i64 =
        sqlx::query_scalar("INSERT INTO groups (name, created_at) VALUES (?, ?) RETURNING id")
            .bind(name)
            .bind(now_ms())
            .fetch_one(pool)
            .await
            .map_err(|e| conflict(e, &format!("the group {name:?} exists")))?;
    Ok(GroupId(id))
}

pub async fn add_member(pool: &SqlitePool, group: GroupId, user: UserId) -> Result<()> {
    sqlx::query(
        "INSERT INTO group_members (group_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(group.0)
    .bind(user.0)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn add_grant(pool: &SqlitePool, group: GroupId, grant: Grant) -> Result<()> {
    let (category, course) = match grant {
        Grant::Category(id) => (Some(id.0), None),
        Grant::Course(id) => (None, Some(id.0)),
    };
    sqlx::query(
        "INSERT INTO grants (group_id, category_id, course_id, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT DO NOTHING",
    )
    .bind(group.0)
    .bind(category)
    .bind(course)
    .bind(now_ms())
    .execute(pool)
    .await?;
    Ok(())
}

pub fn granted(readers: &Readers, user: UserId) -> Result<Visibility> {
    let rows = readers.all(
        "SELECT g.category_id, g.course_id FROM grants g
         JOIN group_members m ON m.group_id = g.group_id WHERE m.user_id = ?",
        [user.0],
        |row| {
            Ok((
                row.int_or_null("category_id")?,
                row.int_or_null("course_id")?,
            ))
        },
    )?;
    let (mut categories, mut courses) = (HashSet::new(), HashSet::new());
    for (category, course) in rows {
        categories.extend(category.map(CategoryId));
        courses.extend(course.map(CourseId));
    }
    Ok(Visibility::Only {
        categories,
        courses,
    })
}

pub async fn create_session(pool: &SqlitePool, s: &NewSession) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, kind, csrf_token, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?)",
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

pub async fn session(
    pool: &SqlitePool,
    readers: &Readers,
    token_hash: &str,
) -> Result<Option<Session>> {
    let found = readers.optional(
        "SELECT u.id, u.username, u.role, u.disabled, u.created_at,
                s.kind, s.csrf_token, s.expires_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND NOT u.disabled",
        rusqlite::params![token_hash, now_ms()],
        |row| {
            Ok(Session {
                user: user(row)?,
                kind: row.text("kind")?.parse().map_err(StoreError::damaged)?,
                csrf_token: row.text("csrf_token")?.to_owned(),
                expires_at: row.int("expires_at")?,
            })
        },
    )?;
    match found {
        Some(session) => Ok(Some(session)),
        None => super::tokens::session(pool, readers, token_hash).await,
    }
}

pub async fn delete_session(pool: &SqlitePool, token_hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn delete_user_sessions(pool: &SqlitePool, user: UserId) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = ?")
        .bind(user.0)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn set_progress(
    pool: &SqlitePool,
    user: UserId,
    file: FileId,
    position: Option<f64>,
    completed: Option<bool>,
) -> Result<Progress> {
    let row = sqlx::query(
        "INSERT INTO progress (user_id, file_id, position_seconds, completed, updated_at)
         VALUES (?1, ?2, ?3, COALESCE(?4, 0), ?5)
         ON CONFLICT (user_id, file_id) DO UPDATE SET
             position_seconds = COALESCE(?3, position_seconds),
             completed = COALESCE(?4, completed),
             updated_at = ?5
         RETURNING file_id, position_seconds, completed, updated_at",
    )
    .bind(user.0)
    .bind(file.0)
    .bind(position)
    .bind(completed)
    .bind(now_ms())
    .fetch_one(pool)
    .await?;
    progress(&row)
}

pub async fn course_overviews(pool: &SqlitePool, user: UserId) -> Result<Vec<CourseOverview>> {
    let rows = sqlx::query(
        "SELECT c.id,
           (SELECT MIN(f.id) FROM files f
             WHERE f.course_id = c.id AND f.role = 'cover' AND f.state = 'present') AS cover,
           (SELECT COUNT(*) FROM files f
             WHERE f.course_id = c.id AND f.role = 'material' AND f.state = 'present') AS lessons,
           (SELECT COUNT(*) FROM files f JOIN progress p ON p.file_id = f.id
             WHERE f.course_id = c.id AND f.role = 'material' AND f.state = 'present'
               AND p.user_id = ? AND p.completed) AS completed
         FROM courses c ORDER BY c.id",
    )
    .bind(user.0)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(CourseOverview {
                course_id: CourseId(row.try_get("id")?),
                cover_file_id: row.try_get::<Option<i64>, _>("cover")?.map(FileId),
                lessons: row.try_get::<i64, _>("lessons")?.max(0) as u64,
                completed: row.try_get::<i64, _>("completed")?.max(0) as u64,
            })
        })
        .collect()
}

pub async fn course_progress(
    pool: &SqlitePool,
    user: UserId,
    course: CourseId,
) -> Result<Vec<Progress>> {
    let rows = sqlx::query(
        "SELECT p.file_id, p.position_seconds, p.completed, p.updated_at
         FROM progress p JOIN files f ON f.id = p.file_id
         WHERE p.user_id = ? AND f.course_id = ? ORDER BY p.file_id",
    )
    .bind(user.0)
    .bind(course.0)
    .fetch_all(pool)
    .await?;
    rows.iter().map(progress).collect()
}

pub fn course_progress_at(
    readers: &Readers,
    user: UserId,
    course: CourseId,
) -> Result<(i64, Vec<Progress>)> {
    // One row with no progress when there is none: the generation always
    // comes back.
    let rows = readers.all(
        concat!(
            "SELECT g.generation, p.file_id, p.position_seconds, p.completed, p.updated_at
             FROM (SELECT ",
            course_generation!("?2"),
            " AS generation) g
             LEFT JOIN (SELECT p.* FROM progress p JOIN files f ON f.id = p.file_id
                        WHERE p.user_id = ?1 AND f.course_id = ?2) p
             ORDER BY p.file_id"
        ),
        [user.0, course.0],
        |row| {
            let generation = row.int("generation")?;
            match row.int_or_null("file_id")? {
                Some(_) => Ok((generation, Some(progress(row)?))),
                None => Ok((generation, None)),
            }
        },
    )?;
    let generation = match rows.first() {
        Some((generation, _)) => *generation,
        None => return Err(StoreError::other("the course generation did not come back")),
    };
    Ok((
        generation,
        rows.into_iter().filter_map(|(_, p)| p).collect(),
    ))
}

pub async fn remember_address(
    tx: &mut Transaction<'_, Sqlite>,
    user: UserId,
    address: &str,
    forget_before: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO known_addresses (user_id, address, last_seen) VALUES (?, ?, ?)
         ON CONFLICT (user_id, address) DO UPDATE SET last_seen = excluded.last_seen",
    )
    .bind(user.0)
    .bind(address)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    // Old addresses of every account go, and this account keeps only its
    // newest: a roaming phone cannot grow the table without bound.
    sqlx::query("DELETE FROM known_addresses WHERE last_seen < ?")
        .bind(forget_before)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "DELETE FROM known_addresses WHERE user_id = ?1 AND address NOT IN (
             SELECT address FROM known_addresses WHERE user_id = ?1
             ORDER BY last_seen DESC, address LIMIT ?2)",
    )
    .bind(user.0)
    .bind(MAX_KNOWN_ADDRESSES)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn known_address(
    pool: &SqlitePool,
    user: UserId,
    address: &str,
    since: i64,
) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM known_addresses WHERE user_id = ? AND address = ? AND last_seen >= ?",
    )
    .bind(user.0)
    .bind(address)
    .bind(since)
    .fetch_optional(pool)
    .await?;
    Ok(found.is_some())
}
