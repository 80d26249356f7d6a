//! `/api/admin/groups`: groups, their members, and the categories and
//! courses granted to them (what their members may see). Ids in the path
//! that name nothing are 404; ids in the body that name nothing are 400,
//! with a message saying which.

use super::clean_name;
use crate::api::openapi::{AdminChange, AdminRead};
use crate::api::views::{self, GroupView, UserView};
use crate::auth::Admin;
use crate::error::Ids;
use crate::error::{ApiError, ErrorEnvelope, JsonBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lectern_core::{CategoryId, CourseId};
use lectern_store::{Grant, GrantId, GrantRecord, Group, GroupId, Store, UserId};
use serde::{Deserialize, Serialize};

const MAX_GROUP_NAME: usize = 100;

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

async fn existing(store: &dyn Store, id: i64) -> Result<Group, ApiError> {
    store.group(GroupId(id)).await?.ok_or(ApiError::NotFound)
}

async fn grant_views(store: &dyn Store, group: GroupId) -> Result<Vec<GrantView>, ApiError> {
    let grants = store.group_grants(group).await?;
    Ok(grants.into_iter().map(GrantView::from).collect())
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
    _admin: Admin,
) -> Result<Json<Vec<GroupView>>, ApiError> {
    Ok(Json(views::all(state.store.groups().await?)))
}

#[utoipa::path(
    post,
    path = "/admin/groups",
    tag = "admin",
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
    _admin: Admin,
    JsonBody(body): JsonBody<GroupBody>,
) -> Result<(StatusCode, Json<GroupView>), ApiError> {
    let name = clean_name(&body.name, "group name", MAX_GROUP_NAME)?;
    let id = state.store.create_group(&name).await?;
    let group = existing(state.store.as_ref(), id.0).await?;
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
    _admin: Admin,
    Ids(id): Ids<i64>,
) -> Result<Json<GroupDetail>, ApiError> {
    let store = state.store.as_ref();
    let group = existing(store, id).await?;
    Ok(Json(GroupDetail {
        members: views::all(store.group_members(group.id).await?),
        grants: grant_views(store, group.id).await?,
        group: group.into(),
    }))
}

#[utoipa::path(
    patch,
    path = "/admin/groups/{id}",
    tag = "admin",
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
    _admin: Admin,
    Ids(id): Ids<i64>,
    JsonBody(body): JsonBody<GroupBody>,
) -> Result<Json<GroupView>, ApiError> {
    let name = clean_name(&body.name, "group name", MAX_GROUP_NAME)?;
    let group = state.store.rename_group(GroupId(id), &name).await?;
    Ok(Json(group.ok_or(ApiError::NotFound)?.into()))
}

#[utoipa::path(
    delete,
    path = "/admin/groups/{id}",
    tag = "admin",
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
    _admin: Admin,
    Ids(id): Ids<i64>,
) -> Result<StatusCode, ApiError> {
    if !state.store.delete_group(GroupId(id)).await? {
        return Err(ApiError::NotFound);
    }
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
    _admin: Admin,
    Ids(id): Ids<i64>,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let group = existing(state.store.as_ref(), id).await?;
    Ok(Json(views::all(state.store.group_members(group.id).await?)))
}

/// 201 with the user when they join, 200 when they were already a member.
#[utoipa::path(
    post,
    path = "/admin/groups/{id}/members",
    tag = "admin",
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
    _admin: Admin,
    Ids(id): Ids<i64>,
    JsonBody(body): JsonBody<MemberBody>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let store = state.store.as_ref();
    let group = existing(store, id).await?;
    let user = store.user(body.user_id).await?.ok_or_else(|| {
        ApiError::BadRequest(format!("there is no user with id {}", body.user_id))
    })?;
    let members = store.group_members(group.id).await?;
    if members.iter().any(|m| m.id == user.id) {
        return Ok((StatusCode::OK, Json(user.into())));
    }
    store.add_member(group.id, user.id).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

#[utoipa::path(
    delete,
    path = "/admin/groups/{id}/members/{user_id}",
    tag = "admin",
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
    _admin: Admin,
    Ids((id, user_id)): Ids<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    let removed = state
        .store
        .remove_member(GroupId(id), UserId(user_id))
        .await?;
    if !removed {
        return Err(ApiError::NotFound);
    }
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
    _admin: Admin,
    Ids(id): Ids<i64>,
) -> Result<Json<Vec<GrantView>>, ApiError> {
    let group = existing(state.store.as_ref(), id).await?;
    Ok(Json(grant_views(state.store.as_ref(), group.id).await?))
}

/// Exactly one of `category_id` and `course_id`, naming one that exists.
async fn wanted_grant(store: &dyn Store, body: GrantBody) -> Result<Grant, ApiError> {
    match (body.category_id, body.course_id) {
        (Some(id), None) => {
            let categories = store.categories().await?;
            if !categories.iter().any(|c| c.id == id) {
                return Err(ApiError::BadRequest(format!(
                    "there is no category with id {id}"
                )));
            }
            Ok(Grant::Category(id))
        }
        (None, Some(id)) => {
            if store.course(id).await?.is_none() {
                return Err(ApiError::BadRequest(format!(
                    "there is no course with id {id}"
                )));
            }
            Ok(Grant::Course(id))
        }
        _ => Err(ApiError::BadRequest(
            "give exactly one of category_id and course_id".into(),
        )),
    }
}

/// 201 with the new grant, 200 with the one that already opened the same.
#[utoipa::path(
    post,
    path = "/admin/groups/{id}/grants",
    tag = "admin",
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
    _admin: Admin,
    Ids(id): Ids<i64>,
    JsonBody(body): JsonBody<GrantBody>,
) -> Result<(StatusCode, Json<GrantView>), ApiError> {
    let store = state.store.as_ref();
    let group = existing(store, id).await?;
    let grant = wanted_grant(store, body).await?;
    let find = |list: Vec<GrantRecord>| list.into_iter().find(|g| g.grant == grant);
    if let Some(old) = find(store.group_grants(group.id).await?) {
        return Ok((StatusCode::OK, Json(old.into())));
    }
    store.add_grant(group.id, grant).await?;
    let new = find(store.group_grants(group.id).await?).ok_or_else(|| {
        ApiError::Conflict("the group or what it was granted was removed meanwhile".into())
    })?;
    Ok((StatusCode::CREATED, Json(new.into())))
}

#[utoipa::path(
    delete,
    path = "/admin/groups/{id}/grants/{grant_id}",
    tag = "admin",
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
    _admin: Admin,
    Ids((id, grant_id)): Ids<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    let removed = state
        .store
        .remove_grant(GroupId(id), GrantId(grant_id))
        .await?;
    if !removed {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}
