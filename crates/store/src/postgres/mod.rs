//! The PostgreSQL backend: one database shared by every Lectern instance
//! that names it. Each write that reads first runs in a transaction that
//! takes the store's write lock (a transaction-scoped advisory lock), so
//! writers follow one another as they do on SQLite, whichever instance
//! they run in, and no read-then-write sequence sees another's half.

/// The generation of the course whose id is the query parameter `$param`,
/// or the index's for an id that names no course: one SQL expression for
/// every query that reads it (as on SQLite).
macro_rules! generation_of {
    ($param:literal) => {
        concat!(
            "COALESCE((SELECT generation FROM courses WHERE id = ",
            $param,
            "), (SELECT value FROM index_generation WHERE id = 1))"
        )
    };
}

/// The columns `rows::file_record` reads (not the search document).
macro_rules! file_columns {
    () => {
        "SELECT files.id, files.course_id, files.path, files.size, files.mtime_ns, \
         files.sha256, files.mime, files.role, files.subtitle_for, files.subtitle_lang, \
         files.state"
    };
}

mod accounts;
mod audit;
mod board;
pub(crate) mod error;
mod groups;
mod index;
mod rows;
mod search;
mod snapshots;
mod tokens;

use crate::accounts::*;
use crate::audit::{AuditPage, AuditQuery, NewAuditEntry};
use crate::model::*;
use crate::rows::{self as map, Columns};
use crate::search::{SearchHit, SearchQuery};
use crate::store::Store;
use crate::{now_ms, Result, StoreError};
use async_trait::async_trait;
use lectern_core::scan::{ScanCounts, ScanIssue, ScanStatus};
use lectern_core::{CategoryId, CourseId, FileId, LibraryPath, ScanId};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub(crate) type Tx = Transaction<'static, Postgres>;

/// The advisory lock key every writing transaction takes (`lectern` in
/// ASCII): one writer at a time, as on SQLite.
const WRITE_LOCK: i64 = 0x006c_6563_7465_726e;

/// How a PostgreSQL store connects: limits an admin sets in the
/// configuration (`[database]`), beside what the URL carries (host, user,
/// database, `sslmode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Connections this instance keeps at most. Every instance's pool
    /// together must stay under the server's `max_connections`.
    pub max_connections: u32,
    /// Longest one statement may run before the server cancels it.
    pub statement_timeout: Duration,
    /// Longest a request waits for a free connection.
    pub acquire_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            statement_timeout: Duration::from_secs(60),
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn open(url: &str, options: &PgOptions) -> Result<Self> {
        let opening = |e: sqlx::Error| {
            StoreError::from(e).context(&format!("cannot open the database at {}", redacted(url)))
        };
        let connect = PgConnectOptions::from_str(url)
            .map_err(opening)?
            .application_name("lectern")
            .options([(
                "statement_timeout",
                format!("{}", options.statement_timeout.as_millis()),
            )]);
        // One connection first: a server that refuses or a database that is
        // not there is said at once, in its own words (the pool would retry
        // until its timeout and say only that it timed out).
        let first = <sqlx::PgConnection as sqlx::Connection>::connect_with(&connect)
            .await
            .map_err(opening)?;
        let _ = sqlx::Connection::close(first).await;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .min_connections(0)
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(Duration::from_secs(300))
            .connect_with(connect)
            .await
            .map_err(opening)?;
        // Several instances starting at once migrate one after another.
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// A transaction holding the write lock until it ends.
    async fn write(&self) -> Result<Tx> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

/// The board of the database at `url` (see `crate::board`), on a pool of
/// its own: at most 2 connections, beside the store's.
pub(crate) async fn board(url: &str) -> Result<board::PgBoard> {
    let options = PgOptions {
        max_connections: 2,
        ..PgOptions::default()
    };
    let store = PgStore::open(url, &options).await?;
    Ok(board::PgBoard::new(store.pool))
}

/// The sign-in tallies of the database at `url` (see
/// `crate::board::LoginTallies`), on a pool of their own (at most 2
/// connections): a storm of sign-ins never holds up the board's
/// heartbeats, and waits for a connection at most 2 seconds (the caller
/// then counts on its own) rather than the requests' 30.
pub(crate) async fn login_tallies(url: &str) -> Result<board::PgBoard> {
    let options = PgOptions {
        max_connections: 2,
        statement_timeout: Duration::from_secs(5),
        acquire_timeout: Duration::from_secs(2),
    };
    let store = PgStore::open(url, &options).await?;
    Ok(board::PgBoard::new(store.pool))
}

/// The URL without its password, for messages.
fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split(':').next().unwrap_or("");
                format!("{scheme}://{user}@{host}")
            }
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn clock(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar(
                "SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint",
            )
            .fetch_one(&self.pool)
            .await?,
        )
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.set_settings(&[(key, value)]).await
    }

    async fn set_settings(&self, pairs: &[(&str, &str)]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (key, value) in pairs {
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
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
        row.as_ref().map(map::lock_info).transpose()
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
             VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8)
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
            sqlx::query("UPDATE operation_lock SET expires_at = $1 WHERE id = 1 AND token = $2")
                .bind(expires_at)
                .bind(token)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_lock(&self, token: &str) -> Result<()> {
        sqlx::query("DELETE FROM operation_lock WHERE id = 1 AND token = $1")
            .bind(token)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn begin_scan(&self, scan: &NewScan) -> Result<ScanId> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO scans (kind, course_id, started_by, started_at, status, verify, forced)
             VALUES ($1, $2, $3, $4, 'running', $5, $6) RETURNING id",
        )
        .bind(scan.kind.as_str())
        .bind(scan.course_id.map(|c| c.0))
        .bind(&scan.started_by)
        .bind(now_ms())
        .bind(scan.verify)
        .bind(scan.forced)
        .fetch_one(&self.pool)
        .await?;
        Ok(ScanId(id))
    }

    async fn record_issues(&self, scan: ScanId, issues: &[ScanIssue]) -> Result<()> {
        if issues.is_empty() {
            return Ok(());
        }
        let kinds: Vec<&str> = issues.iter().map(|i| i.kind.as_str()).collect();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        let messages: Vec<&str> = issues.iter().map(|i| i.message.as_str()).collect();
        // One statement, rows in the order given (ids follow it).
        sqlx::query(
            "INSERT INTO scan_issues (scan_id, kind, path, message)
             SELECT $1, kind, path, message
             FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY
                  AS i(kind, path, message, n)
             ORDER BY n",
        )
        .bind(scan.0)
        .bind(&kinds)
        .bind(&paths)
        .bind(&messages)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn update_scan_counts(&self, scan: ScanId, counts: &ScanCounts) -> Result<()> {
        set_counts(&self.pool, scan, None, counts).await
    }

    async fn finish_scan(
        &self,
        scan: ScanId,
        status: ScanStatus,
        reason: Option<&str>,
        counts: &ScanCounts,
    ) -> Result<()> {
        set_counts(&self.pool, scan, Some((status, reason)), counts).await
    }

    async fn interrupt_running_scans(&self) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE scans SET status = 'interrupted', finished_at = $1,
                 reason = 'the process running this scan stopped before it finished'
             WHERE status = 'running'",
        )
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn scan(&self, id: ScanId) -> Result<Option<ScanRecord>> {
        let row = sqlx::query("SELECT * FROM scans WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(map::scan_record).transpose()
    }

    async fn scans(&self, limit: u32, offset: u32) -> Result<Vec<ScanRecord>> {
        let rows = sqlx::query("SELECT * FROM scans ORDER BY id DESC LIMIT $1 OFFSET $2")
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(map::scan_record).collect()
    }

    async fn scan_issues(&self, id: ScanId) -> Result<Vec<ScanIssue>> {
        let rows = sqlx::query(
            "SELECT kind, path, message FROM scan_issues WHERE scan_id = $1 ORDER BY id",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(map::scan_issue).collect()
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
        let value: Option<i64> =
            sqlx::query_scalar("SELECT value FROM index_generation WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
        value.ok_or_else(|| StoreError::damaged("the index generation is missing"))
    }

    async fn course_generation(&self, id: CourseId) -> Result<i64> {
        let value: Option<i64> = sqlx::query_scalar(concat!("SELECT ", generation_of!("$1")))
            .bind(id.0)
            .fetch_one(&self.pool)
            .await?;
        value.ok_or_else(|| StoreError::damaged("the index generation is missing"))
    }

    async fn index_summary(&self, sample: u32) -> Result<IndexSummary> {
        index::summary(&self.pool, sample).await
    }

    async fn categories(&self) -> Result<Vec<Category>> {
        let rows = sqlx::query("SELECT id, name FROM categories")
            .fetch_all(&self.pool)
            .await?;
        let mut list: Vec<Category> = rows.iter().map(map::category).collect::<Result<_>>()?;
        list.sort_by(|a, b| lectern_core::natural_cmp(&a.name, &b.name));
        Ok(list)
    }

    async fn courses(&self, category: Option<CategoryId>) -> Result<Vec<Course>> {
        let rows = sqlx::query(
            "SELECT id, category_id, name, path, description FROM courses
             WHERE $1::bigint IS NULL OR category_id = $1",
        )
        .bind(category.map(|c| c.0))
        .fetch_all(&self.pool)
        .await?;
        let mut list: Vec<Course> = rows.iter().map(map::course).collect::<Result<_>>()?;
        list.sort_by(|a, b| a.path.natural_cmp(&b.path));
        Ok(list)
    }

    async fn course(&self, id: CourseId) -> Result<Option<Course>> {
        let row = sqlx::query(
            "SELECT id, category_id, name, path, description FROM courses WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(map::course).transpose()
    }

    async fn course_by_path(&self, path: &LibraryPath) -> Result<Option<Course>> {
        // Course paths are stored as text only: no course has another.
        let Some(text) = path.to_str() else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT id, category_id, name, path, description FROM courses WHERE path = $1",
        )
        .bind(text)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(map::course).transpose()
    }

    async fn course_files(&self, course: CourseId) -> Result<Vec<FileRecord>> {
        let rows = sqlx::query(concat!(file_columns!(), " FROM files WHERE course_id = $1"))
            .bind(course.0)
            .fetch_all(&self.pool)
            .await?;
        let mut list: Vec<FileRecord> = rows.iter().map(map::file_record).collect::<Result<_>>()?;
        list.sort_by(|a, b| a.path.natural_cmp(&b.path));
        Ok(list)
    }

    async fn file(&self, id: FileId) -> Result<Option<FileRecord>> {
        let row = sqlx::query(concat!(file_columns!(), " FROM files WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(map::file_record).transpose()
    }

    async fn file_at(&self, id: FileId) -> Result<Option<(FileRecord, i64)>> {
        let row = sqlx::query(concat!(
            file_columns!(),
            ", (SELECT generation FROM courses c WHERE c.id = files.course_id)
                AS course_generation
             FROM files WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(|row| Ok((map::file_record(row)?, row.int("course_generation")?)))
            .transpose()
    }

    async fn all_files(&self) -> Result<Vec<FileRecord>> {
        let rows = sqlx::query(concat!(file_columns!(), " FROM files ORDER BY path"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(map::file_record).collect()
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
        let mut tx = self.write().await?;
        let user = accounts::update_user(&mut tx, id, changes).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn delete_user(&self, id: UserId) -> Result<bool> {
        let mut tx = self.write().await?;
        let deleted = accounts::delete_user(&mut tx, id).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn count_admins(&self) -> Result<u64> {
        accounts::count_admins(&self.pool).await
    }

    async fn create_group(&self, name: &str) -> Result<GroupId> {
        groups::create(&self.pool, name).await
    }

    async fn add_member(&self, group: GroupId, user: UserId) -> Result<()> {
        groups::add_member(&self.pool, group, user).await
    }

    async fn add_grant(&self, group: GroupId, grant: Grant) -> Result<()> {
        let mut tx = self.write().await?;
        groups::add_grant(&mut tx, group, grant).await?;
        tx.commit().await?;
        Ok(())
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
        accounts::granted(&self.pool, user).await
    }

    async fn create_session(&self, session: &NewSession) -> Result<()> {
        accounts::create_session(&self.pool, session).await
    }

    async fn session(&self, token_hash: &str) -> Result<Option<Session>> {
        accounts::session(&self.pool, token_hash).await
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
        accounts::course_progress_at(&self.pool, user, course).await
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
        let mut tx = self.write().await?;
        snapshots::replace(&mut tx, prepared, keep_audit_after).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn quick_check(&self) -> Result<Vec<String>> {
        snapshots::quick_check(&self.pool).await
    }

    async fn database_size(&self) -> Result<u64> {
        let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

/// Stores a scan's counts, and with `end` its final status and reason.
async fn set_counts(
    pool: &PgPool,
    scan: ScanId,
    end: Option<(ScanStatus, Option<&str>)>,
    c: &ScanCounts,
) -> Result<()> {
    let (status, reason, finished_at) = match end {
        Some((status, reason)) => (status, reason, Some(now_ms())),
        None => (ScanStatus::Running, None, None),
    };
    let counts = [
        c.added,
        c.updated,
        c.removed,
        c.moved,
        c.unchanged,
        c.errors,
        c.hashed_files,
        c.hashed_bytes,
    ]
    .map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    let mut query = sqlx::query(
        "UPDATE scans SET status = $1, reason = COALESCE($2, reason), finished_at = $3,
             added = $4, updated = $5, removed = $6, moved = $7, unchanged = $8, errors = $9,
             hashed_files = $10, hashed_bytes = $11
         WHERE id = $12",
    )
    .bind(status.as_str())
    .bind(reason)
    .bind(finished_at);
    for n in counts {
        query = query.bind(n);
    }
    query.bind(scan.0).execute(pool).await?;
    Ok(())
}
