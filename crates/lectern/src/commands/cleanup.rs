use super::{Context, Failure};
use crate::cli::JsonArg;
use crate::output;
use lectern_backup::{Quiet, Secrets};
use std::process::ExitCode;
use std::sync::Arc;

pub async fn run(ctx: &Context, args: JsonArg) -> Result<ExitCode, Failure> {
    let app = ctx.app(Secrets::from_env()?);
    let done = lectern_app::scans::cleanup(&app, &ctx.by(), Arc::new(Quiet))
        .await
        .map_err(Failure::from);
    ctx.record_failure("cleanup", None, &done).await;
    let done = done?;
    if !args.json {
        println!("safety backup {} taken first", done.safety_backup.id);
    }
    let report = done.report;
    if args.json {
        output::json(&report);
    } else {
        let r = report.removed;
        println!(
            "cleanup {}: removed {} missing files, {} empty courses, {} empty categories",
            report.scan_id, r.files, r.courses, r.categories
        );
    }
    Ok(ExitCode::SUCCESS)
}
