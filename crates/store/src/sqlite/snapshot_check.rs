//! Checking and readying a snapshot file (see `crate::snapshot`, which is
//! what the rest of Lectern calls): SQLite's pragmas and sqlx's migration
//! history, so it lives with the SQLite backend.

use super::MIGRATOR;
use crate::snapshot::{SnapshotError, SnapshotInfo};
use crate::sqlx_error::{classify, detail, Class};
use crate::StoreError;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection, Row, SqliteConnection};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

/// The first bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

impl From<sqlx::Error> for SnapshotError {
    fn from(e: sqlx::Error) -> Self {
        match classify(&e) {
            Class::NotADatabase => SnapshotError::NotSqlite,
            Class::Damaged => SnapshotError::Damaged(detail(&e)),
            _ => SnapshotError::Store(e.into()),
        }
    }
}

/// The newest schema version this build knows.
pub fn latest_schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Checks a snapshot file from anywhere (see the module doc); it is only
/// read. The caller's limits on its size apply before this is called.
pub async fn inspect(path: &Path) -> Result<SnapshotInfo, SnapshotError> {
    inspect_with(path, Depth::Full).await
}

/// As [`inspect`], for a snapshot this process has just written from the
/// live database with [`crate::Store::snapshot`]: `quick_check` instead of the full
/// `integrity_check` (which also compares every index with its table and
/// takes most of a backup's time). A restore still runs the full check.
pub async fn inspect_own(path: &Path) -> Result<SnapshotInfo, SnapshotError> {
    inspect_with(path, Depth::Quick).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Depth {
    Quick,
    Full,
}

async fn inspect_with(path: &Path, depth: Depth) -> Result<SnapshotInfo, SnapshotError> {
    check_header(path)?;
    let mut conn = open_untrusted(path).await?;
    let result = inspect_open(&mut conn, depth).await;
    let _ = conn.close().await;
    result
}

async fn inspect_open(
    conn: &mut SqliteConnection,
    depth: Depth,
) -> Result<SnapshotInfo, SnapshotError> {
    let schema_version = applied_version(conn).await?;
    check_objects(conn, schema_version).await?;
    check_integrity(conn, depth).await?;
    let row_counts = row_counts(conn).await?;
    Ok(SnapshotInfo {
        schema_version,
        row_counts,
    })
}

/// Brings a checked snapshot up to this build's schema (an older archive
/// restores into a newer Lectern); returns the version it now has. The file
/// is left in rollback-journal mode, ready to be copied into place.
pub async fn migrate(path: &Path) -> Result<i64, SnapshotError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Delete)
        .foreign_keys(true);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let result = MIGRATOR.run_direct(&mut conn).await;
    let _ = conn.close().await;
    result.map_err(|e| SnapshotError::Store(e.into()))?;
    Ok(latest_schema_version())
}

/// Readies a migrated snapshot to be installed as a file ([`install`]),
/// the way [`crate::Store::replace_with_snapshot`] does for a live
/// database: no sessions (everyone signs in again) and no operation lock
/// (the one it held when it was taken is long gone).
pub async fn forget_sessions_and_lock(path: &Path) -> Result<(), SnapshotError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Delete);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let mut result = Ok(());
    for sql in ["DELETE FROM sessions", "DELETE FROM operation_lock"] {
        if let Err(e) = sqlx::query(sql).execute(&mut conn).await {
            result = Err(e);
            break;
        }
    }
    let _ = conn.close().await;
    Ok(result?)
}
fn check_header(path: &Path) -> Result<(), SnapshotError> {
    let mut header = [0u8; 16];
    let mut file = std::fs::File::open(path).map_err(|e| StoreError::Unavailable {
        message: format!("cannot open the snapshot at {}: {e}", path.display()),
        source: Some(Box::new(e)),
    })?;
    match file.read_exact(&mut header) {
        Ok(()) if &header == SQLITE_HEADER => Ok(()),
        _ => Err(SnapshotError::NotSqlite),
    }
}

/// Read-only and immutable (the file is ours alone, nobody else writes it),
/// with schema code distrusted.
async fn open_untrusted(path: &Path) -> Result<SqliteConnection, SnapshotError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true)
        .foreign_keys(false)
        .pragma("trusted_schema", "OFF")
        // Its checks take seconds on a large file, by design: not a warning.
        .disable_statement_logging();
    Ok(SqliteConnection::connect_with(&options).await?)
}

/// The highest applied migration, after checking the history is a prefix
/// of ours with the same checksums.
async fn applied_version(conn: &mut SqliteConnection) -> Result<i64, SnapshotError> {
    let has_history: bool = sqlx::query_scalar(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(&mut *conn)
    .await?;
    if !has_history {
        return Err(SnapshotError::ForeignHistory(
            "it has no migration history".into(),
        ));
    }
    let rows =
        sqlx::query("SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await?;
    let known = latest_schema_version();
    let mut applied = Vec::with_capacity(rows.len());
    for row in &rows {
        let version: i64 = row.try_get("version")?;
        let checksum: Vec<u8> = row.try_get("checksum")?;
        let success: bool = row.try_get("success")?;
        applied.push((version, checksum, success));
    }
    if let Some(found) = applied.iter().map(|a| a.0).max().filter(|v| *v > known) {
        return Err(SnapshotError::NewerSchema { found, known });
    }
    if applied.is_empty() {
        return Err(SnapshotError::ForeignHistory(
            "no migration was ever applied".into(),
        ));
    }
    for (i, (version, checksum, success)) in applied.iter().enumerate() {
        let Some(ours) = MIGRATOR.iter().nth(i) else {
            return Err(SnapshotError::ForeignHistory(format!(
                "migration {version} is not one of Lectern's"
            )));
        };
        if ours.version != *version {
            return Err(SnapshotError::ForeignHistory(format!(
                "migration {} is missing before {version}",
                ours.version
            )));
        }
        if ours.checksum.as_ref() != checksum.as_slice() || !success {
            return Err(SnapshotError::ForeignHistory(format!(
                "migration {version} differs from Lectern's or did not finish"
            )));
        }
    }
    Ok(applied.last().map(|a| a.0).unwrap_or(0))
}

/// One row of `sqlite_master`: type, name, table, SQL text.
type SchemaObject = (String, String, String, Option<String>);

async fn schema_objects(
    conn: &mut SqliteConnection,
) -> Result<BTreeSet<SchemaObject>, sqlx::Error> {
    let rows = sqlx::query("SELECT type, name, tbl_name, sql FROM sqlite_master")
        .fetch_all(&mut *conn)
        .await?;
    let mut objects = BTreeSet::new();
    for row in rows {
        let kind: String = row.try_get("type")?;
        let name: String = row.try_get("name")?;
        // ANALYZE's tables hold statistics only; sqlx's own history table
        // was created by whatever sqlx version made the file.
        if kind == "table" && matches!(name.as_str(), "sqlite_stat1" | "sqlite_stat4") {
            continue;
        }
        let sql: Option<String> = match name.as_str() {
            "_sqlx_migrations" => None,
            _ => row.try_get("sql")?,
        };
        objects.insert((kind, name, row.try_get("tbl_name")?, sql));
    }
    Ok(objects)
}

/// The schema objects our migrations up to `version` create, built by
/// running them on an empty in-memory database.
async fn reference_objects(version: i64) -> Result<BTreeSet<SchemaObject>, SnapshotError> {
    let migrations: Vec<_> = MIGRATOR
        .iter()
        .filter(|m| m.version <= version)
        .cloned()
        .collect();
    // The same struct `sqlx::migrate!` builds, holding only the first ones.
    let partial = Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    };
    let options = SqliteConnectOptions::new().in_memory(true);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    partial
        .run_direct(&mut conn)
        .await
        .map_err(|e| SnapshotError::Store(e.into()))?;
    let objects = schema_objects(&mut conn).await?;
    let _ = conn.close().await;
    Ok(objects)
}

async fn check_objects(conn: &mut SqliteConnection, version: i64) -> Result<(), SnapshotError> {
    let found = schema_objects(conn).await?;
    let expected = reference_objects(version).await?;
    if found == expected {
        return Ok(());
    }
    let describe = |o: &SchemaObject| format!("{} {:?}", o.0, o.1);
    let extra: Vec<String> = found.difference(&expected).take(5).map(describe).collect();
    let missing: Vec<String> = expected.difference(&found).take(5).map(describe).collect();
    let mut problems = Vec::new();
    if !extra.is_empty() {
        problems.push(format!("unexpected or altered {}", extra.join(", ")));
    }
    if !missing.is_empty() {
        problems.push(format!("missing {}", missing.join(", ")));
    }
    Err(SnapshotError::UnexpectedSchema(problems.join("; ")))
}

async fn check_integrity(conn: &mut SqliteConnection, depth: Depth) -> Result<(), SnapshotError> {
    let check = match depth {
        Depth::Quick => "PRAGMA quick_check(10)",
        Depth::Full => "PRAGMA integrity_check(10)",
    };
    let problems: Vec<String> = sqlx::query_scalar(check).fetch_all(&mut *conn).await?;
    if problems != ["ok"] {
        return Err(SnapshotError::Damaged(problems.join("; ")));
    }
    let orphans = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut *conn)
        .await?;
    if let Some(row) = orphans.first() {
        let table: String = row.try_get(0)?;
        return Err(SnapshotError::Orphans(format!(
            "{} rows break foreign keys (the first in {table:?})",
            orphans.len()
        )));
    }
    Ok(())
}

/// Rows in each of Lectern's own tables (not SQLite's, sqlx's history or
/// full-text search internals).
async fn row_counts(conn: &mut SqliteConnection) -> Result<BTreeMap<String, u64>, SnapshotError> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM pragma_table_list
         WHERE schema = 'main' AND type = 'table'
           AND substr(name, 1, 7) <> 'sqlite_' AND name <> '_sqlx_migrations'
         ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut counts = BTreeMap::new();
    for table in tables {
        // The names were checked against our own schema above.
        let sql = format!("SELECT count(*) FROM \"{}\"", table.replace('"', "\"\""));
        let n: i64 = sqlx::query_scalar(&sql).fetch_one(&mut *conn).await?;
        counts.insert(table, u64::try_from(n).unwrap_or(0));
    }
    Ok(counts)
}
