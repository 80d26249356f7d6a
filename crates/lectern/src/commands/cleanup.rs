use super::{Context, Failure};
use crate::cli::JsonArg;
use crate::output;
use std::process::ExitCode;

pub async fn run(ctx: &Context, args: JsonArg) -> Result<ExitCode, Failure> {
    let report = lectern_scanner::cleanup(&ctx.store, &ctx.actor()).await?;
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
