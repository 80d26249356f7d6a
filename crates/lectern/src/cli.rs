//! The command line. Global flags override `lectern.toml` and `LECTERN_*`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "lectern", version, about = "A self-hosted course library")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Configuration file [default: ./lectern.toml, if it exists].
    #[arg(long, global = true, env = "LECTERN_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data folder: the embedded database and backups [default: ./data].
    #[arg(long, global = true, env = "LECTERN_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Library root, for this process only (overrides the saved setting).
    #[arg(long, global = true, env = "LECTERN_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Database URL [default: sqlite://DATA/lectern.db].
    #[arg(long, global = true, env = "LECTERN_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server and API.
    Serve(ServeArgs),
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Index the library: add new files, update changed ones, mark vanished ones missing.
    Scan(ScanArgs),
    /// Purge missing files, then courses with no files and empty categories.
    Cleanup(JsonArg),
    /// Write a sample library to DIR, to try Lectern on.
    Demo(DemoArgs),
    /// Show the indexed library: categories, courses and files.
    List(JsonArg),
    /// Show past scans, or one scan with its errors.
    History(HistoryArgs),
    /// Back up the database, list, verify and restore backups; works with
    /// the server stopped, and when the database is too damaged to open.
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Run the health checks once; exit status 0 when all pass, 1 when
    /// some warn, 2 when any fails.
    Check(JsonArg),
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Take a backup into the backup folder (DATA/backups).
    Create {
        /// A note kept in the backup's manifest.
        #[arg(long, value_name = "TEXT")]
        notes: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the backups in the backup folder, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Check a backup completely; exit status 0 only when it is sound.
    Verify {
        /// An archive file, or a backup's id from `backup list`.
        file: String,
        #[arg(long)]
        json: bool,
    },
    /// Replace all data with a backup's, after a safety backup of the current data.
    Restore {
        /// An archive file, or a backup's id from `backup list`.
        file: String,
        /// Do not ask for confirmation (needed without a terminal).
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
}

impl BackupCommand {
    pub fn wants_json(&self) -> bool {
        match self {
            BackupCommand::Create { json, .. }
            | BackupCommand::List { json }
            | BackupCommand::Verify { json, .. }
            | BackupCommand::Restore { json, .. } => *json,
        }
    }
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Rescan only this course.
    #[arg(long, value_name = "ID")]
    pub course: Option<i64>,
    /// Re-hash every file and report content that changed silently.
    #[arg(long)]
    pub verify: bool,
    /// Go on even if the scan would mark more than half the known files missing.
    #[arg(long)]
    pub force: bool,
    /// Print the result as one JSON object on the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print the result as JSON on the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the sample library (must not exist, or be empty).
    pub dir: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// One scan's record and its errors.
    pub scan_id: Option<i64>,
    /// How many scans to list.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port to listen on [default: 8000].
    #[arg(long, env = "LECTERN_PORT")]
    pub port: Option<u16>,
    /// Address to listen on [default: 127.0.0.1; 0.0.0.0 for every interface].
    #[arg(long, env = "LECTERN_BIND")]
    pub bind: Option<std::net::IpAddr>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; the password is read from stdin (a trailing newline is dropped).
    Add {
        name: String,
        #[arg(long)]
        admin: bool,
        /// Accepted for scripts; the password is always read from stdin.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        json: bool,
    },
    /// List accounts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set a new password (from stdin) and end the account's sessions.
    Passwd { name: String },
    /// Disable an account and end its sessions.
    Disable { name: String },
    /// Enable a disabled account.
    Enable { name: String },
}
