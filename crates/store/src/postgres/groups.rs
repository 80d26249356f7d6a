//! Groups: creating, listing, renaming and deleting them, and the members
//! and grants of one group.

use super::accounts::conflict;
use super::Tx;
use crate::accounts::*;
use crate::rows::{self as map};
use crate::{now_ms, Result};
use sqlx::postgres::PgPool;

const GROUP_SELECT: &str = "SELECT g.id, g.name, g.created_at,
        (SELECT count(*) FROM group_members m WHERE m.group_id = g.id) AS member_count,
        (SELECT count(*) FROM grants r WHERE r.group_id = g.id) AS grant_count
    FROM groups g";

pub async fn create(pool: &PgPool, name: &str) -> Result<GroupId> {
    let id: i64 =
        sqlx::query_scalar("INSERT INTO groups (name, created_at) VALUES ($1, $2) RETURNING id")
            .bind(name)
            .bind(now_ms())
            .fetch_one(pool)
            .await
            .map_err(|e| conflict(e, &format!("the group {name:?} exists")))?;
    Ok(GroupId(id))
}

pub async fn add_member(pool: &PgPool, group: GroupId, user: UserId) -> Result<()> {
    sqlx::query(
        "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(group.0)
    .bind(user.0)
    .execute(pool)
    .await?;
    Ok(())
}

/// A grant given twice is kept once. The table's unique constraint cannot
/// see to that (one of its two ids is always NULL, and NULLs differ), so
/// the insert looks first, which the caller's write lock makes safe.
pub async fn add_grant(tx: &mut Tx, group: GroupId, grant: Grant) -> Result<()> {
    let (category, course) = match grant {
        Grant::Category(id) => (Some(id.0), None),
        Grant::Course(id) => (None, Some(id.0)),
    };
    sqlx::query(
        "INSERT INTO grants (group_id, category_id, course_id, created_at)
         SELECT $1, $2, $3, $4
         WHERE NOT EXISTS (SELECT 1 FROM grants WHERE group_id = $1
                           AND category_id IS NOT DISTINCT FROM $2
                           AND course_id IS NOT DISTINCT FROM $3)",
    )
    .bind(group.0)
    .bind(category)
    .bind(course)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn list(pool: &PgPool) -> Result<Vec<Group>> {
    let rows = sqlx::query(&format!("{GROUP_SELECT} ORDER BY lower(g.name), g.name"))
        .fetch_all(pool)
        .await?;
    rows.iter().map(crate::rows::group).collect()
}

pub async fn by_id(pool: &PgPool, id: GroupId) -> Result<Option<Group>> {
    let row = sqlx::query(&format!("{GROUP_SELECT} WHERE g.id = $1"))
        .bind(id.0)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(crate::rows::group).transpose()
}

pub async fn rename(pool: &PgPool, id: GroupId, name: &str) -> Result<Option<Group>> {
    sqlx::query("UPDATE groups SET name = $1 WHERE id = $2")
        .bind(name)
        .bind(id.0)
        .execute(pool)
        .await
        .map_err(|e| conflict(e, &format!("the group {name:?} exists")))?;
    by_id(pool, id).await
}

pub async fn delete(pool: &PgPool, id: GroupId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM groups WHERE id = $1")
        .bind(id.0)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn members(pool: &PgPool, id: GroupId) -> Result<Vec<User>> {
    let rows = sqlx::query(
        "SELECT u.id, u.username, u.role, u.disabled, u.created_at
         FROM group_members m JOIN users u ON u.id = m.user_id
         WHERE m.group_id = $1 ORDER BY lower(u.username)",
    )
    .bind(id.0)
    .fetch_all(pool)
    .await?;
    rows.iter().map(map::user).collect()
}

pub async fn remove_member(pool: &PgPool, group: GroupId, user: UserId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
        .bind(group.0)
        .bind(user.0)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn grants(pool: &PgPool, group: GroupId) -> Result<Vec<GrantRecord>> {
    let rows = sqlx::query(
        "SELECT r.id, r.group_id, r.category_id, r.course_id, r.created_at,
                COALESCE(c.name, co.path, '') AS path
         FROM grants r
         LEFT JOIN categories c ON c.id = r.category_id
         LEFT JOIN courses co ON co.id = r.course_id
         WHERE r.group_id = $1 ORDER BY r.id",
    )
    .bind(group.0)
    .fetch_all(pool)
    .await?;
    rows.iter().map(crate::rows::grant_record).collect()
}

pub async fn remove_grant(pool: &PgPool, group: GroupId, grant: GrantId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM grants WHERE group_id = $1 AND id = $2")
        .bind(group.0)
        .bind(grant.0)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
