//! Alerts (SPEC §6): the health checks' findings and a few events (a
//! restore running) become conditions; each fires once when it starts, is
//! reminded of at most every repeat interval, and resolves once when it
//! clears (`lectern_core::alerting`). Every notice goes to every configured
//! target through an outbox that a background task delivers, retrying
//! with backoff, so a request or a scan never waits for a mail server.
//!
//! The state (what fires since when, the outbox, what was sent and what
//! failed) is a file in `DATA/monitor`, outside the database: it survives
//! a restart, and a restore neither switches alerts off nor sends them again.

use crate::access::require_admin;
use crate::context::App;
use crate::error::AppError;
use crate::events::{Actor, Event, Listener};
use crate::health::Report;
use crate::monitor::write_atomically;
use async_trait::async_trait;
use lectern_alerts::{Alert, Notice, SendError, Sender};
/// The targets, as the configuration gives them.
pub use lectern_alerts::{Format, Security, Smtp, Target, Webhook};
use lectern_core::alerting::{self, Active, Firing};
use lectern_core::health::Status;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// One kind of alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Condition {
    pub name: &'static str,
    pub title: &'static str,
}

/// Every alert Lectern sends, in the panel's order.
pub const CONDITIONS: &[Condition] = &[
    Condition {
        name: "backup_missing",
        title: "No recent backup",
    },
    Condition {
        name: "backup_failed",
        title: "A backup failed",
    },
    Condition {
        name: "offsite_failed",
        title: "An off-site copy failed",
    },
    Condition {
        name: "drill_failed",
        title: "A restore drill failed",
    },
    Condition {
        name: "restore",
        title: "A restore is in progress",
    },
    Condition {
        name: "scan_errors",
        title: "The last scan had many errors",
    },
    Condition {
        name: "root_unreachable",
        title: "The library folder cannot be read",
    },
    Condition {
        name: "disk_low",
        title: "Disk space is low",
    },
    Condition {
        name: "database_growth",
        title: "The database is growing fast",
    },
    Condition {
        name: "database_unreachable",
        title: "The database cannot be used",
    },
    Condition {
        name: "watcher_failed",
        title: "Watching the library failed",
    },
];

pub fn condition(name: &str) -> Option<&'static Condition> {
    CONDITIONS.iter().find(|c| c.name == name)
}

/// Where alerts go and how often (`[alerts]` in the configuration).
#[derive(Debug, Clone)]
pub struct AlertOptions {
    pub targets: Vec<Target>,
    /// A lasting condition is reminded of this often; `None`: never.
    pub repeat: Option<Duration>,
    /// The wait after a failed delivery, doubling up to `retry_most`.
    pub retry_first: Duration,
    pub retry_most: Duration,
    /// Each delivery attempt gives up after this long.
    pub timeout: Duration,
    /// How the messages name this Lectern.
    pub site: String,
    /// The public address, for a link to the health page.
    pub public_url: Option<String>,
}

impl Default for AlertOptions {
    fn default() -> Self {
        AlertOptions {
            targets: Vec::new(),
            repeat: Some(Duration::from_secs(4 * 3600)),
            retry_first: Duration::from_secs(30),
            retry_most: Duration::from_secs(3600),
            timeout: Duration::from_secs(15),
            site: hostname::get()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "lectern".into()),
            public_url: None,
        }
    }
}

/// A notice waiting to reach one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub id: u64,
    /// The target's label (its secrets are not kept here).
    pub target: String,
    pub alert: Alert,
    pub attempts: u32,
    pub next_at: i64,
    pub last_error: Option<String>,
}

/// A notice that reached its target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivered {
    pub at: i64,
    pub target: String,
    pub alert: Alert,
    pub attempts: u32,
}

/// One failed attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryFailure {
    pub at: i64,
    pub target: String,
    pub condition: String,
    pub notice: Notice,
    pub attempt: u32,
    pub error: String,
}

/// How many delivered notices and failures are kept to show.
const KEPT: usize = 50;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Book {
    firing: BTreeMap<String, Firing>,
    /// What the last health report found.
    #[serde(default)]
    found: BTreeMap<String, Active>,
    /// The check each found condition came from.
    #[serde(default)]
    sources: BTreeMap<String, String>,
    /// What events raised (a restore running).
    #[serde(default)]
    raised: BTreeMap<String, Active>,
    /// The words a resolved notice says instead of the firing summary.
    #[serde(default)]
    resolutions: BTreeMap<String, String>,
    #[serde(default)]
    outbox: Vec<Pending>,
    #[serde(default)]
    sent: Vec<Delivered>,
    #[serde(default)]
    failures: Vec<DeliveryFailure>,
    #[serde(default)]
    next_id: u64,
    /// Switched off in the panel: the settings' copy as last seen, kept so
    /// that a change before the first check after a restart honours it.
    #[serde(default)]
    off: BTreeSet<String>,
}

/// What the panel shows.
#[derive(Debug, Clone)]
pub struct AlertStatus {
    pub targets: Vec<String>,
    pub firing: Vec<(Condition, Firing)>,
    pub outbox: Vec<Pending>,
    /// Newest first.
    pub sent: Vec<Delivered>,
    pub failures: Vec<DeliveryFailure>,
}

pub struct Alerts {
    options: AlertOptions,
    book: Mutex<Book>,
    /// `None`: kept in memory only (a Lectern built in code, the tests').
    file: Option<PathBuf>,
    wake: Notify,
    sender: Option<Sender>,
    /// What the file holds, so an unchanged state is not written again.
    saved: Mutex<Vec<u8>>,
}

impl Alerts {
    /// Over the state kept in `file`, if any; a missing or unreadable file
    /// starts empty (the reason is logged).
    pub fn new(options: AlertOptions, file: Option<PathBuf>) -> Alerts {
        let book = file.as_ref().map(load).unwrap_or_default();
        let sender = match Sender::new(options.timeout) {
            Ok(sender) => Some(sender),
            Err(e) => {
                tracing::error!("alerts cannot be sent: {e}");
                None
            }
        };
        Alerts {
            options,
            book: Mutex::new(book),
            file,
            wake: Notify::new(),
            sender,
            saved: Mutex::new(Vec::new()),
        }
    }

    /// Takes a new health report's conditions, with `off` switched off
    /// (`None`: the settings could not be read, the last ones stand). A
    /// check that could not decide keeps what it found before.
    pub fn observe(&self, report: &Report, off: Option<&BTreeSet<String>>) {
        let (mut found, mut sources) = conditions_of(report);
        self.change(|book| {
            for check in report.checks.iter().filter(|c| c.undecided) {
                for (condition, source) in &book.sources {
                    if source == &check.name {
                        if let Some(active) = book.found.get(condition) {
                            found.insert(condition.clone(), active.clone());
                            sources.insert(condition.clone(), source.clone());
                        }
                    }
                }
            }
            book.found = found;
            book.sources = sources;
            if let Some(off) = off {
                book.off.clone_from(off);
            }
        });
    }

    /// A condition an event starts (a restore).
    pub fn raise(&self, condition: &str, severity: Status, summary: String) {
        let active = Active {
            severity: severity.as_str().to_owned(),
            summary,
        };
        self.change(|book| {
            book.raised.insert(condition.to_owned(), active);
        });
    }

    /// Ends a condition an event started; `resolution` is what its
    /// resolved notice says.
    pub fn clear(&self, condition: &str, resolution: String) {
        self.change(|book| {
            if book.raised.remove(condition).is_some() {
                book.resolutions.insert(condition.to_owned(), resolution);
            }
        });
    }

    pub fn status(&self) -> AlertStatus {
        let book = self.lock();
        let firing = book
            .firing
            .iter()
            .filter_map(|(name, f)| condition(name).map(|c| (*c, f.clone())))
            .collect();
        AlertStatus {
            targets: self.options.targets.iter().map(Target::label).collect(),
            firing,
            outbox: book.outbox.clone(),
            sent: book.sent.iter().rev().cloned().collect(),
            failures: book.failures.iter().rev().cloned().collect(),
        }
    }

    pub fn has_targets(&self) -> bool {
        !self.options.targets.is_empty()
    }

    /// Queues a test notice to every target; how many.
    fn queue_test(&self, by: &Actor) -> usize {
        let now = lectern_store::now_ms();
        let firing = Firing {
            since: now,
            last_sent: now,
            severity: "warn".into(),
            summary: format!(
                "A test alert, sent by {}: if you read this, alerts reach you.",
                by.label()
            ),
        };
        let due = alerting::Due {
            condition: "test".into(),
            notice: Notice::Test,
            firing,
        };
        self.change(|book| self.enqueue(book, &due, "A test alert", now));
        self.options.targets.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        // A panic while holding it left plain data: go on with it.
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the book, works out the notices due, keeps it, and wakes
    /// the delivery when there is something to send.
    fn change(&self, edit: impl FnOnce(&mut Book)) {
        let mut book = self.lock();
        edit(&mut book);
        let now = lectern_store::now_ms();
        let mut active = book.found.clone();
        active.extend(book.raised.clone());
        let off = book.off.clone();
        active.retain(|name, _| !off.contains(name));
        // Switched off while firing: forgotten without a notice.
        book.firing.retain(|name, _| !off.contains(name));
        let repeat = self.options.repeat.map(|d| d.as_millis() as i64);
        let due = alerting::step(&mut book.firing, &active, now, repeat);
        for mut notice in due {
            if notice.notice == Notice::Resolved {
                if let Some(words) = book.resolutions.remove(&notice.condition) {
                    notice.firing.summary = words;
                }
            }
            let title = condition(&notice.condition).map_or("An alert", |c| c.title);
            self.enqueue(&mut book, &notice, title, now);
        }
        self.save(&book);
        drop(book);
        self.wake.notify_one();
    }

    fn enqueue(&self, book: &mut Book, due: &alerting::Due, title: &str, now: i64) {
        for target in &self.options.targets {
            book.next_id += 1;
            let alert = Alert {
                condition: due.condition.clone(),
                title: title.to_owned(),
                notice: due.notice,
                severity: due.firing.severity.clone(),
                summary: due.firing.summary.clone(),
                since: due.firing.since,
                at: now,
                site: self.options.site.clone(),
                link: self
                    .options
                    .public_url
                    .as_ref()
                    .map(|u| format!("{}/admin/health", u.trim_end_matches('/'))),
            };
            book.outbox.push(Pending {
                id: book.next_id,
                target: target.label(),
                alert,
                attempts: 0,
                next_at: now,
                last_error: None,
            });
        }
    }

    /// Writes the state when it changed since the last write.
    fn save(&self, book: &Book) {
        let Some(file) = &self.file else { return };
        let json = match serde_json::to_vec_pretty(book) {
            Ok(json) => json,
            Err(e) => return tracing::error!("cannot write the alerts' state: {e}"),
        };
        let mut saved = self.saved.lock().unwrap_or_else(|e| e.into_inner());
        if *saved == json {
            return;
        }
        match write_atomically(file, &json) {
            Ok(()) => *saved = json,
            Err(e) => tracing::error!("cannot keep the alerts' state in {}: {e}", file.display()),
        }
    }

    /// Delivers the outbox until the process ends: each notice due is
    /// sent, a failure waits longer each time and is never dropped.
    pub async fn run(self: Arc<Self>) {
        loop {
            let woken = self.wake.notified();
            self.deliver_due().await;
            let wait = self.next_wait();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = woken => {}
            }
        }
    }

    fn next_wait(&self) -> Duration {
        let now = lectern_store::now_ms();
        // The queue's heads decide; the notices behind them wait their turn.
        let next = self.heads().iter().map(|p| p.next_at).min();
        match next {
            Some(at) => Duration::from_millis((at - now).clamp(0, 3_600_000) as u64),
            None => Duration::from_secs(3600),
        }
    }

    /// The oldest waiting notice of each target. One at a time per target,
    /// oldest first: a resolved notice never overtakes the firing one
    /// still being retried.
    fn heads(&self) -> Vec<Pending> {
        let mut heads: BTreeMap<String, Pending> = BTreeMap::new();
        for pending in &self.lock().outbox {
            heads
                .entry(pending.target.clone())
                .or_insert_with(|| pending.clone());
        }
        heads.into_values().collect()
    }

    async fn deliver_due(&self) {
        let now = lectern_store::now_ms();
        let mut due = self.heads();
        due.retain(|p| p.next_at <= now);
        if due.is_empty() {
            return;
        }
        let attempts = due.iter().map(|p| self.attempt(p));
        let results = futures_util::future::join_all(attempts).await;
        let mut book = self.lock();
        for (pending, result) in due.into_iter().zip(results) {
            self.settle(&mut book, pending, result);
        }
        self.save(&book);
    }

    async fn attempt(&self, pending: &Pending) -> Result<(), SendError> {
        let target = self
            .options
            .targets
            .iter()
            .find(|t| t.label() == pending.target);
        match (target, &self.sender) {
            (Some(target), Some(sender)) => sender.send(target, &pending.alert).await,
            (None, _) => Err(SendError("no longer configured".into())),
            (_, None) => Err(SendError("the sender could not start".into())),
        }
    }

    fn settle(&self, book: &mut Book, pending: Pending, result: Result<(), SendError>) {
        let now = lectern_store::now_ms();
        let gone = !self
            .options
            .targets
            .iter()
            .any(|t| t.label() == pending.target);
        let Some(index) = book.outbox.iter().position(|p| p.id == pending.id) else {
            return;
        };
        let attempt = pending.attempts + 1;
        match result {
            Ok(()) => {
                book.outbox.remove(index);
                push_kept(
                    &mut book.sent,
                    Delivered {
                        at: now,
                        target: pending.target,
                        alert: pending.alert,
                        attempts: attempt,
                    },
                );
            }
            Err(SendError(error)) => {
                tracing::warn!(
                    "alert to {} not delivered (attempt {attempt}): {error}",
                    pending.target
                );
                push_kept(
                    &mut book.failures,
                    DeliveryFailure {
                        at: now,
                        target: pending.target.clone(),
                        condition: pending.alert.condition.clone(),
                        notice: pending.alert.notice,
                        attempt,
                        error: error.clone(),
                    },
                );
                if gone {
                    // Its target left the configuration: nowhere to send it.
                    book.outbox.remove(index);
                    return;
                }
                let first = self.options.retry_first.as_millis() as i64;
                let most = self.options.retry_most.as_millis() as i64;
                let entry = &mut book.outbox[index];
                entry.attempts = attempt;
                entry.last_error = Some(error);
                entry.next_at = now + alerting::backoff(attempt, first, most);
            }
        }
    }
}

fn push_kept<T>(list: &mut Vec<T>, item: T) {
    list.push(item);
    if list.len() > KEPT {
        list.remove(0);
    }
}

fn load(file: &PathBuf) -> Book {
    match std::fs::read(file) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::error!(
                "the alerts' state in {} is unreadable, starting anew: {e}",
                file.display()
            );
            Book::default()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Book::default(),
        Err(e) => {
            tracing::error!("cannot read the alerts' state in {}: {e}", file.display());
            Book::default()
        }
    }
}

/// The conditions a report raises, and the check each came from: each
/// check's, several of one condition (both disks) joined, the worst
/// severity kept.
pub fn conditions_of(report: &Report) -> (BTreeMap<String, Active>, BTreeMap<String, String>) {
    let mut found: BTreeMap<String, Active> = BTreeMap::new();
    let mut sources = BTreeMap::new();
    for check in &report.checks {
        let Some(name) = &check.condition else {
            continue;
        };
        sources.insert(name.clone(), check.name.clone());
        let severity = check.status.as_str().to_owned();
        match found.get_mut(name) {
            Some(active) => {
                active.summary = format!("{}; {}", active.summary, check.output);
                if severity == "fail" {
                    active.severity = severity;
                }
            }
            None => {
                let active = Active {
                    severity,
                    summary: check.output.clone(),
                };
                found.insert(name.clone(), active);
            }
        }
    }
    (found, sources)
}

/// Queues a test alert to every configured target (the panel's button).
pub async fn send_test(app: &App, by: &Actor) -> Result<usize, AppError> {
    require_admin(by)?;
    if !app.alerts.has_targets() {
        return Err(AppError::Invalid(
            "no alert target is configured: set [alerts.smtp] or [[alerts.webhooks]] in \
             lectern.toml (docs/monitoring.md)"
                .into(),
        ));
    }
    let targets = app.alerts.queue_test(by);
    let event = Event::AlertTestSent {
        by: by.clone(),
        targets,
    };
    app.events.emit(event).await;
    Ok(targets)
}

/// What the panel shows of the alerts, for an admin.
pub fn status(app: &App, by: &Actor) -> Result<AlertStatus, AppError> {
    require_admin(by)?;
    Ok(app.alerts.status())
}

/// Raises and clears the conditions events start: a restore running.
pub struct AlertListener(pub Arc<Alerts>);

#[async_trait]
impl Listener for AlertListener {
    async fn on(&self, event: &Event) {
        match event {
            Event::RestoreStarted { backup_id, by } => self.0.raise(
                "restore",
                Status::Warn,
                format!("{} started restoring backup {backup_id}: Lectern is in maintenance until it ends", by.label()),
            ),
            Event::RestoreFinished { backup_id, safety_backup_id, .. } => {
                let safety = safety_backup_id
                    .as_ref()
                    .map(|id| format!("; the data it replaced is in backup {id}"))
                    .unwrap_or_default();
                self.0.clear("restore", format!("the restore of backup {backup_id} finished{safety}"));
            }
            Event::RestoreFailed { backup_id, message, .. } => self.0.clear(
                "restore",
                format!("the restore of backup {backup_id} failed, nothing was changed: {message}"),
            ),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Check;

    fn report(failing: bool) -> Report {
        let status = if failing { Status::Fail } else { Status::Pass };
        let check = Check {
            name: "backup:last".into(),
            status,
            time: 0,
            observed_value: None,
            observed_unit: None,
            output: "the disk is full".into(),
            condition: failing.then(|| "backup_failed".into()),
            undecided: false,
        };
        Report {
            status,
            time: 0,
            checks: vec![check],
        }
    }

    #[test]
    fn firing_state_survives_a_restart_and_clears_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("alerts.json");
        let off = BTreeSet::new();
        let alerts = Alerts::new(AlertOptions::default(), Some(file.clone()));
        alerts.observe(&report(true), Some(&off));
        let since = alerts.status().firing[0].1.since;
        drop(alerts);

        let again = Alerts::new(AlertOptions::default(), Some(file.clone()));
        again.observe(&report(true), Some(&off));
        let firing = again.status().firing;
        assert_eq!(firing.len(), 1);
        assert_eq!(firing[0].0.name, "backup_failed");
        assert_eq!(firing[0].1.since, since, "the same episode, not a new one");
        again.observe(&report(false), Some(&off));
        assert!(again.status().firing.is_empty());
    }

    #[test]
    fn a_check_that_cannot_decide_keeps_its_alert_as_it_was() {
        let alerts = Alerts::new(AlertOptions::default(), None);
        alerts.observe(&report(true), None);
        let mut undecided = report(false);
        undecided.checks[0].status = Status::Warn;
        undecided.checks[0].undecided = true;
        alerts.observe(&undecided, None);
        let firing = alerts.status().firing;
        assert_eq!(firing.len(), 1, "neither resolved nor raised anew");
        alerts.observe(&report(false), None);
        assert!(alerts.status().firing.is_empty());
    }

    #[tokio::test]
    async fn a_resolved_notice_waits_behind_the_firing_one_for_its_target() {
        let hook = Webhook {
            // Nothing listens on port 1: every attempt fails.
            url: "http://127.0.0.1:1/hook".into(),
            format: Format::Json,
            name: None,
        };
        let options = AlertOptions {
            targets: vec![Target::Webhook(hook)],
            ..AlertOptions::default()
        };
        let alerts = Alerts::new(options, None);
        alerts.observe(&report(true), None);
        alerts.observe(&report(false), None);
        alerts.deliver_due().await;
        let status = alerts.status();
        let notices: Vec<_> = status
            .outbox
            .iter()
            .map(|p| (p.alert.notice, p.attempts))
            .collect();
        assert_eq!(notices, [(Notice::Firing, 1), (Notice::Resolved, 0)]);
        assert_eq!(status.failures.len(), 1);
    }

    #[test]
    fn an_alert_switched_off_stops_firing() {
        let alerts = Alerts::new(AlertOptions::default(), None);
        alerts.observe(&report(true), Some(&BTreeSet::new()));
        let off = BTreeSet::from(["backup_failed".to_owned()]);
        alerts.observe(&report(true), Some(&off));
        assert!(alerts.status().firing.is_empty());
    }
}
