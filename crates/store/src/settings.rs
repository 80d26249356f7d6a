//! Settings an admin changes at run time, kept in the database so that every
//! instance sees the same value.

use crate::{Result, Store};
use std::path::PathBuf;

/// The library root saved by the admin panel.
pub const LIBRARY_ROOT: &str = "library_root";
/// `true` opens the whole library to every signed-in user.
pub const LIBRARY_OPEN: &str = "library_open";

/// The library root: the process's override (`--root`, `LECTERN_ROOT`),
/// else the saved setting, else the configured default.
pub async fn library_root(
    store: &dyn Store,
    overridden: Option<&PathBuf>,
    configured: Option<&PathBuf>,
) -> Result<Option<PathBuf>> {
    if let Some(root) = overridden {
        return Ok(Some(root.clone()));
    }
    if let Some(saved) = store.setting(LIBRARY_ROOT).await? {
        return Ok(Some(PathBuf::from(saved)));
    }
    Ok(configured.cloned())
}

pub async fn library_open(store: &dyn Store) -> Result<bool> {
    Ok(store.setting(LIBRARY_OPEN).await?.as_deref() == Some("true"))
}
