//! PostgreSQL's result rows read through the shared mapping
//! (`crate::rows`): BIGINT, DOUBLE PRECISION, TEXT, BYTEA and BOOLEAN.

use crate::rows::Columns;
use crate::{Result, StoreError};
use sqlx::postgres::PgRow;
use sqlx::Row;

/// A value of a type its column never holds, or a column the query lacks.
fn wrong(name: &str, e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::ColumnDecode { .. } => StoreError::damaged(format!("column {name}: {e}")),
        other => other.into(),
    }
}

impl Columns for PgRow {
    fn int_or_null(&self, name: &str) -> Result<Option<i64>> {
        self.try_get(name).map_err(|e| wrong(name, e))
    }
    fn real_or_null(&self, name: &str) -> Result<Option<f64>> {
        self.try_get(name).map_err(|e| wrong(name, e))
    }
    fn text_or_null(&self, name: &str) -> Result<Option<&str>> {
        self.try_get(name).map_err(|e| wrong(name, e))
    }
    /// BYTEA (a file's path) or TEXT (a course's, always UTF-8).
    fn bytes_or_null(&self, name: &str) -> Result<Option<&[u8]>> {
        match self.try_get::<Option<&[u8]>, _>(name) {
            Ok(bytes) => Ok(bytes),
            Err(sqlx::Error::ColumnDecode { .. }) => {
                let text: Option<&str> = self.try_get(name).map_err(|e| wrong(name, e))?;
                Ok(text.map(str::as_bytes))
            }
            Err(e) => Err(wrong(name, e)),
        }
    }
    fn flag(&self, name: &str) -> Result<bool> {
        let value: Option<bool> = self.try_get(name).map_err(|e| wrong(name, e))?;
        value.ok_or_else(|| StoreError::damaged(format!("a NULL value in column {name}")))
    }
}
