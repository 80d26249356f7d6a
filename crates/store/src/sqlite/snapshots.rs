//! Taking a snapshot of the live database and putting one back.
//!
//! A snapshot is a page copy by SQLite's online backup API (what
//! `sqlite3 DB .backup` does): one read transaction, so it is consistent and
//! holds what is still in the WAL (copying the file would miss that). It is
//! about twice as fast as `VACUUM INTO`, which rebuilds every index.
//!
//! Putting one back uses SQLite's online backup API: the snapshot's pages
//! are copied into the live file through one connection, in one write
//! transaction. Every pooled connection stays valid and sees the new data
//! at its next statement, the WAL stays the live file's own, and a failure
//! part-way leaves the old data. (Renaming a file over the live one would
//! leave pooled connections reading the old inode, and its -wal beside a
//! file it does not belong to.)

use crate::{Result, StoreError};
use libsqlite3_sys as ffi;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection, SqlitePool};
use std::ffi::CStr;
use std::path::Path;

pub async fn snapshot(pool: &SqlitePool, dest: &Path) -> Result<()> {
    if dest.exists() {
        return Err(StoreError::other(format!(
            "cannot write a snapshot to {}: it already exists",
            dest.display()
        )));
    }
    let options = SqliteConnectOptions::new()
        .filename(dest)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Delete)
        // A scratch file: the archive made from it is what gets synced.
        .synchronous(SqliteSynchronous::Off);
    let mut copy = SqliteConnection::connect_with(&options).await?;
    let mut live = pool.acquire().await?;
    let result = copy_pages(&mut live, &mut copy).await;
    drop(live);
    // The copied header says WAL, the live file's mode: a standalone file
    // is in rollback-journal mode, so that it opens read-only anywhere.
    let result = match result {
        Ok(()) => sqlx::query("PRAGMA journal_mode = DELETE")
            .execute(&mut copy)
            .await
            .map(drop)
            .map_err(StoreError::from),
        Err(e) => Err(e),
    };
    let closed = copy.close().await;
    result?;
    Ok(closed?)
}

/// `PRAGMA quick_check`: the problems found, none when the file is sound.
pub async fn quick_check(pool: &SqlitePool) -> Result<Vec<String>> {
    // On a fresh connection: one of the pool's that read the full-text
    // tables before another wrote them can report their index as
    // "malformed" while it is sound (seen with the bundled SQLite), and a
    // health check must not cry wolf.
    // Never a new, empty file where the database went missing.
    let options = pool
        .connect_options()
        .as_ref()
        .clone()
        .create_if_missing(false);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let rows: std::result::Result<Vec<String>, _> = sqlx::query_scalar("PRAGMA quick_check(10)")
        .fetch_all(&mut conn)
        .await;
    let _ = conn.close().await;
    Ok(rows?.into_iter().filter(|r| r != "ok").collect())
}

/// The main database's pages times their size: the file without its WAL.
pub async fn database_size(pool: &SqlitePool) -> Result<u64> {
    let (pages, size): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT page_count FROM pragma_page_count()), \
                (SELECT page_size FROM pragma_page_size())",
    )
    .fetch_one(pool)
    .await?;
    Ok(u64::try_from(pages.saturating_mul(size)).unwrap_or(0))
}

/// Replaces the live data with the snapshot at `prepared` (checked and
/// migrated to this schema), keeping what must outlive a restore.
pub async fn replace(pool: &SqlitePool, prepared: &Path, keep_audit_after: i64) -> Result<()> {
    // A connection of our own: it has another database attached for a
    // while, and must never go back to the pool like that.
    let mut conn = pool.acquire().await?.detach();
    let result = replace_through(&mut conn, prepared, keep_audit_after).await;
    let _ = conn.close().await;
    result
}

async fn replace_through(
    conn: &mut SqliteConnection,
    prepared: &Path,
    keep_audit_after: i64,
) -> Result<()> {
    carry_over(conn, prepared, keep_audit_after).await?;
    match_page_size(conn, prepared).await?;
    let options = SqliteConnectOptions::new()
        .filename(prepared)
        .read_only(true);
    let mut source = SqliteConnection::connect_with(&options).await?;
    // The snapshot passed its checks before this; the copy is SQLite's own
    // and fails as a whole, so the result is not checked again.
    let copied = copy_pages(&mut source, conn).await;
    let _ = source.close().await;
    copied
}

/// Writes into the snapshot what the live database must keep: the
/// operation lock as it is now (the restore holds it, and must still hold
/// it afterwards), no sessions (everyone signs in again), and the audit
/// entries made after the backup was taken.
async fn carry_over(
    conn: &mut SqliteConnection,
    prepared: &Path,
    keep_audit_after: i64,
) -> Result<()> {
    sqlx::query("ATTACH DATABASE ? AS incoming")
        .bind(utf8(prepared)?)
        .execute(&mut *conn)
        .await?;
    let result = carry_over_attached(conn, keep_audit_after).await;
    let detached = sqlx::query("DETACH DATABASE incoming")
        .execute(&mut *conn)
        .await;
    result?;
    detached?;
    Ok(())
}

async fn carry_over_attached(conn: &mut SqliteConnection, keep_audit_after: i64) -> Result<()> {
    let audit_columns = audit_columns(conn).await?;
    let mut tx = conn.begin().await?;
    sqlx::query("DELETE FROM incoming.sessions")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM incoming.operation_lock")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO incoming.operation_lock SELECT * FROM main.operation_lock")
        .execute(&mut *tx)
        .await?;
    if !audit_columns.is_empty() {
        // New ids: the backup's own entries keep theirs.
        let columns = audit_columns.join(", ");
        let sql = format!(
            "INSERT INTO incoming.audit_log ({columns})
             SELECT {columns} FROM main.audit_log WHERE created_at > ? ORDER BY id"
        );
        sqlx::query(&sql)
            .bind(keep_audit_after)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The audit log's columns but its id, quoted; none when either database
/// has no audit log with a `created_at`.
async fn audit_columns(conn: &mut SqliteConnection) -> Result<Vec<String>> {
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT l.name FROM pragma_table_info('audit_log', 'main') AS l
         JOIN pragma_table_info('audit_log', 'incoming') AS r ON r.name = l.name
         ORDER BY l.cid",
    )
    .fetch_all(&mut *conn)
    .await?;
    if !columns.iter().any(|c| c == "created_at") {
        return Ok(Vec::new());
    }
    Ok(columns
        .into_iter()
        .filter(|c| c != "id")
        .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
        .collect())
}

/// The backup API cannot change the page size of a WAL database, so the
/// snapshot takes the live one's first (it is ours, and nobody else's).
async fn match_page_size(conn: &mut SqliteConnection, prepared: &Path) -> Result<()> {
    let live: i64 = sqlx::query_scalar("PRAGMA main.page_size")
        .fetch_one(&mut *conn)
        .await?;
    let options = SqliteConnectOptions::new().filename(prepared);
    let mut other = SqliteConnection::connect_with(&options).await?;
    let theirs: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut other)
        .await?;
    let result = match theirs == live {
        true => Ok(()),
        false => set_page_size(&mut other, live).await,
    };
    let _ = other.close().await;
    Ok(result?)
}

async fn set_page_size(conn: &mut SqliteConnection, size: i64) -> sqlx::Result<()> {
    let page_size = format!("PRAGMA page_size = {size}");
    for sql in ["PRAGMA journal_mode = DELETE", &page_size, "VACUUM"] {
        sqlx::query(sql).execute(&mut *conn).await?;
    }
    Ok(())
}

async fn copy_pages(source: &mut SqliteConnection, dest: &mut SqliteConnection) -> Result<()> {
    let mut source = source.lock_handle().await?;
    let mut dest = dest.lock_handle().await?;
    let from = source.as_raw_handle();
    let to = dest.as_raw_handle();
    let copy = || {
        // SAFETY: both handles are open connections that the lock guards
        // above keep for this thread alone until they drop, after this
        // call; the schema names are NUL-terminated literals.
        unsafe {
            let backup = ffi::sqlite3_backup_init(
                to.as_ptr(),
                c"main".as_ptr(),
                from.as_ptr(),
                c"main".as_ptr(),
            );
            if backup.is_null() {
                return Err(last_error(to.as_ptr(), ffi::sqlite3_errcode(to.as_ptr())));
            }
            let step = ffi::sqlite3_backup_step(backup, -1);
            let finish = ffi::sqlite3_backup_finish(backup);
            if step != ffi::SQLITE_DONE {
                return Err(last_error(to.as_ptr(), step));
            }
            if finish != ffi::SQLITE_OK {
                return Err(last_error(to.as_ptr(), finish));
            }
            Ok(())
        }
    };
    super::bulk::blocking(copy)
}

/// The copy's failure, classified by SQLite's result `code` (a damaged
/// source is `Damaged`, a busy one `Unavailable`).
///
/// # Safety
/// `db` must be an open connection used by this thread alone.
unsafe fn last_error(db: *mut ffi::sqlite3, code: std::ffi::c_int) -> StoreError {
    let message = CStr::from_ptr(ffi::sqlite3_errmsg(db))
        .to_string_lossy()
        .into_owned();
    super::error::from_code(i64::from(code), message).context("copying the database failed")
}

fn utf8(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| StoreError::other(format!("the path {} is not UTF-8", path.display())))
}
