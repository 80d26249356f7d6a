//! What a scan is and what it reports, shared by the store (history) and the
//! scanner (which produces it).

use serde::{Deserialize, Serialize};

/// The scan safety guard's rule: marking `missing` of `known` present
/// files missing is more than `max_share` of them (an unmounted library
/// looks exactly like this). Nothing missing never exceeds it.
pub fn exceeds_missing_share(missing: u64, known: u64, max_share: f64) -> bool {
    missing > 0 && missing as f64 / known.max(1) as f64 > max_share
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanKind {
    Full,
    Course,
    Cleanup,
    /// Started by the watcher, for the folders that changed.
    Watch,
}

/// How a scan ended (or `Running` while it runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanStatus {
    Running,
    /// Finished; per-file errors and warnings do not change this.
    Completed,
    /// The safety guard stopped it before anything changed.
    Aborted,
    /// An admin stopped it; batches committed before that stay.
    Cancelled,
    Failed,
    /// The process died while it ran.
    Interrupted,
}

/// Gives a field-less enum its stored text form: `as_str`, `FromStr` and
/// `Display`, from one table, so the two directions cannot disagree.
#[macro_export]
macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),* }
            }
        }
        impl ::std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($ty::$variant),)*
                    other => Err(format!("unknown {} {other:?}", stringify!($ty))),
                }
            }
        }
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(ScanKind {
    Full => "full",
    Course => "course",
    Cleanup => "cleanup",
    Watch => "watch",
});
text_enum!(ScanStatus {
    Running => "running",
    Completed => "completed",
    Aborted => "aborted",
    Cancelled => "cancelled",
    Failed => "failed",
    Interrupted => "interrupted",
});
text_enum!(IssueKind { Warning => "warning", Error => "error", Integrity => "integrity" });

/// The counts every scan reports and keeps in its history record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanCounts {
    pub added: u64,
    /// Files whose content (size or hash) changed.
    pub updated: u64,
    /// Files marked missing.
    pub removed: u64,
    pub moved: u64,
    pub unchanged: u64,
    pub errors: u64,
    pub hashed_files: u64,
    pub hashed_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// Something skipped on purpose and worth knowing (a stray file, a link out of ROOT).
    Warning,
    /// A file or folder that could not be read; its records were left as they were.
    Error,
    /// Content changed while size and modification time did not (found by `--verify`).
    Integrity,
}

/// One per-path problem found by a scan. `path` is lossy for names that are
/// not valid UTF-8, since those cannot be indexed but must still be reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanIssue {
    pub kind: IssueKind,
    pub path: String,
    pub message: String,
}

impl ScanIssue {
    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: IssueKind::Warning,
            path: path.into(),
            message: message.into(),
        }
    }
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: IssueKind::Error,
            path: path.into(),
            message: message.into(),
        }
    }
    pub fn integrity(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: IssueKind::Integrity,
            path: path.into(),
            message: message.into(),
        }
    }
}
