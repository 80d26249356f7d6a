//! SHA-256 of file content, on every core. A file is opened without
//! blocking and checked to be a regular file before a byte is read (a FIFO
//! or device would otherwise hang the scan), and re-checked afterwards so a
//! file written to while we read it is reported, not stored half-right.

use lectern_core::progress::ScanProgress;
use lectern_core::Sha256Digest;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

const CHUNK: usize = 256 * 1024;
const RESULTS_PER_MESSAGE: usize = 32;
/// A course description is kept in the database; a larger README is still
/// indexed as a file but not copied in.
pub const MAX_DESCRIPTION: u64 = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    pub size: u64,
    pub mtime_ns: i64,
    pub sha256: Sha256Digest,
    /// The content as text, when asked for and small enough.
    pub text: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a regular file any more; skipped")]
    NotRegular,
    #[error("changed while it was being read; it will be read again on the next scan")]
    Changed,
    #[error("the scan was cancelled")]
    Cancelled,
}

thread_local! {
    /// One read buffer per hashing thread: a fresh 256 KiB buffer per file
    /// costs an mmap, munmap and 64 page faults each time.
    static BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; CHUNK]);
}

pub fn hash_file(
    path: &Path,
    keep_text: bool,
    progress: &ScanProgress,
) -> Result<Hashed, HashError> {
    let mut file = open_nonblocking(path)?;
    let before = file.metadata()?;
    if !before.is_file() {
        return Err(HashError::NotRegular);
    }
    let mut kept = (keep_text && before.len() <= MAX_DESCRIPTION).then(Vec::new);
    let mut hasher = Sha256::new();
    let read_total = BUFFER.with_borrow_mut(|buf| {
        read_all(&mut file, buf, |chunk| {
            hasher.update(chunk);
            if let Some(kept) = kept.as_mut() {
                kept.extend_from_slice(chunk);
            }
            progress.hashed(chunk.len() as u64);
            !progress.is_cancelled()
        })
    })?;
    let after = file.metadata()?;
    let mtime_ns = crate::walk::mtime_ns(&after);
    if read_total != after.len() || mtime_ns != crate::walk::mtime_ns(&before) {
        return Err(HashError::Changed);
    }
    Ok(Hashed {
        size: read_total,
        mtime_ns,
        sha256: Sha256Digest(hasher.finalize().into()),
        text: kept.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    })
}

/// Feeds the file to `take` chunk by chunk until the end, or until `take`
/// says stop (the scan was cancelled). Returns the bytes read.
fn read_all(
    file: &mut File,
    buf: &mut [u8],
    mut take: impl FnMut(&[u8]) -> bool,
) -> Result<u64, HashError> {
    let mut total = 0u64;
    loop {
        let n = match file.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        total += n as u64;
        if !take(&buf[..n]) {
            return Err(HashError::Cancelled);
        }
    }
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // Opening a FIFO for reading returns at once instead of waiting for a
    // writer; on regular files O_NONBLOCK changes nothing.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

/// Hashes every job on a thread per core, sending each result as it is
/// ready; stops early when the scan is cancelled or the receiver is gone.
/// `locate` gives a job's file and whether to keep its text; it is called as
/// the job runs, so a library's worth of absolute paths is never held at
/// once.
pub fn hash_all<T: Send>(
    jobs: Vec<T>,
    locate: impl Fn(&T) -> (PathBuf, bool) + Send + Sync,
    progress: &ScanProgress,
    results: tokio::sync::mpsc::Sender<Vec<(T, Result<Hashed, HashError>)>>,
) {
    if jobs.is_empty() {
        return;
    }
    match hashing_threads() {
        Ok(pool) => pool.install(|| hash_on_pool(jobs, locate, progress, results)),
        Err(e) => {
            tracing::warn!("hashing on the shared threads: {e}");
            hash_on_pool(jobs, locate, progress, results)
        }
    }
}

/// The scan's own threads, one per core, at its lower priority (see
/// `background.rs`).
fn hashing_threads() -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("lectern-hash-{i}"))
        .start_handler(|_| crate::background::yield_to_others())
        .build()
}

fn hash_on_pool<T: Send>(
    jobs: Vec<T>,
    locate: impl Fn(&T) -> (PathBuf, bool) + Sync,
    progress: &ScanProgress,
    results: tokio::sync::mpsc::Sender<Vec<(T, Result<Hashed, HashError>)>>,
) {
    // Results go out a few dozen at a time: one hand-over (and thread
    // wake-up) per file cost more than hashing a small file.
    let outcome = jobs
        .into_par_iter()
        .chunks(RESULTS_PER_MESSAGE)
        .try_for_each(|chunk| {
            let mut done = Vec::with_capacity(chunk.len());
            for job in chunk {
                if progress.is_cancelled() {
                    break;
                }
                let (path, keep_text) = locate(&job);
                let result = hash_file(&path, keep_text, progress);
                done.push((job, result));
            }
            results.blocking_send(done).map_err(|_| ())
        });
    // Err only means "stopped early", which the caller sees for itself.
    let _ = outcome;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_sha256sum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, b"hello\n").unwrap();
        let h = hash_file(&path, true, &ScanProgress::default()).unwrap();
        assert_eq!(
            h.sha256.to_hex(),
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert_eq!(h.size, 6);
        assert_eq!(h.text.as_deref(), Some("hello\n"));
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe");
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let err = hash_file(&path, false, &ScanProgress::default()).unwrap_err();
        assert!(matches!(err, HashError::NotRegular), "{err:?}");
    }
}
