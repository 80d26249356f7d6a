//! Creating, verifying, importing and preparing archives: the steps the
//! CLI and the server share.

use crate::archive::{self, Layout};
use crate::folder::{ArchiveName, BackupFolder, BackupRecord, Scratch};
use crate::manifest::{self, BackupType, Manifest, Payload};
use crate::{BackupError, Limits, Progress, Secrets};
use lectern_store::snapshot::{self, SnapshotError, SnapshotInfo};
use lectern_store::{Store, StoreError};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::OffsetDateTime;

/// What to record about a new backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBackup {
    /// Manual, scheduled or safety (uploads come in through [`import`]).
    pub backup_type: BackupType,
    /// `cli:root`, `user:alice`, `system:scheduler`.
    pub created_by: String,
    pub notes: Option<String>,
}

/// Takes a backup of the database into the folder: a consistent snapshot,
/// checked, compressed (and encrypted as `secrets` say), written to the
/// work folder, synced, then renamed in. Hold the operation lock.
pub async fn create(
    store: &dyn Store,
    folder: &BackupFolder,
    new: &NewBackup,
    secrets: &Secrets,
    progress: Arc<dyn Progress>,
) -> Result<BackupRecord, BackupError> {
    if new.backup_type == BackupType::Uploaded {
        return Err(BackupError::Invalid(
            "an uploaded backup is imported, not created".into(),
        ));
    }
    let notes = manifest::clean_notes(new.notes.as_deref())?;
    let encryption = secrets.encryption();
    let encryptor = secrets.encryptor()?;
    let scratch = folder.scratch("backup")?;
    let db = scratch.path().join("lectern.db");
    let created_at = now();
    progress.step("taking a snapshot", None);
    store.snapshot(&db).await?;
    let mut manifest = Manifest {
        format: manifest::FORMAT.to_owned(),
        format_version: manifest::FORMAT_VERSION,
        id: hex::encode(rand::random::<[u8; 16]>()),
        lectern_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema_version: 0,
        created_at,
        created_by: new.created_by.clone(),
        backup_type: new.backup_type,
        notes,
        row_counts: Default::default(),
        encryption,
        payload: Payload {
            name: encryption.payload_name().to_owned(),
            ..Default::default()
        },
    };
    let room = archive::manifest_room(&manifest);
    let tar = scratch.path().join("archive.tar");
    // The check and the compression both only read the snapshot: they run
    // side by side, and a snapshot that fails its check is thrown away
    // with the rest.
    let write = {
        let (db, tar, progress) = (db.clone(), tar.clone(), progress.clone());
        blocking(move || archive::write_payload(&db, &tar, room, encryptor, &*progress))
    };
    let (info, facts) = tokio::join!(snapshot::inspect_own(&db), write);
    let info = info.map_err(|e| match e {
        // Damaged pages: the database needs a restore.
        SnapshotError::Damaged(_) | SnapshotError::NotSqlite => {
            BackupError::DatabaseDamaged(e.to_string())
        }
        SnapshotError::Store(e) => BackupError::Store(e),
        // Readable, but not as Lectern leaves it: worth a look, not a
        // reason to treat it as lost.
        other => BackupError::Store(StoreError::other(format!(
            "the snapshot of this database fails its checks: {other}"
        ))),
    })?;
    let facts = facts?;
    manifest.schema_version = info.schema_version;
    manifest.row_counts = info.row_counts;
    manifest.payload.size = facts.size;
    manifest.payload.sha256 = facts.sha256;
    manifest.payload.db_size = facts.db_size;
    manifest.payload.db_sha256 = facts.db_sha256;
    let name = ArchiveName {
        at: created_at.replace_millisecond(0).unwrap_or(created_at),
        backup_type: new.backup_type,
        tag: manifest.id[..8].to_owned(),
    };
    progress.step("writing the archive", None);
    blocking(move || archive::finish_archive(&tar, &manifest, room)).await?;
    folder.publish(&scratch.path().join("archive.tar"), &name)
}

/// A sound archive: what [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub manifest: Manifest,
}

/// Checks an archive completely without changing anything: layout,
/// manifest, checksums, decryption, decompression within limits, and the
/// database inside (integrity, schema). Temporary files go to the work
/// folder and are removed.
pub async fn verify(
    archive: &Path,
    folder: &BackupFolder,
    secrets: &Secrets,
    limits: Limits,
    progress: Arc<dyn Progress>,
) -> Result<Verified, BackupError> {
    let scratch = folder.scratch("verify")?;
    let (verified, _db) = unpack(archive, scratch.path(), secrets, limits, progress).await?;
    Ok(verified)
}

/// An archive unpacked, checked and migrated to this schema, ready for
/// [`Store::replace_with_snapshot`]; its files go when it is dropped.
#[derive(Debug)]
pub struct PreparedRestore {
    pub verified: Verified,
    /// The schema version the database now has.
    pub migrated_to: i64,
    database: PathBuf,
    _scratch: Scratch,
}

impl PreparedRestore {
    pub fn database(&self) -> &Path {
        &self.database
    }

    pub fn manifest(&self) -> &Manifest {
        &self.verified.manifest
    }

    /// Audit entries after this time (ms) are newer than the backup and
    /// are kept through the restore.
    pub fn keep_audit_after(&self) -> i64 {
        self.manifest().created_at_ms()
    }
}

pub async fn prepare_restore(
    archive: &Path,
    folder: &BackupFolder,
    secrets: &Secrets,
    limits: Limits,
    progress: Arc<dyn Progress>,
) -> Result<PreparedRestore, BackupError> {
    let scratch = folder.scratch("restore")?;
    let (verified, database) =
        unpack(archive, scratch.path(), secrets, limits, progress.clone()).await?;
    progress.step("migrating the database", None);
    let migrated_to = snapshot::migrate(&database).await?;
    Ok(PreparedRestore {
        verified,
        migrated_to,
        database,
        _scratch: scratch,
    })
}

/// Takes an uploaded archive (a file in the folder's work folder) into the
/// folder under a new name of type `uploaded`, once it verifies. It is
/// judged by its content, never by its name.
pub async fn import(
    upload: &Path,
    folder: &BackupFolder,
    secrets: &Secrets,
    limits: Limits,
    progress: Arc<dyn Progress>,
) -> Result<BackupRecord, BackupError> {
    verify(upload, folder, secrets, limits, progress).await?;
    folder.publish(upload, &ArchiveName::new(now(), BackupType::Uploaded))
}

/// Unpacks the archive's database into `dir` and checks it against the
/// manifest; returns the manifest and the database's path.
async fn unpack(
    archive: &Path,
    dir: &Path,
    secrets: &Secrets,
    limits: Limits,
    progress: Arc<dyn Progress>,
) -> Result<(Verified, PathBuf), BackupError> {
    let db = dir.join("lectern.db");
    let layout: Layout = {
        let (archive, db, secrets) = (archive.to_owned(), db.clone(), secrets.clone());
        let progress = progress.clone();
        blocking(move || {
            let layout = archive::read_layout(&archive, snapshot::latest_schema_version())?;
            archive::decode_payload(&archive, &layout, &secrets, &limits, &db, &*progress)?;
            Ok(layout)
        })
        .await?
    };
    progress.step("checking the database", None);
    let info = snapshot::inspect(&db).await?;
    agrees(&layout.manifest, &info)?;
    Ok((
        Verified {
            manifest: layout.manifest,
        },
        db,
    ))
}

/// The manifest must describe the database it came with.
fn agrees(manifest: &Manifest, info: &SnapshotInfo) -> Result<(), BackupError> {
    if manifest.schema_version != info.schema_version {
        return Err(BackupError::BadManifest(format!(
            "it says schema version {}; the database has {}",
            manifest.schema_version, info.schema_version
        )));
    }
    if manifest.row_counts != info.row_counts {
        return Err(BackupError::BadManifest(
            "its row counts differ from the database's".into(),
        ));
    }
    Ok(())
}

/// Now, in UTC, to the millisecond (the precision the database keeps).
fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    let ms = now.nanosecond() / 1_000_000 * 1_000_000;
    now.replace_nanosecond(ms).unwrap_or(now)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BackupError> + Send + 'static,
) -> Result<T, BackupError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| BackupError::io("a backup task stopped")(std::io::Error::other(e)))?
}
