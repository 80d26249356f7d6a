//! Lectern's database layer. [`Store`] is the one interface the rest of
//! Lectern uses; each backend is a module with its own migrations, and
//! [`open`] picks the backend from the database URL at start-up: the
//! embedded SQLite database (`sqlite/`) or PostgreSQL (`postgres/`).

pub mod accounts;
pub mod audit;
pub mod board;
mod error;
pub mod lock;
mod model;
mod postgres;
mod rows;
pub mod search;
pub mod settings;
pub mod snapshot;
mod sqlite;
mod sqlx_error;
mod store;

pub use accounts::*;
pub use audit::{AuditEntry, AuditPage, AuditQuery, NewAuditEntry, Outcome, MAX_AUDIT_PAGE};
pub use error::StoreError;
pub use model::*;
pub use postgres::{PgOptions, PgStore};
pub use search::{HitKind, QueryError, SearchHit, SearchQuery};
pub use sqlite::SqliteStore;
pub use store::Store;

use std::sync::Arc;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Opens (creating and migrating if needed) the database named by `url`:
/// `sqlite://PATH` (or `sqlite:PATH`) for the embedded database,
/// `postgres://…` (or `postgresql://…`) for a PostgreSQL server, with
/// the default connection limits.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    open_with(url, &PgOptions::default()).await
}

/// The same, with the connection limits of a PostgreSQL server from the
/// configuration (the embedded database has none to set).
pub async fn open_with(url: &str, postgres: &PgOptions) -> Result<Arc<dyn Store>> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        return Ok(Arc::new(
            SqliteStore::open(std::path::Path::new(path)).await?,
        ));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PgStore::open(url, postgres).await?));
    }
    Err(StoreError::UnsupportedBackend(format!(
        "unrecognised database URL {url:?}: expected sqlite://PATH or postgres://…"
    )))
}

/// What instances sharing the database named by `url` tell each other
/// (see [`board`]): PostgreSQL's tables, on a small pool of its own so that
/// heartbeats never wait behind busy requests; `None` for the embedded
/// database, which one machine opens and coordinates in its processes.
pub async fn open_board(url: &str) -> Result<Option<Arc<dyn board::Board>>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Some(Arc::new(postgres::board(url).await?)));
    }
    Ok(None)
}

/// Where the instances sharing the database named by `url` count sign-in
/// attempts (see [`board::LoginTallies`]): PostgreSQL's table, on a small
/// pool of its own; `None` for the embedded database, whose one machine
/// counts them in its process.
pub async fn open_login_tallies(url: &str) -> Result<Option<Arc<dyn board::LoginTallies>>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Some(Arc::new(postgres::login_tallies(url).await?)));
    }
    Ok(None)
}

/// Milliseconds since the Unix epoch: how every timestamp is stored, so that
/// both backends hold the same plain integers.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
