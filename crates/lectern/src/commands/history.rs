use super::{Context, Failure};
use crate::cli::HistoryArgs;
use crate::output;
use lectern_core::ScanId;
use std::process::ExitCode;

pub async fn run(ctx: &Context, args: HistoryArgs) -> Result<ExitCode, Failure> {
    let Some(id) = args.scan_id.map(ScanId) else {
        let scans = ctx.store.scans(args.limit, 0).await?;
        if args.json {
            output::json(&scans);
        }
        for s in scans.iter().filter(|_| !args.json) {
            let c = &s.counts;
            println!(
                "{} {} {} by {}: +{} ~{} -{} >{} ={} !{}{}",
                s.id,
                s.kind,
                s.status,
                s.started_by,
                c.added,
                c.updated,
                c.removed,
                c.moved,
                c.unchanged,
                c.errors,
                s.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            );
        }
        return Ok(ExitCode::SUCCESS);
    };
    let scan = ctx
        .store
        .scan(id)
        .await?
        .ok_or_else(|| Failure::NotFound(format!("there is no scan {id}")))?;
    let issues = ctx.store.scan_issues(id).await?;
    if args.json {
        output::json(&serde_json::json!({ "scan": scan, "issues": issues }));
    } else {
        println!(
            "{}",
            serde_json::to_string_pretty(&scan).unwrap_or_default()
        );
        for issue in issues {
            println!(
                "  {}: {}: {}",
                issue.kind,
                issue.path.escape_debug(),
                issue.message
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
