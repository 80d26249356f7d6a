//! Backup use cases shared by the server and the command line: how an
//! outcome nobody waits for is recorded, and the off-site copies.

use crate::settings::json_setting;
use lectern_backup::{BackupRecord, Offsite};
use lectern_store::{NewAuditEntry, Outcome, Store, StoreError};
use serde::{Deserialize, Serialize};

/// The setting that keeps the last backup failure until one succeeds.
pub const LAST_FAILURE: &str = "backup_last_failure";

/// Why the last backup (or its off-site copy) failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub at: i64,
    pub action: String,
    pub message: String,
}

pub async fn last_failure(store: &dyn Store) -> Result<Option<Failure>, StoreError> {
    json_setting(store, LAST_FAILURE).await
}

/// Records how a backup step went that no request is waiting for (a
/// scheduled backup, an off-site copy): in the audit log, and a failure
/// as the last failure, which the status and health checks show.
pub async fn record_outcome(
    store: &dyn Store,
    actor: &str,
    action: &str,
    target: Option<String>,
    outcome: Result<(), String>,
) {
    let mut entry = NewAuditEntry::now(actor, action);
    entry.target = target;
    let last = match &outcome {
        Ok(()) => String::new(),
        Err(message) => {
            tracing::error!("{action} failed: {message}");
            entry.outcome = Outcome::Failed;
            entry.detail = Some(message.clone());
            let failure = Failure {
                at: lectern_store::now_ms(),
                action: action.to_owned(),
                message: message.clone(),
            };
            serde_json::to_string(&failure).unwrap_or_default()
        }
    };
    if let Err(e) = store.set_setting(LAST_FAILURE, &last).await {
        tracing::warn!("cannot keep the backup outcome: {e}");
    }
    if let Err(e) = store.record_audit(&entry).await {
        tracing::warn!("cannot record {action}: {e}");
    }
}

/// Copies a new archive off site, if configured; the server's backups and
/// the offline CLI's alike. The backup itself is made, so a failure is
/// recorded (and returned, for a person to be told) rather than undoing it.
pub async fn send_offsite(
    store: &dyn Store,
    offsite: &Offsite,
    actor: &str,
    record: &BackupRecord,
) -> Result<(), String> {
    if offsite.is_empty() {
        return Ok(());
    }
    let outcome = offsite.send(record).await.map_err(|e| e.to_string());
    let target = Some(format!("backup={}", record.id));
    record_outcome(store, actor, "backup.offsite", target, outcome.clone()).await;
    outcome
}
