//! The manifest: the archive's first entry, plain JSON that says what the
//! archive holds. It never holds a secret: it is read before anything is
//! decrypted, by Lectern and by people (`tar -xOf FILE manifest.json`).

use crate::BackupError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;

/// The value of `format`: what tells a Lectern backup from any other tar.
pub const FORMAT: &str = "lectern-backup";
/// The layout this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// The payload's name in the archive, plain or encrypted with age.
pub const PAYLOAD_PLAIN: &str = "lectern.db.zst";
pub const PAYLOAD_ENCRYPTED: &str = "lectern.db.zst.age";
/// Longest `notes` accepted, in characters.
pub const MAX_NOTES: usize = 2000;
/// Longest `created_by`, in characters.
const MAX_ACTOR: usize = 200;
/// Most tables listed in `row_counts`.
const MAX_TABLES: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// 128 random bits in lowercase hex: the archive's own identity.
    pub id: String,
    pub lectern_version: String,
    /// The highest migration applied to the snapshot inside.
    pub schema_version: i64,
    /// When the snapshot was taken (UTC, millisecond precision).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// `cli:root`, `user:alice`, `system:scheduler`.
    pub created_by: String,
    pub backup_type: BackupType,
    pub notes: Option<String>,
    pub row_counts: BTreeMap<String, u64>,
    pub encryption: Encryption,
    pub payload: Payload,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// [`PAYLOAD_PLAIN`] or [`PAYLOAD_ENCRYPTED`].
    pub name: String,
    /// Bytes of the payload entry, and their SHA-256 (lowercase hex).
    pub size: u64,
    pub sha256: String,
    /// Bytes of the SQLite snapshot once decrypted and decompressed, and
    /// their SHA-256.
    pub db_size: u64,
    pub db_sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupType {
    Manual,
    Scheduled,
    /// Taken by a restore, of the data it replaced.
    Safety,
    /// Came in through an upload (only ever in a file name: the manifest
    /// keeps the type it was made with).
    Uploaded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encryption {
    None,
    /// age with a passphrase (scrypt).
    Passphrase,
    /// age to X25519 public keys.
    Recipients,
}

impl BackupType {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupType::Manual => "manual",
            BackupType::Scheduled => "scheduled",
            BackupType::Safety => "safety",
            BackupType::Uploaded => "uploaded",
        }
    }
}

impl fmt::Display for BackupType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BackupType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "manual" => Ok(BackupType::Manual),
            "scheduled" => Ok(BackupType::Scheduled),
            "safety" => Ok(BackupType::Safety),
            "uploaded" => Ok(BackupType::Uploaded),
            other => Err(format!("unknown backup type {other:?}")),
        }
    }
}

impl Encryption {
    pub fn payload_name(self) -> &'static str {
        match self {
            Encryption::None => PAYLOAD_PLAIN,
            Encryption::Passphrase | Encryption::Recipients => PAYLOAD_ENCRYPTED,
        }
    }
}

impl Manifest {
    /// Parses and checks a manifest read from an archive: a foreign file is
    /// `NotABackup`, a newer layout `NewerFormat`, a newer schema
    /// `NewerSchema`, anything else wrong `BadManifest`.
    pub fn parse(bytes: &[u8], latest_schema: i64) -> Result<Manifest, BackupError> {
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| BackupError::BadManifest(format!("it is not JSON: {e}")))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(BackupError::NotABackup(
                "its manifest does not say it is a Lectern backup".into(),
            ));
        }
        match value.get("format_version").and_then(|v| v.as_u64()) {
            Some(found) if found > u64::from(FORMAT_VERSION) => {
                return Err(BackupError::NewerFormat {
                    found,
                    supported: FORMAT_VERSION,
                })
            }
            Some(1..) => {}
            _ => {
                return Err(BackupError::BadManifest(
                    "format_version is missing or not a positive integer".into(),
                ))
            }
        }
        let manifest: Manifest =
            serde_json::from_value(value).map_err(|e| BackupError::BadManifest(e.to_string()))?;
        manifest.check(latest_schema)?;
        Ok(manifest)
    }

    fn check(&self, latest_schema: i64) -> Result<(), BackupError> {
        let bad = |m: &str| Err(BackupError::BadManifest(m.to_owned()));
        if !is_hex(&self.id, 32) {
            return bad("id is not 32 lowercase hex digits");
        }
        if self.schema_version < 1 {
            return bad("schema_version is not a migration version");
        }
        if self.schema_version > latest_schema {
            return Err(BackupError::NewerSchema {
                found: self.schema_version,
                known: latest_schema,
            });
        }
        if self.created_by.chars().count() > MAX_ACTOR || has_control(&self.created_by) {
            return bad("created_by is too long or holds control characters");
        }
        if self
            .notes
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_NOTES)
        {
            return bad("notes are too long");
        }
        if self.row_counts.len() > MAX_TABLES {
            return bad("row_counts lists too many tables");
        }
        if self.payload.name != self.encryption.payload_name() {
            return bad("the payload's name does not match its encryption");
        }
        if !is_hex(&self.payload.sha256, 64) || !is_hex(&self.payload.db_sha256, 64) {
            return bad("a checksum is not 64 lowercase hex digits");
        }
        Ok(())
    }

    /// `created_at` in milliseconds since the epoch, as the database keeps
    /// times.
    pub fn created_at_ms(&self) -> i64 {
        i64::try_from(self.created_at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    pub fn is_encrypted(&self) -> bool {
        self.encryption != Encryption::None
    }

    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings, numbers and maps with string keys always
        // encodes.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}

pub(crate) fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub(crate) fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// Notes as given by a person: trimmed, empty means none, and within limits.
pub fn clean_notes(notes: Option<&str>) -> Result<Option<String>, BackupError> {
    let Some(notes) = notes.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if notes.chars().count() > MAX_NOTES {
        return Err(BackupError::Invalid(format!(
            "notes are limited to {MAX_NOTES} characters"
        )));
    }
    if notes
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(BackupError::Invalid(
            "notes may not hold control characters".into(),
        ));
    }
    Ok(Some(notes.to_owned()))
}
