//! [`Coordination`] shared by every instance on one database, through the
//! store's [`Board`] (PostgreSQL's tables). What each instance must see at
//! once is read from the database with a short cache (maintenance within
//! [`MAINTENANCE_FRESH`]); the operation this instance runs is copied out
//! by [`Shared::follow`] as it goes, and a cancel asked by another
//! instance comes back the same way.

use super::{Coordination, CoordinationError, InstanceId, MaintenanceState, Operation, Step};
use async_trait::async_trait;
use lectern_core::progress::{ProgressSnapshot, ScanProgress};
use lectern_core::ScanId;
use lectern_store::board::{Board, PostedOperation, Window};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How old the maintenance state a request is judged by may be.
pub const MAINTENANCE_FRESH: Duration = Duration::from_millis(250);

/// How often the running operation's step and progress are copied out.
pub const POST_EVERY: Duration = Duration::from_millis(500);

pub struct Shared {
    instance: InstanceId,
    lease: Duration,
    board: Arc<dyn Board>,
    /// The operation this instance runs, with its live step and progress.
    local: Mutex<Option<Operation>>,
    /// The maintenance state last read, and when.
    seen: Mutex<Seen>,
}

/// The maintenance state last read. `version` moves on with each change
/// this instance makes, so a read that began before the change never
/// stores what it found after it.
#[derive(Default)]
struct Seen {
    version: u64,
    state: Option<(Instant, Option<MaintenanceState>)>,
}

fn failed(e: lectern_store::StoreError) -> CoordinationError {
    CoordinationError(e.to_string())
}

impl Shared {
    pub fn new(instance: InstanceId, lease: Duration, board: Arc<dyn Board>) -> Self {
        Shared {
            instance,
            lease,
            board,
            local: Mutex::new(None),
            seen: Mutex::new(Seen::default()),
        }
    }

    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets what was read: this instance just changed it.
    fn changed(&self) {
        let mut seen = self.seen();
        seen.version += 1;
        seen.state = None;
    }

    fn local(&self) -> MutexGuard<'_, Option<Operation>> {
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Copies this instance's running operation out every [`POST_EVERY`],
    /// and stops it when another instance asked; runs until the process
    /// ends.
    pub async fn follow(self: Arc<Self>) {
        loop {
            tokio::time::sleep(POST_EVERY).await;
            if let Err(e) = self.post_local().await {
                tracing::warn!("cannot share the running operation: {e}");
            }
        }
    }

    async fn post_local(&self) -> Result<(), CoordinationError> {
        let Some(operation) = self.local().clone() else {
            return Ok(());
        };
        let cancel = self
            .board
            .post_operation(&self.posted(&operation))
            .await
            .map_err(failed)?;
        if cancel {
            if let Some((_, progress)) = &operation.scan {
                progress.cancel();
            }
        }
        Ok(())
    }

    fn posted(&self, o: &Operation) -> PostedOperation {
        let progress = o.scan.as_ref().map(|(_, p)| p.snapshot());
        PostedOperation {
            id: o.id.clone(),
            instance: self.instance.as_str().to_owned(),
            kind: o.kind.clone(),
            started_by: o.started_by.clone(),
            started_at: o.started_at,
            step: o.step.get(),
            scan_id: o.scan.as_ref().map(|(id, _)| id.0),
            progress: progress.and_then(|p| serde_json::to_string(&p).ok()),
            cancel: false,
        }
    }
}

/// Another instance's operation, as its last copy shows it.
fn seen_operation(p: PostedOperation) -> Operation {
    let progress = p
        .progress
        .as_deref()
        .and_then(|json| serde_json::from_str::<ProgressSnapshot>(json).ok());
    let scan = p.scan_id.map(|id| {
        let progress =
            progress.map_or_else(ScanProgress::default, |s| ScanProgress::from_snapshot(&s));
        (ScanId(id), Arc::new(progress))
    });
    Operation {
        id: p.id,
        kind: p.kind,
        started_by: p.started_by,
        started_at: p.started_at,
        step: Step::new(&p.step),
        scan,
    }
}

fn window(w: Window) -> MaintenanceState {
    MaintenanceState {
        reason: w.reason,
        epoch: w.epoch,
        by: InstanceId::new(w.by),
    }
}

#[async_trait]
impl Coordination for Shared {
    fn instance(&self) -> &InstanceId {
        &self.instance
    }

    fn lease(&self) -> Duration {
        self.lease
    }

    async fn heartbeat(&self) -> Result<(), CoordinationError> {
        self.board
            .beat(self.instance.as_str())
            .await
            .map_err(failed)
    }

    async fn live_instances(&self) -> Result<Vec<InstanceId>, CoordinationError> {
        let lease = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX);
        let live = self.board.live(lease).await.map_err(failed)?;
        Ok(live.into_iter().map(InstanceId::new).collect())
    }

    async fn begin_maintenance(&self, reason: &str) -> Result<u64, CoordinationError> {
        let epoch = self
            .board
            .begin_maintenance(reason, self.instance.as_str())
            .await
            .map_err(failed)?;
        self.changed();
        Ok(epoch)
    }

    async fn end_maintenance(&self, epoch: u64) -> Result<(), CoordinationError> {
        self.board.end_maintenance(epoch).await.map_err(failed)?;
        self.changed();
        Ok(())
    }

    async fn maintenance(&self) -> Result<Option<MaintenanceState>, CoordinationError> {
        let version = {
            let seen = self.seen();
            if let Some((at, state)) = &seen.state {
                if at.elapsed() < MAINTENANCE_FRESH {
                    return Ok(state.clone());
                }
            }
            seen.version
        };
        let state = self.board.maintenance().await.map_err(failed)?.map(window);
        let mut seen = self.seen();
        if seen.version == version {
            seen.state = Some((Instant::now(), state.clone()));
        }
        Ok(state)
    }

    async fn confirm_drained(&self, epoch: u64) -> Result<(), CoordinationError> {
        self.board
            .confirm_drained(self.instance.as_str(), epoch)
            .await
            .map_err(failed)
    }

    async fn drained(&self, epoch: u64) -> Result<Vec<InstanceId>, CoordinationError> {
        let drained = self.board.drained(epoch).await.map_err(failed)?;
        Ok(drained.into_iter().map(InstanceId::new).collect())
    }

    async fn publish_operation(&self, operation: Operation) -> Result<(), CoordinationError> {
        let posted = self.posted(&operation);
        *self.local() = Some(operation);
        self.board.post_operation(&posted).await.map_err(failed)?;
        Ok(())
    }

    async fn clear_operation(&self, id: &str) -> Result<(), CoordinationError> {
        {
            let mut local = self.local();
            if local.as_ref().is_some_and(|o| o.id == id) {
                *local = None;
            }
        }
        self.board.clear_operation(id).await.map_err(failed)
    }

    async fn operation(&self) -> Result<Option<Operation>, CoordinationError> {
        if let Some(own) = self.local().clone() {
            return Ok(Some(own));
        }
        let lease = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX);
        let posted = self.board.operation(lease).await.map_err(failed)?;
        Ok(posted.map(seen_operation))
    }

    async fn cancel_operation(&self, id: &str) -> Result<(), CoordinationError> {
        self.board.cancel_operation(id).await.map_err(failed)?;
        Ok(())
    }

    async fn try_lead(&self, job: &str, slot: i64) -> Result<bool, CoordinationError> {
        self.board
            .try_lead(job, slot, self.instance.as_str())
            .await
            .map_err(failed)
    }
}
