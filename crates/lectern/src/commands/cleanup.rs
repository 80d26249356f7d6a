use super::{Context, Failure};
use crate::cli::JsonArg;
use crate::output;
use std::process::ExitCode;

pub async fn run(ctx: &Context, args: JsonArg) -> Result<ExitCode, Failure> {
    let safety = super::backup::safety_backup(ctx, "taken before a cleanup").await?;
    if !args.json {
        println!("safety backup {} taken first", safety.id);
    }
    let done = lectern_scanner::cleanup(&ctx.store, &ctx.actor())
        .await
        .map_err(Failure::from);
    let target = done.as_ref().ok().map(|r| format!("scan={}", r.scan_id));
    ctx.audit("cleanup", target, &done).await;
    let report = done?;
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
