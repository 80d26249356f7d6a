//! The health checks (SPEC §6): each reads one thing (the database, the
//! library folder, the backup folder, the disk) and judges it by the
//! thresholds with `lectern_core::health`'s rules. The server runs them in
//! the background ([`crate::monitor`]) and serves the stored report;
//! `lectern check` runs them once, even with a database too damaged to open.

use crate::backups::{self, Failure};
use crate::context::App;
use crate::schedule;
use crate::watch::WatchState;
pub use lectern_alerts::rfc3339;
use lectern_backup::BackupFolder;
use lectern_core::health::{self as rules, Status};
use lectern_core::quantity::{bytes, span};
use lectern_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The limits the checks judge by. Durations are whole seconds, so tests
/// can set them short. Defaults are the seed's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// The newest backup older than this warns…
    pub backup_warn_after_secs: u64,
    /// …and older than this fails.
    pub backup_fail_after_secs: u64,
    /// Any error in the last scan warns; more than this many fail.
    pub scan_errors_fail_above: u64,
    /// Free space on the data or backup filesystem below this share warns…
    pub disk_warn_below_percent: f64,
    /// …and below this share fails.
    pub disk_fail_below_percent: f64,
    /// The database grown by more than this share over the window warns.
    pub growth_warn_percent: f64,
    pub growth_window_secs: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            backup_warn_after_secs: 24 * 3600,
            backup_fail_after_secs: 72 * 3600,
            scan_errors_fail_above: 10,
            disk_warn_below_percent: 10.0,
            disk_fail_below_percent: 5.0,
            growth_warn_percent: 50.0,
            growth_window_secs: 7 * 24 * 3600,
        }
    }
}

impl Thresholds {
    /// Whether they make sense together, in words when not.
    pub fn check(&self) -> Result<(), String> {
        let percent = |v: f64| (0.0..=100.0).contains(&v);
        if self.backup_warn_after_secs == 0
            || self.backup_warn_after_secs > self.backup_fail_after_secs
        {
            return Err(
                "the backup age that warns must be more than 0 and at most the one that fails"
                    .into(),
            );
        }
        if !percent(self.disk_warn_below_percent)
            || !percent(self.disk_fail_below_percent)
            || self.disk_fail_below_percent > self.disk_warn_below_percent
        {
            return Err(
                "disk shares are percentages, the failing one at most the warning one".into(),
            );
        }
        // A century: beyond it, times in milliseconds stop fitting.
        const MOST_SECS: u64 = 100 * 365 * 86_400;
        let times = [
            self.backup_warn_after_secs,
            self.backup_fail_after_secs,
            self.growth_window_secs,
        ];
        if times.iter().any(|&t| t > MOST_SECS) || self.scan_errors_fail_above > 1_000_000_000 {
            return Err("durations are at most 100 years, scan errors at most 10^9".into());
        }
        if self.growth_warn_percent.is_nan()
            || self.growth_warn_percent <= 0.0
            || self.growth_window_secs == 0
        {
            return Err("the growth that warns and its window must be more than 0".into());
        }
        Ok(())
    }
}

/// One check's finding, in the health-check response format's terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// `component:measurement`, as in the format (`backup:age`).
    pub name: String,
    pub status: Status,
    /// When it ran, ms since the epoch.
    pub time: i64,
    pub observed_value: Option<Value>,
    pub observed_unit: Option<String>,
    /// What was found, in words.
    pub output: String,
    /// The alert condition a failing or warning result raises.
    pub condition: Option<String>,
    /// It could not be checked (the database did not answer): its alerts
    /// stay as they were, neither resolved nor raised anew.
    #[serde(default)]
    pub undecided: bool,
}

impl Check {
    fn new(name: &str, status: Status, output: impl Into<String>) -> Check {
        Check {
            name: name.to_owned(),
            status,
            time: lectern_store::now_ms(),
            observed_value: None,
            observed_unit: None,
            output: output.into(),
            condition: None,
            undecided: false,
        }
    }

    fn observed(mut self, value: impl Into<Value>, unit: &str) -> Check {
        self.observed_value = Some(value.into());
        self.observed_unit = Some(unit.to_owned());
        self
    }

    /// Raises `condition` unless it passes.
    fn raises(mut self, condition: &str) -> Check {
        if self.status != Status::Pass {
            self.condition = Some(condition.to_owned());
        }
        self
    }
}

/// Every check of one run, in a fixed order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub status: Status,
    pub time: i64,
    pub checks: Vec<Check>,
}

impl Report {
    fn of(checks: Vec<Check>) -> Report {
        Report {
            status: Status::worst(checks.iter().map(|c| c.status)),
            time: lectern_store::now_ms(),
            checks,
        }
    }

    /// The health-check response format (`application/health+json`); with
    /// `detail` false only the overall status, for anonymous callers.
    pub fn health_json(&self, detail: bool) -> Value {
        if !detail {
            return json!({ "status": self.status });
        }
        let checks: serde_json::Map<String, Value> = self
            .checks
            .iter()
            .map(|c| {
                let mut entry = json!({
                    "status": c.status,
                    "time": rfc3339(c.time),
                    "output": c.output,
                });
                if let (Some(value), Some(unit)) = (&c.observed_value, &c.observed_unit) {
                    entry["observedValue"] = value.clone();
                    entry["observedUnit"] = json!(unit);
                }
                (c.name.clone(), json!([entry]))
            })
            .collect();
        json!({
            "status": self.status,
            "version": "1",
            "releaseId": env!("CARGO_PKG_VERSION"),
            "description": "Lectern's health checks",
            "checks": checks,
        })
    }

    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// The names of every check, in the report's order.
pub const CHECKS: &[&str] = &[
    "database:reachable",
    "database:growth",
    "library:root",
    "library:orphans",
    "scan:errors",
    "backup:age",
    "backup:last",
    "backup:drill",
    "disk:data",
    "disk:backups",
    "watcher:state",
];

/// What the checks look at.
pub struct Probe {
    /// `None` when the database could not be opened: `problem` says why.
    pub store: Option<Arc<dyn Store>>,
    pub problem: Option<String>,
    pub root: Option<PathBuf>,
    pub data: PathBuf,
    pub folder: BackupFolder,
    pub thresholds: Thresholds,
    /// Where the database's past sizes are kept.
    pub sizes: PathBuf,
    /// What the watcher is doing; `Off` where none runs in this process.
    pub watching: WatchState,
}

impl Probe {
    /// Over a running Lectern's context, with the thresholds in force.
    pub async fn of(app: &App) -> Probe {
        let (root, problem) = match app.library_root().await {
            Ok(root) => (root, None),
            Err(e) => (app.library.root_default.clone(), Some(e.to_string())),
        };
        Probe {
            store: Some(app.store.clone()),
            problem,
            root,
            data: app.health.data.clone(),
            folder: app.backups.folder.clone(),
            thresholds: crate::monitor::thresholds(app).await,
            sizes: app.health.sizes_file(),
            watching: app.watching.state(),
        }
    }
}

/// Runs every check once.
pub async fn run(probe: &Probe) -> Report {
    let store = probe.store.as_deref();
    let mut checks = vec![database(store, probe.problem.as_deref()).await];
    checks.push(growth(store, probe).await);
    checks.push(root(store, probe.root.clone()).await);
    checks.push(orphans(store).await);
    checks.push(scan_errors(store, &probe.thresholds).await);
    let archives = probe.folder.list().map_err(|e| e.to_string());
    checks.push(backup_age(&archives, &probe.thresholds));
    checks.push(last_backup(store, &archives).await);
    checks.push(drill(store).await);
    let t = probe.thresholds;
    checks.push(disk("disk:data", &probe.data, &t));
    checks.push(disk("disk:backups", probe.folder.dir(), &t));
    checks.push(watcher(&probe.watching));
    Report::of(checks)
}

/// Watching that failed fails (the library no longer follows the disk);
/// a root that went away is the root check's failure, a warning here.
fn watcher(state: &WatchState) -> Check {
    let status = match state {
        WatchState::Failed(_) => Status::Fail,
        WatchState::RootMissing(_) => Status::Warn,
        _ => Status::Pass,
    };
    let check =
        Check::new("watcher:state", status, state.describe()).observed(state.name(), "state");
    if status == Status::Fail {
        check.raises("watcher_failed")
    } else {
        check
    }
}

/// A path as the findings show it: absolute, so a relative `--data`
/// still says where on the machine.
fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_owned())
        .display()
        .to_string()
}

fn unknown(name: &str, why: &str) -> Check {
    let mut check = Check::new(name, Status::Warn, format!("cannot be checked: {why}"));
    check.undecided = true;
    check
}

async fn database(store: Option<&dyn Store>, problem: Option<&str>) -> Check {
    let name = "database:reachable";
    let Some(store) = store else {
        let why = problem.unwrap_or("it could not be opened");
        return Check::new(
            name,
            Status::Fail,
            format!("the database cannot be used: {why}"),
        )
        .raises("database_unreachable");
    };
    let started = Instant::now();
    let found = store.quick_check().await;
    let ms = started.elapsed().as_millis() as u64;
    let check = match found {
        Ok(problems) if problems.is_empty() => Check::new(
            name,
            Status::Pass,
            format!(
                "the {} database answers; its quick check found nothing",
                store.backend()
            ),
        ),
        Ok(problems) => Check::new(
            name,
            Status::Fail,
            format!("the quick check found damage: {}", problems.join("; ")),
        ),
        Err(e) => Check::new(
            name,
            Status::Fail,
            format!("the database does not answer: {e}"),
        ),
    };
    check.observed(ms, "ms").raises("database_unreachable")
}

/// One reading of the database's size, kept to compare with later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeSample {
    pub at: i64,
    pub bytes: u64,
}

/// The sizes kept so far; none when the file is absent or unreadable.
pub fn read_sizes(path: &Path) -> Vec<SizeSample> {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// The size `window` ago: the newest sample at least that old.
fn size_then(samples: &[SizeSample], now: i64, window_ms: i64) -> Option<SizeSample> {
    samples
        .iter()
        .filter(|s| s.at <= now - window_ms)
        .max_by_key(|s| s.at)
        .copied()
}

async fn growth(store: Option<&dyn Store>, probe: &Probe) -> Check {
    let name = "database:growth";
    let Some(store) = store else {
        return unknown(name, "the database cannot be opened");
    };
    let now_bytes = match store.database_size().await {
        Ok(bytes) => bytes,
        Err(e) => return unknown(name, &e.to_string()),
    };
    let t = probe.thresholds;
    let window = t.growth_window_secs as i64 * 1000;
    let samples = read_sizes(&probe.sizes);
    let then = size_then(&samples, lectern_store::now_ms(), window);
    let window_words = span(t.growth_window_secs);
    let Some(percent) = then.and_then(|s| rules::growth_percent(s.bytes, now_bytes)) else {
        return Check::new(
            name,
            Status::Pass,
            format!(
                "{} now; no size from {window_words} ago to compare with yet",
                bytes(now_bytes)
            ),
        )
        .observed(now_bytes, "bytes");
    };
    let status = if percent > t.growth_warn_percent {
        Status::Warn
    } else {
        Status::Pass
    };
    let output = format!(
        "{} now, {:+.0} % over {window_words} (warns above {:.0} %)",
        bytes(now_bytes),
        percent,
        t.growth_warn_percent
    );
    Check::new(name, status, output)
        .observed((percent * 10.0).round() / 10.0, "percent")
        .raises("database_growth")
}

async fn root(store: Option<&dyn Store>, root: Option<PathBuf>) -> Check {
    let name = "library:root";
    let Some(path) = root else {
        return Check::new(name, Status::Warn, "no library root is configured");
    };
    let shown = absolute(&path);
    let entries = tokio::task::spawn_blocking(move || std::fs::read_dir(&path).map(|d| d.count()));
    let entries = match entries.await {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => {
            return Check::new(name, Status::Fail, format!("{shown} cannot be read: {e}"))
                .raises("root_unreachable")
        }
        Err(e) => return unknown(name, &e.to_string()),
    };
    let indexed = match store {
        Some(store) => store
            .index_summary(0)
            .await
            .map(|s| s.files_present)
            .unwrap_or(0),
        None => 0,
    };
    if entries == 0 && indexed > 0 {
        let output = format!(
            "{shown} is empty while the index holds {indexed} files: is the share mounted?"
        );
        return Check::new(name, Status::Fail, output).raises("root_unreachable");
    }
    Check::new(
        name,
        Status::Pass,
        format!("{shown} is readable ({entries} entries at the top)"),
    )
}

async fn orphans(store: Option<&dyn Store>) -> Check {
    let name = "library:orphans";
    let Some(store) = store else {
        return unknown(name, "the database cannot be opened");
    };
    match store.index_summary(0).await {
        Err(e) => unknown(name, &e.to_string()),
        Ok(s) if s.files_missing == 0 => {
            Check::new(name, Status::Pass, "no missing files await cleanup").observed(0, "files")
        }
        Ok(s) => Check::new(
            name,
            Status::Warn,
            format!(
                "{} files are missing on disk and await cleanup (Library → Cleanup)",
                s.files_missing
            ),
        )
        .observed(s.files_missing, "files"),
    }
}

async fn scan_errors(store: Option<&dyn Store>, t: &Thresholds) -> Check {
    let name = "scan:errors";
    let Some(store) = store else {
        return unknown(name, "the database cannot be opened");
    };
    let scans = match store.scans(20, 0).await {
        Ok(scans) => scans,
        Err(e) => return unknown(name, &e.to_string()),
    };
    let Some(last) = scans.into_iter().find(|s| s.finished_at.is_some()) else {
        return Check::new(name, Status::Pass, "no scan has finished yet").observed(0, "errors");
    };
    let errors = last.counts.errors;
    let status = rules::by_scan_errors(errors, t.scan_errors_fail_above);
    let output = match errors {
        0 => format!("scan {} found no errors", last.id),
        n => format!(
            "scan {} found {n} errors (fails above {}): see its history",
            last.id, t.scan_errors_fail_above
        ),
    };
    let check = Check::new(name, status, output).observed(errors, "errors");
    match status {
        Status::Fail => check.raises("scan_errors"),
        _ => check,
    }
}

fn backup_age(
    archives: &Result<Vec<lectern_backup::BackupRecord>, String>,
    t: &Thresholds,
) -> Check {
    let name = "backup:age";
    let list = match archives {
        Ok(list) => list,
        Err(e) => {
            return Check::new(
                name,
                Status::Fail,
                format!("the backup folder cannot be read: {e}"),
            )
            .raises("backup_missing")
        }
    };
    let Some(newest) = backups::newest_readable(list) else {
        return Check::new(
            name,
            Status::Warn,
            "there is no backup yet: make one (Backups → Create)",
        )
        .raises("backup_missing");
    };
    let now = time::OffsetDateTime::now_utc();
    let age = (now - newest.created_at).whole_seconds().max(0);
    let status = rules::by_age(
        age,
        t.backup_warn_after_secs as i64,
        t.backup_fail_after_secs as i64,
    );
    let words = span(age as u64);
    let output = format!("the newest backup ({}) is {words} old", newest.id);
    Check::new(name, status, output)
        .observed(age, "s")
        .raises("backup_missing")
}

async fn last_backup(
    store: Option<&dyn Store>,
    archives: &Result<Vec<lectern_backup::BackupRecord>, String>,
) -> Check {
    let name = "backup:last";
    let Some(store) = store else {
        return unknown(name, "the database cannot be opened");
    };
    let failure: Option<Failure> = match backups::last_failure(store).await {
        Ok(f) => f,
        Err(e) => return unknown(name, &e.to_string()),
    };
    let newest = archives
        .as_ref()
        .ok()
        .and_then(|l| backups::newest_readable(l));
    match backups::failure_in_force(failure, newest) {
        Some(f) if f.action == backups::CREATE => Check::new(
            name,
            Status::Fail,
            format!("the last backup failed at {}: {}", rfc3339(f.at), f.message),
        )
        .raises("backup_failed"),
        Some(f) if f.action == backups::OFFSITE => Check::new(
            name,
            Status::Warn,
            format!(
                "a backup was made but its off-site copy failed at {}: {}",
                rfc3339(f.at),
                f.message
            ),
        )
        .raises("offsite_failed"),
        _ => Check::new(name, Status::Pass, "the last backup did not fail"),
    }
}

async fn drill(store: Option<&dyn Store>) -> Check {
    let name = "backup:drill";
    let Some(store) = store else {
        return unknown(name, "the database cannot be opened");
    };
    match schedule::last_drill(store).await {
        Err(e) => unknown(name, &e.to_string()),
        Ok(None) => Check::new(name, Status::Pass, "no restore drill has run yet"),
        Ok(Some(d)) if d.ok => Check::new(
            name,
            Status::Pass,
            format!("the last drill passed at {}", rfc3339(d.at)),
        ),
        Ok(Some(d)) => Check::new(
            name,
            Status::Fail,
            format!("the last drill failed at {}: {}", rfc3339(d.at), d.message),
        )
        .raises("drill_failed"),
    }
}

/// Free and total bytes of the filesystem holding `path` (or its nearest
/// existing parent).
pub fn disk_space(path: &Path) -> std::io::Result<(u64, u64)> {
    // A folder not made yet will be made on the nearest one that exists.
    let existing = path
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    let stats = rustix::fs::statvfs(existing)?;
    let unit = stats.f_frsize;
    Ok((stats.f_bavail * unit, stats.f_blocks * unit))
}

fn disk(name: &str, path: &Path, t: &Thresholds) -> Check {
    let (free, total) = match disk_space(path) {
        Ok(space) => space,
        Err(e) => return unknown(name, &format!("{}: {e}", path.display())),
    };
    let percent = if total == 0 {
        100.0
    } else {
        free as f64 * 100.0 / total as f64
    };
    let status = rules::by_free_share(
        percent,
        t.disk_warn_below_percent,
        t.disk_fail_below_percent,
    );
    let output = format!(
        "{} free of {} ({percent:.1} %) at {} (warns below {:.0} %, fails below {:.0} %)",
        bytes(free),
        bytes(total),
        absolute(path),
        t.disk_warn_below_percent,
        t.disk_fail_below_percent
    );
    Check::new(name, status, output)
        .observed((percent * 10.0).round() / 10.0, "percent")
        .raises("disk_low")
}
