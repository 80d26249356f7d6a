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
use std::path::{Path, PathBuf};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

const PREFIX: &str = "lectern-";
const SUFFIX: &str = ".tar";

/// The scratch names ([`BackupFolder::scratch`]) of operations that run
/// under the operation lock, which [`BackupFolder::sweep`] may remove.
const LOCKED_SCRATCH: [&str; 2] = ["backup-", "restore-"];

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
        let stamp = self
            .at
            .format(format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .unwrap_or_default();
        format!("{stamp}-{}-{}", self.backup_type, self.tag)
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
    /// folder; removed with everything in it when dropped.
    pub fn scratch(&self, purpose: &str) -> Result<tempfile::TempDir, BackupError> {
        self.ensure()?;
        tempfile::Builder::new()
            .prefix(&format!("{purpose}-"))
            .tempdir_in(&self.work)
            .map_err(BackupError::io("cannot create a work folder"))
    }

    /// Removes the scratch folders that a backup or restore killed midway
    /// left in the work folder; returns how many went. Call it holding the
    /// operation lock: only its holder makes these, so none of them is
    /// live. Scratch of work done without the lock (a verify, an upload
    /// being received) and damaged databases moved aside are kept.
    pub fn sweep(&self) -> Result<usize, BackupError> {
        let entries = match std::fs::read_dir(&self.work) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(BackupError::io("cannot read the work folder")(e)),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(BackupError::io("cannot read the work folder"))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !LOCKED_SCRATCH.iter().any(|p| name.starts_with(p)) {
                continue;
            }
            let path = entry.path();
            // Not through links: a folder of its own is removed whole, and
            // anything else under such a name is only unlinked.
            let gone = match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&path),
                Ok(_) => std::fs::remove_file(&path),
                Err(_) => continue, // removed meanwhile
            };
            gone.map_err(BackupError::io(format!("cannot remove {}", path.display())))?;
            removed += 1;
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
    fn sweep_removes_what_killed_backups_and_restores_left_and_nothing_else() {
        let data = tempfile::tempdir().unwrap();
        let folder = BackupFolder::in_data(data.path());
        folder.ensure().unwrap();
        let work = folder.work_dir().to_owned();
        // Left by a killed backup and a killed restore, with files inside.
        for name in ["backup-a1b2c3", "restore-d4e5f6"] {
            std::fs::create_dir_all(work.join(name).join("inner")).unwrap();
            std::fs::write(work.join(name).join("inner/lectern.db"), b"x").unwrap();
        }
        std::fs::write(work.join("backup-stray"), b"x").unwrap();
        // Not the lock holder's: kept.
        let verify = folder.scratch("verify").unwrap();
        let upload = folder.scratch("upload").unwrap();
        std::fs::write(work.join("damaged-20260501T020000Z.db"), b"x").unwrap();
        // An archive in the backup folder is never touched.
        std::fs::write(folder.dir().join("lectern-x.tar"), b"x").unwrap();

        assert_eq!(folder.sweep().unwrap(), 3);

        let mut left: Vec<String> = std::fs::read_dir(&work)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left.len(), 3, "{left:?}");
        assert_eq!(left[0], "damaged-20260501T020000Z.db");
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
