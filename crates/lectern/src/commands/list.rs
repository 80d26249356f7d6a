use super::{Context, Failure};
use crate::cli::JsonArg;
use crate::output;
use lectern_store::FileState;
use serde_json::json;
use std::process::ExitCode;

/// Prints the index as a tree, naturally sorted (as the web pages show it).
pub async fn run(ctx: &Context, args: JsonArg) -> Result<ExitCode, Failure> {
    let mut tree = Vec::new();
    for category in ctx.store.categories().await? {
        if !args.json {
            println!(
                "{} [category {}]",
                category.name.escape_debug(),
                category.id
            );
        }
        let mut courses = Vec::new();
        for course in ctx.store.courses(Some(category.id)).await? {
            let files = ctx.store.course_files(course.id).await?;
            if !args.json {
                println!("  {} [course {}]", course.name.escape_debug(), course.id);
                for f in &files {
                    let inside = f.path_in_course();
                    let missing = if f.state == FileState::Missing {
                        " (missing)"
                    } else {
                        ""
                    };
                    println!(
                        "    {} [{} {} {}]{missing}",
                        inside.escape_debug(),
                        f.id,
                        f.role,
                        f.mime
                    );
                }
            }
            courses.push(json!({ "course": course, "files": files }));
        }
        tree.push(json!({ "category": category, "courses": courses }));
    }
    if args.json {
        output::json(&tree);
    }
    Ok(ExitCode::SUCCESS)
}
