//! sqlx's errors in the store's terms, whichever backend returned them:
//! the one place that decides what a database error means to Lectern
//! (each backend's module reads its own codes: `sqlite::error`,
//! `postgres::error`). The rest of Lectern sees only [`StoreError`], with
//! the original error kept as its source.

use crate::error::BoxError;
use crate::StoreError;
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::migrate::MigrateError;

/// What an error means to Lectern, before it becomes a [`StoreError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    NotFound,
    Conflict,
    /// Damaged, and the file is not a database at all.
    NotADatabase,
    Damaged,
    Unavailable,
    Other,
}

pub(crate) fn classify(e: &sqlx::Error) -> Class {
    match e {
        sqlx::Error::RowNotFound => Class::NotFound,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            Class::Unavailable
        }
        sqlx::Error::Tls(_) => Class::Unavailable,
        sqlx::Error::Database(db) => classify_database(db.as_ref()),
        _ => Class::Other,
    }
}

fn classify_database(db: &dyn DatabaseError) -> Class {
    match db.kind() {
        ErrorKind::UniqueViolation | ErrorKind::ForeignKeyViolation => Class::Conflict,
        _ => crate::sqlite::error::class(db)
            .or_else(|| crate::postgres::error::class(db))
            .unwrap_or(Class::Other),
    }
}

/// The database's own words for a database error (sqlx's wrapper adds
/// nothing a person needs), the whole text for anything else.
pub(crate) fn detail(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let class = classify(&e);
        let message = detail(&e);
        error(class, message, Box::new(e))
    }
}

/// A unique-constraint failure is the caller's conflict (`what` says
/// which), not a database fault.
pub(crate) fn conflict(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(what.to_owned())
        }
        _ => e.into(),
    }
}

pub(crate) fn error(class: Class, message: String, source: BoxError) -> StoreError {
    let source = Some(source);
    match class {
        Class::NotFound => StoreError::NotFound,
        Class::Conflict => StoreError::Conflict(message),
        Class::NotADatabase | Class::Damaged => StoreError::Damaged { message, source },
        Class::Unavailable => StoreError::Unavailable { message, source },
        Class::Other => StoreError::Other { message, source },
    }
}

impl From<MigrateError> for StoreError {
    fn from(e: MigrateError) -> Self {
        // A migration that fails on a damaged or busy file says so, not
        // that the schema is at fault.
        let failed = match &e {
            MigrateError::Execute(inner) | MigrateError::ExecuteMigration(inner, _) => {
                Some(classify(inner))
            }
            _ => None,
        };
        if let Some(Class::NotADatabase | Class::Damaged | Class::Unavailable) = failed {
            if let MigrateError::Execute(inner) | MigrateError::ExecuteMigration(inner, _) = e {
                return inner.into();
            }
        }
        let message = match &e {
            MigrateError::VersionMissing(version) => format!(
                "it was made by a newer Lectern (its migration {version} is unknown to this \
                 one): upgrade Lectern to use it"
            ),
            other => other.to_string(),
        };
        StoreError::Migration {
            message,
            source: Some(Box::new(e)),
        }
    }
}
