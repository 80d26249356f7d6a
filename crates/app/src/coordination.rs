//! What must hold across every instance of one Lectern: which instances
//! are alive, maintenance and its drain, the operation running now with
//! its live step, and who runs a scheduled job. [`Coordination`] is the
//! interface; [`InProcess`] keeps it in this process's memory, which is
//! right for one server (or the command line) on an embedded database;
//! [`Shared`] keeps it in the database (PostgreSQL's tables) for several
//! instances on one database.
//!
//! The operation lock itself (one scan, cleanup, backup or restore at a
//! time) is the store's lease row, shared already; this interface adds
//! what the lock does not say.

mod shared;

pub use shared::Shared;

use async_trait::async_trait;
use lectern_core::progress::ScanProgress;
use lectern_core::ScanId;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Who this instance is among the others: configurable (`instance_id`
/// in the configuration), so that several can run on one machine; by
/// default `HOST-PID`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId(String);

impl InstanceId {
    /// The longest configured id taken.
    pub const MAX_LEN: usize = 128;

    pub fn new(id: impl Into<String>) -> Self {
        InstanceId(id.into())
    }

    /// A configured id: not blank, at most [`Self::MAX_LEN`] characters,
    /// none of them a space or a control character (it is shown in logs
    /// and status answers, and compared exactly).
    pub fn parse(id: &str) -> Result<Self, String> {
        if id.is_empty() {
            return Err("the instance id is empty".into());
        }
        if id.chars().count() > Self::MAX_LEN {
            return Err(format!(
                "the instance id is longer than {} characters",
                Self::MAX_LEN
            ));
        }
        if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "the instance id {id:?} has a space or a control character"
            ));
        }
        Ok(InstanceId(id.to_owned()))
    }

    /// `HOST-PID`: unique among the processes of one machine, and tells a
    /// person where to look.
    pub fn of_this_process() -> Self {
        let host = lectern_store::lock::host_name();
        InstanceId(format!("{host}-{}", std::process::id()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for InstanceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How long an instance counts as alive after its last heartbeat, unless
/// configured (`lease`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// How often an instance sends its heartbeat, unless configured
/// (`heartbeat`): a third of its lease, so that a late or lost beat or two
/// never makes a live instance look gone.
pub fn default_heartbeat(lease: Duration) -> Duration {
    lease / 3
}

/// Maintenance as every instance sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceState {
    pub reason: String,
    /// Grows with every new window, so a confirmation for an old window
    /// never counts for a new one.
    pub epoch: u64,
    /// The instance that began it (the one restoring).
    pub by: InstanceId,
}

/// The operation running now (a scan, cleanup, backup, upload or
/// restore), with its current step, for the status endpoints.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Unique to this run, so that clearing it never clears a newer one.
    pub id: String,
    pub kind: String,
    pub started_by: String,
    pub started_at: i64,
    /// Written by the work as it goes, read by whoever shows it; a shared
    /// implementation copies it out with each heartbeat.
    pub step: Arc<Step>,
    /// A scan's id and its live counters.
    pub scan: Option<(ScanId, Arc<ScanProgress>)>,
}

impl Operation {
    pub fn new(
        kind: &str,
        started_by: &str,
        step: Arc<Step>,
        scan: Option<(ScanId, Arc<ScanProgress>)>,
    ) -> Operation {
        Operation {
            id: crate::passwords::new_token(),
            kind: kind.to_owned(),
            started_by: started_by.to_owned(),
            started_at: lectern_store::now_ms(),
            step,
            scan,
        }
    }
}

/// The step an operation is at, changed without waiting on anything.
#[derive(Debug, Default)]
pub struct Step(Mutex<String>);

impl Step {
    pub fn new(step: &str) -> Arc<Step> {
        Arc::new(Step(Mutex::new(step.to_owned())))
    }

    pub fn set(&self, step: &str) {
        let mut current = self.0.lock().unwrap_or_else(|e| e.into_inner());
        step.clone_into(&mut current);
    }

    pub fn get(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("coordination: {0}")]
pub struct CoordinationError(pub String);

#[async_trait]
pub trait Coordination: Send + Sync {
    fn instance(&self) -> &InstanceId;
    fn lease(&self) -> Duration;

    /// This instance is alive; to be called more often than the lease.
    async fn heartbeat(&self) -> Result<(), CoordinationError>;
    /// The instances whose last heartbeat is younger than the lease.
    async fn live_instances(&self) -> Result<Vec<InstanceId>, CoordinationError>;

    /// Turns maintenance on with `reason`; the new window's epoch.
    async fn begin_maintenance(&self, reason: &str) -> Result<u64, CoordinationError>;
    /// Ends the window `epoch` (a newer one is left alone).
    async fn end_maintenance(&self, epoch: u64) -> Result<(), CoordinationError>;
    async fn maintenance(&self) -> Result<Option<MaintenanceState>, CoordinationError>;
    /// This instance has no database request left running in window `epoch`.
    async fn confirm_drained(&self, epoch: u64) -> Result<(), CoordinationError>;
    /// The instances that confirmed window `epoch` drained.
    async fn drained(&self, epoch: u64) -> Result<Vec<InstanceId>, CoordinationError>;

    /// The operation this instance runs now.
    async fn publish_operation(&self, operation: Operation) -> Result<(), CoordinationError>;
    /// Operation `id` has ended (a newer one is left alone).
    async fn clear_operation(&self, id: &str) -> Result<(), CoordinationError>;
    async fn operation(&self) -> Result<Option<Operation>, CoordinationError>;
    /// Asks operation `id` to stop, wherever it runs (a scan stops at its
    /// next check).
    async fn cancel_operation(&self, id: &str) -> Result<(), CoordinationError>;

    /// True for exactly one caller per (`job`, `slot`) among the instances:
    /// that one runs the scheduled job for the slot (a minute of its cron).
    async fn try_lead(&self, job: &str, slot: i64) -> Result<bool, CoordinationError>;
}

/// [`Coordination`] in this process's memory: one instance.
pub struct InProcess {
    instance: InstanceId,
    lease: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    heartbeats: BTreeMap<InstanceId, Instant>,
    epoch: u64,
    maintenance: Option<MaintenanceState>,
    drained: HashMap<u64, Vec<InstanceId>>,
    operation: Option<Operation>,
    led: HashMap<String, i64>,
}

impl InProcess {
    pub fn new(instance: InstanceId, lease: Duration) -> Self {
        InProcess {
            instance,
            lease,
            state: Mutex::new(State::default()),
        }
    }

    /// Never poisoned for good: the state holds plain values, each write
    /// whole, so a panic elsewhere leaves nothing half-done in it.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for InProcess {
    fn default() -> Self {
        InProcess::new(InstanceId::of_this_process(), DEFAULT_LEASE)
    }
}

#[async_trait]
impl Coordination for InProcess {
    fn instance(&self) -> &InstanceId {
        &self.instance
    }

    fn lease(&self) -> Duration {
        self.lease
    }

    async fn heartbeat(&self) -> Result<(), CoordinationError> {
        let me = self.instance.clone();
        self.state().heartbeats.insert(me, Instant::now());
        Ok(())
    }

    async fn live_instances(&self) -> Result<Vec<InstanceId>, CoordinationError> {
        let lease = self.lease;
        let state = self.state();
        let live = state.heartbeats.iter().filter(|(_, t)| t.elapsed() < lease);
        Ok(live.map(|(id, _)| id.clone()).collect())
    }

    async fn begin_maintenance(&self, reason: &str) -> Result<u64, CoordinationError> {
        let mut state = self.state();
        state.epoch += 1;
        let epoch = state.epoch;
        state.maintenance = Some(MaintenanceState {
            reason: reason.to_owned(),
            epoch,
            by: self.instance.clone(),
        });
        Ok(epoch)
    }

    async fn end_maintenance(&self, epoch: u64) -> Result<(), CoordinationError> {
        let mut state = self.state();
        if state.maintenance.as_ref().is_some_and(|m| m.epoch == epoch) {
            state.maintenance = None;
        }
        state.drained.remove(&epoch);
        Ok(())
    }

    async fn maintenance(&self) -> Result<Option<MaintenanceState>, CoordinationError> {
        Ok(self.state().maintenance.clone())
    }

    async fn confirm_drained(&self, epoch: u64) -> Result<(), CoordinationError> {
        let me = self.instance.clone();
        let mut state = self.state();
        let confirmed = state.drained.entry(epoch).or_default();
        if !confirmed.contains(&me) {
            confirmed.push(me);
        }
        Ok(())
    }

    async fn drained(&self, epoch: u64) -> Result<Vec<InstanceId>, CoordinationError> {
        Ok(self
            .state()
            .drained
            .get(&epoch)
            .cloned()
            .unwrap_or_default())
    }

    async fn publish_operation(&self, operation: Operation) -> Result<(), CoordinationError> {
        self.state().operation = Some(operation);
        Ok(())
    }

    async fn clear_operation(&self, id: &str) -> Result<(), CoordinationError> {
        let mut state = self.state();
        if state.operation.as_ref().is_some_and(|o| o.id == id) {
            state.operation = None;
        }
        Ok(())
    }

    async fn operation(&self) -> Result<Option<Operation>, CoordinationError> {
        Ok(self.state().operation.clone())
    }

    async fn cancel_operation(&self, id: &str) -> Result<(), CoordinationError> {
        let state = self.state();
        let running = state.operation.as_ref().filter(|o| o.id == id);
        if let Some((_, progress)) = running.and_then(|o| o.scan.as_ref()) {
            progress.cancel();
        }
        Ok(())
    }

    async fn try_lead(&self, job: &str, slot: i64) -> Result<bool, CoordinationError> {
        let mut state = self.state();
        let last = state.led.entry(job.to_owned()).or_insert(i64::MIN);
        if *last >= slot {
            return Ok(false);
        }
        *last = slot;
        Ok(true)
    }
}

/// Keeps this instance's heartbeat going, `every` so long (shorter than
/// the lease: [`default_heartbeat`] unless configured), until the process
/// ends.
pub async fn keep_alive(coordination: Arc<dyn Coordination>, every: Duration) {
    loop {
        if let Err(e) = coordination.heartbeat().await {
            tracing::warn!("cannot send this instance's heartbeat: {e}");
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(lease: Duration) -> InProcess {
        InProcess::new(InstanceId::new("test-1"), lease)
    }

    #[tokio::test]
    async fn an_instance_is_alive_until_its_lease_runs_out() {
        let c = one(Duration::from_millis(50));
        assert!(c.live_instances().await.unwrap().is_empty());
        c.heartbeat().await.unwrap();
        assert_eq!(
            c.live_instances().await.unwrap(),
            [InstanceId::new("test-1")]
        );
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(c.live_instances().await.unwrap().is_empty(), "expired");
    }

    #[tokio::test]
    async fn an_instance_whose_heartbeat_stopped_is_gone_after_its_lease() {
        let lease = Duration::from_millis(300);
        let c: Arc<dyn Coordination> = Arc::new(one(lease));
        let beating = tokio::spawn(keep_alive(c.clone(), Duration::from_millis(50)));
        // Alive lease after lease while it beats.
        for _ in 0..3 {
            tokio::time::sleep(lease).await;
            assert_eq!(
                c.live_instances().await.unwrap(),
                [InstanceId::new("test-1")]
            );
        }
        // Its process hangs or dies: no more heartbeats.
        beating.abort();
        let _ = beating.await;
        tokio::time::sleep(lease + Duration::from_millis(100)).await;
        assert!(c.live_instances().await.unwrap().is_empty(), "gone");
    }

    #[test]
    fn a_configured_instance_id_is_one_plain_word() {
        assert_eq!(InstanceId::parse("web-2").unwrap().as_str(), "web-2");
        let long = "x".repeat(InstanceId::MAX_LEN + 1);
        for bad in ["", " ", "web 2", "web-2\n", &long] {
            assert!(InstanceId::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(default_heartbeat(DEFAULT_LEASE), Duration::from_secs(10));
    }

    #[tokio::test]
    async fn a_drain_confirmation_counts_for_its_own_window_only() {
        let c = one(DEFAULT_LEASE);
        let first = c.begin_maintenance("restoring A").await.unwrap();
        c.confirm_drained(first).await.unwrap();
        c.end_maintenance(first).await.unwrap();
        let second = c.begin_maintenance("restoring B").await.unwrap();
        assert!(second > first);
        assert!(c.drained(second).await.unwrap().is_empty());
        let state = c.maintenance().await.unwrap().unwrap();
        assert_eq!(
            (state.reason.as_str(), state.epoch),
            ("restoring B", second)
        );
        c.end_maintenance(first).await.unwrap();
        assert!(
            c.maintenance().await.unwrap().is_some(),
            "an old end leaves it on"
        );
        c.end_maintenance(second).await.unwrap();
        assert!(c.maintenance().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn one_leader_per_job_and_slot() {
        let c = one(DEFAULT_LEASE);
        assert!(c.try_lead("backup", 100).await.unwrap());
        assert!(!c.try_lead("backup", 100).await.unwrap(), "same slot");
        assert!(c.try_lead("drill", 100).await.unwrap(), "another job");
        assert!(c.try_lead("backup", 101).await.unwrap(), "next slot");
        assert!(!c.try_lead("backup", 100).await.unwrap(), "an older slot");
    }

    #[tokio::test]
    async fn the_published_operation_shows_its_step() {
        let c = one(DEFAULT_LEASE);
        let step = Step::new("starting");
        let backup = Operation::new("backup", "user:admin", step.clone(), None);
        c.publish_operation(backup.clone()).await.unwrap();
        step.set("compressing");
        assert_eq!(
            c.operation().await.unwrap().unwrap().step.get(),
            "compressing"
        );
        let scan = Operation::new("scan", "user:admin", Step::new("walking"), None);
        c.publish_operation(scan.clone()).await.unwrap();
        c.clear_operation(&backup.id).await.unwrap();
        assert_eq!(
            c.operation().await.unwrap().unwrap().kind,
            "scan",
            "a newer one stays"
        );
        c.clear_operation(&scan.id).await.unwrap();
        assert!(c.operation().await.unwrap().is_none());
    }
}
