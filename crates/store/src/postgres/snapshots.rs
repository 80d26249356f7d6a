//! Backups on PostgreSQL in the one archive format both backends share: a
//! standalone SQLite database of Lectern's logical schema. A snapshot is
//! read in one repeatable-read transaction (a consistent view while
//! others write) and written into a new SQLite file made by the SQLite
//! backend's own migrations; a restore reads such a file (checked and
//! migrated by `crate::snapshot`) into the live tables inside one
//! transaction, so that every instance sees the old data whole or the new
//! data whole.

use super::search;
use super::Tx;
use crate::search::entry;
use crate::{Result, StoreError};
use lectern_core::FileId;
use rusqlite::types::Value;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::Row;
use std::path::Path;

/// How a column's values are kept on PostgreSQL.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Bool,
    Real,
    Text,
    /// A path: BYTEA here, text (or a BLOB when not UTF-8) on SQLite.
    Path,
}

use Kind::*;

/// Every table of the logical schema, parents before children, with its
/// columns (the search documents are not among them: they are derived).
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "settings",
        &[("key", Text), ("value", Text), ("updated_at", Int)],
    ),
    (
        "categories",
        &[("id", Int), ("name", Text), ("created_at", Int)],
    ),
    (
        "courses",
        &[
            ("id", Int),
            ("category_id", Int),
            ("name", Text),
            ("path", Text),
            ("description", Text),
            ("created_at", Int),
            ("generation", Int),
        ],
    ),
    (
        "files",
        &[
            ("id", Int),
            ("course_id", Int),
            ("path", Path),
            ("size", Int),
            ("mtime_ns", Int),
            ("sha256", Text),
            ("mime", Text),
            ("role", Text),
            ("subtitle_for", Path),
            ("subtitle_lang", Text),
            ("state", Text),
            ("indexed_at", Int),
            ("updated_at", Int),
            ("missing_since", Int),
        ],
    ),
    (
        "scans",
        &[
            ("id", Int),
            ("kind", Text),
            ("course_id", Int),
            ("started_by", Text),
            ("started_at", Int),
            ("finished_at", Int),
            ("status", Text),
            ("reason", Text),
            ("verify", Bool),
            ("forced", Bool),
            ("added", Int),
            ("updated", Int),
            ("removed", Int),
            ("moved", Int),
            ("unchanged", Int),
            ("errors", Int),
            ("hashed_files", Int),
            ("hashed_bytes", Int),
        ],
    ),
    (
        "scan_issues",
        &[
            ("id", Int),
            ("scan_id", Int),
            ("kind", Text),
            ("path", Text),
            ("message", Text),
        ],
    ),
    (
        "operation_lock",
        &[
            ("id", Int),
            ("operation", Text),
            ("holder", Text),
            ("host", Text),
            ("pid", Int),
            ("pid_start", Int),
            ("token", Text),
            ("acquired_at", Int),
            ("expires_at", Int),
        ],
    ),
    (
        "users",
        &[
            ("id", Int),
            ("username", Text),
            ("password_hash", Text),
            ("role", Text),
            ("disabled", Bool),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    ),
    (
        "groups",
        &[("id", Int), ("name", Text), ("created_at", Int)],
    ),
    ("group_members", &[("group_id", Int), ("user_id", Int)]),
    (
        "grants",
        &[
            ("id", Int),
            ("group_id", Int),
            ("category_id", Int),
            ("course_id", Int),
            ("created_at", Int),
        ],
    ),
    (
        "sessions",
        &[
            ("token_hash", Text),
            ("user_id", Int),
            ("kind", Text),
            ("csrf_token", Text),
            ("created_at", Int),
            ("expires_at", Int),
        ],
    ),
    (
        "api_tokens",
        &[
            ("id", Int),
            ("name", Text),
            ("user_id", Int),
            ("token_hash", Text),
            ("csrf_token", Text),
            ("created_at", Int),
            ("expires_at", Int),
            ("last_used_at", Int),
        ],
    ),
    (
        "audit_log",
        &[
            ("id", Int),
            ("created_at", Int),
            ("actor", Text),
            ("actor_id", Int),
            ("action", Text),
            ("target", Text),
            ("detail", Text),
            ("outcome", Text),
            ("status", Int),
            ("address", Text),
        ],
    ),
    (
        "progress",
        &[
            ("user_id", Int),
            ("file_id", Int),
            ("position_seconds", Real),
            ("completed", Bool),
            ("updated_at", Int),
        ],
    ),
    (
        "known_addresses",
        &[("user_id", Int), ("address", Text), ("last_seen", Int)],
    ),
    ("index_generation", &[("id", Int), ("value", Int)]),
];

/// Tables whose ids PostgreSQL hands out (their identity sequences move on
/// past the ids a restore writes).
const IDENTITIES: &[&str] = &[
    "categories",
    "courses",
    "files",
    "scans",
    "scan_issues",
    "users",
    "groups",
    "grants",
    "api_tokens",
    "audit_log",
];

fn column_list(columns: &[(&str, Kind)]) -> String {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    names.join(", ")
}

// --- snapshot -------------------------------------------------------------

pub async fn snapshot(pool: &PgPool, dest: &Path) -> Result<()> {
    if dest.exists() {
        return Err(StoreError::other(format!(
            "cannot write a snapshot to {}: it already exists",
            dest.display()
        )));
    }
    // The SQLite backend makes the file: its schema, its migration history.
    crate::sqlite::SqliteStore::create_snapshot_file(dest).await?;
    let written = write_snapshot(pool, dest).await;
    if written.is_err() {
        let _ = std::fs::remove_file(dest);
    }
    written
}

/// Rows sent from the reading side to the writing side at a time.
const CHUNK: usize = 5_000;

/// A piece of a table on its way from one database to the other.
struct Piece {
    table: &'static str,
    columns: &'static [(&'static str, Kind)],
    rows: Vec<Vec<Value>>,
}

async fn write_snapshot(pool: &PgPool, dest: &Path) -> Result<()> {
    // SQLite is written on a thread of its own while the rows stream in.
    let (send, receive) = tokio::sync::mpsc::channel::<Piece>(2);
    let dest = dest.to_owned();
    let writer = tokio::task::spawn_blocking(move || write_pieces(&dest, receive));
    let read = read_pieces(pool, send).await;
    let written = writer
        .await
        .map_err(|e| StoreError::other(format!("the snapshot writer failed: {e}")))?;
    read.and(written)
}

async fn read_pieces(pool: &PgPool, send: tokio::sync::mpsc::Sender<Piece>) -> Result<()> {
    let mut read = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *read)
        .await?;
    for (table, columns) in TABLES {
        // A cursor hands the table over a chunk at a time.
        let sql = format!(
            "DECLARE piece NO SCROLL CURSOR FOR SELECT {} FROM {table}",
            column_list(columns)
        );
        sqlx::query(&sql).execute(&mut *read).await?;
        loop {
            // Not a cached statement: each table's rows have their own columns.
            let rows = sqlx::query(&format!("FETCH {CHUNK} FROM piece"))
                .persistent(false)
                .fetch_all(&mut *read)
                .await?;
            let last = rows.len() < CHUNK;
            let values = rows
                .iter()
                .map(|row| sqlite_values(row, columns))
                .collect::<Result<Vec<_>>>()?;
            if send
                .send(Piece {
                    table,
                    columns,
                    rows: values,
                })
                .await
                .is_err()
            {
                return Ok(()); // the writer stopped: its error tells why
            }
            if last {
                break;
            }
        }
        sqlx::query("CLOSE piece").execute(&mut *read).await?;
    }
    read.commit().await?;
    Ok(())
}

fn write_pieces(dest: &Path, mut receive: tokio::sync::mpsc::Receiver<Piece>) -> Result<()> {
    let mut file = rusqlite::Connection::open(dest)?;
    file.pragma_update(None, "synchronous", "OFF")?;
    let tx = file.transaction()?;
    // The file's own first row (the index generation) gives way to ours.
    tx.execute("DELETE FROM index_generation", [])?;
    let mut tables = std::collections::HashSet::new();
    while let Some(piece) = receive.blocking_recv() {
        let list = column_list(piece.columns);
        let marks = vec!["?"; piece.columns.len()].join(", ");
        let sql = format!("INSERT INTO {} ({list}) VALUES ({marks})", piece.table);
        let mut insert = tx.prepare_cached(&sql)?;
        for row in &piece.rows {
            insert.execute(rusqlite::params_from_iter(row.iter()))?;
        }
        tables.insert(piece.table);
    }
    if tables.len() < TABLES.len() {
        return Err(StoreError::other("the snapshot was not read whole"));
    }
    // What SQLite's store writes beside the files: their search entries.
    tx.execute(
        "INSERT INTO file_search (rowid, name, section)
         SELECT id, name, section FROM file_search_source",
        [],
    )?;
    tx.commit()?;
    Ok(())
}

/// One PostgreSQL row as the values SQLite stores.
fn sqlite_values(row: &PgRow, columns: &[(&str, Kind)]) -> Result<Vec<Value>> {
    columns
        .iter()
        .map(|&(name, kind)| {
            Ok(match kind {
                Int => row
                    .try_get::<Option<i64>, _>(name)?
                    .map_or(Value::Null, Value::Integer),
                Bool => row
                    .try_get::<Option<bool>, _>(name)?
                    .map_or(Value::Null, |b| Value::Integer(i64::from(b))),
                Real => row
                    .try_get::<Option<f64>, _>(name)?
                    .map_or(Value::Null, Value::Real),
                Text => row
                    .try_get::<Option<String>, _>(name)?
                    .map_or(Value::Null, Value::Text),
                // As the SQLite backend stores a path: text when it is UTF-8.
                Path => match row.try_get::<Option<Vec<u8>>, _>(name)? {
                    None => Value::Null,
                    Some(bytes) => match String::from_utf8(bytes) {
                        Ok(text) => Value::Text(text),
                        Err(e) => Value::Blob(e.into_bytes()),
                    },
                },
            })
        })
        .collect()
}

// --- restore --------------------------------------------------------------

/// Replaces every table's rows with the snapshot's, in `tx` (which holds
/// the write lock): the operation lock stays as it is, every session
/// ends, and audit entries made after `keep_audit_after` stay.
pub async fn replace(tx: &mut Tx, prepared: &Path, keep_audit_after: i64) -> Result<()> {
    let kept_audit = kept_audit(tx, keep_audit_after).await?;
    let names: Vec<&str> = TABLES
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| *t != "operation_lock")
        .collect();
    sqlx::query(&format!("TRUNCATE {}", names.join(", ")))
        .execute(&mut **tx)
        .await?;
    // SQLite is read on a thread of its own while the chunks are written.
    let (send, mut receive) = tokio::sync::mpsc::channel::<(&'static str, Chunk)>(2);
    let prepared = prepared.to_owned();
    let reader = tokio::task::spawn_blocking(move || read_chunks(&prepared, send));
    let mut written = Ok(());
    while let Some((table, chunk)) = receive.recv().await {
        written = chunk.write(tx, table).await;
        if written.is_err() {
            break;
        }
    }
    drop(receive);
    let read = reader
        .await
        .map_err(|e| StoreError::other(format!("the snapshot reader failed: {e}")))?;
    written?;
    read?;
    put_back_audit(tx, kept_audit).await?;
    for table in IDENTITIES {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                           COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
        ))
        .execute(&mut **tx)
        .await?;
    }
    // Everything cached from the old data is stale: new generations.
    sqlx::query("UPDATE courses SET generation = nextval('generations')")
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE index_generation SET value = nextval('generations')")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Every table's rows but the lock's and the sessions', read from the
/// snapshot in chunks; courses and files get their search documents on
/// the way.
fn read_chunks(
    prepared: &Path,
    send: tokio::sync::mpsc::Sender<(&'static str, Chunk)>,
) -> Result<()> {
    let file = rusqlite::Connection::open_with_flags(
        prepared,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    for (table, columns) in TABLES {
        if matches!(*table, "operation_lock" | "sessions") {
            continue;
        }
        let mut statement =
            file.prepare(&format!("SELECT {} FROM {table}", column_list(columns)))?;
        let mut rows = statement.query([])?;
        let mut chunk = Chunk::new(columns);
        while let Some(row) = rows.next()? {
            chunk.push(row)?;
            if chunk.len == CHUNK {
                let full = std::mem::replace(&mut chunk, Chunk::new(columns));
                if send.blocking_send((table, full)).is_err() {
                    return Ok(()); // the writer stopped: its error tells why
                }
            }
        }
        if chunk.len > 0 && send.blocking_send((table, chunk)).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// A column of a chunk: one array per kind PostgreSQL binds.
enum Values {
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Real(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    Bytes(Vec<Option<Vec<u8>>>),
}

struct Chunk {
    columns: &'static [(&'static str, Kind)],
    values: Vec<Values>,
    /// The search documents of courses and files.
    documents: Vec<Option<String>>,
    len: usize,
}

impl Chunk {
    fn new(columns: &'static [(&'static str, Kind)]) -> Self {
        let values = columns
            .iter()
            .map(|(_, kind)| match kind {
                Int => Values::Int(Vec::new()),
                Bool => Values::Bool(Vec::new()),
                Real => Values::Real(Vec::new()),
                Text => Values::Text(Vec::new()),
                Path => Values::Bytes(Vec::new()),
            })
            .collect();
        Self {
            columns,
            values,
            documents: Vec::new(),
            len: 0,
        }
    }

    fn push(&mut self, row: &rusqlite::Row<'_>) -> Result<()> {
        for (i, values) in self.values.iter_mut().enumerate() {
            let value = row.get_ref(i)?;
            let damaged = |e: rusqlite::types::FromSqlError| {
                StoreError::damaged(format!("snapshot column {}: {e}", self.columns[i].0))
            };
            match values {
                Values::Int(v) => v.push(value.as_i64_or_null().map_err(damaged)?),
                Values::Bool(v) => v.push(value.as_i64_or_null().map_err(damaged)?.map(|n| n != 0)),
                Values::Real(v) => v.push(match value {
                    rusqlite::types::ValueRef::Integer(n) => Some(n as f64),
                    other => other.as_f64_or_null().map_err(damaged)?,
                }),
                Values::Text(v) => {
                    v.push(value.as_str_or_null().map_err(damaged)?.map(str::to_owned))
                }
                Values::Bytes(v) => v.push(
                    value
                        .as_bytes_or_null()
                        .map_err(damaged)?
                        .map(<[u8]>::to_vec),
                ),
            }
        }
        self.documents.push(self.document()?);
        self.len += 1;
        Ok(())
    }

    /// The search document of the row just pushed, for a course or a file.
    fn document(&self) -> Result<Option<String>> {
        let last = |name: &str| {
            let i = self.columns.iter().position(|(n, _)| *n == name)?;
            Some(&self.values[i])
        };
        let text = |name: &str| match last(name) {
            Some(Values::Text(v)) => v.last().cloned().flatten(),
            _ => None,
        };
        match (last("mime"), last("description")) {
            // A file: a present lesson is searched by name and folders.
            (Some(_), _) => {
                let path = match last("path") {
                    Some(Values::Bytes(v)) => v.last().cloned().flatten().unwrap_or_default(),
                    _ => Vec::new(),
                };
                let searched = text("role").as_deref() == Some("material")
                    && text("state").as_deref() == Some("present");
                Ok(entry(FileId(0), &path, searched).map(|e| search::file_document(&e)))
            }
            // A course: by its name and description.
            (None, Some(_)) => Ok(Some(search::document(
                &text("name").unwrap_or_default(),
                &text("description").unwrap_or_default(),
            ))),
            _ => Ok(None),
        }
    }

    async fn write(self, tx: &mut Tx, table: &str) -> Result<()> {
        let list = column_list(self.columns);
        let searched = matches!(table, "courses" | "files");
        let mut types: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, kind))| {
                let ty = match kind {
                    Int => "bigint",
                    Bool => "boolean",
                    Real => "float8",
                    Text => "text",
                    Path => "bytea",
                };
                format!("${}::{ty}[]", i + 1)
            })
            .collect();
        let (into, select) = if searched {
            types.push(format!("${}::text[]", self.columns.len() + 1));
            (
                format!("{list}, search"),
                format!("{list}, document::tsvector"),
            )
        } else {
            (list.clone(), list.clone())
        };
        let names = if searched {
            format!("{list}, document")
        } else {
            list
        };
        let sql = format!(
            "INSERT INTO {table} ({into}) SELECT {select} FROM unnest({}) AS u({names})",
            types.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for values in self.values {
            query = match values {
                Values::Int(v) => query.bind(v),
                Values::Bool(v) => query.bind(v),
                Values::Real(v) => query.bind(v),
                Values::Text(v) => query.bind(v),
                Values::Bytes(v) => query.bind(v),
            };
        }
        if searched {
            query = query.bind(self.documents);
        }
        query.execute(&mut **tx).await?;
        Ok(())
    }
}

/// The audit entries made after `since`, to keep through a restore.
async fn kept_audit(tx: &mut Tx, since: i64) -> Result<Vec<PgRow>> {
    Ok(sqlx::query(
        "SELECT created_at, actor, actor_id, action, target, detail, outcome, status, address
         FROM audit_log WHERE created_at > $1 ORDER BY id",
    )
    .bind(since)
    .fetch_all(&mut **tx)
    .await?)
}

/// Appends the kept entries after the snapshot's own, with new ids.
async fn put_back_audit(tx: &mut Tx, rows: Vec<PgRow>) -> Result<()> {
    let max: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM audit_log")
        .fetch_one(&mut **tx)
        .await?;
    let mut next = max.unwrap_or(0);
    for row in rows {
        next += 1;
        sqlx::query(
            "INSERT INTO audit_log (id, created_at, actor, actor_id, action, target, detail,
                 outcome, status, address)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(next)
        .bind(row.try_get::<i64, _>("created_at")?)
        .bind(row.try_get::<String, _>("actor")?)
        .bind(row.try_get::<Option<i64>, _>("actor_id")?)
        .bind(row.try_get::<String, _>("action")?)
        .bind(row.try_get::<Option<String>, _>("target")?)
        .bind(row.try_get::<Option<String>, _>("detail")?)
        .bind(row.try_get::<String, _>("outcome")?)
        .bind(row.try_get::<Option<i64>, _>("status")?)
        .bind(row.try_get::<Option<String>, _>("address")?)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// PostgreSQL keeps its own pages sound (checksums, WAL): what Lectern can
/// check is that every table answers. The problems found, none when all do.
pub async fn quick_check(pool: &PgPool) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for (table, _) in TABLES {
        let counted = sqlx::query(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(pool)
            .await;
        if let Err(e) = counted {
            problems.push(format!("{table}: {e}"));
        }
    }
    Ok(problems)
}
