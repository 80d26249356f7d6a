//! Account management for admins (SPEC §2, §4): users, groups and their
//! grants, API tokens, and the run-time settings. Every handler takes
//! [`crate::auth::Admin`] before its path and body, so an anonymous caller
//! gets 401 and a user 403 whatever they send; the rules themselves are
//! the use cases' (`lectern_app::{users, groups, tokens, settings}`).

pub mod audit;
pub mod backups;
pub mod groups;
pub mod settings;
pub mod tokens;
pub mod users;
