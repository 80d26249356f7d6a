//! `lectern backup create|list|verify|restore`: disaster recovery from the
//! shell (SPEC §3, docs/backups.md). They work with the server stopped;
//! `list` and `verify` never open the database, and `restore` works when it
//! is too damaged to open.

use super::{actor, open_sound, open_unchecked, Context, Failure};
use crate::cli::BackupCommand;
use crate::config::Config;
use crate::output::{self, StepBar};
use lectern_backup::{
    archive, prepare_restore, BackupError, BackupFolder, BackupRecord, BackupStatus, BackupType,
    Limits, Manifest, NewBackup, PreparedRestore, Progress, Quiet, Secrets,
};
use lectern_store::lock::{LockError, LockHandle};
use lectern_store::snapshot;
use lectern_store::{NewAuditEntry, Store};
use serde::Serialize;
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

pub async fn run(config: Config, command: BackupCommand) -> Result<ExitCode, Failure> {
    let folder = BackupFolder::in_data(&config.data);
    match command {
        BackupCommand::Create { notes, json } => create(config, &folder, notes, json).await,
        BackupCommand::List { json } => list(&folder, json),
        BackupCommand::Verify { file, json } => verify(&folder, &file, json).await,
        BackupCommand::Restore { file, yes, json } => {
            restore(config, &folder, &file, yes, json).await
        }
    }
}

/// A safety backup before something that deletes what people made (a
/// cleanup purges the progress kept on missing files).
pub async fn safety_backup(ctx: &Context, why: &str) -> Result<BackupRecord, Failure> {
    let secrets = Secrets::from_env()?;
    let folder = BackupFolder::in_data(&ctx.config.data);
    let lock = take_lock(&ctx.store, "backup").await?;
    let new = NewBackup {
        backup_type: BackupType::Safety,
        created_by: ctx.actor(),
        notes: Some(why.to_owned()),
    };
    let made = lectern_backup::create(ctx.store.as_ref(), &folder, &new, &secrets, Arc::new(Quiet))
        .await
        .map_err(Failure::from);
    lock.release().await?;
    made
}

async fn create(
    config: Config,
    folder: &BackupFolder,
    notes: Option<String>,
    json: bool,
) -> Result<ExitCode, Failure> {
    let secrets = Secrets::from_env()?;
    // The snapshot is checked instead, without holding up the work.
    let ctx = Context {
        store: open_unchecked(&config).await?,
        config,
        root_override: None,
    };
    let lock = take_lock(&ctx.store, "backup").await?;
    let new = NewBackup {
        backup_type: BackupType::Manual,
        created_by: ctx.actor(),
        notes,
    };
    let bar = StepBar::start();
    let made = lectern_backup::create(ctx.store.as_ref(), folder, &new, &secrets, bar.clone())
        .await
        .map_err(Failure::from);
    bar.finish();
    ctx.audit(
        "backup.create",
        made.as_ref().ok().map(|r| r.id.clone()),
        &made,
    )
    .await;
    lock.release().await?;
    let offsite = match &made {
        Ok(record) => send_offsite(&ctx, record).await,
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

/// The off-site copies of a new archive the configuration asks for.
async fn send_offsite(ctx: &Context, record: &BackupRecord) -> Result<(), String> {
    let offsite = ctx.config.backup.offsite();
    lectern_app::backups::send_offsite(ctx.store.as_ref(), &offsite, &ctx.actor(), record).await
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

/// The database in place when a restore starts.
enum Current {
    Sound(Arc<dyn Store>),
    /// Not a database, or failing its check: why.
    Damaged(String),
}

/// How a restore over a database that opened went.
enum OverSound {
    Restored(Box<Restored>),
    /// Its safety backup found it unreadable after all: the prepared data
    /// goes in by the damaged route instead.
    Unreadable(Box<PreparedRestore>),
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
    let secrets = Secrets::from_env()?;
    let db_path = sqlite_path(&config)?;
    // Cheap, and says what is about to be restored before anyone confirms.
    let manifest = archive::read_layout(&path, snapshot::latest_schema_version())?.manifest;
    if !db_path.exists() {
        let restored = restore_fresh(&config, folder, &path, &secrets, &manifest, yes).await?;
        report(&restored, json);
        return Ok(ExitCode::SUCCESS);
    }
    let restored = match open_current(&config).await? {
        Current::Sound(store) => {
            let ctx = Context {
                store,
                config,
                root_override: None,
            };
            let job = Job {
                folder,
                path: &path,
                secrets: &secrets,
                manifest: &manifest,
            };
            match restore_sound(&ctx, &job, yes).await? {
                OverSound::Restored(restored) => *restored,
                OverSound::Unreadable(prepared) => {
                    install_file(&ctx.config, folder, *prepared, &path, &db_path).await?
                }
            }
        }
        Current::Damaged(reason) => {
            eprintln!("lectern: the database is damaged ({reason})");
            let what = format!(
                "The database {} cannot be read, so Lectern cannot tell whether a server is \
                 using it: stop it first.\nIt will be moved to {} and replaced with the backup {}",
                db_path.display(),
                folder.work_dir().display(),
                describe(&manifest)
            );
            confirm(yes, &what)?;
            let prepared = prepare_with_bar(&path, folder, &secrets).await?;
            install_file(&config, folder, prepared, &path, &db_path).await?
        }
    };
    report(&restored, json);
    Ok(ExitCode::SUCCESS)
}

/// A restore over a database that opened, and what it needs.
struct Job<'a> {
    folder: &'a BackupFolder,
    path: &'a Path,
    secrets: &'a Secrets,
    manifest: &'a Manifest,
}

/// A restore into a data folder with no database yet (a new machine): there
/// is nothing to keep a copy of, and the checked file is put in place.
async fn restore_fresh(
    config: &Config,
    folder: &BackupFolder,
    path: &Path,
    secrets: &Secrets,
    manifest: &Manifest,
    yes: bool,
) -> Result<Restored, Failure> {
    let what = format!(
        "There is no database in {} yet: the backup {} becomes it.",
        config.data.display(),
        describe(manifest)
    );
    confirm(yes, &what)?;
    let prepared = prepare_with_bar(path, folder, secrets).await?;
    let db_path = sqlite_path(config)?;
    install_file(config, folder, prepared, path, &db_path).await
}

async fn prepare_with_bar(
    path: &Path,
    folder: &BackupFolder,
    secrets: &Secrets,
) -> Result<PreparedRestore, Failure> {
    let bar = StepBar::start();
    let prepared = prepare_restore(path, folder, secrets, Limits::default(), bar.clone()).await;
    bar.finish();
    Ok(prepared?)
}

/// The usual restore: under the operation lock, the archive is checked and
/// migrated, a safety backup taken, and the data replaced in one step.
async fn restore_sound(ctx: &Context, job: &Job<'_>, yes: bool) -> Result<OverSound, Failure> {
    let lock = take_lock(&ctx.store, "restore").await?;
    let what = format!(
        "This replaces all data with the backup {}.\n\
         A safety backup of the current data is taken first.",
        describe(job.manifest)
    );
    let bar = StepBar::start();
    let done = match confirm(yes, &what) {
        Ok(()) => replace(ctx, job, bar.clone()).await,
        Err(declined) => Err(declined),
    };
    bar.finish();
    let target = Some(job.manifest.id.clone());
    match &done {
        Ok(OverSound::Restored(restored)) => record_restore(ctx.store.as_ref(), restored).await,
        Ok(OverSound::Unreadable(_)) | Err(Failure::Declined(_)) => {}
        Err(_) => ctx.audit("backup.restore", target, &done).await,
    }
    // The lock row was carried into the restored data, so this still frees
    // it; a damaged database may not let it, and is replaced next anyway.
    let _ = lock.release().await;
    ctx.store.close().await;
    done
}

async fn replace(
    ctx: &Context,
    job: &Job<'_>,
    progress: Arc<StepBar>,
) -> Result<OverSound, Failure> {
    let (folder, secrets) = (job.folder, job.secrets);
    let store = ctx.store.as_ref();
    let safety = NewBackup {
        backup_type: BackupType::Safety,
        created_by: ctx.actor(),
        notes: Some(format!("the data before restoring {}", file_name(job.path))),
    };
    let prepared = prepare_restore(
        job.path,
        folder,
        secrets,
        Limits::default(),
        progress.clone(),
    )
    .await?;
    // After the archive's checks, not beside them, so that it holds the
    // data as close as can be to the moment it is replaced.
    let safety =
        match lectern_backup::create(store, folder, &safety, secrets, progress.clone()).await {
            Ok(record) => record,
            Err(e @ BackupError::DatabaseDamaged(_)) => {
                eprintln!("lectern: {e}");
                return Ok(OverSound::Unreadable(Box::new(prepared)));
            }
            Err(BackupError::Store(e)) if snapshot::is_damage(&e) => {
                eprintln!("lectern: the current database cannot be read ({e})");
                return Ok(OverSound::Unreadable(Box::new(prepared)));
            }
            Err(e) => return Err(e.into()),
        };
    progress.step("replacing the data", None);
    store
        .replace_with_snapshot(prepared.database(), prepared.keep_audit_after())
        .await?;
    Ok(OverSound::Restored(Box::new(Restored {
        restored: prepared.manifest().id.clone(),
        file: job.path.to_owned(),
        manifest: prepared.manifest().clone(),
        schema_version: prepared.migrated_to,
        safety_backup: Some(safety),
        damaged_file: None,
        sessions_ended: true,
    })))
}

/// The restore for a database that cannot be read, or is not there: it is
/// moved aside (kept, with its journal files) and the prepared file put in
/// its place.
async fn install_file(
    config: &Config,
    folder: &BackupFolder,
    prepared: PreparedRestore,
    path: &Path,
    db_path: &Path,
) -> Result<Restored, Failure> {
    snapshot::forget_sessions_and_lock(prepared.database())
        .await
        .map_err(BackupError::from)?;
    folder.ensure()?;
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    // Never over an earlier damaged file.
    let aside = (0..)
        .map(|n| match n {
            0 => folder.work_dir().join(format!("damaged-{stamp}.db")),
            n => folder.work_dir().join(format!("damaged-{stamp}-{n}.db")),
        })
        .find(|p| !p.exists())
        .unwrap_or_default();
    let io = |what: &str, e: std::io::Error| Failure::Io(format!("{what}: {e}"));
    let moved = if db_path.exists() {
        snapshot::move_aside(db_path, &aside)
            .map_err(|e| io("cannot move the damaged database aside", e))?;
        Some(aside.clone())
    } else {
        None
    };
    if let Err(e) = snapshot::install(prepared.database(), db_path) {
        if moved.is_some() {
            // Put back what was there: a failed restore changes nothing
            // (but never over a database that appeared meanwhile).
            if let Err(e) = snapshot::put_back(&aside, db_path) {
                eprintln!(
                    "lectern: the damaged database stays at {} ({e})",
                    aside.display()
                );
            }
        }
        return Err(io("cannot put the restored database in place", e));
    }
    if let Some(moved) = &moved {
        eprintln!(
            "lectern: the damaged database was moved to {}",
            moved.display()
        );
    }
    // Checked in full before it was put there.
    let store = open_unchecked(config).await?;
    let restored = Restored {
        restored: prepared.manifest().id.clone(),
        file: path.to_owned(),
        manifest: prepared.manifest().clone(),
        schema_version: prepared.migrated_to,
        safety_backup: None,
        damaged_file: moved,
        sessions_ended: true,
    };
    record_restore(store.as_ref(), &restored).await;
    store.close().await;
    Ok(restored)
}

/// One audit entry for the restore, written into the restored data.
async fn record_restore(store: &dyn Store, restored: &Restored) {
    let mut entry = NewAuditEntry::now(actor(), "backup.restore");
    entry.target = Some(restored.restored.clone());
    let detail = serde_json::json!({
        "file": restored.file,
        "backup_created_at": rfc3339(&restored.manifest.created_at),
        "safety_backup": restored.safety_backup.as_ref().map(|r| &r.id),
        "damaged_file": restored.damaged_file,
    });
    entry.detail = Some(detail.to_string());
    if let Err(e) = store.record_audit(&entry).await {
        eprintln!("lectern: cannot record the restore in the audit log: {e}");
    }
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

async fn take_lock(store: &Arc<dyn Store>, operation: &str) -> Result<LockHandle, Failure> {
    LockHandle::acquire(store, operation, &actor())
        .await
        .map_err(|e| match e {
            LockError::Busy(_) => Failure::Busy(e.to_string()),
            LockError::Store(e) => Failure::Store(e),
        })
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
            Failure::Invalid("restore works on the embedded SQLite database only".into())
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

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn size(bytes: u64) -> String {
    match bytes {
        0..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", bytes as f64 / 1e6),
        _ => format!("{:.2} GB", bytes as f64 / 1e9),
    }
}
