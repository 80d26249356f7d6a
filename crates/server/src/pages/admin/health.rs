//! `/admin/health`: every health check with its finding, the alerts
//! firing, sent and failing, a test alert, and the thresholds and alerts
//! an admin switches (saved through the settings use case, as
//! `PUT /api/admin/settings` saves them).

use super::words::{ago_ms, when_ms};
use super::{page, AdminForm, AdminPage, Done, Refusal};
use crate::pages::render::PageError;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use lectern_app::alerts::{self, CONDITIONS};
use lectern_app::health::{Report, Thresholds};
use lectern_app::monitor::{self, HealthSettings};
use lectern_app::settings::{self, SettingsChange};
use lectern_app::AppError;
use minijinja::context;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Serialize)]
struct CheckRow {
    name: String,
    state: &'static str,
    status: &'static str,
    output: String,
}

/// The dashboard's and this page's word for a status.
pub fn state_of(status: lectern_core::health::Status) -> &'static str {
    use lectern_core::health::Status;
    match status {
        Status::Pass => "ok",
        Status::Warn => "warn",
        Status::Fail => "bad",
    }
}

fn rows(report: &Report) -> Vec<CheckRow> {
    report
        .checks
        .iter()
        .map(|c| CheckRow {
            name: c.name.clone(),
            state: state_of(c.status),
            status: c.status.as_str(),
            output: c.output.clone(),
        })
        .collect()
}

#[derive(Serialize)]
struct AlertRow {
    name: &'static str,
    title: &'static str,
    on: bool,
}

pub async fn show(
    State(state): State<AppState>,
    admin: AdminPage,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let notice = match done.done.as_deref() {
        Some("test") => {
            Some("A test alert is on its way to every target: it shows below once sent.")
        }
        Some("settings") => Some("The health settings are saved and the checks ran again."),
        _ => None,
    };
    Ok(health_page(&state, &admin, notice.map(str::to_owned), None)
        .await?
        .into_response())
}

async fn health_page(
    state: &AppState,
    admin: &AdminPage,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Html<String>, PageError> {
    let report = monitor::report(&state.app).await;
    let status = alerts::status(&state.app, &admin.actor)?;
    let saved = monitor::saved_settings(&state.app).await;
    let thresholds = saved.thresholds.unwrap_or(state.app.health.thresholds);
    let alert_rows: Vec<AlertRow> = CONDITIONS
        .iter()
        .map(|c| AlertRow {
            name: c.name,
            title: c.title,
            on: !saved.alerts_off.contains(c.name),
        })
        .collect();
    let firing: Vec<_> = status
        .firing
        .iter()
        .map(|(c, f)| {
            context! {
                title => c.title, severity => f.severity, summary => f.summary,
                since => when_ms(f.since), ago => ago_ms(f.since),
            }
        })
        .collect();
    let sent: Vec<_> = status
        .sent
        .iter()
        .take(20)
        .map(|d| {
            context! {
                at => when_ms(d.at), target => d.target, notice => d.alert.notice.as_str(),
                title => d.alert.title, summary => d.alert.summary,
            }
        })
        .collect();
    let pending: Vec<_> = status
        .outbox
        .iter()
        .map(|p| {
            context! {
                target => p.target, notice => p.alert.notice.as_str(), title => p.alert.title,
                attempts => p.attempts, next => when_ms(p.next_at), error => p.last_error,
            }
        })
        .collect();
    let failures: Vec<_> = status
        .failures
        .iter()
        .take(10)
        .map(|f| {
            context! {
                at => when_ms(f.at), target => f.target, notice => f.notice.as_str(),
                condition => f.condition, attempt => f.attempt, error => f.error,
            }
        })
        .collect();
    let ctx = context! {
        title => "Health and alerts",
        notice,
        error,
        overall => report.status.as_str(),
        overall_state => state_of(report.status),
        checked => when_ms(report.time),
        checks => rows(&report),
        targets => status.targets,
        firing,
        pending,
        sent,
        failures,
        form => ThresholdForm::from(thresholds),
        custom => saved.thresholds.is_some(),
        alerts => alert_rows,
    };
    page("admin/health.html", admin, "health", ctx)
}

/// The thresholds in the units a person thinks in: hours and days.
#[derive(Serialize, Deserialize)]
pub struct ThresholdForm {
    backup_warn_hours: String,
    backup_fail_hours: String,
    scan_errors_fail_above: String,
    disk_warn_below_percent: String,
    disk_fail_below_percent: String,
    growth_warn_percent: String,
    growth_window_days: String,
}

fn number(secs: u64, per: u64) -> String {
    let value = secs as f64 / per as f64;
    format!("{}", (value * 1000.0).round() / 1000.0)
}

impl From<Thresholds> for ThresholdForm {
    fn from(t: Thresholds) -> Self {
        ThresholdForm {
            backup_warn_hours: number(t.backup_warn_after_secs, 3600),
            backup_fail_hours: number(t.backup_fail_after_secs, 3600),
            scan_errors_fail_above: t.scan_errors_fail_above.to_string(),
            disk_warn_below_percent: t.disk_warn_below_percent.to_string(),
            disk_fail_below_percent: t.disk_fail_below_percent.to_string(),
            growth_warn_percent: t.growth_warn_percent.to_string(),
            growth_window_days: number(t.growth_window_secs, 86_400),
        }
    }
}

/// What the settings form posts: the thresholds, `reset` to go back to
/// the configuration's, and a box per alert that is on.
#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(flatten)]
    thresholds: ThresholdForm,
    reset: Option<String>,
    #[serde(flatten)]
    alerts: BTreeMap<String, String>,
}

impl SettingsForm {
    fn settings(&self) -> Result<HealthSettings, AppError> {
        let on: BTreeSet<&str> = self
            .alerts
            .keys()
            .filter_map(|k| k.strip_prefix("alert_"))
            .collect();
        let alerts_off = CONDITIONS
            .iter()
            .filter(|c| !on.contains(c.name))
            .map(|c| c.name.to_owned())
            .collect();
        let thresholds = match self.reset {
            Some(_) => None,
            None => Some(self.thresholds.parse()?),
        };
        Ok(HealthSettings {
            thresholds,
            alerts_off,
        })
    }
}

impl ThresholdForm {
    fn parse(&self) -> Result<Thresholds, AppError> {
        let decimal = |label: &str, raw: &str| -> Result<f64, AppError> {
            raw.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| AppError::Invalid(format!("{label}: give a number, like 24 or 0.5")))
        };
        let secs = |label: &str, raw: &str, per: f64| -> Result<u64, AppError> {
            Ok((decimal(label, raw)? * per).round() as u64)
        };
        let whole = self
            .scan_errors_fail_above
            .trim()
            .parse::<u64>()
            .map_err(|_| AppError::Invalid("scan errors: give a whole number".into()))?;
        Ok(Thresholds {
            backup_warn_after_secs: secs("backup warns after", &self.backup_warn_hours, 3600.0)?,
            backup_fail_after_secs: secs("backup fails after", &self.backup_fail_hours, 3600.0)?,
            scan_errors_fail_above: whole,
            disk_warn_below_percent: decimal("disk warns below", &self.disk_warn_below_percent)?,
            disk_fail_below_percent: decimal("disk fails below", &self.disk_fail_below_percent)?,
            growth_warn_percent: decimal("growth warns above", &self.growth_warn_percent)?,
            growth_window_secs: secs("growth window", &self.growth_window_days, 86_400.0)?,
        })
    }
}

pub async fn save(
    State(state): State<AppState>,
    AdminForm { admin, form }: AdminForm<SettingsForm>,
) -> Result<Response, PageError> {
    let saved = match form.settings() {
        Ok(mut health) => {
            // The configuration's own values stay the configuration's,
            // so a later change to lectern.toml still applies.
            if health.thresholds == Some(state.app.health.thresholds) {
                health.thresholds = None;
            }
            let change = SettingsChange {
                health: Some(health),
                ..SettingsChange::default()
            };
            settings::update(&state.app, &admin.actor, change).await
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => Ok(Redirect::to("/admin/health?done=settings").into_response()),
        Err(e) => {
            let refusal = Refusal::announce(&state, &admin.actor, "settings.update", None, e).await;
            let shown = health_page(&state, &admin, None, Some(refusal.message)).await?;
            Ok((refusal.status, shown).into_response())
        }
    }
}

/// The form carries only its CSRF token.
#[derive(Deserialize)]
pub struct Empty {}

pub async fn test(
    State(state): State<AppState>,
    AdminForm { admin, .. }: AdminForm<Empty>,
) -> Result<Response, PageError> {
    match alerts::send_test(&state.app, &admin.actor).await {
        Ok(_) => Ok(Redirect::to("/admin/health?done=test").into_response()),
        Err(e) => {
            let refusal = Refusal::announce(&state, &admin.actor, "alerts.test", None, e).await;
            let shown = health_page(&state, &admin, None, Some(refusal.message)).await?;
            let status = match refusal.status {
                StatusCode::OK => StatusCode::BAD_REQUEST,
                other => other,
            };
            Ok((status, shown).into_response())
        }
    }
}
