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

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in account.
    User { id: i64, username: String },
    /// Nobody signed in (a sign-in attempt).
    Anonymous,
    /// The server itself (a schedule, a drill).
    System(&'static str),
    /// The command line, as the operating-system user running it.
    Cli(String),
}

impl Actor {
    /// How the audit log names the actor: `user:NAME`, `anonymous`,
    /// `system:WHAT`, `cli:USER`.
    pub fn label(&self) -> String {
        match self {
            Actor::User { username, .. } => format!("user:{username}"),
            Actor::Anonymous => "anonymous".to_owned(),
            Actor::System(what) => format!("system:{what}"),
            Actor::Cli(user) => format!("cli:{user}"),
        }
    }

    pub fn user_id(&self) -> Option<i64> {
        match self {
            Actor::User { id, .. } => Some(*id),
            _ => None,
        }
    }
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
    ScanFinished {
        scan_id: ScanId,
        status: ScanStatus,
    },
    BackupCreated {
        id: String,
        backup_type: BackupType,
        by: String,
    },
    BackupFailed {
        backup_type: BackupType,
        by: String,
        /// The error with its causes.
        message: String,
    },
    RestoreStarted {
        /// The archive's own id (its manifest's).
        backup_id: String,
        by: String,
    },
    RestoreFinished {
        backup_id: String,
        by: String,
        /// The backup of the replaced data, when there was data to keep.
        safety_backup_id: Option<String>,
        schema_version: i64,
    },
    RestoreFailed {
        backup_id: String,
        by: String,
        message: String,
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
