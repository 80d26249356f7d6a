//! `lectern backup create|list|verify|restore`: disaster recovery from the
//! shell (SPEC §3, docs/backups.md). They work with the server stopped;
//! `list` and `verify` never open the database, and `restore` works when it
//! is too damaged to open.

use super::{open_sound, open_unchecked, Context, Failure};
use crate::cli::BackupCommand;
use crate::config::Config;
use crate::output::{self, StepBar};
use lectern_app::restore::{self, NoRequests, RestoreOutcome, RestoreRequest};
use lectern_app::{backups, AppError, BackupOptions};
use lectern_backup::{
    archive, BackupFolder, BackupRecord, BackupStatus, BackupType, Limits, Manifest,
    PreparedRestore, Secrets,
};
use lectern_store::snapshot;
use lectern_store::Store;
use serde::Serialize;
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

pub async fn run(config: Config, command: BackupCommand) -> Result<ExitCode, Failure> {
    let folder = BackupFolder::in_data(&config.data);
    match command {
        BackupCommand::Create { notes, json } => create(config, notes, json).await,
        BackupCommand::List { json } => list(&folder, json),
        BackupCommand::Verify { file, json } => verify(&folder, &file, json).await,
        BackupCommand::Restore { file, yes, json } => {
            restore(config, &folder, &file, yes, json).await
        }
    }
}

async fn create(config: Config, notes: Option<String>, json: bool) -> Result<ExitCode, Failure> {
    let secrets = Secrets::from_env()?;
    // The snapshot is checked instead, without holding up the work.
    let ctx = Context::over(config.clone(), open_unchecked(&config).await?, None).await?;
    let app = ctx.app(secrets);
    let bar = StepBar::start();
    let made = backups::create_archive(&app, &ctx.by(), BackupType::Manual, notes, bar.clone())
        .await
        .map_err(Failure::from);
    bar.finish();
    ctx.record_failure("backup.create", None, &made).await;
    let offsite = match &made {
        Ok(record) => backups::send_offsite(&app, &ctx.by(), record).await,
        Err(_) => Ok(()),
    };
    ctx.store.close().await;
    let record = made?;
    let offsite_error = offsite.err();
    if json {
        output::json(&Created {
            record: &record,
            offsite_error: offsite_error.as_deref(),
        });
    } else {
        println!(
            "backup {} written to {} ({}{})",
            record.id,
            record.file_path.display(),
            size(record.file_size),
            if record.encrypted { ", encrypted" } else { "" }
        );
    }
    // The backup is there either way; a failed copy is recorded (status,
    // audit log) and fails the command, so that a cron job notices.
    match offsite_error {
        None => Ok(ExitCode::SUCCESS),
        Some(message) => {
            eprintln!("lectern: the backup was made, but its off-site copy failed: {message}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// What `backup create --json` prints: the new archive, and why its
/// off-site copy failed when it did.
#[derive(Serialize)]
struct Created<'a> {
    #[serde(flatten)]
    record: &'a BackupRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    offsite_error: Option<&'a str>,
}

fn list(folder: &BackupFolder, json: bool) -> Result<ExitCode, Failure> {
    let records = folder.list()?;
    if json {
        output::json(&records);
        return Ok(ExitCode::SUCCESS);
    }
    if records.is_empty() {
        println!("no backups in {}", folder.dir().display());
    }
    for r in &records {
        let state = match (r.status, &r.reason) {
            (BackupStatus::Unreadable, Some(reason)) => format!("unreadable: {reason}"),
            (BackupStatus::Unreadable, None) => "unreadable".to_owned(),
            (BackupStatus::Completed, _) if r.encrypted => "encrypted".to_owned(),
            (BackupStatus::Completed, _) => "plain".to_owned(),
        };
        let notes = r
            .notes
            .as_deref()
            .map(|n| format!("  \"{}\"", n.escape_debug()))
            .unwrap_or_default();
        println!(
            "{}  {:9}  {}  {:>9}  {state}{notes}",
            r.id,
            r.backup_type,
            rfc3339(&r.created_at),
            size(r.file_size)
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn verify(folder: &BackupFolder, file: &str, json: bool) -> Result<ExitCode, Failure> {
    let path = resolve(folder, file)?;
    let secrets = Secrets::from_env()?;
    let bar = StepBar::start();
    let checked =
        lectern_backup::verify(&path, folder, &secrets, Limits::default(), bar.clone()).await;
    bar.finish();
    let manifest = checked?.manifest;
    if json {
        output::json(&serde_json::json!({
            "status": "sound", "file": path, "manifest": manifest,
        }));
    } else {
        println!("{}: sound", path.display());
        println!("  {}", describe(&manifest));
        let counts: Vec<String> = manifest
            .row_counts
            .iter()
            .map(|(table, n)| format!("{table} {n}"))
            .collect();
        println!("  rows: {}", counts.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// What a restore did, for `--json` and the summary.
#[derive(Debug, Serialize)]
struct Restored {
    /// The archive's own id (its manifest's).
    restored: String,
    file: PathBuf,
    manifest: Manifest,
    /// The schema version the data now has (migrated from the archive's).
    schema_version: i64,
    /// The backup of the data that was replaced.
    safety_backup: Option<BackupRecord>,
    /// Where the damaged database was moved, when it could not be read.
    damaged_file: Option<PathBuf>,
    sessions_ended: bool,
}

impl From<restore::Restored> for Restored {
    fn from(r: restore::Restored) -> Self {
        Restored {
            restored: r.manifest.id.clone(),
            file: r.archive,
            manifest: r.manifest,
            schema_version: r.schema_version,
            safety_backup: r.safety_backup,
            damaged_file: r.damaged_file,
            sessions_ended: true,
        }
    }
}

/// The database in place when a restore starts.
enum Current {
    Sound(Arc<dyn Store>),
    /// Not a database, or failing its check: why.
    Damaged(String),
}

async fn restore(
    config: Config,
    folder: &BackupFolder,
    file: &str,
    yes: bool,
    json: bool,
) -> Result<ExitCode, Failure> {
    if !yes && !std::io::stdin().is_terminal() {
        return Err(Failure::Invalid(
            "a restore replaces all data: pass --yes to confirm it without a terminal".into(),
        ));
    }
    let path = resolve(folder, file)?;
    let options = super::backup_options(&config, Secrets::from_env()?);
    // The embedded database's file; `None` on a database server, which has
    // no file to install or move aside.
    let db_path = sqlite_path(&config).ok();
    // Cheap, and says what is about to be restored before anyone confirms.
    let manifest = archive::read_layout(&path, snapshot::latest_schema_version())?.manifest;
    if db_path.as_ref().is_some_and(|p| !p.exists()) {
        let what = format!(
            "There is no database in {} yet: the backup {} becomes it.",
            config.data.display(),
            describe(&manifest)
        );
        confirm(yes, &what)?;
        let restored = install_file(&config, &options, &path, None).await?;
        report(&restored, json);
        return Ok(ExitCode::SUCCESS);
    }
    let restored = match open_current(&config).await? {
        Current::Sound(store) => {
            let ctx = Context::over(config, store, None).await?;
            restore_sound(&ctx, options, &path, &manifest.id, yes).await?
        }
        Current::Damaged(reason) => {
            let Some(db_path) = db_path else {
                return Err(Failure::Damaged(reason));
            };
            eprintln!("lectern: the database is damaged ({reason})");
            let what = format!(
                "The database {} cannot be read, so Lectern cannot tell whether a server is \
                 using it: stop it first.\nIt will be moved to {} and replaced with the backup {}",
                db_path.display(),
                folder.work_dir().display(),
                describe(&manifest)
            );
            confirm(yes, &what)?;
            install_file(&config, &options, &path, None).await?
        }
    };
    report(&restored, json);
    Ok(ExitCode::SUCCESS)
}

/// The usual restore, over a database that opened: the one restore
/// sequence the server runs too, confirmed on the terminal. When its
/// safety backup finds the database unreadable after all, the prepared
/// data goes in by the damaged route instead.
async fn restore_sound(
    ctx: &Context,
    options: BackupOptions,
    path: &Path,
    backup_id: &str,
    yes: bool,
) -> Result<Restored, Failure> {
    let app = ctx.app(options.secrets.clone());
    let ask = move |m: &Manifest| {
        let what = format!(
            "This replaces all data with the backup {}.\n\
             A safety backup of the current data is taken first.",
            describe(m)
        );
        confirm(yes, &what).map_err(|declined| AppError::Declined(declined.to_string()))
    };
    let bar = StepBar::start();
    let who = ctx.by();
    let request = RestoreRequest {
        archive: path,
        who: &who,
        confirm: &ask,
        drain: &NoRequests,
        progress: bar.clone(),
    };
    let done = restore::restore(&app, request).await;
    bar.finish();
    let restored = match done {
        Ok(RestoreOutcome::Restored(restored)) => Restored::from(*restored),
        Ok(RestoreOutcome::Unreadable(prepared)) => {
            ctx.store.close().await;
            return install_file(&ctx.config, &options, path, Some(*prepared)).await;
        }
        Err(e) => {
            let failure = Failure::from(e);
            let target = Some(format!("backup={backup_id}"));
            ctx.refused("backup.restore", target, &failure).await;
            ctx.store.close().await;
            return Err(failure);
        }
    };
    ctx.store.close().await;
    Ok(restored)
}

/// The restore for a database that cannot be read, or is not there: the
/// archive prepared (unless it was), then put in place of the database
/// by `lectern_app::restore::install`.
async fn install_file(
    config: &Config,
    options: &BackupOptions,
    path: &Path,
    prepared: Option<PreparedRestore>,
) -> Result<Restored, Failure> {
    let prepared = match prepared {
        Some(prepared) => prepared,
        None => {
            let bar = StepBar::start();
            let prepared = restore::prepare(options, path, bar.clone()).await;
            bar.finish();
            prepared?
        }
    };
    let db_path = sqlite_path(config)?;
    let installed = restore::install(options, &prepared, path, &db_path).await?;
    if let Some(moved) = &installed.damaged_file {
        eprintln!(
            "lectern: the damaged database was moved to {}",
            moved.display()
        );
    }
    // Checked in full before it was put there; its audit entry goes in it.
    let ctx = Context::over(config.clone(), open_unchecked(config).await?, None).await?;
    let app = ctx.app(options.secrets.clone());
    restore::announce_installed(&app, &ctx.by(), &installed).await;
    ctx.store.close().await;
    Ok(Restored::from(installed))
}

fn report(restored: &Restored, json: bool) {
    if json {
        output::json(restored);
        return;
    }
    println!("restored {}", describe(&restored.manifest));
    if restored.schema_version != restored.manifest.schema_version {
        println!(
            "  migrated from schema {} to {}",
            restored.manifest.schema_version, restored.schema_version
        );
    }
    if let Some(safety) = &restored.safety_backup {
        println!(
            "  the replaced data is in the safety backup {} ({})",
            safety.id,
            safety.file_path.display()
        );
    }
    if let Some(damaged) = &restored.damaged_file {
        println!("  the damaged database was kept as {}", damaged.display());
    }
    println!("  every session has ended: everyone signs in again");
}

/// Opens the database in place, telling a damaged one apart from other
/// failures (which stop the restore: the database may be fine).
async fn open_current(config: &Config) -> Result<Current, Failure> {
    match open_sound(config).await {
        Ok(store) => Ok(Current::Sound(store)),
        Err(Failure::Damaged(reason)) => Ok(Current::Damaged(reason)),
        Err(other) => Err(other),
    }
}

/// Asks to type `restore` on the terminal (`restore` checked there is one).
fn confirm(yes: bool, what: &str) -> Result<(), Failure> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    eprintln!("{what}");
    eprint!("Type restore to go on: ");
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::Io(format!("cannot read the answer: {e}")))?;
    match answer.trim() {
        "restore" => Ok(()),
        _ => Err(Failure::Declined(
            "restore cancelled: nothing changed".into(),
        )),
    }
}

/// FILE is a path to an archive, or the id of one in the backup folder.
fn resolve(folder: &BackupFolder, file: &str) -> Result<PathBuf, Failure> {
    let path = Path::new(file);
    if path.is_file() {
        return Ok(std::path::absolute(path).unwrap_or_else(|_| path.to_owned()));
    }
    match folder.find(file) {
        Ok(record) => Ok(record.file_path),
        Err(_) => Err(Failure::NotFound(format!(
            "{file:?} is neither a file nor the id of a backup in {}",
            folder.dir().display()
        ))),
    }
}

fn sqlite_path(config: &Config) -> Result<PathBuf, Failure> {
    let url = config.database_url();
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .map(PathBuf::from)
        .ok_or_else(|| {
            Failure::Invalid(
                "only the embedded SQLite database is replaced by its file when it \
                 cannot be read; a PostgreSQL database is restored into, table by table"
                    .into(),
            )
        })
}

/// `20260501T020000Z… taken 2026-05-01T02:00:00Z by cli:root (schema 5, "notes")`.
fn describe(m: &Manifest) -> String {
    let notes = m
        .notes
        .as_deref()
        .map(|n| format!(", \"{}\"", n.escape_debug()))
        .unwrap_or_default();
    format!(
        "{} taken {} by {} ({} backup, schema {}{notes})",
        m.id,
        rfc3339(&m.created_at),
        m.created_by.escape_debug(),
        m.backup_type,
        m.schema_version
    )
}

fn rfc3339(at: &time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn size(bytes: u64) -> String {
    match bytes {
        0..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", bytes as f64 / 1e6),
        _ => format!("{:.2} GB", bytes as f64 / 1e9),
    }
}
