//! Lectern's backups (SPEC §3): one self-describing archive file per backup,
//! a tar holding a JSON manifest and the database as a zstd-compressed
//! SQLite snapshot, optionally encrypted with age (see [`archive`] for the
//! layout, `docs/backups.md` for opening one by hand).
//!
//! The pieces, for the CLI and the server alike:
//! - [`BackupFolder`]: the folder that is the truth for the list.
//! - [`create`]: snapshot the database into a new archive there.
//! - [`verify`]: check an archive completely, database included.
//! - [`prepare_restore`]: verify, unpack and migrate an archive into a
//!   database file ready for [`lectern_store::Store::replace_with_snapshot`].
//! - [`import`]: take an uploaded archive into the folder.
//!
//! The caller holds the operation lock around `create` and a restore. The
//! blocking work (compression, hashing, encryption) runs on Tokio's
//! blocking threads; [`Progress`] hears how far it is.

pub mod archive;
mod error;
mod folder;
mod manifest;
mod offsite;
mod ops;
mod secrets;
mod stream;

pub use error::BackupError;
pub use folder::{ArchiveName, BackupFolder, BackupRecord, BackupStatus, Scratch};
pub use manifest::{
    clean_notes, BackupType, Encryption, Manifest, Payload, FORMAT, FORMAT_VERSION, MAX_NOTES,
    PAYLOAD_ENCRYPTED, PAYLOAD_PLAIN,
};
pub use offsite::Offsite;
pub use ops::{create, import, prepare_restore, verify, NewBackup, PreparedRestore, Verified};
pub use secrets::Secrets;

/// Hears how a long backup step goes (a progress bar, a status endpoint).
pub trait Progress: Send + Sync {
    /// A step begins; `total` is its size in bytes when known.
    fn step(&self, _name: &str, _total: Option<u64>) {}
    /// `bytes` more of the current step are done.
    fn advance(&self, _bytes: u64) {}
}

/// Progress nobody watches.
pub struct Quiet;

impl Progress for Quiet {}

/// Bounds on what reading an archive may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest database an archive may unpack to, whatever its
    /// manifest says.
    pub max_db_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_db_size: 64 << 30,
        }
    }
}
