//! The one error of the use cases. Each front end maps it once: the
//! server to a status and envelope, the command line to an exit status.

use lectern_backup::BackupError;
use lectern_store::StoreError;
use std::time::Duration;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// What was asked for is malformed or breaks a rule: the message says
    /// which, in words for the person who asked.
    #[error("{0}")]
    Invalid(String),
    /// What is missing, in words for a person; the HTTP API says only
    /// "not found", so as not to tell what exists.
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with what is there (a name taken, the last
    /// administrator).
    #[error("{0}")]
    Conflict(String),
    /// Another operation holds the lock; the message names it.
    #[error("{0}")]
    Busy(String),
    #[error("wrong username or password")]
    BadCredentials,
    #[error("this needs an administrator")]
    Forbidden,
    /// Too many sign-ins: try again after `retry_after`.
    #[error("too many sign-ins; try again in {} s", retry_after.as_secs().max(1))]
    TooManyAttempts { retry_after: Duration },
    /// An archive (or the secret it needs) is not sound; `code` says why.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// The live database is damaged: what was found.
    #[error("the database is damaged: {0}")]
    Damaged(String),
    /// A person asked to confirm declined; nothing changed.
    #[error("{0}")]
    Declined(String),
    /// This machine's disk lacks the room for the work asked (unpacking a
    /// backup); it may succeed once space is freed.
    #[error("{0}")]
    NoSpace(String),
    /// Lectern is in maintenance (a restore); the reason.
    #[error("Lectern is in maintenance ({0}); try again shortly")]
    Maintenance(String),
    /// Anything else: this server's disk or database failed. The cause is
    /// kept for the log.
    #[error("{context}")]
    Internal {
        context: String,
        #[source]
        source: BoxError,
    },
}

impl AppError {
    pub fn internal(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        AppError::Internal {
            context: context.into(),
            source: source.into(),
        }
    }

    /// The error and every cause below it, for a log line.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(e) = cause {
            text.push_str(": ");
            text.push_str(&e.to_string());
            cause = e.source();
        }
        text
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(message) => AppError::Conflict(message),
            StoreError::NotFound => AppError::NotFound("not found".into()),
            StoreError::Damaged { message, .. } => AppError::Damaged(message),
            // The store's error stays the source, with its own cause below.
            other => AppError::internal("database", other),
        }
    }
}

impl From<BackupError> for AppError {
    fn from(e: BackupError) -> Self {
        match e {
            e @ BackupError::NotFound(_) => AppError::NotFound(e.to_string()),
            BackupError::Invalid(message) => AppError::Invalid(message),
            BackupError::DatabaseDamaged(problems) => AppError::Damaged(problems),
            BackupError::Store(e) => e.into(),
            e @ BackupError::NoSpace { .. } => AppError::NoSpace(e.to_string()),
            e @ BackupError::Io { .. } => AppError::internal("backup", e),
            other => AppError::Unprocessable {
                code: other.code(),
                message: other.to_string(),
            },
        }
    }
}
