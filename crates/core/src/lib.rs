//! Lectern's domain types, shared by the store, the scanner and the front ends.

mod digest;
mod ids;
mod library_path;
pub mod names;
mod natural;
pub mod progress;
pub mod scan;

pub use digest::{DigestError, Sha256Digest};
pub use ids::{CategoryId, CourseId, FileId, ScanId};
pub use library_path::{LibraryPath, PathDisplay, PathError};
pub use natural::{natural_cmp, natural_path_cmp};
