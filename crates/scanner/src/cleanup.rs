use crate::ScanError;
use lectern_core::scan::{ScanCounts, ScanKind, ScanStatus};
use lectern_core::ScanId;
use lectern_store::lock::LockHandle;
use lectern_store::{CleanupCounts, NewScan, Store};
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Clone, Serialize)]
pub struct CleanupReport {
    pub scan_id: ScanId,
    pub status: ScanStatus,
    #[serde(flatten)]
    pub removed: CleanupCounts,
}

/// Purges missing files, then courses with no files, then empty categories,
/// under the operation lock, and keeps a history record of it.
pub async fn cleanup(store: &Arc<dyn Store>, started_by: &str) -> Result<CleanupReport, ScanError> {
    let lock = LockHandle::acquire(store, "cleanup", started_by).await?;
    let done = cleanup_locked(store.as_ref(), started_by).await;
    lock.release().await?;
    done
}

/// [`cleanup`] for a caller that holds the operation lock already (and
/// took a safety backup under it first).
pub async fn cleanup_locked(
    store: &dyn Store,
    started_by: &str,
) -> Result<CleanupReport, ScanError> {
    // With the lock held, no scan can be running.
    store.interrupt_running_scans().await?;
    let scan = NewScan {
        kind: ScanKind::Cleanup,
        course_id: None,
        started_by: started_by.to_owned(),
        verify: false,
        forced: false,
    };
    let id = store.begin_scan(&scan).await?;
    let outcome = store.cleanup().await;
    let (status, removed, reason) = match &outcome {
        Ok(removed) => (ScanStatus::Completed, *removed, None),
        Err(e) => (
            ScanStatus::Failed,
            CleanupCounts::default(),
            Some(e.to_string()),
        ),
    };
    let counts = ScanCounts {
        removed: removed.files,
        ..ScanCounts::default()
    };
    store
        .finish_scan(id, status, reason.as_deref(), &counts)
        .await?;
    outcome?;
    Ok(CleanupReport {
        scan_id: id,
        status,
        removed,
    })
}
