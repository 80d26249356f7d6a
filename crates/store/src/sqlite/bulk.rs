//! The index's bulk work — a scan loading every known file, writing a batch
//! of thousands of rows — done through rusqlite on the SQLite handle of the
//! sqlx connection it belongs to, so it runs in that connection's
//! transaction. sqlx hands each row to another thread and copies each of its
//! values; for a library's worth of small rows that cost several times what
//! SQLite itself spends. Everything else goes through sqlx.

use super::rows::StoredPath;
use crate::{Result, StoreError};
use rusqlite::types::{ToSqlOutput, ValueRef};
use sqlx::SqliteConnection;

pub use rusqlite::Connection;

/// Runs `work` on `conn`'s own SQLite connection, inside whatever
/// transaction it has open.
pub async fn on<T>(
    conn: &mut SqliteConnection,
    work: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    let mut handle = conn.lock_handle().await?;
    let raw = handle.as_raw_handle();
    blocking(|| {
        // SAFETY: `raw` is an open connection that the lock guard above
        // keeps for this thread alone until it drops, after this call. A
        // connection made from a handle never closes it.
        let conn = unsafe { Connection::from_handle(raw.as_ptr()) }?;
        work(&conn)
    })
}

/// Runs `work`, which blocks for as long as it takes, off the async
/// workers when the runtime has others to run.
pub fn blocking<T>(work: impl FnOnce() -> T) -> T {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

/// A TEXT or BLOB column as its bytes (a path; see [`StoredPath`]), `None`
/// for NULL.
pub fn bytes<'r>(row: &'r rusqlite::Row<'_>, column: usize) -> Result<Option<&'r [u8]>> {
    row.get_ref(column)?
        .as_bytes_or_null()
        .map_err(|e| damaged(column, e))
}

/// A TEXT column, `None` for NULL.
pub fn text<'r>(row: &'r rusqlite::Row<'_>, column: usize) -> Result<Option<&'r str>> {
    row.get_ref(column)?
        .as_str_or_null()
        .map_err(|e| damaged(column, e))
}

/// A stored value of a type its column never holds.
fn damaged(column: usize, e: rusqlite::types::FromSqlError) -> StoreError {
    StoreError::damaged(format!("column {column}: {e}"))
}

impl rusqlite::ToSql for StoredPath<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0.to_str() {
            Some(text) => ValueRef::Text(text.as_bytes()),
            None => ValueRef::Blob(self.0.as_bytes()),
        }))
    }
}
