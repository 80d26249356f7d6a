use super::{exit, Context, Failure};
use crate::cli::ScanArgs;
use crate::output;
use lectern_app::scans::{self, Started};
use lectern_backup::Secrets;
use lectern_core::scan::ScanStatus;
use lectern_core::CourseId;
use lectern_scanner::{ScanReport, ScanScope};
use serde_json::json;
use std::process::ExitCode;

/// Issues printed in the human summary; the history keeps the rest.
const SHOWN_ISSUES: usize = 50;

pub async fn run(ctx: &Context, args: ScanArgs) -> Result<ExitCode, Failure> {
    let (scope, action) = match args.course {
        Some(id) => (ScanScope::Course(CourseId(id)), "scan.rescan"),
        None => (ScanScope::All, "scan.start"),
    };
    let started = begin(ctx, scope, &args).await;
    // A start is announced by the use case; a refusal is recorded here.
    let target = args.course.map(|course| format!("course={course}"));
    ctx.record_failure(action, target, &started).await;
    let running = started?;
    let progress = running.progress();
    let bar = output::ScanBar::start(progress.clone());
    let interrupt = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            progress.cancel();
        }
    });
    let report = running.run().await;
    interrupt.abort();
    bar.finish();
    if args.json {
        output::json(&summary(&report));
        if let Some(reason) = &report.reason {
            eprintln!(
                "lectern: scan {} {}: {reason}",
                report.scan_id, report.status
            );
        }
    } else {
        print_human(&report);
    }
    Ok(ExitCode::from(match report.status {
        ScanStatus::Completed => 0,
        ScanStatus::Aborted => exit::ABORTED,
        _ => exit::UNFINISHED,
    }))
}

/// The scan use case, run in the foreground over the library root (the
/// demo library when none is configured).
async fn begin(ctx: &Context, scope: ScanScope, args: &ScanArgs) -> Result<Started, Failure> {
    let mut app = ctx.app(Secrets::none());
    if ctx.library_root().await?.is_none() {
        let demo = super::demo::default_library(&ctx.config)?;
        app = app.with_library_root(demo);
    }
    Ok(scans::begin(&app, &ctx.by(), scope, args.verify, args.force).await?)
}

/// The scan's JSON form, exactly the fields scripts rely on (SPEC §6).
fn summary(r: &ScanReport) -> serde_json::Value {
    let c = &r.counts;
    json!({
        "scan_id": r.scan_id, "status": r.status,
        "added": c.added, "updated": c.updated, "removed": c.removed, "moved": c.moved,
        "unchanged": c.unchanged, "errors": c.errors,
        "hashed_files": c.hashed_files, "hashed_bytes": c.hashed_bytes,
    })
}

fn print_human(r: &ScanReport) {
    let c = &r.counts;
    println!(
        "scan {} {}: {} added, {} updated, {} removed, {} moved, {} unchanged, {} errors; \
         hashed {} files ({} bytes)",
        r.scan_id,
        r.status,
        c.added,
        c.updated,
        c.removed,
        c.moved,
        c.unchanged,
        c.errors,
        c.hashed_files,
        c.hashed_bytes
    );
    if let Some(reason) = &r.reason {
        println!("  {reason}");
    }
    for issue in r.issues.iter().take(SHOWN_ISSUES) {
        println!(
            "  {}: {}: {}",
            issue.kind,
            issue.path.escape_debug(),
            issue.message
        );
    }
    if r.issues.len() > SHOWN_ISSUES {
        println!(
            "  … and {} more: lectern history {}",
            r.issues.len() - SHOWN_ISSUES,
            r.scan_id
        );
    }
}
