//! `/admin`: whether everything is all right, at a glance.

use super::words::{ago, ago_ms, size, when, when_ms};
use super::{page, AdminPage};
use crate::pages::render::PageError;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Html;
use lectern_app::backups;
use lectern_app::overview::{self, Overview};
use lectern_app::schedule::{in_words, plan_in_words};
use minijinja::context;
use serde::Serialize;

/// One line of the dashboard: a name, what it says, and whether that is
/// good (`ok`), worth a look (`warn`) or wrong (`bad`).
#[derive(Serialize)]
struct Line {
    name: &'static str,
    value: String,
    detail: Option<String>,
    state: &'static str,
    link: Option<String>,
}

fn line(name: &'static str, state: &'static str, value: String) -> Line {
    Line {
        name,
        value,
        detail: None,
        state,
        link: None,
    }
}

impl Line {
    fn detail(mut self, detail: impl Into<Option<String>>) -> Self {
        self.detail = detail.into();
        self
    }

    fn link(mut self, link: String) -> Self {
        self.link = Some(link);
        self
    }
}

pub async fn show(
    State(state): State<AppState>,
    admin: AdminPage,
) -> Result<Html<String>, PageError> {
    let overview = overview::overview(&state.app, &admin.actor).await?;
    let report = lectern_app::monitor::report(&state.app).await;
    let firing = lectern_app::alerts::status(&state.app, &admin.actor)?
        .firing
        .len();
    let mut lines = vec![health_line(&report, firing)];
    lines.extend(self::lines(&overview));
    let all_ok = lines.iter().all(|l| l.state == "ok");
    let ctx = context! { title => "Overview", lines, all_ok };
    page("admin/dashboard.html", &admin, "dashboard", ctx)
}

/// The health checks' verdict, pointing to their page.
fn health_line(report: &lectern_app::health::Report, firing: usize) -> Line {
    use lectern_core::health::Status;
    let count = |s| report.checks.iter().filter(|c| c.status == s).count();
    let (warn, fail) = (count(Status::Warn), count(Status::Fail));
    let plural = |n: usize, one: &str, many: &str| match n {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    };
    let value = match (warn, fail) {
        (0, 0) => format!("all {} checks pass", report.checks.len()),
        (w, 0) => plural(w, "check warns", "checks warn"),
        (0, f) => plural(f, "check fails", "checks fail"),
        (w, f) => format!(
            "{}, {}",
            plural(f, "check fails", "checks fail"),
            plural(w, "warns", "warn")
        ),
    };
    let failing: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.status != Status::Pass)
        .map(|c| c.name.as_str())
        .collect();
    let detail = match (failing.is_empty(), firing) {
        (true, 0) => None,
        (_, 0) => Some(failing.join(", ")),
        (true, 1) => Some("1 alert firing".into()),
        (true, n) => Some(format!("{n} alerts firing")),
        (false, 1) => Some(format!("{}; 1 alert firing", failing.join(", "))),
        (false, n) => Some(format!("{}; {n} alerts firing", failing.join(", "))),
    };
    line("Health", super::health::state_of(report.status), value)
        .detail(detail)
        .link("/admin/health".into())
}

fn lines(o: &Overview) -> Vec<Line> {
    vec![
        root_line(o),
        index_line(o),
        scan_line(o),
        backup_line(o),
        schedule_line(o),
        drill_line(o),
        lock_line(o),
        maintenance_line(o),
        instances_line(o),
    ]
}

/// The instances serving this database, this one named as such.
fn instances_line(o: &Overview) -> Line {
    let names: Vec<String> = o
        .instances
        .iter()
        .map(|id| match *id == o.this_instance {
            true => format!("{id} (this one)"),
            false => id.clone(),
        })
        .collect();
    let value = match names.len() {
        0 => format!("{} (starting)", o.this_instance),
        _ => names.join(", "),
    };
    let database = match o.backend {
        "postgres" => "on PostgreSQL",
        _ => "on the embedded SQLite database",
    };
    let count = match o.instances.len() {
        1 => "1 instance".to_owned(),
        n => format!("{n} instances"),
    };
    line("Instances", "ok", value).detail(format!("{count} {database}"))
}

fn root_line(o: &Overview) -> Line {
    let shown = o
        .root
        .as_ref()
        .map_or("not set".into(), |r| r.display().to_string());
    let state = if o.root_problem.is_some() {
        "bad"
    } else {
        "ok"
    };
    line("Library root", state, shown)
        .detail(o.root_problem.clone())
        .link("/admin/library".into())
}

fn index_line(o: &Overview) -> Line {
    let i = &o.index;
    let value = format!(
        "{} files in {} courses, {} categories ({})",
        i.files_present,
        i.courses,
        i.categories,
        size(i.bytes_present)
    );
    let (state, detail) = match i.files_missing {
        0 => ("ok", None),
        n => (
            "warn",
            Some(format!("{n} files are missing on disk and await cleanup")),
        ),
    };
    let link = match i.files_missing {
        0 => "/admin/library",
        _ => "/admin/cleanup",
    };
    line("Files indexed", state, value)
        .detail(detail)
        .link(link.into())
}

fn scan_line(o: &Overview) -> Line {
    let Some(scan) = &o.last_scan else {
        return line("Last scan", "warn", "never".into()).link("/admin/library".into());
    };
    let when = scan.finished_at.unwrap_or(scan.started_at);
    let value = format!("{} {} ({})", scan.status, when_ms(when), ago_ms(when));
    let errors = scan.counts.errors;
    let state = match (scan.status.as_str(), errors) {
        ("completed", 0) | ("running", 0) => "ok",
        ("completed", _) | ("running", _) => "warn",
        _ => "bad",
    };
    let detail = match errors {
        0 => scan.reason.clone(),
        n => Some(format!("{n} problems found")),
    };
    line("Last scan", state, value)
        .detail(detail)
        .link(format!("/admin/scans/{}", scan.id))
}

fn backup_line(o: &Overview) -> Line {
    let failure = o
        .last_failure
        .as_ref()
        .map(|f| format!("failed {}: {}", ago_ms(f.at), f.message));
    let Some(backup) = &o.last_backup else {
        return line("Last backup", "bad", "none yet".into())
            .detail(failure)
            .link("/admin/backups".into());
    };
    let age = time::OffsetDateTime::now_utc() - backup.created_at;
    // As the health check judges it; a drill's failure has its own line.
    let in_force = backups::failure_in_force(o.last_failure.clone(), Some(backup))
        .filter(|f| f.action != backups::DRILL);
    let state = match (
        in_force.as_ref().map(|f| f.action.as_str()),
        age.whole_hours(),
    ) {
        (Some(backups::CREATE), _) => "bad",
        (Some(_), _) => "warn",
        (None, h) if h >= 24 => "warn",
        _ => "ok",
    };
    let failure = in_force.map(|f| format!("failed {}: {}", ago_ms(f.at), f.message));
    let value = format!(
        "{} ({}), {}",
        when(backup.created_at),
        ago(backup.created_at),
        size(backup.file_size)
    );
    let count = format!("{} archives in the backup folder", o.backups);
    line("Last backup", state, value)
        .detail(failure.or(Some(count)))
        .link("/admin/backups".into())
}

fn schedule_line(o: &Overview) -> Line {
    let next = o
        .next_backup
        .map(|t| format!("next run {} ({})", when(t), ago(t)));
    let off = in_words(&o.plan.schedule) == "off";
    let state = if off { "warn" } else { "ok" };
    line("Schedule", state, plan_in_words(&o.plan))
        .detail(next)
        .link("/admin/backups#plan".into())
}

fn drill_line(o: &Overview) -> Line {
    match &o.last_drill {
        None => line("Last test restore", "ok", "none yet".into())
            .detail(Some(format!("runs {}", in_words(&o.plan.drill)))),
        Some(d) => {
            let state = if d.ok { "ok" } else { "bad" };
            let result = if d.ok { "passed" } else { "failed" };
            let value = format!("{result} {} ({})", when_ms(d.at), ago_ms(d.at));
            line("Last test restore", state, value).detail(Some(d.message.clone()))
        }
    }
}

fn lock_line(o: &Overview) -> Line {
    let Some(lock) = &o.lock else {
        return line("Operation lock", "ok", "free".into());
    };
    let doing = o.operation.as_ref().map(|op| op.step.get());
    let value = format!(
        "{} by {} since {} ({})",
        lock.operation,
        lock.owner.holder,
        when_ms(lock.acquired_at),
        ago_ms(lock.acquired_at)
    );
    let detail =
        doing.map(|step| format!("now: {step}; on {} pid {}", lock.owner.host, lock.owner.pid));
    let link = match o.operation.as_ref().and_then(|op| op.scan.as_ref()) {
        Some((id, _)) => format!("/admin/scans/{id}"),
        None => "/admin/backups".into(),
    };
    line("Operation lock", "warn", value)
        .detail(detail)
        .link(link)
}

fn maintenance_line(o: &Overview) -> Line {
    match &o.maintenance {
        None => line("Maintenance mode", "ok", "off".into()),
        Some(reason) => line("Maintenance mode", "bad", format!("on: {reason}")),
    }
}
