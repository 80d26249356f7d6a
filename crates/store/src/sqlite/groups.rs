//! Groups as an admin manages them: listing, renaming, deleting, and the
//! members and grants of one group. Creating a group and adding members and
//! grants live in `accounts`.

use super::accounts::{conflict, user};
use crate::accounts::*;
use crate::Result;
use sqlx::SqlitePool;

const GROUP_SELECT: &str = "SELECT g.id, g.name, g.created_at,
        (SELECT count(*) FROM group_members m WHERE m.group_id = g.id) AS member_count,
        (SELECT count(*) FROM grants r WHERE r.group_id = g.id) AS grant_count
    FROM groups g";

pub async fn list(pool: &SqlitePool) -> Result<Vec<Group>> {
    let rows = sqlx::query(&format!("{GROUP_SELECT} ORDER BY lower(g.name), g.name"))
        .fetch_all(pool)
        .await?;
    rows.iter().map(crate::rows::group).collect()
}

pub async fn by_id(pool: &SqlitePool, id: GroupId) -> Result<Option<Group>> {
    let row = sqlx::query(&format!("{GROUP_SELECT} WHERE g.id = ?"))
        .bind(id.0)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(crate::rows::group).transpose()
}

pub async fn rename(pool: &SqlitePool, id: GroupId, name: &str) -> Result<Option<Group>> {
    sqlx::query("UPDATE groups SET name = ? WHERE id = ?")
        .bind(name)
        .bind(id.0)
        .execute(pool)
        .await
        .map_err(|e| conflict(e, &format!("the group {name:?} exists")))?;
    by_id(pool, id).await
}

pub async fn delete(pool: &SqlitePool, id: GroupId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM groups WHERE id = ?")
        .bind(id.0)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn members(pool: &SqlitePool, id: GroupId) -> Result<Vec<User>> {
    let rows = sqlx::query(
        "SELECT u.id, u.username, u.role, u.disabled, u.created_at
         FROM group_members m JOIN users u ON u.id = m.user_id
         WHERE m.group_id = ? ORDER BY lower(u.username)",
    )
    .bind(id.0)
    .fetch_all(pool)
    .await?;
    rows.iter().map(user).collect()
}

pub async fn remove_member(pool: &SqlitePool, group: GroupId, user: UserId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM group_members WHERE group_id = ? AND user_id = ?")
        .bind(group.0)
        .bind(user.0)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn grants(pool: &SqlitePool, group: GroupId) -> Result<Vec<GrantRecord>> {
    let rows = sqlx::query(
        "SELECT r.id, r.group_id, r.category_id, r.course_id, r.created_at,
                COALESCE(c.name, co.path, '') AS path
         FROM grants r
         LEFT JOIN categories c ON c.id = r.category_id
         LEFT JOIN courses co ON co.id = r.course_id
         WHERE r.group_id = ? ORDER BY r.id",
    )
    .bind(group.0)
    .fetch_all(pool)
    .await?;
    rows.iter().map(crate::rows::grant_record).collect()
}

pub async fn remove_grant(pool: &SqlitePool, group: GroupId, grant: GrantId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM grants WHERE group_id = ? AND id = ?")
        .bind(group.0)
        .bind(grant.0)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
