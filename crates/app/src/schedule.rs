//! Scheduled backups (SPEC §3): a cron expression (default daily at
//! 02:00, server local time) and grandfather-father-son retention of the
//! scheduled backups, and the monthly test restore. All are settings, so
//! an admin changes them at run time; the loop reads them again every
//! tick. A failed backup is recorded in the audit log and kept as the
//! last failure for the status and health checks.
//!
//! Every instance runs the loop; for each due time exactly one of them
//! wins it ([`Coordination::try_lead`]) and runs the job. A job that finds
//! the operation lock held (a scan running) is not a failure: its winner
//! tries again at the next tick until it runs.

use crate::backups;
use crate::context::App;
use crate::coordination::Coordination;
use crate::error::AppError;
use crate::events::{Actor, Event};
use crate::operation::Running;
use crate::retention::Retention;
use croner::Cron;
use lectern_backup::{BackupStatus, BackupType};
use lectern_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;

pub const SCHEDULE: &str = "backup_schedule";
pub const RETENTION: &str = "backup_retention";
pub const DEFAULT_SCHEDULE: &str = "0 2 * * *";
/// The seed's monthly test restore: a full trial restore of the newest
/// backup into a scratch database.
pub const DRILL: &str = "backup_drill_schedule";
pub const DEFAULT_DRILL: &str = "0 3 1 * *";
pub const LAST_DRILL: &str = "backup_last_drill";
const ACTOR: Actor = Actor::System("system:scheduler");
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupPlan {
    /// Five fields (minute hour day month weekday), server local time; or `off`.
    pub schedule: String,
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
        let retention = crate::settings::json_setting(store, RETENTION)
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

    /// When the next scheduled backup runs after `now`, in the server's
    /// local time (its offset then); `None` when off (or when a saved
    /// expression no longer parses).
    pub fn next_after(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        next_after(&self.schedule, now)
    }
}

fn next_after(expression: &str, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let cron = parse_schedule(expression).ok()??;
    local::next_occurrence(&cron, now)
}

/// The cron library counts in chrono's types; everything else in Lectern
/// in `time`'s. They meet here, and only here. Local time is chrono's
/// `Local`: the zone from `TZ`, else `/etc/localtime` (daylight saving
/// included), read by chrono itself, which is sound in a multi-threaded
/// process, where `time`'s own local offset is refused.
mod local {
    use croner::Cron;
    use time::{OffsetDateTime, UtcOffset};

    /// The first time after `now` that `cron` names in local time, with
    /// the local offset at that time.
    pub fn next_occurrence(cron: &Cron, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let nanos = i64::try_from(now.unix_timestamp_nanos()).ok()?;
        let start = chrono::DateTime::from_timestamp_nanos(nanos).with_timezone(&chrono::Local);
        let next = cron.find_next_occurrence(&start, false).ok()?;
        let offset = UtcOffset::from_whole_seconds(next.offset().local_minus_utc()).ok()?;
        let at = OffsetDateTime::from_unix_timestamp_nanos(next.timestamp_nanos_opt()?.into());
        at.ok()?.checked_to_offset(offset)
    }

    /// A local wall-clock time (the earlier one when the clocks go back);
    /// `None` in the hour skipped when they go forward.
    #[cfg(test)]
    pub fn at(wall: time::PrimitiveDateTime) -> Option<OffsetDateTime> {
        use chrono::TimeZone;
        let (date, clock) = (wall.date(), wall.time());
        let chrono_wall = chrono::NaiveDate::from_ymd_opt(
            date.year(),
            u32::from(u8::from(date.month())),
            u32::from(date.day()),
        )?
        .and_hms_opt(
            u32::from(clock.hour()),
            u32::from(clock.minute()),
            u32::from(clock.second()),
        )?;
        let local = chrono::Local.from_local_datetime(&chrono_wall).earliest()?;
        let offset = UtcOffset::from_whole_seconds(local.offset().local_minus_utc()).ok()?;
        Some(wall.assume_offset(offset))
    }
}

/// The last test restore: which backup, when, and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drill {
    pub at: i64,
    pub backup_id: Option<String>,
    pub ok: bool,
    pub message: String,
}

pub async fn last_drill(store: &dyn Store) -> Result<Option<Drill>, StoreError> {
    crate::settings::json_setting(store, LAST_DRILL).await
}

/// How a scheduled job went, for the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    /// It ran (well or not: its outcome is recorded).
    Done,
    /// Another operation held the lock: try again at the next tick.
    Busy,
}

/// Restores the newest backup into a scratch database, as a real restore
/// would (unpacked, every check, migrated), and keeps the result. Under
/// the operation lock, so that it never competes with a backup for the
/// disk; nothing live changes.
pub async fn drill_once(app: &App) -> Result<Drill, Ran> {
    let running = match Running::start(app, "drill", &ACTOR.label()).await {
        Ok(running) => running,
        Err(AppError::Busy(held)) => {
            tracing::info!("the test restore waits: {held}");
            return Err(Ran::Busy);
        }
        Err(e) => {
            tracing::warn!("cannot start the test restore: {e}");
            return Err(Ran::Busy);
        }
    };
    let drill = drill_locked(app).await;
    running.finish().await;
    Ok(drill)
}

async fn drill_locked(app: &App) -> Drill {
    let options = &app.backups;
    let newest = backups::find(app, "latest");
    let (backup_id, outcome) = match newest {
        Err(AppError::NotFound(_)) => (None, Err("there is no backup to test".to_owned())),
        Err(e) => (None, Err(e.chain())),
        Ok(record) => {
            let quiet = std::sync::Arc::new(lectern_backup::Quiet);
            let tried = crate::restore::prepare(options, &record.file_path, quiet)
                .await
                .map(|prepared| format!("restores cleanly into schema {}", prepared.migrated_to))
                .map_err(|e| e.chain());
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
        if let Err(e) = app.store.set_setting(LAST_DRILL, &json).await {
            tracing::warn!("cannot keep the test restore's result: {e}");
        }
    }
    let failure = outcome.as_ref().err().cloned();
    backups::record_outcome(app.store.as_ref(), backups::DRILL, outcome.map(|_| ())).await;
    let event = Event::DrillFinished {
        backup_id,
        by: ACTOR,
        failure,
    };
    app.events.emit(event).await;
    drill
}

/// Runs forever (the server's lifetime): a backup each time the schedule
/// comes due, then the retention applied; the test restore on its own
/// schedule.
pub async fn run(app: App) {
    let mut backup_due = None;
    let mut drill_due = None;
    loop {
        match BackupPlan::load(app.store.as_ref()).await {
            Ok(plan) => {
                let coordination = app.coordination.as_ref();
                let backup = run_once(&app, &plan.retention);
                backup_due = tick(coordination, "backup", &plan.schedule, backup_due, backup).await;
                let drill = async { drill_once(&app).await.err().unwrap_or(Ran::Done) };
                drill_due = tick(coordination, "drill", &plan.drill, drill_due, drill).await;
            }
            Err(e) => tracing::warn!("cannot read the backup schedule: {e}"),
        }
        tokio::time::sleep(TICK).await;
    }
}

/// The next run of one schedule, as planned at the last tick.
pub struct Due {
    expression: String,
    at: OffsetDateTime,
    /// This instance won the run at `at` and owes it.
    won: bool,
}

/// One look at the clock for one schedule. A changed expression plans
/// again from now. `job` runs (is awaited) only when due and won; a job
/// that was `Busy` stays due, for the next tick.
async fn tick(
    coordination: &dyn Coordination,
    name: &str,
    expression: &str,
    due: Option<Due>,
    job: impl std::future::Future<Output = Ran>,
) -> Option<Due> {
    let now = OffsetDateTime::now_utc();
    let plan_next = || {
        next_after(expression, now).map(|at| Due {
            expression: expression.to_owned(),
            at,
            won: false,
        })
    };
    let mut due = match due {
        Some(due) if due.expression == expression => due,
        _ => plan_next()?,
    };
    if now < due.at {
        return Some(due);
    }
    if !due.won {
        match coordination.try_lead(name, due.at.unix_timestamp()).await {
            Ok(true) => due.won = true,
            // Another instance runs this one.
            Ok(false) => return plan_next(),
            Err(e) => {
                tracing::warn!("cannot tell which instance runs the {name}: {e}");
                return Some(due);
            }
        }
    }
    match job.await {
        Ran::Done => plan_next(),
        Ran::Busy => Some(due),
    }
}

/// One scheduled backup, its off-site copy and the retention after it;
/// the outcome goes to the audit log and the last failure.
/// A held lock is no failure: the backup runs at a later tick.
pub async fn run_once(app: &App, retention: &Retention) -> Ran {
    let quiet = std::sync::Arc::new(lectern_backup::Quiet);
    let made = backups::create_archive(app, &ACTOR, BackupType::Scheduled, None, quiet).await;
    if let Err(AppError::Busy(held)) = &made {
        tracing::info!("the scheduled backup waits: {held}");
        return Ran::Busy;
    }
    // A failure was recorded where the backup failed; a success clears it.
    let Ok(record) = made else { return Ran::Done };
    backups::record_outcome(app.store.as_ref(), backups::CREATE, Ok(())).await;
    let _ = backups::send_offsite(app, &ACTOR, &record).await;
    if let Err(e) = prune(app, retention) {
        tracing::error!("cannot apply the backup retention: {e}");
    }
    Ran::Done
}

/// Deletes the scheduled backups the retention no longer keeps.
pub fn prune(app: &App, retention: &Retention) -> Result<Vec<String>, AppError> {
    let folder = &app.backups.folder;
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

/// A schedule in plain words: `daily at 02:00`, `every Sunday at 03:30`,
/// `monthly on day 1 at 04:00`, `off`; any other expression as itself.
pub fn in_words(expression: &str) -> String {
    let expression = expression.trim();
    if expression.eq_ignore_ascii_case("off") {
        return "off".into();
    }
    let fields: Vec<&str> = expression.split_whitespace().collect();
    let time = match fields.as_slice() {
        [m, h, ..] => match (m.parse::<u8>(), h.parse::<u8>()) {
            (Ok(m), Ok(h)) if m < 60 && h < 24 => format!("{h:02}:{m:02}"),
            _ => return format!("on the schedule “{expression}”"),
        },
        _ => return format!("on the schedule “{expression}”"),
    };
    const DAYS: [&str; 8] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    match fields[2..] {
        ["*", "*", "*"] => format!("daily at {time}"),
        ["*", "*", day] => match day.parse::<usize>().ok().and_then(|d| DAYS.get(d)) {
            Some(name) => format!("every {name} at {time}"),
            None => format!("on the schedule “{expression}”"),
        },
        [day, "*", "*"] if day.parse::<u8>().is_ok_and(|d| (1..=31).contains(&d)) => {
            format!("monthly on day {day} at {time}")
        }
        _ => format!("on the schedule “{expression}”"),
    }
}

/// The whole plan in words, as the backups page previews it: `daily at
/// 02:00, keeps 7 daily, 4 weekly, 12 monthly`.
pub fn plan_in_words(plan: &BackupPlan) -> String {
    let when = in_words(&plan.schedule);
    if when == "off" {
        return "scheduled backups are off".into();
    }
    let r = plan.retention;
    format!(
        "{when}, keeps {} daily, {} weekly, {} monthly",
        r.daily, r.weekly, r.monthly
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

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
        let now = local::at(datetime!(2026-11-25 14:00)).unwrap();
        let next = plan.next_after(now).unwrap();
        assert_eq!(next, local::at(datetime!(2026-11-26 02:00)).unwrap());
        assert_eq!((next.hour(), next.minute()), (2, 0), "in local time");
        let off = BackupPlan {
            schedule: "off".into(),
            ..plan
        };
        assert_eq!(off.next_after(now), None);
    }

    #[test]
    fn schedules_are_said_in_plain_words() {
        assert_eq!(in_words("0 2 * * *"), "daily at 02:00");
        assert_eq!(in_words("30 3 * * 0"), "every Sunday at 03:30");
        assert_eq!(in_words("0 4 1 * *"), "monthly on day 1 at 04:00");
        assert_eq!(in_words("off"), "off");
        assert_eq!(in_words("*/5 * * * *"), "on the schedule “*/5 * * * *”");
        let plan = BackupPlan {
            schedule: "0 2 * * *".into(),
            retention: Retention::default(),
            drill: "off".into(),
        };
        assert_eq!(
            plan_in_words(&plan),
            "daily at 02:00, keeps 7 daily, 4 weekly, 12 monthly"
        );
    }
}
