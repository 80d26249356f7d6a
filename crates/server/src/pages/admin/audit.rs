//! The audit log in the panel: who did what when, filtered by who, what
//! and a range of days, a page at a time.

use super::words::when_ms;
use super::{page, AdminPage};
use crate::pages::render::PageError;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::Html;
use lectern_app::AppError;
use lectern_store::{AuditEntry, AuditQuery};
use minijinja::context;
use serde::{Deserialize, Serialize};
use time::macros::format_description;
use time::{Date, OffsetDateTime};

const PAGE: u32 = 50;
const DAY_MS: i64 = 86_400_000;

#[derive(Deserialize, Serialize, Default, Clone)]
pub struct Filters {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    /// `YYYY-MM-DD` (UTC), from the first second of that day.
    #[serde(default)]
    from: String,
    /// `YYYY-MM-DD` (UTC), to the last second of that day.
    #[serde(default)]
    to: String,
    before: Option<i64>,
}

#[derive(Serialize)]
struct Row {
    when: String,
    actor: String,
    action: String,
    target: Option<String>,
    outcome: String,
    status: Option<u16>,
    address: Option<String>,
    detail: Option<String>,
}

impl From<AuditEntry> for Row {
    fn from(e: AuditEntry) -> Self {
        Row {
            when: when_ms(e.created_at),
            actor: e.actor,
            action: e.action,
            target: e.target,
            outcome: e.outcome.as_str().to_owned(),
            status: e.status,
            address: e.address,
            detail: e.detail,
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    admin: AdminPage,
    Query(filters): Query<Filters>,
) -> Result<Html<String>, PageError> {
    let (entries, next, error) = match query(&filters) {
        Ok(query) => {
            let found = lectern_app::audit::entries(&state.app, &admin.actor, &query).await?;
            let rows: Vec<Row> = found.entries.into_iter().map(Row::from).collect();
            (rows, found.next_before, None)
        }
        Err(e) => (Vec::new(), None, Some(e.to_string())),
    };
    let older = next.map(|before| {
        let page = Filters {
            before: Some(before),
            ..filters.clone()
        };
        serde_urlencoded::to_string(&page).unwrap_or_default()
    });
    let ctx = context! {
        title => "Audit log",
        entries,
        filters,
        older,
        error,
    };
    page("admin/audit.html", &admin, "audit", ctx)
}

fn query(f: &Filters) -> Result<AuditQuery, AppError> {
    let since = day(&f.from, "from")?;
    let until = day(&f.to, "to")?.map(|start| start + DAY_MS);
    if let (Some(since), Some(until)) = (since, until) {
        if since >= until {
            return Err(AppError::Invalid("“from” is after “to”".into()));
        }
    }
    let text = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty() && v.len() <= 200);
    Ok(AuditQuery {
        since,
        until,
        actor: text(&f.actor),
        action: text(&f.action),
        limit: PAGE,
        before_id: f.before.filter(|id| *id > 0),
    })
}

/// The first millisecond of a `YYYY-MM-DD` day in UTC; blank is none.
fn day(raw: &str, name: &str) -> Result<Option<i64>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let format = format_description!("[year]-[month]-[day]");
    let date = Date::parse(raw, &format)
        .map_err(|_| AppError::Invalid(format!("“{name}” is a day: YYYY-MM-DD")))?;
    let start = OffsetDateTime::new_utc(date, time::Time::MIDNIGHT);
    Ok(Some((start.unix_timestamp_nanos() / 1_000_000) as i64))
}
