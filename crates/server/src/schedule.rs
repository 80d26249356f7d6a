//! Scheduled backups (SPEC §3): a cron expression (default daily at
//! 02:00, server local time) and grandfather-father-son retention of the
//! scheduled backups. Both are settings, so an admin changes them at run
//! time; the loop reads them again every tick. A failed backup is recorded
//! in the audit log and kept as the last failure for the status and health
//! checks.

use crate::backups;
use crate::error::ApiError;
use crate::retention::Retention;
use crate::state::AppState;
use chrono::{DateTime, Local};
use croner::Cron;
use lectern_backup::{BackupStatus, BackupType};
use lectern_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use std::time::Duration;

pub const SCHEDULE: &str = "backup_schedule";
pub const RETENTION: &str = "backup_retention";
pub const DEFAULT_SCHEDULE: &str = "0 2 * * *";
/// The seed's monthly test restore: a full trial restore of the newest
/// backup into a scratch database.
pub const DRILL: &str = "backup_drill_schedule";
pub const DEFAULT_DRILL: &str = "0 3 1 * *";
pub const LAST_DRILL: &str = "backup_last_drill";
const ACTOR: &str = "system:scheduler";
/// How often the loop looks at the clock and the settings.
const TICK: Duration = Duration::from_secs(30);

/// A cron expression, or `off`.
pub fn parse_schedule(expression: &str) -> Result<Option<Cron>, String> {
    let expression = expression.trim();
    if expression.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    Cron::from_str(expression)
        .map(Some)
        .map_err(|e| format!("backup_schedule is a cron expression or \"off\": {e}"))
}

/// The schedule and retention as saved (or their defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackupPlan {
    /// Five fields (minute hour day month weekday), server local time; or `off`.
    pub schedule: String,
    #[schema(value_type = Object)]
    pub retention: Retention,
    /// When the test restore runs (cron, or `off`); monthly by default.
    pub drill: String,
}

impl BackupPlan {
    pub async fn load(store: &dyn Store) -> Result<Self, StoreError> {
        let schedule = store
            .setting(SCHEDULE)
            .await?
            .unwrap_or_else(|| DEFAULT_SCHEDULE.to_owned());
        let retention = lectern_app::settings::json_setting(store, RETENTION)
            .await?
            .unwrap_or_default();
        let drill = store
            .setting(DRILL)
            .await?
            .unwrap_or_else(|| DEFAULT_DRILL.to_owned());
        Ok(Self {
            schedule,
            retention,
            drill,
        })
    }

    /// When the next scheduled backup runs after `now`; `None` when off
    /// (or when a saved expression no longer parses).
    pub fn next_after(&self, now: &DateTime<Local>) -> Option<DateTime<Local>> {
        next_after(&self.schedule, now)
    }
}

fn next_after(expression: &str, now: &DateTime<Local>) -> Option<DateTime<Local>> {
    let cron = parse_schedule(expression).ok()??;
    cron.find_next_occurrence(now, false).ok()
}

/// The last test restore: which backup, when, and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Drill {
    pub at: i64,
    pub backup_id: Option<String>,
    pub ok: bool,
    pub message: String,
}

pub async fn last_drill(store: &dyn Store) -> Result<Option<Drill>, StoreError> {
    lectern_app::settings::json_setting(store, LAST_DRILL).await
}

/// Restores the newest backup into a scratch database, as a real restore
/// would (unpacked, every check, migrated), and keeps the result. Nothing
/// live changes, so no lock is needed.
pub async fn drill_once(state: &AppState) -> Drill {
    let options = &state.options.backups;
    let newest = options.folder.list().map(|list| {
        list.into_iter()
            .find(|r| r.status == BackupStatus::Completed)
    });
    let (backup_id, outcome) = match newest {
        Err(e) => (None, Err(e.to_string())),
        Ok(None) => (None, Err("there is no backup to test".to_owned())),
        Ok(Some(record)) => {
            let tried = lectern_backup::prepare_restore(
                &record.file_path,
                &options.folder,
                &options.secrets,
                options.limits,
                std::sync::Arc::new(lectern_backup::Quiet),
            )
            .await
            .map(|prepared| format!("restores cleanly into schema {}", prepared.migrated_to))
            .map_err(|e| e.to_string());
            (Some(record.id), tried)
        }
    };
    let drill = Drill {
        at: lectern_store::now_ms(),
        ok: outcome.is_ok(),
        message: outcome.clone().unwrap_or_else(|e| e),
        backup_id: backup_id.clone(),
    };
    if let Ok(json) = serde_json::to_string(&drill) {
        if let Err(e) = state.store.set_setting(LAST_DRILL, &json).await {
            tracing::warn!("cannot keep the test restore's result: {e}");
        }
    }
    let target = backup_id.map(|id| format!("backup={id}"));
    let outcome = outcome.map(|_| ());
    backups::record_outcome(state.store.as_ref(), ACTOR, "backup.drill", target, outcome).await;
    drill
}

/// Runs forever (the server's lifetime): a backup each time the schedule
/// comes due, then the retention applied.
pub async fn run(state: AppState) {
    let mut backup_due = None;
    let mut drill_due = None;
    loop {
        match BackupPlan::load(state.store.as_ref()).await {
            Ok(plan) => {
                let backup = run_once(&state, &plan.retention);
                backup_due = tick(&plan.schedule, backup_due, backup).await;
                drill_due = tick(&plan.drill, drill_due, drill_once(&state)).await;
            }
            Err(e) => tracing::warn!("cannot read the backup schedule: {e}"),
        }
        tokio::time::sleep(TICK).await;
    }
}

/// One look at the clock for one schedule. `due` is the expression and
/// time planned last; a changed expression plans again from now. `job`
/// runs (is awaited) only when due.
async fn tick<T>(
    expression: &str,
    due: Option<(String, DateTime<Local>)>,
    job: impl std::future::Future<Output = T>,
) -> Option<(String, DateTime<Local>)> {
    let now = Local::now();
    let at = match due {
        Some((planned, at)) if planned == expression => at,
        _ => next_after(expression, &now)?,
    };
    if now < at {
        return Some((expression.to_owned(), at));
    }
    job.await;
    next_after(expression, &now).map(|next| (expression.to_owned(), next))
}

/// One scheduled backup, its off-site copy and the retention after it;
/// the outcome goes to the audit log, a failure also to the last failure.
pub async fn run_once(state: &AppState, retention: &Retention) {
    let made = backups::create(state, ACTOR, BackupType::Scheduled, None).await;
    let outcome = made.as_ref().map(|_| ()).map_err(ApiError::to_string);
    let target = made.as_ref().ok().map(|r| format!("backup={}", r.id));
    backups::record_outcome(
        state.store.as_ref(),
        ACTOR,
        "backup.create",
        target,
        outcome,
    )
    .await;
    let Ok(record) = made else { return };
    let offsite = &state.options.backups.offsite;
    let _ = backups::send_offsite(state.store.as_ref(), offsite, ACTOR, &record).await;
    if let Err(e) = prune(state, retention) {
        tracing::error!("cannot apply the backup retention: {e}");
    }
}

/// Deletes the scheduled backups the retention no longer keeps.
pub fn prune(state: &AppState, retention: &Retention) -> Result<Vec<String>, ApiError> {
    let folder = &state.options.backups.folder;
    let scheduled: Vec<_> = folder
        .list()?
        .into_iter()
        .filter(|r| r.backup_type == BackupType::Scheduled && r.status == BackupStatus::Completed)
        .collect();
    let dated: Vec<(&str, time::OffsetDateTime)> = scheduled
        .iter()
        .map(|r| (r.id.as_str(), r.created_at))
        .collect();
    let expired: Vec<String> = retention
        .expired(&dated)
        .into_iter()
        .map(str::to_owned)
        .collect();
    for id in &expired {
        folder.delete(id)?;
    }
    Ok(expired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn schedules_parse_as_cron_or_off() {
        assert!(parse_schedule("off").unwrap().is_none());
        assert!(parse_schedule(DEFAULT_SCHEDULE).unwrap().is_some());
        for bad in ["", "every day", "61 * * * *", "* * * *"] {
            assert!(parse_schedule(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_default_plan_runs_at_two_in_the_morning() {
        let plan = BackupPlan {
            schedule: DEFAULT_SCHEDULE.into(),
            retention: Retention::default(),
            drill: DEFAULT_DRILL.into(),
        };
        let now = Local.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap();
        let next = plan.next_after(&now).unwrap();
        assert_eq!(next, Local.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap());
        let off = BackupPlan {
            schedule: "off".into(),
            ..plan
        };
        assert_eq!(off.next_after(&now), None);
    }
}
