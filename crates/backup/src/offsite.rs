//! Off-site copies (the seed sends backups to a NAS or a cloud with
//! rclone): a mirror folder every new archive is copied to, a bucket of
//! S3-compatible object storage it is uploaded to (`s3.rs`), and a command
//! run after each backup with the archive's path. All come from the
//! configuration file or the environment, never from the database: a
//! command is code, and the API must not be a way to run code.

use crate::s3::S3Target;
use crate::{BackupError, BackupRecord};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The longest an after-backup command may run (an upload to a cloud).
const COMMAND_LIMIT: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offsite {
    /// A folder (a mounted NAS, a synced drive) that gets a copy of every
    /// new archive.
    pub mirror: Option<PathBuf>,
    /// A bucket that gets a copy of every new archive.
    pub s3: Option<S3Target>,
    /// Run with `sh -c`; the archive's absolute path is `$1`, so it never
    /// has to be quoted into the command.
    pub after_command: Option<String>,
}

impl Offsite {
    pub fn is_empty(&self) -> bool {
        self.mirror.is_none() && self.s3.is_none() && self.after_command.is_none()
    }

    /// Copies the new archive, uploads it and runs the command; the first
    /// failure is returned, so it can be recorded like a failed backup.
    pub async fn send(&self, record: &BackupRecord) -> Result<(), BackupError> {
        if let Some(mirror) = &self.mirror {
            copy_to(mirror, &record.file_path, &record.filename).await?;
        }
        if let Some(bucket) = &self.s3 {
            bucket.send(&record.file_path, &record.filename).await?;
        }
        if let Some(command) = &self.after_command {
            run(command, &record.file_path).await?;
        }
        Ok(())
    }
}

/// Written under a temporary name, then renamed: the mirror never shows a
/// half-copied archive either.
async fn copy_to(mirror: &Path, archive: &Path, filename: &str) -> Result<(), BackupError> {
    let partial = mirror.join(format!(".{filename}.partial"));
    let done = mirror.join(filename);
    let context = format!("cannot copy the backup to the mirror {}", mirror.display());
    let copied = async {
        tokio::fs::copy(archive, &partial).await?;
        tokio::fs::File::open(&partial).await?.sync_all().await?;
        tokio::fs::rename(&partial, &done).await
    };
    if let Err(e) = copied.await {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(BackupError::io(context)(e));
    }
    Ok(())
}

async fn run(command: &str, archive: &Path) -> Result<(), BackupError> {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .arg("lectern-backup")
        .arg(archive)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(BackupError::io("cannot start the after-backup command"))?;
    let output = tokio::time::timeout(COMMAND_LIMIT, child.wait_with_output())
        .await
        .map_err(|_| {
            BackupError::Offsite(format!(
                "the after-backup command ran over {COMMAND_LIMIT:?}"
            ))
        })?
        .map_err(BackupError::io("the after-backup command failed"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: String = stderr
        .trim()
        .chars()
        .rev()
        .take(500)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Err(BackupError::Offsite(format!(
        "the after-backup command failed ({}): {tail}",
        output.status
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BackupStatus, BackupType};

    fn record(dir: &Path) -> BackupRecord {
        let file_path = dir.join("lectern-x.tar");
        std::fs::write(&file_path, b"archive bytes").unwrap();
        BackupRecord {
            id: "x".into(),
            filename: "lectern-x.tar".into(),
            file_path,
            file_size: 13,
            backup_type: BackupType::Manual,
            created_by: None,
            created_at: time::OffsetDateTime::now_utc(),
            status: BackupStatus::Completed,
            reason: None,
            notes: None,
            encrypted: false,
        }
    }

    #[tokio::test]
    async fn the_mirror_gets_a_copy_and_the_command_gets_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let mirror = dir.path().join("nas");
        std::fs::create_dir(&mirror).unwrap();
        let seen = dir.path().join("seen");
        let offsite = Offsite {
            mirror: Some(mirror.clone()),
            after_command: Some(format!("printf %s \"$1\" > '{}'", seen.display())),
            s3: None,
        };
        let record = record(dir.path());
        offsite.send(&record).await.unwrap();
        assert_eq!(
            std::fs::read(mirror.join("lectern-x.tar")).unwrap(),
            b"archive bytes"
        );
        assert_eq!(
            std::fs::read_dir(&mirror).unwrap().count(),
            1,
            "no partial file left"
        );
        assert_eq!(
            std::fs::read_to_string(seen).unwrap(),
            record.file_path.to_str().unwrap()
        );
    }

    #[tokio::test]
    async fn failures_say_what_went_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let record = record(dir.path());
        let gone = Offsite {
            mirror: Some(dir.path().join("not mounted")),
            ..Offsite::default()
        };
        assert!(gone
            .send(&record)
            .await
            .unwrap_err()
            .to_string()
            .contains("mirror"));
        let failing = Offsite {
            after_command: Some("echo quota exceeded >&2; exit 3".into()),
            ..Offsite::default()
        };
        let error = failing.send(&record).await.unwrap_err().to_string();
        assert!(
            error.contains("quota exceeded") && error.contains('3'),
            "{error}"
        );
    }
}
