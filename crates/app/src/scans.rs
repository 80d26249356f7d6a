//! Scans and cleanups: started in the background under the operation
//! lock, their live progress published while they run.

use crate::context::App;
use crate::coordination::{Operation, Step};
use crate::error::AppError;
use crate::events::{Actor, Event, ScanStart};
use crate::operation::Running;
use lectern_backup::{BackupRecord, BackupType, Progress};
use lectern_core::progress::ScanProgress;
use lectern_core::scan::ScanIssue;
use lectern_core::ScanId;
use lectern_scanner::{
    CleanupReport, RunningScan, ScanError, ScanOptions, ScanReport, ScanScope, Scanner,
};
use lectern_store::{IndexSummary, ScanRecord};
use std::sync::Arc;

impl From<ScanError> for AppError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::Busy(_) => AppError::Busy(e.to_string()),
            ScanError::UnknownCourse(_) => AppError::NotFound(e.to_string()),
            ScanError::NotACategory(_) => AppError::Invalid(e.to_string()),
            ScanError::Store(e) => e.into(),
        }
    }
}

/// Starts a scan in the background once it holds the operation lock, and
/// returns its id; its progress is published until it ends. The scan is
/// recorded as started by `by`.
pub async fn start(
    app: &App,
    by: &Actor,
    scope: ScanScope,
    verify: bool,
    force: bool,
) -> Result<ScanId, AppError> {
    let started = begin(app, by, scope, verify, force).await?;
    let id = started.id();
    tokio::spawn(started.run());
    Ok(id)
}

/// A scan that holds the operation lock, published and announced, for
/// its caller to run: in the background ([`start`]) or in the foreground
/// (the command line, with its progress bar).
pub struct Started {
    app: App,
    running: RunningScan,
    operation_id: String,
}

impl Started {
    pub fn id(&self) -> ScanId {
        self.running.id()
    }

    pub fn progress(&self) -> Arc<ScanProgress> {
        self.running.progress()
    }

    /// Runs the scan to its end, then frees its published operation and
    /// announces how it ended.
    pub async fn run(self) -> ScanReport {
        let Started {
            app,
            running,
            operation_id,
        } = self;
        let report = running.run().await;
        tracing::info!(scan = %report.scan_id, status = %report.status, "scan ended");
        if let Err(e) = app.coordination.clear_operation(&operation_id).await {
            tracing::warn!("cannot clear finished scan {}: {e}", report.scan_id);
        }
        let event = Event::ScanFinished {
            scan_id: report.scan_id,
            status: report.status,
        };
        app.events.emit(event).await;
        report
    }
}

/// Takes the operation lock for a scan of `scope` by `by`, publishes it
/// and announces its start; [`Started::run`] does the work.
pub async fn begin(
    app: &App,
    by: &Actor,
    scope: ScanScope,
    verify: bool,
    force: bool,
) -> Result<Started, AppError> {
    crate::access::require_admin(by)?;
    let what = match &scope {
        ScanScope::All => ScanStart::Library,
        ScanScope::Category(path) => ScanStart::Category(path.to_string_lossy().into_owned()),
        ScanScope::Course(course) => ScanStart::Course(course.0),
    };
    let options = ScanOptions {
        scope,
        verify,
        force,
        started_by: by.label(),
        watched: matches!(by, Actor::System(crate::watch::WATCHER)),
    };
    let root = app
        .library_root()
        .await?
        .ok_or_else(|| AppError::Invalid("no library root is configured".into()))?;
    let scanner =
        Scanner::new(app.store.clone(), root).max_missing_share(app.library.max_missing_share);
    let who = options.started_by.clone();
    let running = scanner.start(options).await?;
    let id = running.id();
    let scan = Some((id, running.progress()));
    let operation = Operation::new("scan", &who, Step::new("scanning"), scan);
    let operation_id = operation.id.clone();
    if let Err(e) = app.coordination.publish_operation(operation).await {
        tracing::warn!("cannot publish scan {id}: {e}");
    }
    let event = Event::ScanStarted {
        by: by.clone(),
        scan_id: id,
        what,
    };
    app.events.emit(event).await;
    Ok(Started {
        app: app.clone(),
        running,
        operation_id,
    })
}

/// A full scan of everything, by `by` (the first start of a new library
/// uses it, so that there is something to browse at once).
pub async fn start_full(app: &App, by: &Actor) -> Result<ScanId, AppError> {
    start(app, by, ScanScope::All, false, false).await
}

/// The scan running now (on any instance), with its live counters.
pub async fn current(app: &App) -> Result<Option<(ScanId, Arc<ScanProgress>)>, AppError> {
    Ok(running(app).await?.and_then(|o| o.scan))
}

async fn running(app: &App) -> Result<Option<crate::coordination::Operation>, AppError> {
    app.coordination
        .operation()
        .await
        .map_err(|e| AppError::internal("cannot read the running operation", e))
}

/// Asks the running scan to stop at its next check, on whichever instance
/// runs it; its id, or `None` when no scan runs.
pub async fn abort(app: &App, by: &Actor) -> Result<Option<ScanId>, AppError> {
    crate::access::require_admin(by)?;
    let scan = running(app).await?.filter(|o| o.scan.is_some());
    let mut stopped = None;
    if let Some(operation) = scan {
        if let Some((id, progress)) = &operation.scan {
            progress.cancel();
            stopped = Some(*id);
        }
        app.coordination
            .cancel_operation(&operation.id)
            .await
            .map_err(|e| AppError::internal("cannot ask the scan to stop", e))?;
    }
    let event = Event::ScanAborted {
        by: by.clone(),
        scan_id: stopped,
    };
    app.events.emit(event).await;
    Ok(stopped)
}

/// What a cleanup did, and the backup taken just before it.
pub struct CleanupDone {
    pub report: CleanupReport,
    pub safety_backup: BackupRecord,
}

/// A safety backup, then the purge of missing files and empty courses
/// and categories, under one hold of the operation lock: nothing can
/// change the data between the two.
pub async fn cleanup(
    app: &App,
    who: &Actor,
    progress: Arc<dyn Progress>,
) -> Result<CleanupDone, AppError> {
    crate::access::require_admin(who)?;
    let running = Running::start(app, "cleanup", &who.label()).await?;
    let done = cleanup_locked(app, who, running.progress(progress)).await;
    running.finish().await;
    if let Ok(done) = &done {
        let event = Event::CleanupFinished {
            by: who.clone(),
            scan_id: done.report.scan_id,
            safety_backup_id: done.safety_backup.id.clone(),
        };
        app.events.emit(event).await;
    }
    done
}

async fn cleanup_locked(
    app: &App,
    who: &Actor,
    progress: Arc<dyn Progress>,
) -> Result<CleanupDone, AppError> {
    let notes = Some("taken before a cleanup".to_owned());
    let safety_backup =
        crate::backups::create_locked(app, who, BackupType::Safety, notes, progress).await?;
    let report = lectern_scanner::cleanup_locked(app.store.as_ref(), &who.label()).await?;
    Ok(CleanupDone {
        report,
        safety_backup,
    })
}

/// Scans, newest first: `limit` of them after the `offset` newest.
pub async fn history(
    app: &App,
    by: &Actor,
    limit: u32,
    offset: u32,
) -> Result<Vec<ScanRecord>, AppError> {
    crate::access::require_admin(by)?;
    Ok(app.store.scans(limit, offset).await?)
}

/// One scan with the issues it met (path, kind, message).
pub async fn record(
    app: &App,
    by: &Actor,
    id: ScanId,
) -> Result<(ScanRecord, Vec<ScanIssue>), AppError> {
    crate::access::require_admin(by)?;
    let scan = app
        .store
        .scan(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no scan {id}")))?;
    let issues = app.store.scan_issues(id).await?;
    Ok((scan, issues))
}

/// How many missing paths a cleanup's preview names.
pub const PREVIEW_PATHS: u32 = 20;

/// What a cleanup would purge now, with the first missing paths: shown
/// before anyone confirms it.
pub async fn cleanup_preview(app: &App, by: &Actor) -> Result<IndexSummary, AppError> {
    crate::access::require_admin(by)?;
    Ok(app.store.index_summary(PREVIEW_PATHS).await?)
}
