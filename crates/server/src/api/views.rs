//! The API's own bodies for what the store, the scanner and the backup
//! folder keep. Each is built from its model by `From`, so a field renamed
//! for the store's sake cannot change a public answer: the compiler points
//! at the conversion instead, and `tests/openapi.rs` holds the public shape
//! to a committed snapshot. Ids stay their own Rust types (serialized as
//! plain numbers) and are described as `i64`.

use lectern_backup::{
    BackupRecord, BackupStatus as ModelBackupStatus, BackupType as ModelBackupType,
};
use lectern_core::progress::Phase as ModelPhase;
use lectern_core::scan::{
    IssueKind as ModelIssueKind, ScanCounts, ScanIssue, ScanKind as ModelScanKind,
    ScanStatus as ModelScanStatus,
};
use lectern_core::{CourseId, FileId, ScanId};
use lectern_store::{
    ApiToken, ApiTokenId, CleanupCounts, FileRole as ModelFileRole, FileState as ModelFileState,
    Group, GroupId, HitKind as ModelHitKind, Outcome as ModelOutcome, Progress, Role as ModelRole,
    ScanRecord, User, UserId,
};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

/// An API enum for one of the models' field-less enums, variant for
/// variant, with `From` both ways: a
/// variant added to the model does not compile until the API says how it
/// is shown.
macro_rules! api_enum {
    (
        $(#[$doc:meta])*
        $name:ident <=> $model:ident {
            $($(#[$vdoc:meta])* $variant:ident),* $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),*
        }

        impl From<$model> for $name {
            fn from(model: $model) -> Self {
                match model {
                    $($model::$variant => $name::$variant),*
                }
            }
        }

        impl From<$name> for $model {
            fn from(view: $name) -> Self {
                match view {
                    $($name::$variant => $model::$variant),*
                }
            }
        }
    };
}

api_enum!(
    /// What an account may do: `admin` manages everything, `user` reads
    /// what their groups are granted.
    Role <=> ModelRole { Admin, User }
);

api_enum!(
    /// What a file is to its course: a lesson or other `material`, the
    /// course's README (`description`), its `cover` picture, or captions
    /// (`subtitle`).
    FileRole <=> ModelFileRole { Material, Description, Cover, Subtitle }
);

api_enum!(
    /// Whether the file was on disk at the last scan.
    FileState <=> ModelFileState { Present, Missing }
);

api_enum!(
    /// What a search hit is.
    HitKind <=> ModelHitKind { Course, File }
);

api_enum!(
    /// How the audited action ended.
    Outcome <=> ModelOutcome { Ok, Failed }
);

api_enum!(
    /// What a scan covered or why it ran: the whole library, one course,
    /// a cleanup, or the folders the watcher saw change (`watch`).
    ScanKind <=> ModelScanKind { Full, Course, Cleanup, Watch }
);

api_enum!(
    /// How a scan ended, or `running` while it runs: `aborted` by the
    /// safety guard before anything changed, `cancelled` by an admin,
    /// `interrupted` when the process died.
    ScanStatus <=> ModelScanStatus {
        Running,
        Completed,
        Aborted,
        Cancelled,
        Failed,
        Interrupted,
    }
);

api_enum!(
    /// A scan problem's weight: a `warning` (skipped on purpose), an
    /// `error` (unreadable; its records were kept), or `integrity`
    /// (content changed behind the same size and mtime).
    IssueKind <=> ModelIssueKind { Warning, Error, Integrity }
);

api_enum!(
    /// Where a running scan is.
    Phase <=> ModelPhase { Starting, Walking, Hashing, Writing, Done }
);

api_enum!(
    /// How a backup came to be: by hand, on the schedule, as the safety
    /// copy before a restore or cleanup, or through an upload.
    BackupType <=> ModelBackupType { Manual, Scheduled, Safety, Uploaded }
);

api_enum!(
    /// `completed`: its layout and manifest read; `unreadable`: damaged,
    /// foreign or from a newer Lectern (see `reason`).
    BackupStatus <=> ModelBackupStatus { Completed, Unreadable }
);

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserView {
    #[schema(value_type = i64)]
    pub id: UserId,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            username: u.username,
            role: u.role.into(),
            disabled: u.disabled,
            created_at: u.created_at,
        }
    }
}

/// A group with how many members and grants it has.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Group)]
pub struct GroupView {
    #[schema(value_type = i64)]
    pub id: GroupId,
    pub name: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub member_count: u64,
    pub grant_count: u64,
}

impl From<Group> for GroupView {
    fn from(g: Group) -> Self {
        Self {
            id: g.id,
            name: g.name,
            created_at: g.created_at,
            member_count: g.member_count,
            grant_count: g.grant_count,
        }
    }
}

/// A long-lived API token as listed: never the token or its hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ApiToken)]
pub struct ApiTokenView {
    #[schema(value_type = i64)]
    pub id: ApiTokenId,
    pub name: String,
    /// Whose rights it carries.
    #[schema(value_type = i64)]
    pub user_id: UserId,
    pub username: String,
    pub created_at: i64,
    /// Null: never expires.
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl From<ApiToken> for ApiTokenView {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id,
            name: t.name,
            user_id: t.user_id,
            username: t.username,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
        }
    }
}

/// One person's progress on one file.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Progress)]
pub struct ProgressView {
    #[schema(value_type = i64)]
    pub file_id: FileId,
    /// Where playback stopped, in seconds.
    pub position_seconds: Option<f64>,
    pub completed: bool,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
}

impl From<Progress> for ProgressView {
    fn from(p: Progress) -> Self {
        Self {
            file_id: p.file_id,
            position_seconds: p.position_seconds,
            completed: p.completed,
            updated_at: p.updated_at,
        }
    }
}

/// The counts every scan reports and keeps in its history record.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[schema(as = ScanCounts)]
pub struct ScanCountsView {
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

impl From<ScanCounts> for ScanCountsView {
    fn from(c: ScanCounts) -> Self {
        Self {
            added: c.added,
            updated: c.updated,
            removed: c.removed,
            moved: c.moved,
            unchanged: c.unchanged,
            errors: c.errors,
            hashed_files: c.hashed_files,
            hashed_bytes: c.hashed_bytes,
        }
    }
}

/// One scan or cleanup in the history.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ScanRecord)]
pub struct ScanRecordView {
    #[schema(value_type = i64)]
    pub id: ScanId,
    pub kind: ScanKind,
    /// The course a course scan covered.
    #[schema(value_type = Option<i64>)]
    pub course_id: Option<CourseId>,
    pub started_by: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub status: ScanStatus,
    pub reason: Option<String>,
    pub verify: bool,
    pub forced: bool,
    #[serde(flatten)]
    pub counts: ScanCountsView,
}

impl From<ScanRecord> for ScanRecordView {
    fn from(s: ScanRecord) -> Self {
        Self {
            id: s.id,
            kind: s.kind.into(),
            course_id: s.course_id,
            started_by: s.started_by,
            started_at: s.started_at,
            finished_at: s.finished_at,
            status: s.status.into(),
            reason: s.reason,
            verify: s.verify,
            forced: s.forced,
            counts: s.counts.into(),
        }
    }
}

/// One per-path problem a scan found.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ScanIssue)]
pub struct ScanIssueView {
    pub kind: IssueKind,
    pub path: String,
    pub message: String,
}

impl From<ScanIssue> for ScanIssueView {
    fn from(i: ScanIssue) -> Self {
        Self {
            kind: i.kind.into(),
            path: i.path,
            message: i.message,
        }
    }
}

/// What a cleanup removed.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[schema(as = CleanupCounts)]
pub struct CleanupCountsView {
    pub files: u64,
    pub courses: u64,
    pub categories: u64,
}

impl From<CleanupCounts> for CleanupCountsView {
    fn from(c: CleanupCounts) -> Self {
        Self {
            files: c.files,
            courses: c.courses,
            categories: c.categories,
        }
    }
}

/// One archive in the backup folder.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Backup)]
pub struct BackupView {
    pub id: String,
    pub filename: String,
    /// Where it is on the server, absolute.
    pub file_path: String,
    pub file_size: u64,
    /// From the file name: an uploaded copy says `uploaded`.
    pub backup_type: BackupType,
    /// From the manifest; null when it cannot be read.
    pub created_by: Option<String>,
    /// When the data was captured (RFC 3339).
    #[schema(format = DateTime)]
    pub created_at: String,
    pub status: BackupStatus,
    /// Why the archive is unreadable.
    pub reason: Option<String>,
    pub notes: Option<String>,
    pub encrypted: bool,
}

impl From<BackupRecord> for BackupView {
    fn from(r: BackupRecord) -> Self {
        Self {
            id: r.id,
            filename: r.filename,
            file_path: r.file_path.to_string_lossy().into_owned(),
            file_size: r.file_size,
            backup_type: r.backup_type.into(),
            created_by: r.created_by,
            created_at: r.created_at.format(&Rfc3339).unwrap_or_default(),
            status: r.status.into(),
            reason: r.reason,
            notes: r.notes,
            encrypted: r.encrypted,
        }
    }
}

/// What a restore did.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Restored)]
pub struct RestoredView {
    /// The backup put back.
    pub restored: BackupView,
    /// The backup of the data as it was just before, to undo the restore.
    pub safety_backup_id: String,
    /// The schema version the restored data was brought to.
    pub schema_version: i64,
}

/// Converts every model in a list.
pub fn all<M, V: From<M>>(models: Vec<M>) -> Vec<V> {
    models.into_iter().map(V::from).collect()
}
