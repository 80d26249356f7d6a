//! The audit log's listener: it writes what the use cases announce.
//!
//! Sign-ins: every success is one entry, `session.login` by `user:NAME`.
//! Failures are counted, not listed: one entry per username tried and
//! address per minute, whose `detail` is `{"error": CODE, "count": N}`.
//! At most [`MAX_FAILURE_KEYS`] such entries start in one minute; failures
//! beyond them (a storm of made-up names from made-up addresses) are
//! counted together in one entry with neither username nor address. So a
//! storm grows the log by a bounded number of entries a minute, whatever
//! its size.
//!
//! Everything else an administrator (or the server's schedule, or the
//! command line) changes is one entry per event: the action (`user.create`),
//! the target by ids (`group=3 user=9`), the actor and their address, and
//! for a request the status the API answered with. A request that was
//! refused or failed arrives as [`Event::Refused`], from the front end that
//! answered it. This listener is the only writer of the log besides the
//! command line's own account commands.

use crate::events::{Actor, Event, Listener, ScanStart};
use async_trait::async_trait;
use lectern_backup::BackupType;
use lectern_store::{NewAuditEntry, Outcome, SessionKind, Store, UserId};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The action of every sign-in, through the API or the login page.
pub const LOGIN_ACTION: &str = "session.login";
/// Failed sign-ins are counted per this many milliseconds.
pub const FAILURE_PERIOD_MS: i64 = 60_000;
/// The most entries for failed sign-ins started in one period.
pub const MAX_FAILURE_KEYS: usize = 200;
/// The longest username or error code kept.
const MAX_NAME: usize = 64;
/// The longest action kept (a request no route took is named by its path).
const MAX_ACTION: usize = 220;
/// The longest target kept.
const MAX_TARGET: usize = 300;

/// One failed sign-in entry's key: its target and address.
type FailureKey = (String, Option<String>);

pub struct AuditListener {
    store: Arc<dyn Store>,
    /// The period being counted and the keys started in it.
    started: Mutex<(i64, HashSet<FailureKey>)>,
}

impl AuditListener {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            started: Mutex::new((0, HashSet::new())),
        }
    }

    async fn signed_in(
        &self,
        user_id: i64,
        username: &str,
        address: &Option<String>,
        kind: SessionKind,
    ) {
        let mut entry = NewAuditEntry::now(format!("user:{username}"), LOGIN_ACTION);
        entry.actor_id = Some(UserId(user_id));
        entry.target = Some(format!("username={}", clip(username, MAX_NAME)));
        entry.address = address.clone();
        // What the front end answers: the API its JSON, the page a redirect.
        entry.status = Some(match kind {
            SessionKind::Web => 303,
            SessionKind::Api => 200,
        });
        if let Err(e) = self.store.record_audit(&entry).await {
            tracing::error!("cannot record a sign-in in the audit log: {e}");
        }
    }

    async fn failed(&self, username: &str, address: &Option<String>, limited: bool) {
        let mut entry = NewAuditEntry::now("anonymous", LOGIN_ACTION);
        let period = entry.created_at - entry.created_at.rem_euclid(FAILURE_PERIOD_MS);
        let target = format!("username={}", clip(username, MAX_NAME));
        if self.may_start(period, &target, address) {
            entry.target = Some(target);
            entry.address = address.clone();
        }
        entry.outcome = Outcome::Failed;
        let (status, code) = if limited {
            (429, "too_many_attempts")
        } else {
            (401, "bad_credentials")
        };
        entry.status = Some(status);
        entry.detail = Some(serde_json::json!({ "error": code }).to_string());
        if let Err(e) = self.store.record_audit_counted(&entry, period).await {
            tracing::error!("cannot record a failed sign-in in the audit log: {e}");
        }
    }

    /// Whether this key has (or may start) an entry of its own this period.
    fn may_start(&self, period: i64, target: &str, address: &Option<String>) -> bool {
        let Ok(mut started) = self.started.lock() else {
            return false;
        };
        let (current, keys) = &mut *started;
        if *current != period {
            *current = period;
            keys.clear();
        }
        let key = (target.to_owned(), address.clone());
        if keys.contains(&key) {
            return true;
        }
        if keys.len() >= MAX_FAILURE_KEYS {
            return false;
        }
        keys.insert(key);
        true
    }
}

#[async_trait]
impl Listener for AuditListener {
    async fn on(&self, event: &Event) {
        match event {
            Event::SignedIn {
                user_id,
                username,
                address,
                kind,
            } => self.signed_in(*user_id, username, address, *kind).await,
            Event::SignInFailed {
                username,
                address,
                limited,
            } => self.failed(username, address, *limited).await,
            other => {
                if let Some((by, entry)) = entry_of(other) {
                    self.record(by, entry).await;
                }
            }
        }
    }
}

impl AuditListener {
    async fn record(&self, by: &Actor, what: Entry) {
        let mut entry = NewAuditEntry::now(by.label(), what.action);
        entry.actor_id = by.user_id().map(UserId);
        entry.address = by.address().map(str::to_owned);
        entry.target = what.target;
        // The answer the API gives for it; none for what no request waits on.
        entry.status = what.status.filter(|_| by.is_request());
        entry.outcome = if what.failed {
            Outcome::Failed
        } else {
            Outcome::Ok
        };
        entry.detail = what.detail;
        if let Err(e) = self.store.record_audit(&entry).await {
            tracing::error!(
                action = %entry.action,
                actor = %entry.actor,
                "cannot record an audit entry: {e}"
            );
        }
    }
}

/// One entry of the log, as an event tells it.
struct Entry {
    action: String,
    target: Option<String>,
    status: Option<u16>,
    failed: bool,
    /// What went wrong, for a failure; what changed, for some successes.
    detail: Option<String>,
}

fn done(action: &str, target: String, status: u16) -> Entry {
    Entry {
        action: action.to_owned(),
        target: (!target.is_empty()).then_some(target),
        status: Some(status),
        failed: false,
        detail: None,
    }
}

fn ended(action: &str, target: Option<String>, failure: &Option<String>) -> Entry {
    Entry {
        action: action.to_owned(),
        target,
        status: None,
        failed: failure.is_some(),
        detail: failure.clone(),
    }
}

/// 201 for a new record, 200 when it was there already.
fn created(already: bool) -> u16 {
    if already {
        200
    } else {
        201
    }
}

/// The entry an event makes, and who it is by; `None` for events the log
/// does not keep (a scan's end is in the scan history; a safety backup is
/// part of the restore or cleanup that took it).
fn entry_of(event: &Event) -> Option<(&Actor, Entry)> {
    let entry = match event {
        Event::UserCreated { by, user_id } => {
            (by, done("user.create", format!("user={user_id}"), 201))
        }
        Event::UserUpdated {
            by,
            user_id,
            changed,
            ..
        } => {
            let mut entry = done("user.update", format!("user={user_id}"), 200);
            entry.detail = Some(serde_json::json!({ "changed": changed }).to_string());
            (by, entry)
        }
        Event::UserDeleted { by, user_id } => {
            (by, done("user.delete", format!("user={user_id}"), 204))
        }
        Event::SignedOutEverywhere { by, user_id } => (
            by,
            done("auth.logout_everywhere", format!("user={user_id}"), 200),
        ),
        Event::GroupCreated { by, group_id } => {
            (by, done("group.create", format!("group={group_id}"), 201))
        }
        Event::GroupRenamed { by, group_id } => {
            (by, done("group.rename", format!("group={group_id}"), 200))
        }
        Event::GroupDeleted { by, group_id } => {
            (by, done("group.delete", format!("group={group_id}"), 204))
        }
        Event::MemberAdded {
            by,
            group_id,
            user_id,
            already,
        } => (
            by,
            done(
                "group.member.add",
                format!("group={group_id} user={user_id}"),
                created(*already),
            ),
        ),
        Event::MemberRemoved {
            by,
            group_id,
            user_id,
        } => (
            by,
            done(
                "group.member.remove",
                format!("group={group_id} user={user_id}"),
                204,
            ),
        ),
        Event::GrantAdded {
            by,
            group_id,
            grant_id,
            already,
        } => (
            by,
            done(
                "group.grant.add",
                format!("group={group_id} grant={grant_id}"),
                created(*already),
            ),
        ),
        Event::GrantRemoved {
            by,
            group_id,
            grant_id,
        } => (
            by,
            done(
                "group.grant.remove",
                format!("group={group_id} grant={grant_id}"),
                204,
            ),
        ),
        Event::TokenCreated { by, token_id, .. } => {
            (by, done("token.create", format!("token={token_id}"), 201))
        }
        Event::TokenDeleted { by, token_id } => {
            (by, done("token.delete", format!("token={token_id}"), 204))
        }
        Event::SettingsChanged { by, .. } => (by, done("settings.update", String::new(), 200)),
        Event::AlertTestSent { by, targets } => {
            let mut entry = done("alerts.test", String::new(), 202);
            entry.detail = Some(serde_json::json!({ "targets": targets }).to_string());
            (by, entry)
        }
        Event::ScanStarted { by, scan_id, what } => match what {
            ScanStart::Library => (by, done("scan.start", format!("scan={scan_id}"), 202)),
            ScanStart::Category(name) => (
                by,
                done("scan.start", format!("category={name} scan={scan_id}"), 202),
            ),
            ScanStart::Course(course) => (
                by,
                done(
                    "scan.rescan",
                    format!("course={course} scan={scan_id}"),
                    202,
                ),
            ),
        },
        Event::CleanupFinished { by, scan_id, .. } => {
            (by, done("cleanup", format!("scan={scan_id}"), 200))
        }
        Event::ScanAborted { by, scan_id } => {
            let target = scan_id.map(|id| format!("scan={id}")).unwrap_or_default();
            (by, done("scan.abort", target, 200))
        }
        Event::BackupCreated {
            id,
            backup_type,
            by,
        } => {
            if *backup_type == BackupType::Safety {
                return None;
            }
            (by, done("backup.create", format!("backup={id}"), 201))
        }
        // A failure someone asked for is told by the front end that
        // answered them; the schedule's own, here.
        Event::BackupFailed { by, message, .. } if matches!(by, Actor::System(_)) => {
            (by, ended("backup.create", None, &Some(message.clone())))
        }
        Event::BackupImported { id, by } => {
            (by, done("backup.upload", format!("backup={id}"), 201))
        }
        Event::BackupDeleted { id, by } => (by, done("backup.delete", format!("backup={id}"), 204)),
        Event::OffsiteCopy {
            backup_id,
            by,
            failure,
        } => (
            by,
            ended(
                "backup.offsite",
                Some(format!("backup={backup_id}")),
                failure,
            ),
        ),
        Event::DrillFinished {
            backup_id,
            by,
            failure,
        } => {
            let target = backup_id.as_ref().map(|id| format!("backup={id}"));
            (by, ended("backup.drill", target, failure))
        }
        Event::RestoreFinished {
            backup_id,
            by,
            safety_backup_id,
            schema_version,
            damaged_file,
        } => {
            let mut entry = done("backup.restore", format!("backup={backup_id}"), 200);
            let detail = serde_json::json!({
                "safety_backup": safety_backup_id,
                "schema_version": schema_version,
                "damaged_file": damaged_file,
            });
            entry.detail = Some(detail.to_string());
            (by, entry)
        }
        Event::Refused {
            by,
            action,
            target,
            status,
            code,
        } => (
            by,
            Entry {
                action: clip(action, MAX_ACTION),
                target: target.as_deref().map(|t| clip(t, MAX_TARGET)),
                status: *status,
                failed: true,
                detail: code
                    .as_deref()
                    .map(|code| serde_json::json!({ "error": clip(code, MAX_NAME) }).to_string()),
            },
        ),
        _ => return None,
    };
    Some(entry)
}

/// At most `max` characters of `text`, with `…` when it was cut: what
/// the log keeps of anything a caller chose (a name, a path).
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The log, newest first, a page at a time (admins only).
pub async fn entries(
    app: &crate::App,
    by: &Actor,
    query: &lectern_store::AuditQuery,
) -> Result<lectern_store::AuditPage, crate::AppError> {
    crate::access::require_admin(by)?;
    Ok(app.store.audit(query).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Events;
    use lectern_store::AuditQuery;

    async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        (lectern_store::open(&url).await.unwrap(), dir)
    }

    fn failed(name: &str, address: &str) -> Event {
        Event::SignInFailed {
            username: name.into(),
            address: Some(address.into()),
            limited: false,
        }
    }

    #[test]
    fn clip_cuts_long_text_on_a_character_boundary() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("ünïcødé", 3), "ünï…");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_storm_of_failures_grows_the_log_by_a_bounded_number_of_entries() {
        let (store, _dir) = store().await;
        let events = Events::default();
        events.subscribe(Arc::new(AuditListener::new(store.clone())));
        for _ in 0..50 {
            events.emit(failed("admin", "192.0.2.1")).await;
        }
        for i in 0..(MAX_FAILURE_KEYS + 300) {
            events
                .emit(failed(
                    &format!("made-up-{i}"),
                    &format!("10.0.{}.{}", i / 256, i % 256),
                ))
                .await;
        }
        let all = store.audit(&AuditQuery::default()).await.unwrap().entries;
        // A minute may end during the loop: then the next one starts over.
        assert!(
            all.len() <= 2 * (MAX_FAILURE_KEYS + 1),
            "{} entries",
            all.len()
        );
        let count = |e: &lectern_store::AuditEntry| -> u64 {
            let detail: serde_json::Value =
                serde_json::from_str(e.detail.as_deref().unwrap()).unwrap();
            detail["count"].as_u64().unwrap()
        };
        let total: u64 = all.iter().map(count).sum();
        assert_eq!(
            total,
            50 + MAX_FAILURE_KEYS as u64 + 300,
            "every failure counted"
        );
        let admin: Vec<_> = all
            .iter()
            .filter(|e| e.target.as_deref() == Some("username=admin"))
            .collect();
        assert!(admin.len() <= 2);
        assert_eq!(admin.iter().map(|e| count(e)).sum::<u64>(), 50);
        assert!(admin
            .iter()
            .all(|e| e.address.as_deref() == Some("192.0.2.1")));
        assert!(all
            .iter()
            .any(|e| e.target.is_none() && e.address.is_none() && count(e) > 1));
        assert!(all
            .iter()
            .all(|e| e.actor == "anonymous" && e.outcome == Outcome::Failed));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_success_is_one_entry_by_the_user_and_a_refusal_says_429() {
        let (store, _dir) = store().await;
        let listener = AuditListener::new(store.clone());
        let signed_in = Event::SignedIn {
            user_id: 7,
            username: "alice".into(),
            address: Some("192.0.2.1".into()),
            kind: SessionKind::Web,
        };
        listener.on(&signed_in).await;
        let refused = Event::SignInFailed {
            username: "bob".into(),
            address: None,
            limited: true,
        };
        listener.on(&refused).await;
        let all = store.audit(&AuditQuery::default()).await.unwrap().entries;
        assert_eq!(all.len(), 2);
        let (bob, alice) = (&all[0], &all[1]);
        assert_eq!(
            (
                alice.actor.as_str(),
                alice.actor_id,
                alice.status,
                alice.outcome
            ),
            ("user:alice", Some(UserId(7)), Some(303), Outcome::Ok)
        );
        assert_eq!(alice.target.as_deref(), Some("username=alice"));
        assert_eq!(alice.address.as_deref(), Some("192.0.2.1"));
        assert_eq!(bob.status, Some(429));
        assert_eq!(
            bob.detail.as_deref(),
            Some(r#"{"error":"too_many_attempts","count":1}"#)
        );
    }
}
