//! SQLite's result codes in the store's terms (the classes every backend
//! shares are in `crate::sqlx_error`). The original error stays the
//! [`StoreError`]'s source.

use crate::sqlx_error::{error, Class};
use crate::StoreError;
use sqlx::error::DatabaseError;
use sqlx::sqlite::SqliteError;

// Primary result codes: the low byte of SQLite's extended codes.
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_CORRUPT: i64 = 11;
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_NOTADB: i64 = 26;

/// The class of an error SQLite returned through sqlx, `None` for another
/// backend's (whose codes are not SQLite's).
pub(crate) fn class(db: &dyn DatabaseError) -> Option<Class> {
    let sqlite = db.try_downcast_ref::<SqliteError>()?;
    let code: i64 = sqlite.code()?.parse().ok()?;
    Some(classify_code(code))
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

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::migrate::MigrateError;
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
