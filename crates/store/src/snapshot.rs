//! SQLite snapshot files: the database as a backup archive carries it,
//! whichever backend made it (SPEC §3), so that one archive restores into
//! either backend and into a newer schema.
//!
//! A snapshot that comes from outside is hostile until [`inspect`] passes:
//! it is opened read-only and immutable with `trusted_schema=OFF` (no
//! trigger or view in it may call an application function), its migration
//! history must be a prefix of ours, its schema objects exactly the ones our
//! migrations create at that version, and SQLite's integrity and foreign key
//! checks must pass. Only then is it migrated ([`migrate`]) and restored.

use crate::sqlite::MIGRATOR;
use crate::StoreError;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection, Row, SqliteConnection};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The first bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Why a snapshot is refused. Every variant but `Store` is the file's fault.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("it is not a SQLite database")]
    NotSqlite,
    #[error("it fails SQLite's integrity check: {0}")]
    Damaged(String),
    /// Sound pages, but rows pointing at rows that are not there.
    #[error("{0}")]
    Orphans(String),
    #[error(
        "its schema is version {found}, newer than this Lectern knows ({known}): \
         upgrade Lectern to restore it"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("its migration history is not Lectern's: {0}")]
    ForeignHistory(String),
    #[error("its schema is not Lectern's: {0}")]
    UnexpectedSchema(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SnapshotError {
    fn from(e: sqlx::Error) -> Self {
        match damage_code(&e) {
            Some(NOT_A_DATABASE) => SnapshotError::NotSqlite,
            Some(_) => SnapshotError::Damaged(e.to_string()),
            None => SnapshotError::Store(e.into()),
        }
    }
}

/// What [`inspect`] found in a sound snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The highest migration applied to it.
    pub schema_version: i64,
    /// Rows per table (tables Lectern made; not SQLite's or search shadows).
    pub row_counts: BTreeMap<String, u64>,
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

/// Whether a store error means the database file itself is damaged (not a
/// database, or corrupt pages), rather than a passing problem.
pub fn is_damage(error: &StoreError) -> bool {
    let sqlx_error = match error {
        StoreError::Open { source, .. } | StoreError::Database(source) => source,
        StoreError::Migrate(MigrateError::Execute(source))
        | StoreError::Migrate(MigrateError::ExecuteMigration(source, _)) => source,
        _ => return false,
    };
    damage_code(sqlx_error).is_some()
}

const CORRUPT: i64 = 11;
const NOT_A_DATABASE: i64 = 26;

/// SQLITE_CORRUPT or SQLITE_NOTADB (any extended code of them).
fn damage_code(error: &sqlx::Error) -> Option<i64> {
    let sqlx::Error::Database(db) = error else {
        return None;
    };
    let code: i64 = db.code()?.parse().ok()?;
    let primary = code & 0xff;
    [CORRUPT, NOT_A_DATABASE]
        .contains(&primary)
        .then_some(primary)
}

fn check_header(path: &Path) -> Result<(), SnapshotError> {
    let mut header = [0u8; 16];
    let mut file = std::fs::File::open(path).map_err(|e| StoreError::Open {
        path: path.to_owned(),
        source: sqlx::Error::Io(e),
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

/// Where a damaged database and its journal files were moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedAside {
    pub database: PathBuf,
    pub others: Vec<PathBuf>,
}

/// Moves a database that cannot be read, with its `-wal` and `-shm`, to
/// `dest` (`dest-wal`, `dest-shm`): nothing of it stays beside the file
/// that replaces it, and nothing of it is deleted.
pub fn move_aside(database: &Path, dest: &Path) -> std::io::Result<MovedAside> {
    move_file(database, dest)?;
    let mut others = Vec::new();
    for suffix in ["-wal", "-shm", "-journal"] {
        let from = with_suffix(database, suffix);
        if from.exists() {
            let to = with_suffix(dest, suffix);
            move_file(&from, &to)?;
            others.push(to);
        }
    }
    Ok(MovedAside {
        database: dest.to_owned(),
        others,
    })
}

/// Puts a prepared snapshot at `database`, where no database is now (after
/// [`move_aside`], or when there was none). It is linked there, which fails
/// when a database has appeared meanwhile (a server started) rather than
/// replacing it; across file systems it is copied beside it first. Either
/// way the final step is atomic.
pub fn install(prepared: &Path, database: &Path) -> std::io::Result<()> {
    // Written without syncs while it was unpacked: on disk before it counts,
    // and before the check below, so that nothing slow comes between it
    // and the link.
    std::fs::File::open(prepared)?.sync_all()?;
    if database.exists() {
        return Err(appeared(database));
    }
    // Journal files of a database that is gone, which SQLite would
    // otherwise apply to this one.
    for suffix in ["-wal", "-shm", "-journal"] {
        remove_if_present(&with_suffix(database, suffix))?;
    }
    link_new(prepared, database)?;
    // In place now: a copy left behind is only untidy.
    let _ = std::fs::remove_file(prepared);
    sync_parent(database)
}

/// Undoes [`move_aside`], unless a database appeared at `database`
/// meanwhile: that one is never replaced, and the moved file stays aside.
pub fn put_back(aside: &Path, database: &Path) -> std::io::Result<()> {
    link_new(aside, database)?;
    std::fs::remove_file(aside)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let from = with_suffix(aside, suffix);
        if from.exists() {
            std::fs::rename(&from, with_suffix(database, suffix))?;
        }
    }
    sync_parent(database)
}

/// Puts `from` at `to` under a second name, failing rather than replacing
/// a file that is there (across file systems, by a copy beside it first).
pub fn link_new(from: &Path, to: &Path) -> std::io::Result<()> {
    let linked = match std::fs::hard_link(from, to) {
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            let beside = with_suffix(to, ".incoming");
            std::fs::copy(from, &beside)?;
            std::fs::File::open(&beside)?.sync_all()?;
            let linked = std::fs::hard_link(&beside, to);
            std::fs::remove_file(&beside)?;
            linked
        }
        other => other,
    };
    linked.map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => appeared(to),
        _ => e,
    })
}

fn appeared(database: &Path) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!(
            "a database appeared at {} meanwhile (is a server starting?)",
            database.display()
        ),
    )
}

fn move_file(from: &Path, to: &Path) -> std::io::Result<()> {
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            let beside = with_suffix(to, ".incoming");
            std::fs::copy(from, &beside)?;
            std::fs::File::open(&beside)?.sync_all()?;
            std::fs::rename(&beside, to)?;
            std::fs::remove_file(from)
        }
        Err(e) => Err(e),
    }
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_puts_the_file_in_place_but_never_over_a_database() {
        let dir = tempfile::tempdir().unwrap();
        let prepared = dir.path().join("prepared.db");
        let database = dir.path().join("lectern.db");
        std::fs::write(&prepared, b"restored").unwrap();
        std::fs::write(with_suffix(&database, "-wal"), b"stale").unwrap();
        install(&prepared, &database).unwrap();
        assert_eq!(std::fs::read(&database).unwrap(), b"restored");
        assert!(!prepared.exists());
        assert!(
            !with_suffix(&database, "-wal").exists(),
            "no stale WAL beside it"
        );

        // A database that appeared meanwhile (a server started) stays,
        // with its WAL.
        std::fs::write(&prepared, b"another").unwrap();
        std::fs::write(with_suffix(&database, "-wal"), b"live").unwrap();
        let refused = install(&prepared, &database).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(refused.to_string().contains("appeared"), "{refused}");
        assert_eq!(std::fs::read(&database).unwrap(), b"restored");
        assert_eq!(
            std::fs::read(with_suffix(&database, "-wal")).unwrap(),
            b"live"
        );
        assert!(prepared.exists(), "nothing of the restore is lost either");
    }
}
