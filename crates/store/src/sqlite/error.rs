//! SQLite's errors in the store's terms. This is the one place that knows
//! what SQLite's result codes mean; the rest of Lectern sees only
//! [`StoreError`], with the original error kept as its source.

use crate::error::BoxError;
use crate::StoreError;
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::migrate::MigrateError;
use sqlx::sqlite::SqliteError;

// Primary result codes: the low byte of SQLite's extended codes.
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_CORRUPT: i64 = 11;
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_NOTADB: i64 = 26;

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
        sqlx::Error::Database(db) => classify_database(db.as_ref()),
        _ => Class::Other,
    }
}

fn classify_database(db: &dyn DatabaseError) -> Class {
    match db.kind() {
        ErrorKind::UniqueViolation | ErrorKind::ForeignKeyViolation => Class::Conflict,
        _ => primary_code(db).map_or(Class::Other, classify_code),
    }
}

fn classify_code(code: i64) -> Class {
    match code & 0xff {
        SQLITE_NOTADB => Class::NotADatabase,
        SQLITE_CORRUPT => Class::Damaged,
        SQLITE_BUSY | SQLITE_LOCKED | SQLITE_CANTOPEN => Class::Unavailable,
        _ => Class::Other,
    }
}

/// An error reported by SQLite's C interface directly (its result `code`
/// and message), not through sqlx.
pub(crate) fn from_code(code: i64, message: String) -> StoreError {
    match classify_code(code) {
        Class::NotADatabase | Class::Damaged => StoreError::damaged(message),
        Class::Unavailable => StoreError::unavailable(message),
        _ => StoreError::other(message),
    }
}

/// The result code of an error SQLite returned (another backend's
/// codes are not SQLite's, so they are not read as such).
fn primary_code(db: &dyn DatabaseError) -> Option<i64> {
    let sqlite = db.try_downcast_ref::<SqliteError>()?;
    sqlite.code()?.parse().ok()
}

/// SQLite's own words for a database error (sqlx's wrapper adds nothing a
/// person needs), the whole text for anything else.
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

/// The same classes for an error from the bulk work (`bulk.rs`), which
/// reaches SQLite through rusqlite.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        let class = match &e {
            rusqlite::Error::QueryReturnedNoRows => Class::NotFound,
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Class::Conflict
            }
            rusqlite::Error::SqliteFailure(f, _) => classify_code(i64::from(f.extended_code)),
            _ => Class::Other,
        };
        let message = match &e {
            rusqlite::Error::SqliteFailure(_, Some(message)) => message.clone(),
            other => other.to_string(),
        };
        error(class, message, Box::new(e))
    }
}

fn error(class: Class, message: String, source: BoxError) -> StoreError {
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

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Connection, SqliteConnection};

    async fn error_of(sql: &str) -> StoreError {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::raw_sql(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE a (id INTEGER PRIMARY KEY, name TEXT UNIQUE);
             CREATE TABLE b (a_id INTEGER NOT NULL REFERENCES a (id));
             INSERT INTO a (id, name) VALUES (1, 'x');",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let e = sqlx::query(sql)
            .fetch_one(&mut conn)
            .await
            .map(drop)
            .unwrap_err();
        e.into()
    }

    #[tokio::test]
    async fn constraint_failures_are_conflicts_and_a_missing_row_is_not_found() {
        let taken = error_of("INSERT INTO a (name) VALUES ('x') RETURNING id").await;
        assert!(
            matches!(&taken, StoreError::Conflict(m) if m.contains("UNIQUE")),
            "{taken:?}"
        );
        let dangling = error_of("INSERT INTO b (a_id) VALUES (7) RETURNING a_id").await;
        assert!(
            matches!(&dangling, StoreError::Conflict(m) if m.contains("FOREIGN KEY")),
            "{dangling:?}"
        );
        let none = error_of("SELECT id FROM a WHERE id = 2").await;
        assert!(matches!(none, StoreError::NotFound), "{none:?}");
        let typo = error_of("SELECT nope FROM a").await;
        assert!(matches!(typo, StoreError::Other { .. }), "{typo:?}");
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_database_is_damaged_and_the_cause_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.db");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        let url = format!("sqlite://{}", path.display());
        // Opening may already read the header, or only the first query.
        let read = async {
            let mut conn = SqliteConnection::connect(&url).await?;
            sqlx::query("SELECT * FROM sqlite_master")
                .fetch_all(&mut conn)
                .await
                .map(drop)
        };
        let e: StoreError = read.await.unwrap_err().into();
        assert!(e.is_damage(), "{e:?}");
        let cause = std::error::Error::source(&e).expect("the SQLite error is kept");
        assert!(cause.to_string().contains("code: 26"), "{cause}");
    }

    #[tokio::test]
    async fn a_database_that_cannot_be_opened_or_a_closed_pool_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("no/such/dir/x.db").display());
        let e: StoreError = SqliteConnection::connect(&url).await.unwrap_err().into();
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
        let closed: StoreError = sqlx::Error::PoolClosed.into();
        assert!(matches!(closed, StoreError::Unavailable { .. }));
    }

    #[test]
    fn a_database_from_a_newer_lectern_says_so() {
        let e: StoreError = MigrateError::VersionMissing(99).into();
        assert!(matches!(e, StoreError::Migration { .. }), "{e:?}");
        assert!(e.to_string().contains("newer Lectern"), "{e}");
    }
}
