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

use crate::events::{Event, Listener};
use async_trait::async_trait;
use lectern_store::{NewAuditEntry, Outcome, SessionKind, Store, UserId};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The action of every sign-in, through the API or the login page.
pub const LOGIN_ACTION: &str = "session.login";
/// Failed sign-ins are counted per this many milliseconds.
pub const FAILURE_PERIOD_MS: i64 = 60_000;
/// The most entries for failed sign-ins started in one period.
pub const MAX_FAILURE_KEYS: usize = 200;
/// The longest username kept in a target.
const MAX_NAME: usize = 64;

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
    /// Other events are not (yet) the audit log's: they pass.
    async fn on(&self, event: &Event) {
        if let Event::SignedIn {
            user_id,
            username,
            address,
            kind,
        } = event
        {
            self.signed_in(*user_id, username, address, *kind).await;
        } else if let Event::SignInFailed {
            username,
            address,
            limited,
        } = event
        {
            self.failed(username, address, *limited).await;
        }
    }
}

/// At most `max` characters of `text`.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
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
