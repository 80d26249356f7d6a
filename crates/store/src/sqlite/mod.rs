//! The embedded SQLite backend: one database file in WAL mode. Every write
//! that reads first runs in `BEGIN IMMEDIATE`, so it holds the write lock
//! from the start and never fails with SQLITE_BUSY_SNAPSHOT.

/// The generation of the course whose id is the query parameter `$param`,
/// or the index's for an id that names no course (migrations 0009 and
/// 0010): one SQL expression for every query that reads it.
macro_rules! course_generation {
    ($param:literal) => {
        concat!(
            "COALESCE((SELECT generation FROM courses WHERE id = ",
            $param,
            "), (SELECT value FROM index_generation WHERE id = 1))"
        )
    };
}

mod accounts;
mod audit;
mod bulk;
pub(crate) mod error;
pub(crate) mod files;
mod groups;
mod index;
mod reads;
mod rows;
mod scans;
mod search;
pub(crate) mod snapshot_check;
mod snapshots;
mod tokens;

use crate::accounts::*;
use crate::audit::{AuditPage, AuditQuery, NewAuditEntry};
use crate::model::*;
use crate::search::{SearchHit, SearchQuery};
use crate::store::Store;
use crate::{now_ms, Result, StoreError};
use async_trait::async_trait;
use lectern_core::scan::{ScanCounts, ScanIssue, ScanStatus};
use lectern_core::{CategoryId, CourseId, FileId, LibraryPath, ScanId};
use rows::Columns;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

fn opening(path: &Path) -> String {
    format!("cannot open the database at {}", path.display())
}

pub struct SqliteStore {
    pool: SqlitePool,
    /// The reads each request makes, on the calling thread (`reads.rs`).
    readers: reads::Readers,
}

impl SqliteStore {
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::from(sqlx::Error::Io(e)).context(&opening(path)))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            // 4 MiB of page cache (the default is 2): a scan's batches touch
            // the same index pages again and again.
            .pragma("cache_size", "-4096");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::from(e).context(&opening(path)))?;
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool,
            readers: reads::Readers::new(path),
        })
    }

    /// Makes a new database file at `dest` with this backend's schema, for
    /// another backend to fill as a snapshot (the one archive format).
    pub(crate) async fn create_snapshot_file(dest: &Path) -> Result<()> {
        let options = SqliteConnectOptions::new()
            .filename(dest)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Delete)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let migrated = MIGRATOR.run(&pool).await;
        pool.close().await;
        Ok(migrated?)
    }

    async fn write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn clock(&self) -> Result<i64> {
        // One machine: its clock is the database's.
        Ok(now_ms())
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        self.readers
            .optional("SELECT value FROM settings WHERE key = ?", [key], |row| {
                Ok(row.text("value")?.to_owned())
            })
    }

    async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.set_settings(&[(key, value)]).await
    }

    async fn set_settings(&self, pairs: &[(&str, &str)]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (key, value) in pairs {
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                                                 updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(value)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn read_lock(&self) -> Result<Option<LockInfo>> {
        let row = sqlx::query("SELECT * FROM operation_lock WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::lock_info).transpose()
    }

    async fn swap_lock(&self, expected: Option<&str>, new: &LockInfo) -> Result<bool> {
        let mut tx = self.write().await?;
        let current: Option<String> =
            sqlx::query_scalar("SELECT token FROM operation_lock WHERE id = 1")
                .fetch_optional(&mut *tx)
                .await?;
        if current.as_deref() != expected {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO operation_lock
                 (id, operation, holder, host, pid, pid_start, token, acquired_at, expires_at)
             VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET
                 operation = excluded.operation, holder = excluded.holder, host = excluded.host,
                 pid = excluded.pid, pid_start = excluded.pid_start, token = excluded.token,
                 acquired_at = excluded.acquired_at, expires_at = excluded.expires_at",
        )
        .bind(&new.operation)
        .bind(&new.owner.holder)
        .bind(&new.owner.host)
        .bind(new.owner.pid)
        .bind(new.owner.pid_start)
        .bind(&new.token)
        .bind(new.acquired_at)
        .bind(new.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn renew_lock(&self, token: &str, expires_at: i64) -> Result<bool> {
        let done =
            sqlx::query("UPDATE operation_lock SET expires_at = ? WHERE id = 1 AND token = ?")
                .bind(expires_at)
                .bind(token)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_lock(&self, token: &str) -> Result<()> {
        sqlx::query("DELETE FROM operation_lock WHERE id = 1 AND token = ?")
            .bind(token)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn begin_scan(&self, scan: &NewScan) -> Result<ScanId> {
        scans::begin(&self.pool, scan).await
    }

    async fn record_issues(&self, scan: ScanId, issues: &[ScanIssue]) -> Result<()> {
        let mut tx = self.write().await?;
        scans::record_issues(&mut tx, scan, issues).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_scan_counts(&self, scan: ScanId, counts: &ScanCounts) -> Result<()> {
        scans::set_counts(&self.pool, scan, None, counts).await
    }

    async fn finish_scan(
        &self,
        scan: ScanId,
        status: ScanStatus,
        reason: Option<&str>,
        counts: &ScanCounts,
    ) -> Result<()> {
        scans::set_counts(&self.pool, scan, Some((status, reason)), counts).await
    }

    async fn interrupt_running_scans(&self) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE scans SET status = 'interrupted', finished_at = ?,
                 reason = 'the process running this scan stopped before it finished'
             WHERE status = 'running'",
        )
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn scan(&self, id: ScanId) -> Result<Option<ScanRecord>> {
        let row = sqlx::query("SELECT * FROM scans WHERE id = ?")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::scan_record).transpose()
    }

    async fn scans(&self, limit: u32, offset: u32) -> Result<Vec<ScanRecord>> {
        let rows = sqlx::query("SELECT * FROM scans ORDER BY id DESC LIMIT ? OFFSET ?")
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::scan_record).collect()
    }

    async fn scan_issues(&self, id: ScanId) -> Result<Vec<ScanIssue>> {
        let rows = sqlx::query(
            "SELECT kind, path, message FROM scan_issues WHERE scan_id = ? ORDER BY id",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::scan_issue).collect()
    }

    async fn known_files(&self, scope: Scope) -> Result<Vec<KnownFile>> {
        index::known_files(&self.pool, scope).await
    }

    async fn ensure_courses(
        &self,
        course_paths: &[LibraryPath],
    ) -> Result<HashMap<LibraryPath, CourseId>> {
        let mut tx = self.write().await?;
        let ids = index::ensure_courses(&mut tx, course_paths).await?;
        index::changed(&mut tx).await?;
        tx.commit().await?;
        Ok(ids)
    }

    async fn rename_category(&self, id: CategoryId, name: &LibraryPath) -> Result<bool> {
        let mut tx = self.write().await?;
        let renamed = index::rename_category(&mut tx, id, name).await?;
        index::changed(&mut tx).await?;
        tx.commit().await?;
        Ok(renamed)
    }

    async fn move_course(&self, id: CourseId, to: &LibraryPath) -> Result<bool> {
        let mut tx = self.write().await?;
        let moved = index::move_course(&mut tx, id, to).await?;
        index::changed(&mut tx).await?;
        tx.commit().await?;
        Ok(moved)
    }

    async fn apply(&self, batch: &ChangeBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        index::apply(&mut tx, batch).await?;
        index::changed(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn cleanup(&self) -> Result<CleanupCounts> {
        let mut tx = self.write().await?;
        let counts = index::cleanup(&mut tx).await?;
        index::changed(&mut tx).await?;
        tx.commit().await?;
        Ok(counts)
    }

    async fn index_generation(&self) -> Result<i64> {
        index::generation(&self.readers)
    }

    async fn course_generation(&self, id: CourseId) -> Result<i64> {
        index::course_generation(&self.readers, id)
    }

    async fn index_summary(&self, sample: u32) -> Result<IndexSummary> {
        index::summary(&self.pool, sample).await
    }

    async fn categories(&self) -> Result<Vec<Category>> {
        let rows = sqlx::query("SELECT id, name FROM categories")
            .fetch_all(&self.pool)
            .await?;
        let mut list: Vec<Category> = rows.iter().map(rows::category).collect::<Result<_>>()?;
        list.sort_by(|a, b| lectern_core::natural_cmp(&a.name, &b.name));
        Ok(list)
    }

    async fn courses(&self, category: Option<CategoryId>) -> Result<Vec<Course>> {
        let rows = sqlx::query("SELECT * FROM courses WHERE ?1 IS NULL OR category_id = ?1")
            .bind(category.map(|c| c.0))
            .fetch_all(&self.pool)
            .await?;
        let mut list: Vec<Course> = rows.iter().map(rows::course).collect::<Result<_>>()?;
        list.sort_by(|a, b| a.path.natural_cmp(&b.path));
        Ok(list)
    }

    async fn course(&self, id: CourseId) -> Result<Option<Course>> {
        let row = sqlx::query("SELECT * FROM courses WHERE id = ?")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::course).transpose()
    }

    async fn course_by_path(&self, path: &LibraryPath) -> Result<Option<Course>> {
        // Course paths are stored as text only (see rows::stored): no course
        // has another.
        let Some(text) = path.to_str() else {
            return Ok(None);
        };
        let row = sqlx::query("SELECT * FROM courses WHERE path = ?")
            .bind(text)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::course).transpose()
    }

    async fn course_files(&self, course: CourseId) -> Result<Vec<FileRecord>> {
        let rows = sqlx::query("SELECT * FROM files WHERE course_id = ?")
            .bind(course.0)
            .fetch_all(&self.pool)
            .await?;
        let mut list: Vec<FileRecord> = rows
            .into_iter()
            .map(|row| rows::file_record(&row))
            .collect::<Result<_>>()?;
        list.sort_by(|a, b| a.path.natural_cmp(&b.path));
        Ok(list)
    }

    async fn file(&self, id: FileId) -> Result<Option<FileRecord>> {
        let row = sqlx::query("SELECT * FROM files WHERE id = ?")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| rows::file_record(&row)).transpose()
    }

    async fn file_at(&self, id: FileId) -> Result<Option<(FileRecord, i64)>> {
        self.readers.optional(
            "SELECT f.*, c.generation AS course_generation
             FROM files f JOIN courses c ON c.id = f.course_id WHERE f.id = ?",
            [id.0],
            |row| Ok((rows::file_record(row)?, row.int("course_generation")?)),
        )
    }

    async fn all_files(&self) -> Result<Vec<FileRecord>> {
        let rows = sqlx::query("SELECT * FROM files ORDER BY path")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| rows::file_record(&row))
            .collect()
    }

    async fn search(
        &self,
        query: &SearchQuery,
        seen: &Visibility,
        limit: u32,
    ) -> Result<Vec<SearchHit>> {
        search::search(&self.pool, query, seen, limit).await
    }

    async fn create_user(&self, user: &NewUser) -> Result<User> {
        accounts::create_user(&self.pool, user).await
    }

    async fn user(&self, id: UserId) -> Result<Option<User>> {
        accounts::user_by_id(&self.pool, id).await
    }

    async fn user_login(&self, username: &str) -> Result<Option<(User, String)>> {
        accounts::user_login(&self.pool, username).await
    }

    async fn users(&self) -> Result<Vec<User>> {
        accounts::users(&self.pool).await
    }

    async fn update_user(&self, id: UserId, changes: &UserChanges) -> Result<Option<User>> {
        accounts::update_user(&self.pool, id, changes).await
    }

    async fn delete_user(&self, id: UserId) -> Result<bool> {
        accounts::delete_user(&self.pool, id).await
    }

    async fn count_admins(&self) -> Result<u64> {
        accounts::count_admins(&self.pool).await
    }

    async fn create_group(&self, name: &str) -> Result<GroupId> {
        accounts::create_group(&self.pool, name).await
    }

    async fn add_member(&self, group: GroupId, user: UserId) -> Result<()> {
        accounts::add_member(&self.pool, group, user).await
    }

    async fn add_grant(&self, group: GroupId, grant: Grant) -> Result<()> {
        accounts::add_grant(&self.pool, group, grant).await
    }

    async fn groups(&self) -> Result<Vec<Group>> {
        groups::list(&self.pool).await
    }

    async fn group(&self, id: GroupId) -> Result<Option<Group>> {
        groups::by_id(&self.pool, id).await
    }

    async fn rename_group(&self, id: GroupId, name: &str) -> Result<Option<Group>> {
        groups::rename(&self.pool, id, name).await
    }

    async fn delete_group(&self, id: GroupId) -> Result<bool> {
        groups::delete(&self.pool, id).await
    }

    async fn group_members(&self, group: GroupId) -> Result<Vec<User>> {
        groups::members(&self.pool, group).await
    }

    async fn remove_member(&self, group: GroupId, user: UserId) -> Result<bool> {
        groups::remove_member(&self.pool, group, user).await
    }

    async fn group_grants(&self, group: GroupId) -> Result<Vec<GrantRecord>> {
        groups::grants(&self.pool, group).await
    }

    async fn remove_grant(&self, group: GroupId, grant: GrantId) -> Result<bool> {
        groups::remove_grant(&self.pool, group, grant).await
    }

    async fn create_api_token(&self, token: &NewApiToken) -> Result<ApiToken> {
        tokens::create(&self.pool, token).await
    }

    async fn api_tokens(&self) -> Result<Vec<ApiToken>> {
        tokens::list(&self.pool).await
    }

    async fn delete_api_token(&self, id: ApiTokenId) -> Result<bool> {
        tokens::delete(&self.pool, id).await
    }

    async fn granted(&self, user: UserId) -> Result<Visibility> {
        accounts::granted(&self.readers, user)
    }

    async fn create_session(&self, session: &NewSession) -> Result<()> {
        accounts::create_session(&self.pool, session).await
    }

    async fn session(&self, token_hash: &str) -> Result<Option<Session>> {
        accounts::session(&self.pool, &self.readers, token_hash).await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        accounts::delete_session(&self.pool, token_hash).await
    }

    async fn delete_user_sessions(&self, user: UserId) -> Result<()> {
        accounts::delete_user_sessions(&self.pool, user).await
    }

    async fn remember_address(
        &self,
        user: UserId,
        address: &str,
        forget_before: i64,
    ) -> Result<()> {
        let mut tx = self.write().await?;
        accounts::remember_address(&mut tx, user, address, forget_before).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn known_address(&self, user: UserId, address: &str, since: i64) -> Result<bool> {
        accounts::known_address(&self.pool, user, address, since).await
    }

    async fn set_progress(
        &self,
        user: UserId,
        file: FileId,
        position_seconds: Option<f64>,
        completed: Option<bool>,
    ) -> Result<Progress> {
        accounts::set_progress(&self.pool, user, file, position_seconds, completed).await
    }

    async fn course_progress(&self, user: UserId, course: CourseId) -> Result<Vec<Progress>> {
        accounts::course_progress(&self.pool, user, course).await
    }

    async fn course_progress_at(
        &self,
        user: UserId,
        course: CourseId,
    ) -> Result<(i64, Vec<Progress>)> {
        accounts::course_progress_at(&self.readers, user, course)
    }

    async fn course_overviews(&self, user: UserId) -> Result<Vec<CourseOverview>> {
        accounts::course_overviews(&self.pool, user).await
    }

    async fn record_audit(&self, entry: &NewAuditEntry) -> Result<i64> {
        audit::record(&self.pool, entry).await
    }

    async fn record_audit_counted(&self, entry: &NewAuditEntry, since: i64) -> Result<i64> {
        let mut tx = self.write().await?;
        let id = audit::record_counted(&mut tx, entry, since).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn audit(&self, query: &AuditQuery) -> Result<AuditPage> {
        audit::list(&self.pool, query).await
    }

    async fn snapshot(&self, dest: &Path) -> Result<()> {
        snapshots::snapshot(&self.pool, dest).await
    }

    async fn replace_with_snapshot(&self, prepared: &Path, keep_audit_after: i64) -> Result<()> {
        snapshots::replace(&self.pool, prepared, keep_audit_after).await
    }

    async fn quick_check(&self) -> Result<Vec<String>> {
        snapshots::quick_check(&self.pool).await
    }

    async fn database_size(&self) -> Result<u64> {
        snapshots::database_size(&self.pool).await
    }

    async fn close(&self) {
        self.readers.close();
        self.pool.close().await;
    }
}
