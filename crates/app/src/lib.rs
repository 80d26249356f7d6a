//! Lectern's application layer: every use case once, over the store, the
//! scanner and the backup archive. The front ends (the HTTP server's API
//! and pages, the `lectern` command line) parse what they are given, call
//! a use case here and map its result; none of them holds a business rule
//! of its own, and none imports another.
//!
//! Use cases return [`AppError`] and announce what happened as [`Event`]s
//! on [`Events`]; the audit log, alerts and metrics listen to those.

pub mod access;
pub mod alerts;
pub mod audit;
pub mod backups;
pub mod context;
pub mod coordination;
pub mod error;
pub mod events;
pub mod groups;
pub mod hashing;
pub mod health;
pub mod index_cache;
pub mod library;
pub mod login_limits;
pub mod metrics;
pub mod monitor;
pub mod operation;
pub mod overview;
pub mod passwords;
pub mod restore;
pub mod retention;
pub mod scans;
pub mod schedule;
pub mod settings;
pub mod sign_in;
pub mod tokens;
pub mod users;
pub mod watch;

pub use context::{App, BackupOptions, LibraryOptions};
pub use error::AppError;
pub use events::{Actor, Event, Events, Listener};
pub use login_limits::LoginLimits;
pub use sign_in::{sign_in, SignIn, SignInGuard, SignedIn};
