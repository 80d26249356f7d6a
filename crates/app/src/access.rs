//! Who may do what. Administration (accounts, groups, grants, tokens,
//! settings, scans, backups) is for admins, the server's own jobs and the
//! command line; each administrative use case asks here first.

use crate::error::AppError;
use crate::events::Actor;
use lectern_core::names::{clean_name, NameError};

/// `Forbidden` unless `by` may administer.
pub fn require_admin(by: &Actor) -> Result<(), AppError> {
    if by.may_administer() {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// A name people type and read, or `Invalid` saying what a good one is.
pub(crate) fn name(raw: &str, what: &'static str, max: usize) -> Result<String, AppError> {
    clean_name(raw, what, max).map_err(|e: NameError| AppError::Invalid(e.to_string()))
}
