//! Settings kept as JSON in the store's key/value settings.

use lectern_store::{Store, StoreError};

/// A setting kept as JSON; `None` when unset, cleared or unreadable.
pub async fn json_setting<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    key: &str,
) -> Result<Option<T>, StoreError> {
    Ok(store
        .setting(key)
        .await?
        .and_then(|json| serde_json::from_str(&json).ok()))
}
