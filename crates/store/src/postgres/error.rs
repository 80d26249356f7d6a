//! What PostgreSQL's SQLSTATE codes mean to Lectern (see `crate::sqlx_error`
//! for the classes every backend shares).

use crate::sqlx_error::Class;
use sqlx::error::DatabaseError;
use sqlx::postgres::PgDatabaseError;

/// The class of an error PostgreSQL returned, `None` for another
/// backend's.
pub(crate) fn class(db: &dyn DatabaseError) -> Option<Class> {
    let pg = db.try_downcast_ref::<PgDatabaseError>()?;
    let code = pg.code();
    Some(match code {
        // data_corrupted, index_corrupted
        "XX001" | "XX002" => Class::Damaged,
        // query_canceled (the statement timeout), lock_not_available,
        // serialization and deadlock failures, too many connections,
        // the server shutting down or gone, out of resources
        "57014" | "55P03" | "40001" | "40P01" | "53300" | "57P01" | "57P02" | "57P03" => {
            Class::Unavailable
        }
        _ if code.starts_with("08") || code.starts_with("53") => Class::Unavailable,
        _ => Class::Other,
    })
}
