//! `/api/admin/groups`: groups, their members, and the categories and
//! courses granted to them (what their members may see). Ids in the path
//! that name nothing are 404; ids in the body that name nothing are 400,
//! with a message saying which.

use crate::api::openapi::{AdminChange, AdminRead};
use crate::api::views::{self, GroupView, UserView};
use crate::auth::Admin;
use crate::error::Ids;
use crate::error::{ApiError, ErrorEnvelope, JsonBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lectern_app::groups;
use lectern_core::{CategoryId, CourseId};
use lectern_store::{Grant, GrantId, GrantRecord, GroupId, UserId};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    /// 1 to 100 characters once surrounding spaces are dropped, with no
    /// control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    name: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    #[schema(value_type = i64)]
    user_id: UserId,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    #[schema(value_type = Option<i64>)]
    category_id: Option<CategoryId>,
    #[schema(value_type = Option<i64>)]
    course_id: Option<CourseId>,
}

/// A grant as the API shows it: both keys always present, one of them null.
#[derive(Serialize, utoipa::ToSchema)]
pub struct GrantView {
    #[schema(value_type = i64)]
    id: GrantId,
    #[schema(value_type = i64)]
    group_id: GroupId,
    #[schema(value_type = Option<i64>)]
    category_id: Option<CategoryId>,
    #[schema(value_type = Option<i64>)]
    course_id: Option<CourseId>,
    /// What it opens: `Category` or `Category/Course`.
    path: String,
    created_at: i64,
}

impl From<GrantRecord> for GrantView {
    fn from(g: GrantRecord) -> Self {
        let (category_id, course_id) = match g.grant {
            Grant::Category(id) => (Some(id), None),
            Grant::Course(id) => (None, Some(id)),
        };
        Self {
            id: g.id,
            group_id: g.group_id,
            category_id,
            course_id,
            path: g.path.to_string_lossy().into_owned(),
            created_at: g.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct GroupDetail {
    #[serde(flatten)]
    group: GroupView,
    members: Vec<UserView>,
    grants: Vec<GrantView>,
}

#[utoipa::path(
    get,
    path = "/admin/groups",
    tag = "admin",
    operation_id = "list_groups",
    responses(
        (status = 200, description = "Every group, by name, with its member and grant counts", body = [GroupView]),
        AdminRead,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    Admin(by): Admin,
) -> Result<Json<Vec<GroupView>>, ApiError> {
    Ok(Json(views::all(groups::list(&state.app, &by).await?)))
}

#[utoipa::path(
    post,
    path = "/admin/groups",
    tag = "admin",
    extensions(("x-audit-action" = json!("group.create"))),
    operation_id = "create_group",
    request_body = GroupBody,
    responses(
        (status = 201, description = "The new group", body = GroupView),
        (status = 400, description = "A bad name or a malformed body", body = ErrorEnvelope),
        (status = 409, description = "The name is taken", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    Admin(by): Admin,
    JsonBody(body): JsonBody<GroupBody>,
) -> Result<(StatusCode, Json<GroupView>), ApiError> {
    let group = groups::create(&state.app, &by, &body.name).await?;
    Ok((StatusCode::CREATED, Json(group.into())))
}

#[utoipa::path(
    get,
    path = "/admin/groups/{id}",
    tag = "admin",
    operation_id = "show_group",
    params(("id" = i64, Path, description = "The group's id")),
    responses(
        (status = 200, description = "The group with its members and grants", body = GroupDetail),
        (status = 404, description = "No such group", body = ErrorEnvelope),
        AdminRead,
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    Admin(by): Admin,
    Ids(id): Ids<i64>,
) -> Result<Json<GroupDetail>, ApiError> {
    let found = groups::show(&state.app, &by, GroupId(id)).await?;
    Ok(Json(GroupDetail {
        members: views::all(found.members),
        grants: found.grants.into_iter().map(GrantView::from).collect(),
        group: found.group.into(),
    }))
}

#[utoipa::path(
    patch,
    path = "/admin/groups/{id}",
    tag = "admin",
    extensions(("x-audit-action" = json!("group.rename"))),
    operation_id = "rename_group",
    params(("id" = i64, Path, description = "The group's id")),
    request_body = GroupBody,
    responses(
        (status = 200, description = "The renamed group", body = GroupView),
        (status = 400, description = "A bad name or a malformed body", body = ErrorEnvelope),
        (status = 404, description = "No such group", body = ErrorEnvelope),
        (status = 409, description = "The name is taken", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn rename(
    State(state): State<AppState>,
    Admin(by): Admin,
    Ids(id): Ids<i64>,
    JsonBody(body): JsonBody<GroupBody>,
) -> Result<Json<GroupView>, ApiError> {
    let group = groups::rename(&state.app, &by, GroupId(id), &body.name).await?;
    Ok(Json(group.into()))
}

#[utoipa::path(
    delete,
    path = "/admin/groups/{id}",
    tag = "admin",
    extensions(("x-audit-action" = json!("group.delete"))),
    operation_id = "delete_group",
    params(("id" = i64, Path, description = "The group's id")),
    responses(
        (status = 204, description = "Deleted, with its memberships and grants"),
        (status = 404, description = "No such group", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    Admin(by): Admin,
    Ids(id): Ids<i64>,
) -> Result<StatusCode, ApiError> {
    groups::delete(&state.app, &by, GroupId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/admin/groups/{id}/members",
    tag = "admin",
    operation_id = "list_members",
    params(("id" = i64, Path, description = "The group's id")),
    responses(
        (status = 200, description = "The members, by username", body = [UserView]),
        (status = 404, description = "No such group", body = ErrorEnvelope),
        AdminRead,
    ),
)]
pub async fn members(
    State(state): State<AppState>,
    Admin(by): Admin,
    Ids(id): Ids<i64>,
) -> Result<Json<Vec<UserView>>, ApiError> {
    Ok(Json(views::all(
        groups::members(&state.app, &by, GroupId(id)).await?,
    )))
}

#[utoipa::path(
    post,
    path = "/admin/groups/{id}/members",
    tag = "admin",
    extensions(("x-audit-action" = json!("group.member.add"))),
    operation_id = "add_member",
    params(("id" = i64, Path, description = "The group's id")),
    request_body = MemberBody,
    responses(
        (status = 201, description = "The user, now a member", body = UserView),
        (status = 200, description = "The user, who was already a member", body = UserView),
        (status = 400, description = "No user with that id, or a malformed body", body = ErrorEnvelope),
        (status = 404, description = "No such group", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn add_member(
    State(state): State<AppState>,
    Admin(by): Admin,
    Ids(id): Ids<i64>,
    JsonBody(body): JsonBody<MemberBody>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let added = groups::add_member(&state.app, &by, GroupId(id), body.user_id).await?;
    Ok((added_status(added.already), Json(added.record.into())))
}

/// 200 when it was so already, 201 when it is new.
fn added_status(already: bool) -> StatusCode {
    if already {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
}

#[utoipa::path(
    delete,
    path = "/admin/groups/{id}/members/{user_id}",
    tag = "admin",
    extensions(("x-audit-action" = json!("group.member.remove"))),
    operation_id = "remove_member",
    params(("id" = i64, Path, description = "The group's id"), ("user_id" = i64, Path, description = "The member's user id")),
    responses(
        (status = 204, description = "No longer a member"),
        (status = 404, description = "No such group, or the user is not in it", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn remove_member(
    State(state): State<AppState>,
    Admin(by): Admin,
    Ids((id, user_id)): Ids<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    groups::remove_member(&state.app, &by, GroupId(id), UserId(user_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/admin/groups/{id}/grants",
    tag = "admin",
    operation_id = "list_grants",
    params(("id" = i64, Path, description = "The group's id")),
    responses(
        (status = 200, description = "What the group is granted, in the order given", body = [GrantView]),
        (status = 404, description = "No such group", body = ErrorEnvelope),
        AdminRead,
    ),
)]
pub async fn grants(
    State(state): State<AppState>,
    Admin(by): Admin,
    Ids(id): Ids<i64>,
) -> Result<Json<Vec<GrantView>>, ApiError> {
    let grants = groups::grants(&state.app, &by, GroupId(id)).await?;
    Ok(Json(grants.into_iter().map(GrantView::from).collect()))
}

#[utoipa::path(
    post,
    path = "/admin/groups/{id}/grants",
    tag = "admin",
    extensions(("x-audit-action" = json!("group.grant.add"))),
    operation_id = "add_grant",
    params(("id" = i64, Path, description = "The group's id")),
    request_body = GrantBody,
    responses(
        (status = 201, description = "The new grant", body = GrantView),
        (status = 200, description = "The grant that already opened the same", body = GrantView),
        (status = 400, description = "Not exactly one of category_id and course_id, one that names nothing, or a malformed body", body = ErrorEnvelope),
        (status = 404, description = "No such group", body = ErrorEnvelope),
        (status = 409, description = "The group or what it was granted was removed meanwhile", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn add_grant(
    State(state): State<AppState>,
    Admin(by): Admin,
    Ids(id): Ids<i64>,
    JsonBody(body): JsonBody<GrantBody>,
) -> Result<(StatusCode, Json<GrantView>), ApiError> {
    let (category, course) = (body.category_id, body.course_id);
    let added = groups::add_grant(&state.app, &by, GroupId(id), category, course).await?;
    Ok((added_status(added.already), Json(added.record.into())))
}

#[utoipa::path(
    delete,
    path = "/admin/groups/{id}/grants/{grant_id}",
    tag = "admin",
    extensions(("x-audit-action" = json!("group.grant.remove"))),
    operation_id = "remove_grant",
    params(("id" = i64, Path, description = "The group's id"), ("grant_id" = i64, Path, description = "The grant's id")),
    responses(
        (status = 204, description = "The grant is gone; its members no longer see what it opened"),
        (status = 404, description = "No such group, or no such grant in it", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn remove_grant(
    State(state): State<AppState>,
    Admin(by): Admin,
    Ids((id, grant_id)): Ids<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    groups::remove_grant(&state.app, &by, GroupId(id), GrantId(grant_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
