//! Lectern's domain types, shared by the store, the scanner and the front ends.

pub mod alerting;
mod digest;
pub mod health;
pub mod identity;
mod ids;
mod library_path;
pub mod names;
mod natural;
pub mod progress;
pub mod quantity;
pub mod scan;
pub mod watch;

pub use digest::{DigestError, Sha256Digest};
pub use ids::{CategoryId, CourseId, FileId, ScanId};
pub use library_path::{escaped, LibraryPath, PathDisplay, PathError};
pub use natural::{natural_cmp, natural_path_cmp};
