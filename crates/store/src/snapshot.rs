//! Snapshot files: the database as a backup archive carries it, whichever
//! backend made it (SPEC §3), so that one archive restores into either
//! backend and into a newer schema. The format is a standalone SQLite
//! database file; the SQLite backend's module does the work (its
//! `snapshot_check` and `files`), and this module is what the rest of
//! Lectern calls.
//!
//! A snapshot that comes from outside is hostile until [`inspect`] passes:
//! it is opened read-only and immutable with `trusted_schema=OFF` (no
//! trigger or view in it may call an application function), its migration
//! history must be a prefix of ours, its schema objects exactly the ones our
//! migrations create at that version, and SQLite's integrity and foreign key
//! checks must pass. Only then is it migrated ([`migrate`]) and restored.

use crate::StoreError;
use std::collections::BTreeMap;

pub use crate::sqlite::files::{install, link_new, move_aside, put_back, MovedAside};
pub use crate::sqlite::snapshot_check::{
    forget_sessions_and_lock, inspect, inspect_own, latest_schema_version, migrate,
};

/// Why a snapshot is refused. Every variant but `Store` is the file's fault.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("it is not a SQLite database")]
    NotSqlite,
    #[error("it fails SQLite's integrity check: {0}")]
    Damaged(String),
    /// Sound pages, but rows pointing at rows that are not there.
    #[error("{0}")]
    Orphans(String),
    #[error(
        "its schema is version {found}, newer than this Lectern knows ({known}): \
         upgrade Lectern to restore it"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("its migration history is not Lectern's: {0}")]
    ForeignHistory(String),
    #[error("its schema is not Lectern's: {0}")]
    UnexpectedSchema(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`inspect`] found in a sound snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The highest migration applied to it.
    pub schema_version: i64,
    /// Rows per table (tables Lectern made; not SQLite's or search shadows).
    pub row_counts: BTreeMap<String, u64>,
}

/// Whether a store error means the database file itself is damaged (not a
/// database, or corrupt pages), rather than a passing problem.
pub fn is_damage(error: &StoreError) -> bool {
    error.is_damage()
}
