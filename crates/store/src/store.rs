use crate::model::*;
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

    // --- settings -------------------------------------------------------
    async fn setting(&self, key: &str) -> Result<Option<String>>;
    async fn set_setting(&self, key: &str, value: &str) -> Result<()>;

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
    /// Newest first.
    async fn scans(&self, limit: u32) -> Result<Vec<ScanRecord>>;
    async fn scan_issues(&self, id: ScanId) -> Result<Vec<ScanIssue>>;

    // --- the library index ------------------------------------------------
    async fn known_files(&self, scope: Scope) -> Result<Vec<KnownFile>>;
    /// Creates the categories and courses for these course paths
    /// (`Category/Course`) where missing and returns every one's id.
    async fn ensure_courses(
        &self,
        course_paths: &[LibraryPath],
    ) -> Result<HashMap<LibraryPath, CourseId>>;
    /// Applies one batch of scan results in one transaction.
    async fn apply(&self, batch: &ChangeBatch) -> Result<()>;
    /// Purges missing files, then courses with no files, then empty categories.
    async fn cleanup(&self) -> Result<CleanupCounts>;

    /// Naturally sorted by name.
    async fn categories(&self) -> Result<Vec<Category>>;
    /// Naturally sorted by name; all courses, or one category's.
    async fn courses(&self, category: Option<CategoryId>) -> Result<Vec<Course>>;
    async fn course(&self, id: CourseId) -> Result<Option<Course>>;
    async fn course_by_path(&self, path: &LibraryPath) -> Result<Option<Course>>;
    /// Naturally sorted by path, folder by folder.
    async fn course_files(&self, course: CourseId) -> Result<Vec<FileRecord>>;
    async fn file(&self, id: FileId) -> Result<Option<FileRecord>>;
    /// Every file record, present and missing, sorted by path.
    async fn all_files(&self) -> Result<Vec<FileRecord>>;

    /// Waits for pending work and closes connections.
    async fn close(&self);
}
