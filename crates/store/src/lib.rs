//! Lectern's database layer. [`Store`] is the one interface the rest of
//! Lectern uses; each backend is a module with its own migrations, and
//! [`open`] picks the backend from the database URL at start-up.

pub mod accounts;
pub mod audit;
mod error;
pub mod lock;
mod model;
pub mod search;
pub mod settings;
pub mod snapshot;
mod sqlite;
mod store;

pub use accounts::*;
pub use audit::{AuditEntry, AuditPage, AuditQuery, NewAuditEntry, Outcome, MAX_AUDIT_PAGE};
pub use error::StoreError;
pub use model::*;
pub use search::{HitKind, QueryError, SearchHit, SearchQuery};
pub use sqlite::SqliteStore;
pub use store::Store;

use std::sync::Arc;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Opens (creating and migrating if needed) the database named by `url`:
/// `sqlite://PATH` (or `sqlite:PATH`) for the embedded database.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        return Ok(Arc::new(
            SqliteStore::open(std::path::Path::new(path)).await?,
        ));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(StoreError::UnsupportedBackend(
            "PostgreSQL is not supported by this build yet; use the embedded SQLite database"
                .into(),
        ));
    }
    Err(StoreError::UnsupportedBackend(format!(
        "unrecognised database URL {url:?}: expected sqlite://PATH"
    )))
}

/// Milliseconds since the Unix epoch: how every timestamp is stored, so that
/// both backends hold the same plain integers.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
