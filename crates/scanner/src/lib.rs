//! The scanner brings the index in line with the library root (SPEC §1).
//!
//! A scan runs in steps: take the operation lock, walk the disk while the
//! index loads, plan, hash the files that could be moves, decide the safety
//! guard (before anything is written), then commit moves and missing marks
//! and stream the remaining hashes into the index in short batches.

mod background;
mod classify;
mod cleanup;
mod hash;
mod plan;
mod run;
mod walk;

pub use cleanup::{cleanup, cleanup_locked, CleanupReport};
pub use run::{RunningScan, ScanOptions, ScanReport, ScanScope, Scanner};
pub use walk::{mtime_ns, IGNORE_FILE};

use lectern_core::CourseId;
use lectern_store::lock::LockError;
use lectern_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("another operation is running: {0}")]
    Busy(lectern_store::LockInfo),
    #[error("there is no course with id {0}")]
    UnknownCourse(CourseId),
    #[error("{0} is not a category folder (one name below the library root)")]
    NotACategory(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<LockError> for ScanError {
    fn from(e: LockError) -> Self {
        match e {
            LockError::Busy(info) => ScanError::Busy(info),
            LockError::Store(e) => ScanError::Store(e),
        }
    }
}
