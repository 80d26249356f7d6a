use crate::accounts::*;
use crate::audit::{AuditPage, AuditQuery, NewAuditEntry};
use crate::model::*;
use crate::search::{SearchHit, SearchQuery};
use crate::Result;
use async_trait::async_trait;
use lectern_core::scan::{ScanCounts, ScanIssue, ScanStatus};
use lectern_core::{CategoryId, CourseId, FileId, LibraryPath, ScanId};
use std::collections::HashMap;

/// Everything Lectern keeps in its database. Each backend implements it in
/// its own module; the story tests run the same checks against each.
#[async_trait]
pub trait Store: Send + Sync {
    /// A short name of the backend (`sqlite`, `postgres`) for logs and health.
    fn backend(&self) -> &'static str;

    /// The database's clock (ms since the Unix epoch): what leases are
    /// measured by, so that instances on hosts whose clocks disagree still
    /// agree on when one ends.
    async fn clock(&self) -> Result<i64>;

    // --- settings -------------------------------------------------------
    async fn setting(&self, key: &str) -> Result<Option<String>>;
    async fn set_setting(&self, key: &str, value: &str) -> Result<()>;
    /// Several settings at once: all saved, or none.
    async fn set_settings(&self, pairs: &[(&str, &str)]) -> Result<()>;

    // --- operation lock (see `crate::lock` for the rules) ----------------
    async fn read_lock(&self) -> Result<Option<LockInfo>>;
    /// Replaces the lock row if it still carries `expected` (its token, or
    /// `None` for "no row"); false when another process changed it first.
    async fn swap_lock(&self, expected: Option<&str>, new: &LockInfo) -> Result<bool>;
    /// Moves the lease's end; false when `token` no longer holds the lock.
    async fn renew_lock(&self, token: &str, expires_at: i64) -> Result<bool>;
    async fn release_lock(&self, token: &str) -> Result<()>;

    // --- scan history ----------------------------------------------------
    async fn begin_scan(&self, scan: &NewScan) -> Result<ScanId>;
    async fn record_issues(&self, scan: ScanId, issues: &[ScanIssue]) -> Result<()>;
    async fn update_scan_counts(&self, scan: ScanId, counts: &ScanCounts) -> Result<()>;
    async fn finish_scan(
        &self,
        scan: ScanId,
        status: ScanStatus,
        reason: Option<&str>,
        counts: &ScanCounts,
    ) -> Result<()>;
    /// Marks scans still `running` as `interrupted`; call only while holding
    /// the operation lock, when no scan can really be running.
    async fn interrupt_running_scans(&self) -> Result<u64>;
    async fn scan(&self, id: ScanId) -> Result<Option<ScanRecord>>;
    /// Newest first, skipping the `offset` newest.
    async fn scans(&self, limit: u32, offset: u32) -> Result<Vec<ScanRecord>>;
    async fn scan_issues(&self, id: ScanId) -> Result<Vec<ScanIssue>>;

    // --- the library index ------------------------------------------------
    async fn known_files(&self, scope: Scope) -> Result<Vec<KnownFile>>;
    /// Creates the categories and courses for these course paths
    /// (`Category/Course`) where missing and returns every one's id.
    async fn ensure_courses(
        &self,
        course_paths: &[LibraryPath],
    ) -> Result<HashMap<LibraryPath, CourseId>>;
    /// Gives category `id` the folder name `name` (one component), and
    /// every course in it its path under that name: a category folder
    /// renamed keeps its id. `false`, changing nothing, when another
    /// category already has that name.
    async fn rename_category(&self, id: CategoryId, name: &LibraryPath) -> Result<bool>;
    /// Moves course `id` to the folder `to` (`Category/Course`), making the
    /// category if it is new: a course folder renamed or moved keeps its
    /// id, grants and progress. `false`, changing nothing, when a course
    /// is already at `to`.
    async fn move_course(&self, id: CourseId, to: &LibraryPath) -> Result<bool>;
    /// Applies one batch of scan results in one transaction.
    async fn apply(&self, batch: &ChangeBatch) -> Result<()>;
    /// Purges missing files, then courses with no files, then empty categories.
    async fn cleanup(&self) -> Result<CleanupCounts>;
    /// A value that changes whenever the index (categories, courses, files)
    /// does, and only then: what depends on the index alone can be reused
    /// while it stays equal. Not a count: compare it for equality only.
    async fn index_generation(&self) -> Result<i64>;
    /// The same for one course: a value that changes whenever its record or
    /// any of its files' rows does, and only then. For an id no course has,
    /// the index generation (an unknown id may become a course with any
    /// write).
    async fn course_generation(&self, id: CourseId) -> Result<i64>;
    /// What the index holds, what a cleanup would purge now, and the first
    /// `sample` paths of missing files (by path).
    async fn index_summary(&self, sample: u32) -> Result<IndexSummary>;

    /// Naturally sorted by name.
    async fn categories(&self) -> Result<Vec<Category>>;
    /// Naturally sorted by name; all courses, or one category's.
    async fn courses(&self, category: Option<CategoryId>) -> Result<Vec<Course>>;
    async fn course(&self, id: CourseId) -> Result<Option<Course>>;
    async fn course_by_path(&self, path: &LibraryPath) -> Result<Option<Course>>;
    /// Naturally sorted by path, folder by folder.
    async fn course_files(&self, course: CourseId) -> Result<Vec<FileRecord>>;
    async fn file(&self, id: FileId) -> Result<Option<FileRecord>>;
    /// The same, with its course's generation read in the same query.
    async fn file_at(&self, id: FileId) -> Result<Option<(FileRecord, i64)>>;
    /// Every file record, present and missing, sorted by path.
    async fn all_files(&self) -> Result<Vec<FileRecord>>;
    /// Courses (by name and description) and present lessons (by name and
    /// folder) matching every word of `query`, best first, at most `limit`
    /// of them, all inside what `seen` allows: hidden ones never take a
    /// place in the limit.
    async fn search(
        &self,
        query: &SearchQuery,
        seen: &Visibility,
        limit: u32,
    ) -> Result<Vec<SearchHit>>;

    // --- people and access ------------------------------------------------
    /// Fails with `Conflict` when the name is taken (case-insensitively).
    async fn create_user(&self, user: &NewUser) -> Result<User>;
    async fn user(&self, id: UserId) -> Result<Option<User>>;
    /// The user and their password hash, for signing in.
    async fn user_login(&self, username: &str) -> Result<Option<(User, String)>>;
    async fn users(&self) -> Result<Vec<User>>;
    /// `None` when there is no such user. Fails with `Conflict` when the
    /// change would demote or disable the last enabled admin.
    async fn update_user(&self, id: UserId, changes: &UserChanges) -> Result<Option<User>>;
    /// Their progress, sessions, memberships and API tokens go with them.
    /// Fails with `Conflict` for the last enabled admin.
    async fn delete_user(&self, id: UserId) -> Result<bool>;
    async fn count_admins(&self) -> Result<u64>;
    async fn create_group(&self, name: &str) -> Result<GroupId>;
    async fn add_member(&self, group: GroupId, user: UserId) -> Result<()>;
    async fn add_grant(&self, group: GroupId, grant: Grant) -> Result<()>;
    /// Sorted by name.
    async fn groups(&self) -> Result<Vec<Group>>;
    async fn group(&self, id: GroupId) -> Result<Option<Group>>;
    /// `None` when there is no such group; `Conflict` when the name is taken.
    async fn rename_group(&self, id: GroupId, name: &str) -> Result<Option<Group>>;
    /// Its memberships and grants go with it.
    async fn delete_group(&self, id: GroupId) -> Result<bool>;
    /// Sorted by username.
    async fn group_members(&self, group: GroupId) -> Result<Vec<User>>;
    async fn remove_member(&self, group: GroupId, user: UserId) -> Result<bool>;
    /// In the order they were given.
    async fn group_grants(&self, group: GroupId) -> Result<Vec<GrantRecord>>;
    async fn remove_grant(&self, group: GroupId, grant: GrantId) -> Result<bool>;

    /// A long-lived token for scripts; [`Store::session`] accepts it.
    async fn create_api_token(&self, token: &NewApiToken) -> Result<ApiToken>;
    /// Every token, expired ones included, oldest first.
    async fn api_tokens(&self) -> Result<Vec<ApiToken>>;
    async fn delete_api_token(&self, id: ApiTokenId) -> Result<bool>;
    /// What the user's groups are granted (admins and an open library see
    /// everything: see [`Visibility::of`]).
    async fn granted(&self, user: UserId) -> Result<Visibility>;

    async fn create_session(&self, session: &NewSession) -> Result<()>;
    /// A live session (not expired, user not disabled) by its token's hash,
    /// or else a live API token as a session of kind `Api` (`expires_at`
    /// is `i64::MAX` for one that never expires).
    async fn session(&self, token_hash: &str) -> Result<Option<Session>>;
    /// Ends a login session; API tokens are untouched (see
    /// [`Store::delete_api_token`]).
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    async fn delete_user_sessions(&self, user: UserId) -> Result<()>;

    /// Notes that `user` signed in from `address` now. Addresses last seen
    /// before `forget_before` (ms) are forgotten, and only the
    /// [`MAX_KNOWN_ADDRESSES`] most recent are kept per account.
    async fn remember_address(&self, user: UserId, address: &str, forget_before: i64)
        -> Result<()>;
    /// Whether `user` signed in from `address` at or after `since` (ms).
    async fn known_address(&self, user: UserId, address: &str, since: i64) -> Result<bool>;

    /// Sets what is given, keeps the rest; returns the stored progress.
    async fn set_progress(
        &self,
        user: UserId,
        file: FileId,
        position_seconds: Option<f64>,
        completed: Option<bool>,
    ) -> Result<Progress>;
    async fn course_progress(&self, user: UserId, course: CourseId) -> Result<Vec<Progress>>;
    /// The same, with the course's generation ([`course_generation`](Self::course_generation))
    /// read in the same query: browsing a course then costs one query
    /// beside the reader's session, not two.
    async fn course_progress_at(
        &self,
        user: UserId,
        course: CourseId,
    ) -> Result<(i64, Vec<Progress>)>;
    /// Every course's cover and the user's completion, in one query: what
    /// a page of course cards needs.
    async fn course_overviews(&self, user: UserId) -> Result<Vec<CourseOverview>>;

    // --- the audit log -----------------------------------------------------
    /// Appends one entry; returns its id.
    async fn record_audit(&self, entry: &NewAuditEntry) -> Result<i64>;
    /// Counts `entry` in the entry made at or after `since` (ms) with the
    /// same action, actor, target, address and outcome: that entry's
    /// `detail` becomes `entry.detail` with `"count"` one higher, and its
    /// status the new one. With no such entry, `entry` is appended with
    /// `"count": 1`. Returns the entry's id. A storm of failed sign-ins
    /// grows the log by one entry per key and period, not per attempt.
    async fn record_audit_counted(&self, entry: &NewAuditEntry, since: i64) -> Result<i64>;
    /// Matching entries, newest first, one page at a time.
    async fn audit(&self, query: &AuditQuery) -> Result<AuditPage>;

    // --- backups (see `crate::snapshot` and the lectern-backup crate) ------
    /// Writes a consistent copy of the whole database to `dest`, which must
    /// not exist, as a standalone SQLite file (whatever the backend): the
    /// payload of a backup archive.
    async fn snapshot(&self, dest: &std::path::Path) -> Result<()>;
    /// Replaces all data, in one step, with that of the snapshot at
    /// `prepared` (checked by `snapshot::inspect` and brought to this schema
    /// by `snapshot::migrate`; the file is changed). The operation lock is
    /// kept as it is now, every session ends, and audit entries made after
    /// `keep_audit_after` (ms) are kept. Call it holding the operation lock.
    async fn replace_with_snapshot(
        &self,
        prepared: &std::path::Path,
        keep_audit_after: i64,
    ) -> Result<()>;
    /// The backend's quick consistency check: the problems found, none when
    /// the database is sound.
    async fn quick_check(&self) -> Result<Vec<String>>;
    /// How many bytes the database holds (its pages in use and free), for
    /// the health checks' growth check and the metrics.
    async fn database_size(&self) -> Result<u64>;

    /// Waits for pending work and closes connections.
    async fn close(&self);
}
