//! `lectern`: one binary for the server and every admin task.

mod cli;
mod commands;
mod config;
mod output;

use clap::Parser;
use std::process::ExitCode;

/// A scan allocates and frees a few small strings per file on several
/// threads at once, where glibc's allocator spent a quarter of a rescan.
/// Built without transparent huge pages (the workspace's Cargo.toml says
/// why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = cli::Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("lectern: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = cli.command.wants_json();
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(failure) => {
            output::failure(&failure, json);
            ExitCode::from(failure.exit_status())
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LECTERN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Rust ignores SIGPIPE, which turns `lectern list | head` into a panic on
/// the next print; a command-line tool should just stop, as `ls` does.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to the default before any
    // thread starts has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
