//! People, their sessions, what they may see, and their progress.

use lectern_core::{CategoryId, CourseId, FileId, LibraryPath};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

lectern_core::id_type!(
    /// A person who can sign in.
    UserId
);

lectern_core::id_type!(
    /// A group of people, the unit grants are given to.
    GroupId
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    User,
}

lectern_core::text_enum!(Role { Admin => "admin", User => "user" });

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub password_hash: String,
    pub role: Role,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub password_hash: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// A browser's, in an HttpOnly cookie; forms carry its CSRF token.
    Web,
    /// A script's, sent as `Authorization: Bearer …`.
    Api,
}

lectern_core::text_enum!(SessionKind { Web => "web", Api => "api" });

#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub user_id: UserId,
    pub kind: SessionKind,
    pub csrf_token: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub kind: SessionKind,
    pub csrf_token: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Category(CategoryId),
    Course(CourseId),
}

/// A group with how many members and grants it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub created_at: i64,
    pub member_count: u64,
    pub grant_count: u64,
}

lectern_core::id_type!(
    /// One grant of a category or a course to a group.
    GrantId
);

/// One stored grant and the library path of what it opens (`Category` or
/// `Category/Course`), so a list of grants reads without more lookups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: GrantId,
    pub group_id: GroupId,
    pub grant: Grant,
    pub path: LibraryPath,
    pub created_at: i64,
}

lectern_core::id_type!(
    /// A long-lived API token.
    ApiTokenId
);

/// A long-lived API token as listed: never the token or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub name: String,
    pub user_id: UserId,
    pub username: String,
    pub created_at: i64,
    /// `None`: never expires.
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub name: String,
    pub user_id: UserId,
    pub token_hash: String,
    /// Random like a session's, though a token never reaches a form.
    pub csrf_token: String,
    pub expires_at: Option<i64>,
}

/// What one person may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    Everything,
    Only {
        categories: HashSet<CategoryId>,
        courses: HashSet<CourseId>,
    },
}

impl Visibility {
    /// What `user` sees: everything for an admin or when the library is
    /// open to all, else what their groups are granted.
    pub async fn of(
        store: &dyn crate::Store,
        user: &User,
        library_open: bool,
    ) -> crate::Result<Visibility> {
        if user.role == Role::Admin || library_open {
            return Ok(Visibility::Everything);
        }
        store.granted(user.id).await
    }

    pub fn course(&self, category: CategoryId, course: CourseId) -> bool {
        match self {
            Visibility::Everything => true,
            Visibility::Only {
                categories,
                courses,
            } => categories.contains(&category) || courses.contains(&course),
        }
    }

    /// A category shows when it is granted or holds a granted course.
    pub fn category(&self, category: CategoryId, courses_in_it: &[CourseId]) -> bool {
        match self {
            Visibility::Everything => true,
            Visibility::Only {
                categories,
                courses,
            } => {
                categories.contains(&category) || courses_in_it.iter().any(|c| courses.contains(c))
            }
        }
    }
}

/// One course at a glance for one person: its cover and how far they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CourseOverview {
    pub course_id: CourseId,
    pub cover_file_id: Option<FileId>,
    /// Present material files: what completion counts.
    pub lessons: u64,
    pub completed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub file_id: FileId,
    pub position_seconds: Option<f64>,
    pub completed: bool,
    pub updated_at: i64,
}

/// The most recent sign-in addresses kept per account
/// ([`crate::Store::remember_address`]).
pub const MAX_KNOWN_ADDRESSES: i64 = 50;
