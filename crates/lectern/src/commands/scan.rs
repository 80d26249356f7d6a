use super::{exit, Context, Failure};
use crate::cli::ScanArgs;
use crate::output;
use lectern_core::scan::ScanStatus;
use lectern_core::CourseId;
use lectern_scanner::{ScanOptions, ScanReport, ScanScope, Scanner};
use serde_json::json;
use std::process::ExitCode;

/// Issues printed in the human summary; the history keeps the rest.
const SHOWN_ISSUES: usize = 50;

pub async fn run(ctx: &Context, args: ScanArgs) -> Result<ExitCode, Failure> {
    let root = match ctx.library_root().await? {
        Some(root) => root,
        None => super::demo::default_library(&ctx.config)?,
    };
    let (scope, action) = match args.course {
        Some(id) => (ScanScope::Course(CourseId(id)), "scan.rescan"),
        None => (ScanScope::All, "scan.start"),
    };
    let scanner = Scanner::new(ctx.store.clone(), root)
        .max_missing_share(ctx.config.scan.max_missing_percent / 100.0);
    let options = ScanOptions {
        scope,
        verify: args.verify,
        force: args.force,
        started_by: ctx.actor(),
    };
    // Recorded once it starts or is refused, as over HTTP; the scan's own
    // record in the history tells how it ended.
    let started = scanner.start(options).await.map_err(Failure::from);
    let target = match (&started, args.course) {
        (Ok(running), Some(course)) => Some(format!("course={course} scan={}", running.id())),
        (Ok(running), None) => Some(format!("scan={}", running.id())),
        (Err(_), course) => course.map(|course| format!("course={course}")),
    };
    ctx.audit(action, target, &started).await;
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
