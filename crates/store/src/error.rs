//! What can go wrong in the store, in Lectern's terms. No backend's types
//! appear here: each backend turns its own errors into these (see
//! `sqlite/error.rs`) and keeps the original as the `source`, so that a log
//! line that follows the chain still shows it.

/// A backend's own error, kept as the cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row the operation needed is not there.
    #[error("not found")]
    NotFound,
    /// The change clashes with what is stored: a name taken, a row it
    /// refers to gone, the last enabled administrator.
    #[error("{0}")]
    Conflict(String),
    /// The database itself is damaged: not a database, corrupt pages, a
    /// failed integrity check, a stored value that cannot be.
    #[error("the database is damaged: {message}")]
    Damaged {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The database cannot be reached now: it cannot be opened, it stayed
    /// busy or locked beyond the timeout, or the store is closed.
    #[error("the database is unavailable: {message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The schema cannot be brought up to date (for one, the database was
    /// made by a newer Lectern).
    #[error("the database schema could not be brought up to date: {message}")]
    Migration {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The database URL names a backend this build does not have.
    #[error("{0}")]
    UnsupportedBackend(String),
    /// Anything else.
    #[error("database error: {message}")]
    Other {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl StoreError {
    pub fn damaged(message: impl Into<String>) -> Self {
        StoreError::Damaged {
            message: message.into(),
            source: None,
        }
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        StoreError::Unavailable {
            message: message.into(),
            source: None,
        }
    }

    pub fn other(message: impl Into<String>) -> Self {
        StoreError::Other {
            message: message.into(),
            source: None,
        }
    }

    /// Whether the database file itself is damaged (restore a backup),
    /// rather than a passing problem.
    pub fn is_damage(&self) -> bool {
        matches!(self, StoreError::Damaged { .. })
    }

    /// The same error with `context` (what was being done) before its
    /// message; the cause stays as it is.
    pub(crate) fn context(self, context: &str) -> Self {
        let with = |message: String| format!("{context}: {message}");
        match self {
            StoreError::Damaged { message, source } => StoreError::Damaged {
                message: with(message),
                source,
            },
            StoreError::Unavailable { message, source } => StoreError::Unavailable {
                message: with(message),
                source,
            },
            StoreError::Migration { message, source } => StoreError::Migration {
                message: with(message),
                source,
            },
            StoreError::Other { message, source } => StoreError::Other {
                message: with(message),
                source,
            },
            other => other,
        }
    }
}
