//! "Is everything all right?": the state an admin's dashboard shows at a
//! glance, read from the store, the backup folder and the coordination.

use crate::access::require_admin;
use crate::backups::{self, Failure};
use crate::context::App;
use crate::coordination::Operation;
use crate::error::AppError;
use crate::events::Actor;
use crate::schedule::{self, BackupPlan, Drill};
use lectern_backup::BackupRecord;
use lectern_store::{IndexSummary, LockInfo, ScanRecord};
use std::path::PathBuf;
use time::OffsetDateTime;

/// Everything the dashboard shows.
pub struct Overview {
    /// The root in use, and why it cannot be used when it cannot.
    pub root: Option<PathBuf>,
    pub root_problem: Option<String>,
    pub index: IndexSummary,
    pub last_scan: Option<ScanRecord>,
    /// The newest readable backup, and how many archives there are.
    pub last_backup: Option<BackupRecord>,
    pub backups: usize,
    pub plan: BackupPlan,
    pub next_backup: Option<OffsetDateTime>,
    pub last_failure: Option<Failure>,
    pub last_drill: Option<Drill>,
    /// The operation lock while someone holds it, and what they do.
    pub lock: Option<LockInfo>,
    pub operation: Option<Operation>,
    pub maintenance: Option<String>,
    /// The instances alive now (by their heartbeats), and which is this one.
    pub instances: Vec<String>,
    pub this_instance: String,
    /// The database's backend (`sqlite`, `postgres`).
    pub backend: &'static str,
}

pub async fn overview(app: &App, by: &Actor) -> Result<Overview, AppError> {
    require_admin(by)?;
    let store = app.store.as_ref();
    let root = app.library_root().await?;
    let root_problem = match &root {
        None => Some("no library root is configured".to_owned()),
        Some(path) => root_problem(path.clone()).await,
    };
    let archives = backups::list(app)?;
    let last_backup = backups::newest_readable(&archives).cloned();
    let plan = BackupPlan::load(store).await?;
    let coordination = &app.coordination;
    let unreadable = |e| AppError::internal("cannot read the coordination state", e);
    Ok(Overview {
        root,
        root_problem,
        index: store.index_summary(0).await?,
        last_scan: store.scans(1, 0).await?.pop(),
        last_backup,
        backups: archives.len(),
        next_backup: plan.next_after(OffsetDateTime::now_utc()),
        plan,
        last_failure: backups::last_failure(store).await?,
        last_drill: schedule::last_drill(store).await?,
        lock: store
            .read_lock()
            .await?
            .filter(lectern_store::lock::is_held),
        operation: coordination.operation().await.map_err(unreadable)?,
        maintenance: coordination
            .maintenance()
            .await
            .map_err(unreadable)?
            .map(|m| m.reason),
        instances: coordination
            .live_instances()
            .await
            .map_err(unreadable)?
            .iter()
            .map(|id| id.as_str().to_owned())
            .collect(),
        this_instance: coordination.instance().as_str().to_owned(),
        backend: store.backend(),
    })
}

/// Why the root cannot be listed, in words; `None` when it can.
async fn root_problem(path: PathBuf) -> Option<String> {
    let listed = tokio::task::spawn_blocking(move || std::fs::read_dir(&path).map(|_| ()));
    match listed.await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("cannot be read: {e}")),
        Err(e) => Some(format!("cannot be checked: {e}")),
    }
}
