//! The audit log: who did what and when, for every admin action and every
//! sign-in. Entries are only ever added; they name their actor in words
//! (`user:alice`, `cli:root`) so they still read after the account is gone.

use crate::accounts::UserId;
use serde::Serialize;

/// The most entries one query returns.
pub const MAX_AUDIT_PAGE: u32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Failed,
}

lectern_core::text_enum!(Outcome { Ok => "ok", Failed => "failed" });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// Milliseconds since the epoch; [`NewAuditEntry::now`] sets the current
    /// time, a restore that carries entries over keeps theirs.
    pub created_at: i64,
    pub actor: String,
    pub actor_id: Option<UserId>,
    pub action: String,
    pub target: Option<String>,
    /// JSON text; never a password, a token or a request body.
    pub detail: Option<String>,
    pub outcome: Outcome,
    /// The HTTP status of the answer, for requests.
    pub status: Option<u16>,
    pub address: Option<String>,
}

impl NewAuditEntry {
    /// A successful action by `actor`, now, with nothing else known yet.
    pub fn now(actor: impl Into<String>, action: impl Into<String>) -> Self {
        Self {
            created_at: crate::now_ms(),
            actor: actor.into(),
            actor_id: None,
            action: action.into(),
            target: None,
            detail: None,
            outcome: Outcome::Ok,
            status: None,
            address: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub created_at: i64,
    pub actor: String,
    pub actor_id: Option<UserId>,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub outcome: Outcome,
    pub status: Option<u16>,
    pub address: Option<String>,
}

/// Which entries to list, newest first. Every filter given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Entries made at or after this time (ms).
    pub since: Option<i64>,
    /// Entries made before this time (ms).
    pub until: Option<i64>,
    /// Exactly this actor (`user:alice`).
    pub actor: Option<String>,
    /// This action or the actions under it: `group` finds `group.create`
    /// and `group.grant.add`, but not `groups`.
    pub action: Option<String>,
    /// At most this many, capped at [`MAX_AUDIT_PAGE`]; 0 means the cap.
    pub limit: u32,
    /// Only entries older than this one: the previous page's `next_before`.
    pub before_id: Option<i64>,
}

impl AuditQuery {
    pub fn page_size(&self) -> u32 {
        match self.limit {
            0 => MAX_AUDIT_PAGE,
            n => n.min(MAX_AUDIT_PAGE),
        }
    }
}

/// One page of entries, newest first, and where the next page starts
/// (`None` when there are no older entries matching).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_before: Option<i64>,
}
