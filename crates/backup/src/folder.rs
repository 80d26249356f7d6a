//! The backup folder, the truth for the list of backups (SPEC §3): every
//! file named like an archive is listed, from its own manifest, so an
//! archive copied in by hand appears and one deleted by hand disappears.
//! Archives are written elsewhere (the work folder, `DATA/tmp`, on the same
//! file system) and renamed in when complete, so a half-written one never
//! shows.
//!
//! A name is `lectern-<yyyymmddThhmmssZ>-<type>-<8 hex>.tar`; the part
//! between `lectern-` and `.tar` is the backup's id in the list. It names
//! the file, not the data: it survives restores (no database sequence
//! behind it), and an uploaded copy of an archive gets a name of its own.

use crate::manifest::{BackupType, Manifest};
use crate::{archive, BackupError};
use serde::Serialize;
use std::fs::File;
use std::path::{Path, PathBuf};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

const PREFIX: &str = "lectern-";
const SUFFIX: &str = ".tar";

/// The scratch names ([`BackupFolder::scratch`]) of operations that run
/// under the operation lock, which [`BackupFolder::sweep`] may remove.
/// The work folder's scratch folders, by purpose; [`BackupFolder::sweep`]
/// touches nothing else there (a damaged database moved aside stays).
const SCRATCH: [&str; 4] = ["backup-", "restore-", "verify-", "upload-"];
/// A scratch folder while it is being made, before it is held.
const NEW_SCRATCH: &str = ".new-";
/// The file in a scratch folder its process holds a lock on while it lives.
const HELD: &str = ".held";
/// How old a new scratch folder may be before it is taken for abandoned
/// (making one takes microseconds).
const NEW_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// A folder for one operation's temporary files, held (by a lock on a file
/// in it) for as long as this lives, and removed with everything in it
/// when dropped.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
    _held: File,
}

impl Scratch {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Whether the scratch folder at `path` was left by a process that is
/// gone. A folder under a purpose's name is held from the moment it has
/// that name, so a free lock, or no lock file (a removal cut short), means
/// abandoned. A new one is judged by age: making one takes microseconds.
/// Anything unclear counts as live.
fn abandoned(path: &Path, meta: &std::fs::Metadata, new: bool) -> bool {
    if new {
        return meta
            .modified()
            .ok()
            .and_then(|at| at.elapsed().ok())
            .is_some_and(|age| age > NEW_GRACE);
    }
    match File::open(path.join(HELD)) {
        // The lock goes with the process that held it, however it ended.
        Ok(held) => held.try_lock().is_ok(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// One archive in the folder, as the list shows it (CLI `--json` and API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupRecord {
    pub id: String,
    pub filename: String,
    /// Absolute.
    pub file_path: PathBuf,
    pub file_size: u64,
    /// From the file name: an uploaded copy says `uploaded`.
    pub backup_type: BackupType,
    /// From the manifest; `None` when it cannot be read.
    pub created_by: Option<String>,
    /// When the data was captured (the manifest), or for an unreadable
    /// file the time in its name.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub status: BackupStatus,
    /// Why the archive is unreadable.
    pub reason: Option<String>,
    pub notes: Option<String>,
    pub encrypted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupStatus {
    /// Its layout and manifest read (a full check is `verify`).
    Completed,
    /// Damaged, foreign or from a newer Lectern: see `reason`.
    Unreadable,
}

/// A file name's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveName {
    pub at: OffsetDateTime,
    pub backup_type: BackupType,
    /// 8 lowercase hex digits.
    pub tag: String,
}

impl ArchiveName {
    /// A new name: `at` to the second, and a random tag.
    pub fn new(at: OffsetDateTime, backup_type: BackupType) -> ArchiveName {
        ArchiveName {
            at: at.replace_nanosecond(0).unwrap_or(at),
            backup_type,
            tag: hex::encode(rand::random::<[u8; 4]>()),
        }
    }

    pub fn id(&self) -> String {
        format!("{}-{}-{}", stamp(self.at), self.backup_type, self.tag)
    }

    /// Now as a name's time stamp (`20260501T020000Z`), for other files
    /// named the same way.
    pub fn stamp_now() -> String {
        stamp(OffsetDateTime::now_utc())
    }

    pub fn file_name(&self) -> String {
        format!("{PREFIX}{}{SUFFIX}", self.id())
    }

    /// Parses an id (`20260501T020000Z-manual-1a2b3c4d`); `None` for
    /// anything else, so an id from a request can never name another path.
    pub fn parse_id(id: &str) -> Option<ArchiveName> {
        let mut parts = id.splitn(3, '-');
        let (stamp, kind, tag) = (parts.next()?, parts.next()?, parts.next()?);
        let format = format_description!("[year][month][day]T[hour][minute][second]Z");
        let at = PrimitiveDateTime::parse(stamp, format).ok()?.assume_utc();
        let backup_type = kind.parse().ok()?;
        if !crate::manifest::is_hex(tag, 8) {
            return None;
        }
        Some(ArchiveName {
            at,
            backup_type,
            tag: tag.to_owned(),
        })
    }

    pub fn parse_file_name(name: &str) -> Option<ArchiveName> {
        ArchiveName::parse_id(name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?)
    }
}

/// `20260501T020000Z`: sorts as it reads.
fn stamp(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[year][month][day]T[hour][minute][second]Z"
    ))
    .unwrap_or_default()
}

/// The backup folder and the work folder beside it.
#[derive(Debug, Clone)]
pub struct BackupFolder {
    dir: PathBuf,
    work: PathBuf,
}

impl BackupFolder {
    /// `DATA/backups`, with `DATA/tmp` as the work folder.
    pub fn in_data(data: &Path) -> BackupFolder {
        BackupFolder::new(data.join("backups"), data.join("tmp"))
    }

    /// `work` must be on the same file system as `dir` (so that finished
    /// archives are renamed in) and never inside it.
    pub fn new(dir: PathBuf, work: PathBuf) -> BackupFolder {
        BackupFolder {
            dir: absolute(dir),
            work: absolute(work),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn work_dir(&self) -> &Path {
        &self.work
    }

    /// Creates both folders, readable by this user only.
    pub fn ensure(&self) -> Result<(), BackupError> {
        for dir in [&self.dir, &self.work] {
            private_dir(dir)
                .map_err(BackupError::io(format!("cannot create {}", dir.display())))?;
        }
        Ok(())
    }

    /// A fresh folder for one operation's temporary files, inside the work
    /// folder. What killed operations left there is cleared first.
    pub fn scratch(&self, purpose: &str) -> Result<Scratch, BackupError> {
        self.ensure()?;
        if let Err(e) = self.sweep() {
            tracing::warn!("cannot clear the work folder: {e}");
        }
        let failed = BackupError::io("cannot create a work folder");
        // Made under a name sweeps leave alone, and renamed once held: a
        // folder under a purpose's name is either held or abandoned.
        let new = tempfile::Builder::new()
            .prefix(NEW_SCRATCH)
            .tempdir_in(&self.work)
            .map_err(failed)?
            .keep();
        let made = (|| {
            let pending = new.join(".held-pending");
            let held = File::create_new(&pending)?;
            held.lock()?;
            std::fs::rename(&pending, new.join(HELD))?;
            let path = self.work.join(format!(
                "{purpose}-{}",
                hex::encode(rand::random::<[u8; 6]>())
            ));
            std::fs::rename(&new, &path)?;
            Ok(Scratch { path, _held: held })
        })();
        made.map_err(|e| {
            let _ = std::fs::remove_dir_all(&new);
            BackupError::io("cannot create a work folder")(e)
        })
    }

    /// Removes the scratch folders that killed processes left in the work
    /// folder (their lock is free); returns how many went. Safe at any
    /// time: a live operation's folder is held and kept, as are damaged
    /// databases moved aside.
    pub fn sweep(&self) -> Result<usize, BackupError> {
        let entries = match std::fs::read_dir(&self.work) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(BackupError::io("cannot read the work folder")(e)),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(BackupError::io("cannot read the work folder"))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let new = name.starts_with(NEW_SCRATCH);
            if !new && !SCRATCH.iter().any(|p| name.starts_with(p)) {
                continue;
            }
            // Only folders (never through a link): Lectern makes no other
            // scratch, so a file under such a name is someone else's.
            let gone = match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() && abandoned(&path, &meta, new) => {
                    std::fs::remove_dir_all(&path)
                }
                _ => continue,
            };
            match gone {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(BackupError::io(format!("cannot remove {}", path.display()))(e))
                }
            }
        }
        Ok(removed)
    }

    /// Every archive in the folder, newest first. A missing folder is an
    /// empty list; files with other names (a `.tmp`, notes) are not listed.
    pub fn list(&self) -> Result<Vec<BackupRecord>, BackupError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(BackupError::io("cannot read the backup folder")(e)),
        };
        let mut records = Vec::new();
        for entry in entries {
            let entry = entry.map_err(BackupError::io("cannot read the backup folder"))?;
            let Some(name) = entry
                .file_name()
                .to_str()
                .and_then(ArchiveName::parse_file_name)
            else {
                continue;
            };
            // Not through links: the folder's own files only.
            let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
                continue; // deleted while listing
            };
            if meta.is_file() {
                records.push(self.describe(&name, meta.len()));
            }
        }
        records.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok(records)
    }

    /// The archive with this id.
    pub fn find(&self, id: &str) -> Result<BackupRecord, BackupError> {
        let not_found = || BackupError::NotFound(id.to_owned());
        let name = ArchiveName::parse_id(id).ok_or_else(not_found)?;
        let path = self.dir.join(name.file_name());
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(self.describe(&name, meta.len())),
            _ => Err(not_found()),
        }
    }

    /// Deletes the archive with this id.
    pub fn delete(&self, id: &str) -> Result<(), BackupError> {
        let record = self.find(id)?;
        std::fs::remove_file(&record.file_path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => BackupError::NotFound(id.to_owned()),
            _ => BackupError::io(format!("cannot delete {}", record.filename))(e),
        })
    }

    /// Moves a finished archive (in the work folder) into the backup
    /// folder under `name`, readable by this user only, never replacing a
    /// file.
    pub fn publish(&self, archive: &Path, name: &ArchiveName) -> Result<BackupRecord, BackupError> {
        self.ensure()?;
        let dest = self.dir.join(name.file_name());
        let failed = BackupError::io(format!("cannot move the archive to {}", dest.display()));
        set_private(archive).map_err(BackupError::io("cannot set the archive's permissions"))?;
        // A link, unlike a rename, never replaces a file already there.
        std::fs::hard_link(archive, &dest).map_err(failed)?;
        let _ = std::fs::remove_file(archive);
        if let Ok(dir) = std::fs::File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        let size = std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
        Ok(self.describe(name, size))
    }

    fn describe(&self, name: &ArchiveName, file_size: u64) -> BackupRecord {
        let filename = name.file_name();
        let file_path = self.dir.join(&filename);
        let mut record = BackupRecord {
            id: name.id(),
            filename,
            file_path,
            file_size,
            backup_type: name.backup_type,
            created_by: None,
            created_at: name.at,
            status: BackupStatus::Unreadable,
            reason: None,
            notes: None,
            encrypted: false,
        };
        let latest = lectern_store::snapshot::latest_schema_version();
        match archive::read_layout(&record.file_path, latest) {
            Ok(layout) => fill_from(&mut record, layout.manifest),
            Err(e) => record.reason = Some(e.to_string()),
        }
        record
    }
}

fn fill_from(record: &mut BackupRecord, manifest: Manifest) {
    record.status = BackupStatus::Completed;
    record.created_at = manifest.created_at;
    record.encrypted = manifest.is_encrypted();
    record.created_by = Some(manifest.created_by);
    record.notes = manifest.notes;
}

fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn set_private(file: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_removes_what_killed_processes_left_and_nothing_else() {
        let data = tempfile::tempdir().unwrap();
        let folder = BackupFolder::in_data(data.path());
        folder.ensure().unwrap();
        let work = folder.work_dir().to_owned();
        // Held by live work (this process): kept.
        let verify = folder.scratch("verify").unwrap();
        let upload = folder.scratch("upload").unwrap();
        // Left by a killed backup (its lock file unheld) and by a restore
        // killed while removing its folder (the lock file already gone).
        for name in ["backup-a1b2c3", "restore-d4e5f6"] {
            std::fs::create_dir_all(work.join(name).join("inner")).unwrap();
            std::fs::write(work.join(name).join("inner/lectern.db"), b"x").unwrap();
        }
        std::fs::write(work.join("backup-a1b2c3").join(HELD), b"").unwrap();
        // Killed while being made, a while ago.
        std::fs::create_dir(work.join(".new-old")).unwrap();
        File::open(work.join(".new-old"))
            .unwrap()
            .set_modified(std::time::SystemTime::now() - 2 * NEW_GRACE)
            .unwrap();
        // Not a folder: not Lectern's scratch, kept.
        std::fs::write(work.join("backup-stray"), b"x").unwrap();
        // A verify whose process died: its lock file is there, unheld.
        std::fs::create_dir(work.join("verify-0a0b0c")).unwrap();
        std::fs::write(work.join("verify-0a0b0c").join(HELD), b"").unwrap();
        // Being made by someone right now: kept.
        std::fs::create_dir(work.join(".new-x1y2z3")).unwrap();
        std::fs::write(work.join("damaged-20260501T020000Z.db"), b"x").unwrap();
        // An archive in the backup folder is never touched.
        std::fs::write(folder.dir().join("lectern-x.tar"), b"x").unwrap();

        assert_eq!(folder.sweep().unwrap(), 4);

        let mut left: Vec<String> = std::fs::read_dir(&work)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left.len(), 5, "{left:?}");
        assert_eq!(left[0], ".new-x1y2z3");
        assert_eq!(left[1], "backup-stray");
        assert_eq!(left[2], "damaged-20260501T020000Z.db");
        assert!(verify.path().is_dir() && upload.path().is_dir());
        assert!(folder.dir().join("lectern-x.tar").is_file());
        assert_eq!(folder.sweep().unwrap(), 0, "nothing more to remove");
    }

    #[test]
    fn sweep_of_a_missing_work_folder_removes_nothing() {
        let data = tempfile::tempdir().unwrap();
        let folder = BackupFolder::in_data(&data.path().join("absent"));
        assert_eq!(folder.sweep().unwrap(), 0);
    }
}
