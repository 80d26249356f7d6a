//! What the use cases announce. A use case emits one [`Event`] for each
//! thing that happened (a backup made, a sign-in refused); the audit log,
//! and later alerts and metrics, are [`Listener`]s of the same events, so
//! none of them has to know which front end the request came through.

use async_trait::async_trait;
use lectern_backup::BackupType;
use lectern_core::scan::ScanStatus;
use lectern_core::ScanId;
use lectern_store::SessionKind;
use std::sync::{Arc, RwLock};

/// Who caused an event, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in account, with the address its request came from.
    User {
        id: i64,
        username: String,
        admin: bool,
        address: Option<String>,
    },
    /// Nobody signed in (a sign-in attempt).
    Anonymous,
    /// The server itself, by its full label (`system:scheduler`, a
    /// schedule; `serve:first-start`, the first scan of a new library).
    System(&'static str),
    /// The command line, as the operating-system user running it.
    Cli(String),
}

impl Actor {
    /// How the audit log and the records name the actor: `user:NAME`,
    /// `anonymous`, the server's own label, `cli:USER`.
    pub fn label(&self) -> String {
        match self {
            Actor::User { username, .. } => format!("user:{username}"),
            Actor::Anonymous => "anonymous".to_owned(),
            Actor::System(label) => (*label).to_owned(),
            Actor::Cli(user) => format!("cli:{user}"),
        }
    }

    pub fn user_id(&self) -> Option<i64> {
        match self {
            Actor::User { id, .. } => Some(*id),
            _ => None,
        }
    }

    pub fn address(&self) -> Option<&str> {
        match self {
            Actor::User { address, .. } => address.as_deref(),
            _ => None,
        }
    }

    /// Administration is for admins, the server's own jobs and whoever runs
    /// the command line on the machine (who could open the database anyway).
    pub fn may_administer(&self) -> bool {
        match self {
            Actor::User { admin, .. } => *admin,
            Actor::Anonymous => false,
            Actor::System(_) | Actor::Cli(_) => true,
        }
    }

    /// Whether a request of this actor waits for the answer: then the front
    /// end that answers it records a failure (see [`Event::Refused`]).
    pub fn is_request(&self) -> bool {
        matches!(self, Actor::User { .. })
    }
}

/// What a scan that was started covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanStart {
    /// The whole library.
    Library,
    /// One category folder, by its name.
    Category(String),
    Course(i64),
}

/// One thing that happened, with what a listener needs to tell of it.
/// Never a secret: no password, token or passphrase is ever in an event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    SignedIn {
        user_id: i64,
        username: String,
        address: Option<String>,
        /// A web session (the login page) or an API one.
        kind: SessionKind,
    },
    SignInFailed {
        /// As typed.
        username: String,
        address: Option<String>,
        /// Refused before the password was looked at: by the limits, or
        /// because the hashing queue was full.
        limited: bool,
    },
    UserCreated {
        by: Actor,
        user_id: i64,
    },
    UserUpdated {
        by: Actor,
        user_id: i64,
        /// A new password or a disabled account ended their sessions.
        sessions_ended: bool,
        /// What changed: `role`, `password`, `disabled` or `enabled`.
        changed: Vec<&'static str>,
    },
    UserDeleted {
        by: Actor,
        user_id: i64,
    },
    /// Someone ended all their own sessions (the account page).
    SignedOutEverywhere {
        by: Actor,
        user_id: i64,
    },
    GroupCreated {
        by: Actor,
        group_id: i64,
    },
    GroupRenamed {
        by: Actor,
        group_id: i64,
    },
    GroupDeleted {
        by: Actor,
        group_id: i64,
    },
    MemberAdded {
        by: Actor,
        group_id: i64,
        user_id: i64,
        /// They were a member already: nothing changed.
        already: bool,
    },
    MemberRemoved {
        by: Actor,
        group_id: i64,
        user_id: i64,
    },
    GrantAdded {
        by: Actor,
        group_id: i64,
        grant_id: i64,
        /// The same was granted already: nothing changed.
        already: bool,
    },
    GrantRemoved {
        by: Actor,
        group_id: i64,
        grant_id: i64,
    },
    TokenCreated {
        by: Actor,
        token_id: i64,
        owner_id: i64,
    },
    TokenDeleted {
        by: Actor,
        token_id: i64,
    },
    SettingsChanged {
        by: Actor,
        /// The names of the settings written.
        names: Vec<&'static str>,
    },
    ScanStarted {
        by: Actor,
        scan_id: ScanId,
        what: ScanStart,
    },
    ScanAborted {
        by: Actor,
        /// The scan asked to stop; none when none was running.
        scan_id: Option<ScanId>,
    },
    ScanFinished {
        scan_id: ScanId,
        status: ScanStatus,
    },
    /// Missing files purged, after the safety backup it names.
    CleanupFinished {
        by: Actor,
        scan_id: ScanId,
        safety_backup_id: String,
    },
    BackupCreated {
        id: String,
        backup_type: BackupType,
        by: Actor,
    },
    /// An admin asked for a test alert to every target.
    AlertTestSent {
        by: Actor,
        targets: usize,
    },
    BackupFailed {
        backup_type: BackupType,
        by: Actor,
        /// The error with its causes.
        message: String,
    },
    BackupImported {
        id: String,
        by: Actor,
    },
    BackupDeleted {
        id: String,
        by: Actor,
    },
    /// A new archive was copied off site, or the copy failed.
    OffsiteCopy {
        backup_id: String,
        by: Actor,
        failure: Option<String>,
    },
    /// A test restore of the newest backup ran; `failure` says why it did
    /// not pass.
    DrillFinished {
        backup_id: Option<String>,
        by: Actor,
        failure: Option<String>,
    },
    RestoreStarted {
        /// The archive's own id (its manifest's).
        backup_id: String,
        by: Actor,
    },
    RestoreFinished {
        backup_id: String,
        by: Actor,
        /// The backup of the replaced data, when there was data to keep.
        safety_backup_id: Option<String>,
        schema_version: i64,
        /// Where a damaged database was moved aside.
        damaged_file: Option<std::path::PathBuf>,
    },
    RestoreFailed {
        backup_id: String,
        by: Actor,
        message: String,
    },
    /// A request or command that would change something was answered with
    /// an error (refused, malformed, naming nothing, or failed). The front
    /// end that answered it emits this (the server with the action its
    /// route is documented to perform, the command line with the same
    /// names), since only it knows the answer; use cases announce their
    /// successes themselves.
    Refused {
        by: Actor,
        /// The action (`user.create`), or `METHOD /path` for a request no
        /// route took.
        action: String,
        target: Option<String>,
        /// The HTTP status answered; `None` from the command line.
        status: Option<u16>,
        /// The error's stable code (`forbidden`, `not_found`), when the
        /// answer had one.
        code: Option<String>,
    },
}

#[async_trait]
pub trait Listener: Send + Sync {
    async fn on(&self, event: &Event);
}

/// The listeners of one running Lectern. Emitting awaits each listener in
/// turn, so the audit entry of a request is written before its answer.
#[derive(Default, Clone)]
pub struct Events {
    listeners: Arc<RwLock<Vec<Arc<dyn Listener>>>>,
}

impl Events {
    pub fn subscribe(&self, listener: Arc<dyn Listener>) {
        if let Ok(mut listeners) = self.listeners.write() {
            listeners.push(listener);
        }
    }

    pub async fn emit(&self, event: Event) {
        let listeners = match self.listeners.read() {
            Ok(listeners) => listeners.clone(),
            Err(_) => return,
        };
        for listener in listeners {
            listener.on(&event).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Seen(Mutex<Vec<Event>>);

    #[async_trait]
    impl Listener for Seen {
        async fn on(&self, event: &Event) {
            self.0.lock().unwrap().push(event.clone());
        }
    }

    #[tokio::test]
    async fn every_listener_hears_every_event_in_order() {
        let events = Events::default();
        let (a, b) = (Arc::new(Seen::default()), Arc::new(Seen::default()));
        events.subscribe(a.clone());
        events.subscribe(b.clone());
        let failed = |name: &str| Event::SignInFailed {
            username: name.into(),
            address: None,
            limited: false,
        };
        events.emit(failed("alice")).await;
        events.emit(failed("bob")).await;
        for seen in [a, b] {
            assert_eq!(
                *seen.0.lock().unwrap(),
                vec![failed("alice"), failed("bob")]
            );
        }
    }
}
