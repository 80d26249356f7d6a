use super::Failure;
use crate::cli::DemoArgs;
use crate::config::Config;
use crate::output;
use lectern_demo::{write_demo, DemoError};
use lectern_store::settings::LIBRARY_ROOT;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(args: DemoArgs) -> Result<ExitCode, Failure> {
    let summary = write_demo(&args.dir).map_err(demo_failure)?;
    if args.json {
        output::json(&serde_json::json!({
            "root": summary.root, "categories": summary.categories, "courses": summary.courses,
            "files": summary.files, "bytes": summary.bytes,
        }));
    } else {
        println!(
            "wrote a sample library to {}: {} categories, {} courses, {} files ({} bytes)",
            summary.root.display(),
            summary.categories,
            summary.courses,
            summary.files,
            summary.bytes
        );
        println!(
            "index it with: lectern scan --root {}",
            summary.root.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// With no library configured, Lectern shows its demo library, written once
/// into the data folder, so a fresh install has something to look at.
pub fn default_library(config: &Config) -> Result<PathBuf, Failure> {
    let dir = config.data.join("demo-library");
    if !dir.exists() {
        write_demo(&dir).map_err(demo_failure)?;
    }
    eprintln!(
        "lectern: no library root is configured (--root, LECTERN_ROOT, the {LIBRARY_ROOT} \
         setting or root in lectern.toml); using the demo library in {}",
        dir.display()
    );
    Ok(dir)
}

fn demo_failure(e: DemoError) -> Failure {
    match e {
        DemoError::NotEmpty(_) | DemoError::NoFolderName(_) => Failure::Invalid(e.to_string()),
        other => Failure::Io(other.to_string()),
    }
}
