//! `/api/health` (SPEC §4, §6): the health checks' stored report in the
//! health-check response format, and the alerts an admin follows
//! (`/api/admin/alerts`). The checks themselves run in the background
//! (`lectern_app::monitor`); reading them runs nothing.

use crate::api::openapi::{AdminChange, AdminRead};
use crate::auth::Admin;
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lectern_app::health::rfc3339;
use lectern_app::{alerts, monitor};
use lectern_core::health::Status;
use serde::Serialize;

/// The health-check response format's media type.
pub const HEALTH_JSON: &str = "application/health+json";

#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    operation_id = "health",
    // Open to anyone; a caller signed in as an admin (Bearer token or
    // session cookie) gets the detail.
    security(()),
    responses(
        (status = 200, description = "Every check passes or some warn. Anyone gets `{\"status\"}` (`pass` or `warn`); a caller signed in as an admin (Bearer token or session cookie) also gets `checks`: a map from each check's name (`backup:age`) to a one-element array of `{status, time, output, observedValue?, observedUnit?}`, plus `version`, `releaseId` and `description`", content_type = "application/health+json"),
        (status = 503, description = "Some check fails: `status` is `fail`, the body as with 200", content_type = "application/health+json"),
    ),
)]
pub async fn health(State(state): State<AppState>, admin: Result<Admin, ApiError>) -> Response {
    let report = monitor::report(&state.app).await;
    // A failed sign-in check is no reason to hide the summary: the
    // database may be the thing that is down.
    let body = report.health_json(admin.is_ok());
    let status = match report.status {
        Status::Fail => StatusCode::SERVICE_UNAVAILABLE,
        Status::Pass | Status::Warn => StatusCode::OK,
    };
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(HEALTH_JSON));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What is firing now and what was sent.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AlertsView {
    /// Where alerts go, by label (no password, no webhook path); empty
    /// when none is configured.
    targets: Vec<String>,
    firing: Vec<FiringView>,
    /// Notices not yet delivered, retried with backoff.
    pending: Vec<PendingView>,
    /// Delivered notices, newest first (the last 50).
    sent: Vec<SentView>,
    /// Failed delivery attempts, newest first (the last 50).
    failures: Vec<FailureView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FiringView {
    /// The condition (`backup_failed`).
    condition: String,
    title: String,
    /// `warn` or `fail`.
    severity: String,
    summary: String,
    /// When this episode started (RFC 3339).
    since: String,
    /// When a notice of it was last sent (RFC 3339).
    last_sent: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PendingView {
    target: String,
    condition: String,
    /// `firing`, `reminder`, `resolved` or `test`.
    notice: String,
    attempts: u32,
    next_attempt: String,
    last_error: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SentView {
    at: String,
    target: String,
    condition: String,
    notice: String,
    summary: String,
    attempts: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FailureView {
    at: String,
    target: String,
    condition: String,
    notice: String,
    attempt: u32,
    error: String,
}

impl From<alerts::AlertStatus> for AlertsView {
    fn from(s: alerts::AlertStatus) -> Self {
        let firing = s.firing.into_iter().map(|(c, f)| FiringView {
            condition: c.name.to_owned(),
            title: c.title.to_owned(),
            severity: f.severity,
            summary: f.summary,
            since: rfc3339(f.since),
            last_sent: rfc3339(f.last_sent),
        });
        let pending = s.outbox.into_iter().map(|p| PendingView {
            target: p.target,
            condition: p.alert.condition,
            notice: p.alert.notice.as_str().to_owned(),
            attempts: p.attempts,
            next_attempt: rfc3339(p.next_at),
            last_error: p.last_error,
        });
        let sent = s.sent.into_iter().map(|d| SentView {
            at: rfc3339(d.at),
            target: d.target,
            condition: d.alert.condition,
            notice: d.alert.notice.as_str().to_owned(),
            summary: d.alert.summary,
            attempts: d.attempts,
        });
        let failures = s.failures.into_iter().map(|f| FailureView {
            at: rfc3339(f.at),
            target: f.target,
            condition: f.condition,
            notice: f.notice.as_str().to_owned(),
            attempt: f.attempt,
            error: f.error,
        });
        AlertsView {
            targets: s.targets,
            firing: firing.collect(),
            pending: pending.collect(),
            sent: sent.collect(),
            failures: failures.collect(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/admin/alerts",
    tag = "health",
    operation_id = "alerts",
    responses(
        (status = 200, description = "The targets, what fires, what waits to be delivered, what was sent and what failed", body = AlertsView),
        AdminRead,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    Admin(by): Admin,
) -> Result<Json<AlertsView>, ApiError> {
    Ok(Json(alerts::status(&state.app, &by)?.into()))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TestQueued {
    /// How many targets the test notice was queued for.
    targets: usize,
}

#[utoipa::path(
    post,
    path = "/admin/alerts/test",
    tag = "health",
    operation_id = "send_test_alert",
    extensions(("x-audit-action" = json!("alerts.test"))),
    responses(
        (status = 202, description = "A test notice is queued for every target; `GET /api/admin/alerts` shows it sent or failing", body = TestQueued),
        (status = 400, description = "No alert target is configured", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn test(
    State(state): State<AppState>,
    Admin(by): Admin,
) -> Result<(StatusCode, Json<TestQueued>), ApiError> {
    let targets = alerts::send_test(&state.app, &by).await?;
    Ok((StatusCode::ACCEPTED, Json(TestQueued { targets })))
}
