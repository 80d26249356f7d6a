//! The library and the scanner: the root path (checked against the index
//! before it is saved), full and verify scans, a rescan of one course,
//! abort, live progress, the history with each scan's problems, and the
//! cleanup with its warning and safety backup.

use super::words::{ago_ms, duration, size, when_ms};
use super::{page, ticked, AdminForm, AdminPage, Done, Refusal};
use crate::pages::render::{PageError, PageIds};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use lectern_app::settings::{self, SettingsChange};
use lectern_app::{scans, AppError};
use lectern_backup::Quiet;
use lectern_core::scan::ScanKind;
use lectern_core::{CourseId, ScanId};
use lectern_scanner::ScanScope;
use lectern_store::ScanRecord;
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Scans on one page of the history.
const PAGE: u32 = 25;

#[derive(Serialize)]
struct CourseRow {
    id: CourseId,
    name: String,
    category: String,
}

/// One scan as the history and the scan page show it.
#[derive(Serialize)]
struct ScanRow {
    id: ScanId,
    kind: &'static str,
    /// `Full scan`, `Course scan`, `Cleanup`.
    what: &'static str,
    started_by: String,
    /// Ms since the epoch, for the page's clock.
    started_at: i64,
    elapsed: String,
    started: String,
    ago: String,
    took: Option<String>,
    status: &'static str,
    reason: Option<String>,
    verify: bool,
    counts: lectern_core::scan::ScanCounts,
    hashed: String,
}

impl From<ScanRecord> for ScanRow {
    fn from(s: ScanRecord) -> Self {
        let what = match s.kind {
            ScanKind::Full => "Full scan",
            ScanKind::Course => "Course scan",
            ScanKind::Cleanup => "Cleanup",
            ScanKind::Watch => "Watched change",
        };
        let end = s.finished_at.unwrap_or_else(lectern_store::now_ms);
        ScanRow {
            id: s.id,
            kind: s.kind.as_str(),
            what,
            started_by: s.started_by,
            started_at: s.started_at,
            elapsed: duration((end - s.started_at).max(0) / 1000),
            started: when_ms(s.started_at),
            ago: ago_ms(s.started_at),
            took: s.finished_at.map(|f| duration((f - s.started_at) / 1000)),
            status: s.status.as_str(),
            reason: s.reason,
            verify: s.verify,
            hashed: size(s.counts.hashed_bytes),
            counts: s.counts,
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    admin: AdminPage,
    Query(done): Query<Done>,
) -> Result<Html<String>, PageError> {
    library_page(&state, &admin, done.message(), None).await
}

/// The library page, with a message after an action and, when a new root
/// was refused or needs a second look, the form as it was sent.
async fn library_page(
    state: &AppState,
    admin: &AdminPage,
    notice: Option<String>,
    root_form: Option<Value>,
) -> Result<Html<String>, PageError> {
    let settings = settings::show(&state.app, &admin.actor).await?;
    let running = scans::current(&state.app).await?.map(|(id, _)| id);
    let recent: Vec<ScanRow> = scans::history(&state.app, &admin.actor, 5, 0)
        .await?
        .into_iter()
        .map(ScanRow::from)
        .collect();
    let courses = courses(state).await?;
    let ctx = context! {
        title => "Library and scanner",
        notice,
        root_path => settings.root_path,
        effective_root => settings.effective_root.map(|p| p.display().to_string()),
        root_overridden => settings.root_overridden,
        root_form,
        running,
        recent,
        courses,
    };
    page("admin/library.html", admin, "library", ctx)
}

async fn courses(state: &AppState) -> Result<Vec<CourseRow>, PageError> {
    let categories = state.store.categories().await?;
    let names: std::collections::HashMap<_, _> =
        categories.into_iter().map(|c| (c.id, c.name)).collect();
    let courses = state.store.courses(None).await?;
    Ok(courses
        .into_iter()
        .map(|c| CourseRow {
            id: c.id,
            category: names.get(&c.category_id).cloned().unwrap_or_default(),
            name: c.name,
        })
        .collect())
}

#[derive(Deserialize)]
pub struct RootForm {
    #[serde(default)]
    root_path: String,
    /// Ticked after reading the warnings about this path.
    #[serde(default)]
    accept_warnings: Option<String>,
}

/// Saves a new library root once it is a readable folder; a folder that
/// looks empty, or that would leave more than the safety guard's share of
/// the index missing, is shown with the counts first and saved only when
/// the warning is accepted.
pub async fn save_root(
    State(state): State<AppState>,
    AdminForm { admin, form }: AdminForm<RootForm>,
) -> Result<Response, PageError> {
    let raw = form.root_path.trim().to_owned();
    let check = match settings::check_new_root(&state.app, &admin.actor, &raw).await {
        Ok(check) => check,
        Err(e) => return root_refused(&state, &admin, &raw, e).await,
    };
    if !check.warnings.is_empty() && form.accept_warnings.is_none() {
        let root_form = context! {
            root_path => raw,
            warnings => check.warnings,
            indexed => check.indexed,
            found => check.found,
            entries => check.entries,
        };
        let shown = library_page(&state, &admin, None, Some(root_form)).await?;
        return Ok(shown.into_response());
    }
    let change = SettingsChange {
        root_path: Some(raw.clone()),
        ..SettingsChange::default()
    };
    match settings::update(&state.app, &admin.actor, change).await {
        Ok(_) => Ok(Redirect::to("/admin/library?done=root").into_response()),
        Err(e) => root_refused(&state, &admin, &raw, e).await,
    }
}

async fn root_refused(
    state: &AppState,
    admin: &AdminPage,
    raw: &str,
    error: AppError,
) -> Result<Response, PageError> {
    let refusal = Refusal::announce(state, &admin.actor, "settings.update", None, error).await;
    let root_form = context! { root_path => raw, error => refusal.message };
    let shown = library_page(state, admin, None, Some(root_form)).await?;
    Ok((refusal.status, shown).into_response())
}

#[derive(Deserialize)]
pub struct ScanForm {
    /// `verify` re-hashes every file; anything else is a quick scan.
    #[serde(default)]
    mode: String,
}

pub async fn scan(
    State(state): State<AppState>,
    AdminForm { admin, form }: AdminForm<ScanForm>,
) -> Response {
    let verify = form.mode == "verify";
    start(&state, &admin, ScanScope::All, verify, "scan.start", None).await
}

pub async fn rescan(
    State(state): State<AppState>,
    PageIds(id): PageIds<i64>,
    AdminForm { admin, .. }: AdminForm<serde::de::IgnoredAny>,
) -> Response {
    let scope = ScanScope::Course(CourseId(id));
    let target = Some(format!("course={id}"));
    start(&state, &admin, scope, false, "scan.rescan", target).await
}

/// Starts a scan and goes to its page, where its progress shows; a lock
/// held by someone else is said in words.
async fn start(
    state: &AppState,
    admin: &AdminPage,
    scope: ScanScope,
    verify: bool,
    action: &str,
    target: Option<String>,
) -> Response {
    match scans::start(&state.app, &admin.actor, scope, verify, false).await {
        Ok(id) => Redirect::to(&format!("/admin/scans/{id}")).into_response(),
        Err(e) => Refusal::announce(state, &admin.actor, action, target, e)
            .await
            .page(admin, "/admin/library"),
    }
}

pub async fn abort(
    State(state): State<AppState>,
    AdminForm { admin, .. }: AdminForm<serde::de::IgnoredAny>,
) -> Response {
    match scans::abort(&state.app, &admin.actor).await {
        Ok(Some(id)) => Redirect::to(&format!("/admin/scans/{id}")).into_response(),
        Ok(None) => Redirect::to("/admin/library?done=not-running").into_response(),
        Err(e) => Refusal::announce(&state, &admin.actor, "scan.abort", None, e)
            .await
            .page(&admin, "/admin/library"),
    }
}

#[derive(Deserialize, Default)]
pub struct HistoryQuery {
    page: Option<u32>,
}

pub async fn history(
    State(state): State<AppState>,
    admin: AdminPage,
    Query(query): Query<HistoryQuery>,
) -> Result<Html<String>, PageError> {
    let number = query.page.unwrap_or(1).clamp(1, 100_000);
    let offset = (number - 1) * PAGE;
    // One more than a page says whether there is a next one.
    let mut found = scans::history(&state.app, &admin.actor, PAGE + 1, offset).await?;
    let more = found.len() > PAGE as usize;
    found.truncate(PAGE as usize);
    let scans: Vec<ScanRow> = found.into_iter().map(ScanRow::from).collect();
    let ctx = context! {
        title => "Scan history",
        scans,
        page => number,
        previous => (number > 1).then(|| number - 1),
        next => more.then(|| number + 1),
    };
    page("admin/scans.html", &admin, "library", ctx)
}

/// One scan: live progress while it runs (the page's script follows
/// `/api/scanner/status`; without it the page reloads itself), then its
/// counts and every problem it met.
pub async fn scan_page(
    State(state): State<AppState>,
    admin: AdminPage,
    PageIds(id): PageIds<i64>,
) -> Result<Html<String>, PageError> {
    let (scan, issues) = scans::record(&state.app, &admin.actor, ScanId(id)).await?;
    let live = scans::current(&state.app)
        .await?
        .filter(|(running, _)| running.0 == id)
        .map(|(_, progress)| {
            let s = progress.snapshot();
            context! {
                phase => s.phase,
                files_seen => s.files_seen,
                bytes_hashed => size(s.bytes_hashed),
                percent => s.percent,
            }
        });
    let issues: Vec<Value> = issues
        .into_iter()
        .map(|i| {
            context! {
                kind => i.kind.as_str(),
                path => i.path,
                message => i.message,
            }
        })
        .collect();
    let ctx = context! {
        title => format!("Scan {id}"),
        scan => ScanRow::from(scan),
        live,
        issues,
    };
    page("admin/scan.html", &admin, "library", ctx)
}

/// What a cleanup would purge, with the seed's warning, before anyone
/// confirms it.
pub async fn cleanup_preview(
    State(state): State<AppState>,
    admin: AdminPage,
) -> Result<Html<String>, PageError> {
    cleanup_page(&state, &admin, None).await
}

async fn cleanup_page(
    state: &AppState,
    admin: &AdminPage,
    error: Option<String>,
) -> Result<Html<String>, PageError> {
    let summary = scans::cleanup_preview(&state.app, &admin.actor).await?;
    let ctx = context! {
        title => "Clean up orphaned files",
        orphans => summary.orphans,
        sample => summary.missing_sample,
        more => summary.files_missing.saturating_sub(scans::PREVIEW_PATHS.into()),
        error,
    };
    page("admin/cleanup.html", admin, "library", ctx)
}

#[derive(Deserialize)]
pub struct CleanupForm {
    #[serde(default)]
    confirm: Option<String>,
}

pub async fn cleanup(
    State(state): State<AppState>,
    AdminForm { admin, form }: AdminForm<CleanupForm>,
) -> Result<Response, PageError> {
    if let Err(error) = ticked(&form.confirm, "the missing files' records may go") {
        let refusal = Refusal::announce(&state, &admin.actor, "cleanup", None, error).await;
        let shown = cleanup_page(&state, &admin, Some(refusal.message)).await?;
        return Ok((refusal.status, shown).into_response());
    }
    match scans::cleanup(&state.app, &admin.actor, Arc::new(Quiet)).await {
        Ok(done) => {
            let removed = done.report.removed;
            let ctx = context! {
                title => "Cleanup finished",
                removed,
                safety_backup => done.safety_backup.id,
                scan_id => done.report.scan_id,
            };
            Ok(page("admin/cleaned.html", &admin, "library", ctx)?.into_response())
        }
        Err(e) => Ok(cleanup_refused(&state, &admin, e).await),
    }
}

async fn cleanup_refused(state: &AppState, admin: &AdminPage, error: AppError) -> Response {
    Refusal::announce(state, &admin.actor, "cleanup", None, error)
        .await
        .page(admin, "/admin/cleanup")
}
