use lectern_store::snapshot::SnapshotError;
use lectern_store::StoreError;

/// Everything that can go wrong with a backup, one variant per cause so the
/// server can answer each with its own status and code ([`BackupError::code`]).
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Empty, not a tar file, or a tar file that is not a Lectern backup.
    #[error("not a Lectern backup: {0}")]
    NotABackup(String),
    #[error("the archive is truncated: {0}")]
    Truncated(String),
    /// Extra or missing entries, names with `/` or `..`, links, devices.
    #[error("the archive's layout is refused: {0}")]
    BadLayout(String),
    #[error("the archive's manifest is invalid: {0}")]
    BadManifest(String),
    #[error(
        "the archive has format version {found}; this Lectern reads up to version \
         {supported}: upgrade Lectern to use it"
    )]
    NewerFormat { found: u64, supported: u32 },
    #[error(
        "the archive holds schema version {found}; this Lectern knows up to {known}: \
         upgrade Lectern to restore it"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("the archive is damaged: its {0} checksum does not match")]
    ChecksumMismatch(&'static str),
    #[error("the archive's database is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    /// The payload expands, or its manifest says it would, past `limit`
    /// bytes; `bound` says which bound that is.
    #[error(
        "the archive's payload expands beyond {limit} bytes ({bound}): \
         refused as a decompression bomb"
    )]
    DecompressionBomb { limit: u64, bound: String },
    /// The work folder's file system lacks the room to unpack the archive:
    /// this server's condition, not the archive's. Nothing was written.
    #[error(
        "not enough free space to unpack the archive: its database takes {needed} bytes, \
         and the work folder has {available} free beyond the {reserve} kept in reserve"
    )]
    NoSpace {
        needed: u64,
        available: u64,
        reserve: u64,
    },
    #[error("the archive's payload is damaged: {0}")]
    Corrupt(String),
    /// The database inside is not a sound Lectern database.
    #[error("the database in the archive is refused: {0}")]
    BadDatabase(String),
    /// The snapshot of this Lectern's own database fails its checks: the
    /// database itself is damaged, and no backup is made of it.
    #[error("the database fails its checks ({0}); no backup was made of it")]
    DatabaseDamaged(String),
    #[error("the archive is encrypted with a {0}, and none is configured: {1}")]
    SecretMissing(&'static str, &'static str),
    #[error("cannot decrypt the archive: wrong passphrase or key")]
    WrongSecret,
    #[error("the backup encryption settings are invalid: {0}")]
    BadSecrets(String),
    #[error("invalid backup request: {0}")]
    Invalid(String),
    /// The backup is made, but its off-site copy failed.
    #[error("{0}")]
    Offsite(String),
    #[error("there is no backup {0:?}")]
    NotFound(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BackupError {
    /// A stable snake_case name for scripts and the API's error envelope.
    pub fn code(&self) -> &'static str {
        match self {
            BackupError::NotABackup(_) => "not_a_backup",
            BackupError::Truncated(_) => "truncated",
            BackupError::BadLayout(_) => "bad_layout",
            BackupError::BadManifest(_) => "bad_manifest",
            BackupError::NewerFormat { .. } => "newer_format",
            BackupError::NewerSchema { .. } => "newer_schema",
            BackupError::ChecksumMismatch(_) => "checksum_mismatch",
            BackupError::TooLarge { .. } => "too_large",
            BackupError::DecompressionBomb { .. } => "decompression_bomb",
            BackupError::NoSpace { .. } => "insufficient_storage",
            BackupError::Corrupt(_) => "corrupt",
            BackupError::BadDatabase(_) => "bad_database",
            BackupError::DatabaseDamaged(_) => "damaged",
            BackupError::SecretMissing(..) => "secret_missing",
            BackupError::WrongSecret => "wrong_secret",
            BackupError::BadSecrets(_) => "bad_secrets",
            BackupError::Invalid(_) => "invalid",
            BackupError::Offsite(_) => "offsite",
            BackupError::NotFound(_) => "not_found",
            BackupError::Io { .. } => "io",
            BackupError::Store(_) => "database",
        }
    }

    /// Whether the archive given is at fault (a client error for an upload
    /// or a restore), rather than this Lectern's disk, database or settings.
    pub fn is_bad_archive(&self) -> bool {
        !matches!(
            self,
            BackupError::SecretMissing(..)
                | BackupError::BadSecrets(_)
                | BackupError::Invalid(_)
                | BackupError::Offsite(_)
                | BackupError::NotFound(_)
                | BackupError::Io { .. }
                | BackupError::NoSpace { .. }
                | BackupError::Store(_)
                | BackupError::DatabaseDamaged(_)
        )
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
        let context = context.into();
        move |source| BackupError::Io { context, source }
    }
}

impl From<SnapshotError> for BackupError {
    fn from(e: SnapshotError) -> Self {
        match e {
            SnapshotError::NewerSchema { found, known } => {
                BackupError::NewerSchema { found, known }
            }
            SnapshotError::Store(e) => BackupError::Store(e),
            other => BackupError::BadDatabase(other.to_string()),
        }
    }
}
