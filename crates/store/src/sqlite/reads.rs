//! The reads every browse request makes (its session, the reader's grants,
//! a course's generation and the reader's progress in it, a file), run on
//! the calling thread through connections of their own.
//!
//! Through sqlx, each query is handed to its connection's worker thread and
//! each row handed back. On a busy server those hand-overs cost more than
//! SQLite's own work: a point read by key takes a few microseconds, the
//! hand-overs tens, and a course answer made two of them. So these reads
//! run where they are asked, like any other short computation. Their
//! connections are opened when first needed, kept for the next read, and
//! refuse to write (`query_only`): every write goes through sqlx.

use crate::{Result, StoreError};
use rusqlite::{Connection, OpenFlags, Params, Row};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Connections kept between reads: as many as threads read at once (the
/// async workers, and the blocking threads that a scan lends them).
const MAX_IDLE: usize = 8;

pub struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    closed: AtomicBool,
}

impl Readers {
    /// Readers of the database at `path`, which must exist (the store has
    /// opened and migrated it).
    pub fn new(path: &Path) -> Self {
        Readers {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// The row `sql` gives, mapped by `map`, or `None` when it gives none.
    pub fn optional<T>(
        &self,
        sql: &str,
        params: impl Params,
        map: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        self.run(|conn| {
            let mut statement = conn.prepare_cached(sql)?;
            let mut rows = statement.query(params)?;
            rows.next()?.map(map).transpose()
        })
    }

    /// Every row `sql` gives, each mapped by `map`.
    pub fn all<T>(
        &self,
        sql: &str,
        params: impl Params,
        mut map: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.run(|conn| {
            let mut statement = conn.prepare_cached(sql)?;
            let mut rows = statement.query(params)?;
            let mut list = Vec::new();
            while let Some(row) = rows.next()? {
                list.push(map(row)?);
            }
            Ok(list)
        })
    }

    /// Closes the kept connections; a read after this fails as the
    /// database being unavailable, as sqlx's closed pool does.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.idle().clear();
    }

    fn run<T>(&self, read: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.take()?;
        let result = read(&conn);
        // A connection that failed a read is not trusted with the next.
        if result.is_ok() && !self.closed.load(Ordering::SeqCst) {
            let mut idle = self.idle();
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
        result
    }

    fn take(&self) -> Result<Connection> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable("the database is closed"));
        }
        match self.idle().pop() {
            Some(conn) => Ok(conn),
            None => self.open(),
        }
    }

    fn open(&self) -> Result<Connection> {
        // Never created here: a database that is not there is the store's
        // to create, with its schema.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)
            .map_err(|e| StoreError::from(e).context(&super::opening(&self.path)))?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(conn)
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use crate::sqlite::SqliteStore;
    use crate::{Store, StoreError};

    #[tokio::test]
    async fn reads_see_each_committed_write_and_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        assert_eq!(store.setting("k").await.unwrap(), None);
        for value in ["one", "two"] {
            store.set_setting("k", value).await.unwrap();
            // Through sqlx, then at once through the readers' connection.
            assert_eq!(store.setting("k").await.unwrap().as_deref(), Some(value));
        }
        let refused = store
            .readers
            .optional("DELETE FROM settings RETURNING key", [], |_| Ok(()));
        assert!(refused.is_err(), "a reader wrote");
        assert_eq!(store.setting("k").await.unwrap().as_deref(), Some("two"));
        store.close().await;
    }

    #[tokio::test]
    async fn a_closed_store_refuses_reads_as_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        store.index_generation().await.unwrap();
        store.close().await;
        let e = store.index_generation().await.unwrap_err();
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e}");
        assert!(store.readers.idle().is_empty());
    }
}
