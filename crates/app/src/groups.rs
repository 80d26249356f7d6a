//! Groups, their members, and the categories and courses granted to them
//! (what their members may see). A group id that names nothing is
//! `NotFound`; a user, category or course id given to add that names
//! nothing is `Invalid`, saying which.

use crate::access::{name, require_admin};
use crate::context::App;
use crate::error::AppError;
use crate::events::{Actor, Event};
use lectern_core::{CategoryId, CourseId};
use lectern_store::{Grant, GrantId, GrantRecord, Group, GroupId, User, UserId};

pub const MAX_GROUP_NAME: usize = 100;

/// A group with who is in it and what it is granted.
pub struct GroupDetail {
    pub group: Group,
    pub members: Vec<User>,
    pub grants: Vec<GrantRecord>,
}

/// Added, or there already (nothing changed).
pub struct Added<T> {
    pub record: T,
    pub already: bool,
}

fn no_group(id: GroupId) -> AppError {
    AppError::NotFound(format!("there is no group with id {id}"))
}

async fn existing(app: &App, id: GroupId) -> Result<Group, AppError> {
    app.store.group(id).await?.ok_or_else(|| no_group(id))
}

pub async fn list(app: &App, by: &Actor) -> Result<Vec<Group>, AppError> {
    require_admin(by)?;
    Ok(app.store.groups().await?)
}

pub async fn show(app: &App, by: &Actor, id: GroupId) -> Result<GroupDetail, AppError> {
    require_admin(by)?;
    let group = existing(app, id).await?;
    Ok(GroupDetail {
        members: app.store.group_members(group.id).await?,
        grants: app.store.group_grants(group.id).await?,
        group,
    })
}

pub async fn create(app: &App, by: &Actor, raw_name: &str) -> Result<Group, AppError> {
    require_admin(by)?;
    let name = name(raw_name, "group name", MAX_GROUP_NAME)?;
    let id = app.store.create_group(&name).await?;
    let group = existing(app, id).await?;
    let event = Event::GroupCreated {
        by: by.clone(),
        group_id: id.0,
    };
    app.events.emit(event).await;
    Ok(group)
}

pub async fn rename(app: &App, by: &Actor, id: GroupId, raw_name: &str) -> Result<Group, AppError> {
    require_admin(by)?;
    let name = name(raw_name, "group name", MAX_GROUP_NAME)?;
    let group = app.store.rename_group(id, &name).await?;
    let group = group.ok_or_else(|| no_group(id))?;
    let event = Event::GroupRenamed {
        by: by.clone(),
        group_id: id.0,
    };
    app.events.emit(event).await;
    Ok(group)
}

/// Deletes the group with its memberships and grants.
pub async fn delete(app: &App, by: &Actor, id: GroupId) -> Result<(), AppError> {
    require_admin(by)?;
    if !app.store.delete_group(id).await? {
        return Err(no_group(id));
    }
    let event = Event::GroupDeleted {
        by: by.clone(),
        group_id: id.0,
    };
    app.events.emit(event).await;
    Ok(())
}

pub async fn members(app: &App, by: &Actor, id: GroupId) -> Result<Vec<User>, AppError> {
    require_admin(by)?;
    let group = existing(app, id).await?;
    Ok(app.store.group_members(group.id).await?)
}

pub async fn add_member(
    app: &App,
    by: &Actor,
    id: GroupId,
    user_id: UserId,
) -> Result<Added<User>, AppError> {
    require_admin(by)?;
    let store = app.store.as_ref();
    let group = existing(app, id).await?;
    let user = store
        .user(user_id)
        .await?
        .ok_or_else(|| AppError::Invalid(format!("there is no user with id {user_id}")))?;
    let members = store.group_members(group.id).await?;
    let already = members.iter().any(|m| m.id == user.id);
    if !already {
        store.add_member(group.id, user.id).await?;
    }
    let event = Event::MemberAdded {
        by: by.clone(),
        group_id: id.0,
        user_id: user.id.0,
        already,
    };
    app.events.emit(event).await;
    Ok(Added {
        record: user,
        already,
    })
}

pub async fn remove_member(
    app: &App,
    by: &Actor,
    id: GroupId,
    user_id: UserId,
) -> Result<(), AppError> {
    require_admin(by)?;
    if !app.store.remove_member(id, user_id).await? {
        return Err(AppError::NotFound(format!(
            "user {user_id} is not in group {id}"
        )));
    }
    let event = Event::MemberRemoved {
        by: by.clone(),
        group_id: id.0,
        user_id: user_id.0,
    };
    app.events.emit(event).await;
    Ok(())
}

pub async fn grants(app: &App, by: &Actor, id: GroupId) -> Result<Vec<GrantRecord>, AppError> {
    require_admin(by)?;
    let group = existing(app, id).await?;
    Ok(app.store.group_grants(group.id).await?)
}

/// What to grant: exactly one of a category and a course.
pub async fn wanted_grant(
    app: &App,
    category: Option<CategoryId>,
    course: Option<CourseId>,
) -> Result<Grant, AppError> {
    let store = app.store.as_ref();
    match (category, course) {
        (Some(id), None) => {
            let categories = store.categories().await?;
            if !categories.iter().any(|c| c.id == id) {
                return Err(AppError::Invalid(format!(
                    "there is no category with id {id}"
                )));
            }
            Ok(Grant::Category(id))
        }
        (None, Some(id)) => {
            if store.course(id).await?.is_none() {
                return Err(AppError::Invalid(format!(
                    "there is no course with id {id}"
                )));
            }
            Ok(Grant::Course(id))
        }
        _ => Err(AppError::Invalid(
            "give exactly one of category_id and course_id".into(),
        )),
    }
}

pub async fn add_grant(
    app: &App,
    by: &Actor,
    id: GroupId,
    category: Option<CategoryId>,
    course: Option<CourseId>,
) -> Result<Added<GrantRecord>, AppError> {
    require_admin(by)?;
    let store = app.store.as_ref();
    let group = existing(app, id).await?;
    let grant = wanted_grant(app, category, course).await?;
    let find = |list: Vec<GrantRecord>| list.into_iter().find(|g| g.grant == grant);
    let (record, already) = match find(store.group_grants(group.id).await?) {
        Some(old) => (old, true),
        None => {
            store.add_grant(group.id, grant).await?;
            let new = find(store.group_grants(group.id).await?).ok_or_else(|| {
                AppError::Conflict("the group or what it was granted was removed meanwhile".into())
            })?;
            (new, false)
        }
    };
    let event = Event::GrantAdded {
        by: by.clone(),
        group_id: id.0,
        grant_id: record.id.0,
        already,
    };
    app.events.emit(event).await;
    Ok(Added { record, already })
}

pub async fn remove_grant(
    app: &App,
    by: &Actor,
    id: GroupId,
    grant_id: GrantId,
) -> Result<(), AppError> {
    require_admin(by)?;
    if !app.store.remove_grant(id, grant_id).await? {
        return Err(AppError::NotFound(format!(
            "there is no grant {grant_id} in group {id}"
        )));
    }
    let event = Event::GrantRemoved {
        by: by.clone(),
        group_id: id.0,
        grant_id: grant_id.0,
    };
    app.events.emit(event).await;
    Ok(())
}
