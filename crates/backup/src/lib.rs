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
mod s3;
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
pub use s3::S3Target;
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

/// Bounds on what reading an archive may cost. The database an archive
/// unpacks to is bounded by the least of: the size its manifest declares,
/// [`Limits::max_db_size`], [`Limits::expansion_allowed`] for its payload,
/// and the work folder's free space less [`Limits::reserve`]. The bound is
/// checked before anything is written, and decompression stops at the
/// first byte past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest database an archive may unpack to, whatever its
    /// manifest says.
    pub max_db_size: u64,
    /// The most a payload may expand: database bytes per payload byte.
    pub max_ratio: u64,
    /// Free space on the work folder's file system that unpacking leaves
    /// untouched, for the live database and its logs.
    pub reserve: u64,
}

/// Databases up to this size are never refused for their ratio. A small
/// database is mostly empty pages, which compress far beyond a big one's
/// ratio (a 208 KiB database with a handful of rows: 37 times), and
/// unpacking 64 MiB costs nothing worth guarding.
const ALWAYS_ALLOWED: u64 = 64 << 20;

impl Limits {
    /// How large a database a payload of `payload_size` bytes may unpack
    /// to: [`Limits::max_ratio`] times it, and never less than 64 MiB.
    pub fn expansion_allowed(&self, payload_size: u64) -> u64 {
        payload_size
            .saturating_mul(self.max_ratio)
            .max(ALWAYS_ALLOWED)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_db_size: 64 << 30,
            // A Lectern database in use compresses 3 to 12 times with zstd
            // at level 3 (text, hashes and integers in full pages); only a
            // small, mostly empty one goes past that, and ALWAYS_ALLOWED
            // covers it. 100 times leaves a wide margin for honest archives,
            // while zeros compress over 30,000 times: a 150 KB payload that
            // could unpack to 4 GiB is held to 64 MiB.
            max_ratio: 100,
            // Enough for the live database's WAL and the logs to go on
            // growing while an archive is unpacked.
            reserve: 256 << 20,
        }
    }
}
