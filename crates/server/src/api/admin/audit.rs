//! `GET /api/admin/audit`: who did what and when, newest first, a page at
//! a time. The entries are written by [`crate::audit`].

use crate::api::openapi::AdminRead;
use crate::api::views::Outcome;
use crate::auth::Admin;
use crate::error::{ApiError, ErrorEnvelope, QueryParams};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use lectern_store::{AuditEntry, AuditQuery, UserId, MAX_AUDIT_PAGE};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const DEFAULT_LIMIT: u32 = 100;
/// Longer than any actor or action Lectern writes.
const MAX_FILTER: usize = 200;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Entries at or after this time: RFC 3339 or milliseconds since 1970.
    since: Option<String>,
    /// Entries at or before this time: RFC 3339 or milliseconds since 1970.
    until: Option<String>,
    /// Only this actor (`user:alice`); blank filters nothing. At most 200
    /// characters, no control characters.
    #[param(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    actor: Option<String>,
    /// Only this action; blank filters nothing. At most 200 characters, no
    /// control characters.
    #[param(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    action: Option<String>,
    /// Entries per page, 1 to 1000; 100 when left out.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Entries older than this one: the `next_before` of the page before.
    #[param(minimum = 1)]
    before: Option<i64>,
}

/// One entry as the API shows it: `detail` as the JSON it holds.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EntryView {
    id: i64,
    created_at: i64,
    actor: String,
    #[schema(value_type = Option<i64>)]
    actor_id: Option<UserId>,
    action: String,
    target: Option<String>,
    detail: Option<Value>,
    outcome: Outcome,
    status: Option<u16>,
    address: Option<String>,
}

impl From<AuditEntry> for EntryView {
    fn from(e: AuditEntry) -> Self {
        // Written by Lectern as JSON; text that is not is shown as text.
        let detail = e
            .detail
            .map(|text| serde_json::from_str(&text).unwrap_or(Value::String(text)));
        EntryView {
            id: e.id,
            created_at: e.created_at,
            actor: e.actor,
            actor_id: e.actor_id,
            action: e.action,
            target: e.target,
            detail,
            outcome: e.outcome.into(),
            status: e.status,
            address: e.address,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditList {
    entries: Vec<EntryView>,
    /// Pass as `before` for the next (older) page; null on the last.
    next_before: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/admin/audit",
    tag = "admin",
    operation_id = "audit_log",
    params(AuditParams),
    responses(
        (status = 200, description = "Entries newest first, a page at a time", body = AuditList),
        (status = 400, description = "A bad time, filter, limit or `before`, `since` after `until`, or an unknown parameter", body = ErrorEnvelope),
        AdminRead,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    Admin(by): Admin,
    QueryParams(params): QueryParams<AuditParams>,
) -> Result<Json<AuditList>, ApiError> {
    let query = audit_query(params)?;
    let page = lectern_app::audit::entries(&state.app, &by, &query).await?;
    Ok(Json(AuditList {
        entries: page.entries.into_iter().map(EntryView::from).collect(),
        next_before: page.next_before,
    }))
}

fn audit_query(params: AuditParams) -> Result<AuditQuery, ApiError> {
    let since = params
        .since
        .as_deref()
        .map(|t| moment("since", t))
        .transpose()?;
    let until = params
        .until
        .as_deref()
        .map(|t| moment("until", t))
        .transpose()?;
    if let (Some(since), Some(until)) = (since, until) {
        if since > until {
            return Err(ApiError::BadRequest("since is after until".into()));
        }
    }
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_AUDIT_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit is 1 to {MAX_AUDIT_PAGE}"
        )));
    }
    if params.before.is_some_and(|id| id < 1) {
        return Err(ApiError::BadRequest(
            "before is an entry's id, from next_before".into(),
        ));
    }
    Ok(AuditQuery {
        since,
        until,
        actor: filter("actor", params.actor)?,
        action: filter("action", params.action)?,
        limit,
        before_id: params.before,
    })
}

/// A time given as RFC 3339 (`2025-05-01T12:00:00Z`) or as milliseconds
/// since 1970, the form every record carries.
fn moment(name: &str, text: &str) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "{name} is a time: RFC 3339 (2025-05-01T12:00:00Z) or milliseconds since 1970"
        ))
    };
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| bad());
    }
    let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| bad())?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).map_err(|_| bad())
}

/// An empty filter (a form's blank field) filters nothing.
fn filter(name: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if v.chars().count() > MAX_FILTER || v.chars().any(char::is_control) => {
            Err(ApiError::BadRequest(format!(
                "{name} is at most {MAX_FILTER} characters, with no control characters"
            )))
        }
        Some(v) if v.is_empty() => Ok(None),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_rfc_3339_or_milliseconds() {
        assert_eq!(moment("since", "0").unwrap(), 0);
        assert_eq!(moment("since", "1700000000123").unwrap(), 1_700_000_000_123);
        assert_eq!(
            moment("since", "2023-11-14T22:13:20.123Z").unwrap(),
            1_700_000_000_123
        );
        assert_eq!(
            moment("since", "2023-11-15T00:13:20+02:00").unwrap(),
            1_700_000_000_000
        );
        for bad in [
            "",
            "-5",
            "yesterday",
            "2023-11-14",
            "99999999999999999999999",
            "1e9",
        ] {
            assert!(moment("since", bad).is_err(), "{bad:?}");
        }
    }
}
