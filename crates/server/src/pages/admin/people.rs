//! People in the panel: users (create, role, disable, password, delete),
//! groups with their members and grants picked from the library by name,
//! and long-lived API tokens whose secret is shown once.

use super::words::{ago_ms, when_ms};
use super::{page, ticked, AdminForm, AdminPage, Refusal};
use crate::pages::render::{PageError, PageIds};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};
use lectern_app::tokens::NewToken;
use lectern_app::users::{AccountChanges, NewAccount};
use lectern_app::{groups, tokens, users, AppError};
use lectern_core::{CategoryId, CourseId};
use lectern_store::{ApiToken, Grant, GrantId, GroupId, Role, User, UserId};
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
struct UserRow {
    id: UserId,
    username: String,
    admin: bool,
    disabled: bool,
    created: String,
}

impl From<User> for UserRow {
    fn from(u: User) -> Self {
        UserRow {
            id: u.id,
            admin: u.role == Role::Admin,
            disabled: u.disabled,
            created: when_ms(u.created_at),
            username: u.username,
        }
    }
}

/// Messages after an action on these pages (`?done=…`), by code.
#[derive(Deserialize, Default)]
pub struct PeopleDone {
    done: Option<String>,
}

impl PeopleDone {
    fn message(&self) -> Option<&'static str> {
        Some(match self.done.as_deref()? {
            "created" => "The account was created.",
            "role" => "The role was changed.",
            "password" => "The password was reset; that person's sessions ended.",
            "disabled" => "The account was disabled; its sessions ended.",
            "enabled" => "The account was enabled.",
            "deleted" => "Deleted.",
            "group" => "The group was saved.",
            "member" => "The members were changed.",
            "grant" => "What the group may open was changed.",
            "token-deleted" => "The token was revoked.",
            _ => return None,
        })
    }
}

fn back_to(path: &str, done: &str) -> Response {
    Redirect::to(&format!("{path}?done={done}")).into_response()
}

pub async fn users_page(
    State(state): State<AppState>,
    admin: AdminPage,
    Query(done): Query<PeopleDone>,
) -> Result<Html<String>, PageError> {
    let list: Vec<UserRow> = users::list(&state.app, &admin.actor)
        .await?
        .into_iter()
        .map(UserRow::from)
        .collect();
    let ctx = context! { title => "Users", notice => done.message(), users => list };
    page("admin/users.html", &admin, "users", ctx)
}

#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
}

pub async fn create_user(
    State(state): State<AppState>,
    AdminForm { admin, form }: AdminForm<NewUserForm>,
) -> Response {
    let new = NewAccount {
        username: form.username,
        password: form.password,
        role: role(&form.role),
    };
    match users::create(&state.app, &admin.actor, new).await {
        Ok(user) => back_to(&format!("/admin/users/{}", user.id), "created"),
        Err(e) => Refusal::announce(&state, &admin.actor, "user.create", None, e)
            .await
            .page(&admin, "/admin/users"),
    }
}

fn role(raw: &str) -> Role {
    match raw {
        "admin" => Role::Admin,
        _ => Role::User,
    }
}

pub async fn user_page(
    State(state): State<AppState>,
    admin: AdminPage,
    PageIds(id): PageIds<i64>,
    Query(done): Query<PeopleDone>,
) -> Result<Html<String>, PageError> {
    let user = users::show(&state.app, &admin.actor, UserId(id)).await?;
    let is_me = admin.reader.0.user().id == user.id;
    let ctx = context! {
        title => format!("User {}", user.username),
        notice => done.message(),
        user => UserRow::from(user),
        is_me,
    };
    page("admin/user.html", &admin, "users", ctx)
}

#[derive(Deserialize)]
pub struct UserChangeForm {
    /// `role`, `password`, `disable` or `enable`.
    #[serde(default)]
    change: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

pub async fn update_user(
    State(state): State<AppState>,
    PageIds(id): PageIds<i64>,
    AdminForm { admin, form }: AdminForm<UserChangeForm>,
) -> Response {
    let (changes, done) = match form.change.as_str() {
        "role" => (
            AccountChanges {
                role: Some(role(&form.role)),
                ..AccountChanges::default()
            },
            "role",
        ),
        "password" => (
            AccountChanges {
                password: Some(form.password),
                ..AccountChanges::default()
            },
            "password",
        ),
        "disable" | "enable" => (
            AccountChanges {
                disabled: Some(form.change == "disable"),
                ..AccountChanges::default()
            },
            if form.change == "disable" {
                "disabled"
            } else {
                "enabled"
            },
        ),
        _ => (AccountChanges::default(), ""),
    };
    let path = format!("/admin/users/{id}");
    match users::update(&state.app, &admin.actor, UserId(id), changes).await {
        Ok(_) => back_to(&path, done),
        Err(e) => {
            let target = Some(format!("user={id}"));
            Refusal::announce(
                &state,
                &admin.actor,
                "user.update",
                target,
                explain_last_admin(e),
            )
            .await
            .page(&admin, &path)
        }
    }
}

/// The store's last-admin refusal, with why the rule exists.
fn explain_last_admin(error: AppError) -> AppError {
    match error {
        AppError::Conflict(message) if message.contains("admin") => AppError::Conflict(format!(
            "{message}. Lectern always keeps one enabled administrator, so that someone can \
             still sign in to restore, scan and manage accounts: make another user an \
             administrator first."
        )),
        other => other,
    }
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    confirm: Option<String>,
}

pub async fn delete_user(
    State(state): State<AppState>,
    PageIds(id): PageIds<i64>,
    AdminForm { admin, form }: AdminForm<ConfirmForm>,
) -> Response {
    let what = "this account, its progress and its tokens may go";
    let deleted = async {
        ticked(&form.confirm, what)?;
        users::delete(&state.app, &admin.actor, UserId(id)).await
    }
    .await;
    match deleted {
        Ok(()) => back_to("/admin/users", "deleted"),
        Err(e) => {
            let target = Some(format!("user={id}"));
            Refusal::announce(
                &state,
                &admin.actor,
                "user.delete",
                target,
                explain_last_admin(e),
            )
            .await
            .page(&admin, &format!("/admin/users/{id}"))
        }
    }
}

pub async fn groups_page(
    State(state): State<AppState>,
    admin: AdminPage,
    Query(done): Query<PeopleDone>,
) -> Result<Html<String>, PageError> {
    let list = groups::list(&state.app, &admin.actor).await?;
    let ctx = context! { title => "Groups", notice => done.message(), groups => list };
    page("admin/groups.html", &admin, "groups", ctx)
}

#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

pub async fn create_group(
    State(state): State<AppState>,
    AdminForm { admin, form }: AdminForm<NameForm>,
) -> Response {
    match groups::create(&state.app, &admin.actor, &form.name).await {
        Ok(group) => back_to(&format!("/admin/groups/{}", group.id), "group"),
        Err(e) => Refusal::announce(&state, &admin.actor, "group.create", None, e)
            .await
            .page(&admin, "/admin/groups"),
    }
}

/// One choice of the grant picker: a category, or a course under it.
#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
}

pub async fn group_page(
    State(state): State<AppState>,
    admin: AdminPage,
    PageIds(id): PageIds<i64>,
    Query(done): Query<PeopleDone>,
) -> Result<Html<String>, PageError> {
    let detail = groups::show(&state.app, &admin.actor, GroupId(id)).await?;
    let everyone = users::list(&state.app, &admin.actor).await?;
    let members: Vec<UserRow> = detail.members.into_iter().map(UserRow::from).collect();
    let others: Vec<UserRow> = everyone
        .into_iter()
        .filter(|u| !members.iter().any(|m| m.id == u.id))
        .map(UserRow::from)
        .collect();
    let grants: Vec<Value> = detail
        .grants
        .into_iter()
        .map(|g| {
            let kind = match g.grant {
                Grant::Category(_) => "category",
                Grant::Course(_) => "course",
            };
            context! { id => g.id, kind, path => g.path.to_string_lossy().into_owned() }
        })
        .collect();
    let ctx = context! {
        title => format!("Group {}", detail.group.name),
        notice => done.message(),
        group => detail.group,
        members,
        others,
        grants,
        choices => library_choices(&state).await?,
    };
    page("admin/group.html", &admin, "groups", ctx)
}

/// Every category and, under it, its courses, by name: what a grant can
/// name.
async fn library_choices(state: &AppState) -> Result<Vec<Choice>, PageError> {
    let categories = state.store.categories().await?;
    let courses = state.store.courses(None).await?;
    let mut choices = Vec::new();
    for category in categories {
        choices.push(Choice {
            value: format!("category:{}", category.id),
            label: format!("{} (whole category)", category.name),
        });
        for course in courses.iter().filter(|c| c.category_id == category.id) {
            choices.push(Choice {
                value: format!("course:{}", course.id),
                label: format!("{} / {}", category.name, course.name),
            });
        }
    }
    Ok(choices)
}

pub async fn rename_group(
    State(state): State<AppState>,
    PageIds(id): PageIds<i64>,
    AdminForm { admin, form }: AdminForm<NameForm>,
) -> Response {
    let path = format!("/admin/groups/{id}");
    match groups::rename(&state.app, &admin.actor, GroupId(id), &form.name).await {
        Ok(_) => back_to(&path, "group"),
        Err(e) => refused(&state, &admin, "group.rename", id, e, &path).await,
    }
}

pub async fn delete_group(
    State(state): State<AppState>,
    PageIds(id): PageIds<i64>,
    AdminForm { admin, form }: AdminForm<ConfirmForm>,
) -> Response {
    let deleted = async {
        ticked(&form.confirm, "this group and its grants may go")?;
        groups::delete(&state.app, &admin.actor, GroupId(id)).await
    }
    .await;
    match deleted {
        Ok(()) => back_to("/admin/groups", "deleted"),
        Err(e) => {
            let path = format!("/admin/groups/{id}");
            refused(&state, &admin, "group.delete", id, e, &path).await
        }
    }
}

async fn refused(
    state: &AppState,
    admin: &AdminPage,
    action: &str,
    group: i64,
    error: AppError,
    back: &str,
) -> Response {
    let target = Some(format!("group={group}"));
    Refusal::announce(state, &admin.actor, action, target, error)
        .await
        .page(admin, back)
}

#[derive(Deserialize)]
pub struct MemberForm {
    /// A user's id; `remove` set takes them out instead.
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    remove: Option<String>,
}

pub async fn change_member(
    State(state): State<AppState>,
    PageIds(id): PageIds<i64>,
    AdminForm { admin, form }: AdminForm<MemberForm>,
) -> Response {
    let path = format!("/admin/groups/{id}");
    let Ok(user) = form.user_id.parse::<i64>().map(UserId) else {
        let error = AppError::Invalid("pick a user".into());
        return refused(&state, &admin, "group.member.add", id, error, &path).await;
    };
    let (action, changed) = match form.remove {
        Some(_) => (
            "group.member.remove",
            groups::remove_member(&state.app, &admin.actor, GroupId(id), user).await,
        ),
        None => (
            "group.member.add",
            groups::add_member(&state.app, &admin.actor, GroupId(id), user)
                .await
                .map(|_| ()),
        ),
    };
    match changed {
        Ok(()) => back_to(&path, "member"),
        Err(e) => refused(&state, &admin, action, id, e, &path).await,
    }
}

#[derive(Deserialize)]
pub struct GrantForm {
    /// `category:ID` or `course:ID` from the picker.
    #[serde(default)]
    what: String,
    /// A grant's id, to take it away instead.
    #[serde(default)]
    remove: Option<String>,
}

pub async fn change_grant(
    State(state): State<AppState>,
    PageIds(id): PageIds<i64>,
    AdminForm { admin, form }: AdminForm<GrantForm>,
) -> Response {
    let path = format!("/admin/groups/{id}");
    let group = GroupId(id);
    let (action, changed) = match &form.remove {
        Some(grant) => (
            "group.grant.remove",
            match grant.parse::<i64>() {
                Ok(grant) => {
                    groups::remove_grant(&state.app, &admin.actor, group, GrantId(grant)).await
                }
                Err(_) => Err(AppError::Invalid(
                    "that is not a grant of this group".into(),
                )),
            },
        ),
        None => (
            "group.grant.add",
            match picked(&form.what) {
                Some((category, course)) => {
                    groups::add_grant(&state.app, &admin.actor, group, category, course)
                        .await
                        .map(|_| ())
                }
                None => Err(AppError::Invalid("pick a category or a course".into())),
            },
        ),
    };
    match changed {
        Ok(()) => back_to(&path, "grant"),
        Err(e) => refused(&state, &admin, action, id, e, &path).await,
    }
}

/// The picker's `category:ID` or `course:ID`.
fn picked(value: &str) -> Option<(Option<CategoryId>, Option<CourseId>)> {
    let (kind, id) = value.split_once(':')?;
    let id: i64 = id.parse().ok()?;
    match kind {
        "category" => Some((Some(CategoryId(id)), None)),
        "course" => Some((None, Some(CourseId(id)))),
        _ => None,
    }
}

#[derive(Serialize)]
struct TokenRow {
    id: lectern_store::ApiTokenId,
    name: String,
    username: String,
    created: String,
    expires: Option<String>,
    last_used: Option<String>,
}

impl From<ApiToken> for TokenRow {
    fn from(t: ApiToken) -> Self {
        TokenRow {
            id: t.id,
            name: t.name,
            username: t.username,
            created: when_ms(t.created_at),
            expires: t.expires_at.map(when_ms),
            last_used: t.last_used_at.map(ago_ms),
        }
    }
}

pub async fn tokens_page(
    State(state): State<AppState>,
    admin: AdminPage,
    Query(done): Query<PeopleDone>,
) -> Result<Html<String>, PageError> {
    let list: Vec<TokenRow> = tokens::list(&state.app, &admin.actor)
        .await?
        .into_iter()
        .map(TokenRow::from)
        .collect();
    let owners: Vec<UserRow> = users::list(&state.app, &admin.actor)
        .await?
        .into_iter()
        .map(UserRow::from)
        .collect();
    let ctx = context! {
        title => "API tokens",
        notice => done.message(),
        tokens => list,
        owners,
        my_id => admin.reader.0.user().id,
    };
    page("admin/tokens.html", &admin, "tokens", ctx)
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    owner: String,
    /// Blank: never expires.
    #[serde(default)]
    expires_in_days: String,
}

/// Makes a token and shows its secret on this one answer, never again,
/// with the seed's nightly backup line ready to copy.
pub async fn create_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    AdminForm { admin, form }: AdminForm<TokenForm>,
) -> Result<Response, PageError> {
    let days = match form.expires_in_days.trim() {
        "" => Ok(None),
        days => days
            .parse::<u32>()
            .map(Some)
            .map_err(|_| AppError::Invalid("expires in: a whole number of days, or blank".into())),
    };
    let new = days.map(|expires_in_days| NewToken {
        name: form.name,
        owner: form.owner.parse::<i64>().ok().map(UserId),
        expires_in_days,
    });
    let made = match new {
        Ok(new) => tokens::create(&state.app, &admin.actor, new).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(created) => {
            let ctx = context! {
                title => "New API token",
                secret => created.token,
                token => TokenRow::from(created.record),
                origin => origin(&headers),
            };
            let shown = page("admin/token.html", &admin, "tokens", ctx)?;
            // The secret must not stay in any cache or history.
            Ok(([(header::CACHE_CONTROL, "no-store")], shown).into_response())
        }
        Err(e) => Ok(
            Refusal::announce(&state, &admin.actor, "token.create", None, e)
                .await
                .page(&admin, "/admin/tokens"),
        ),
    }
}

/// Where the cron line should send its request: this site, as the
/// browser reached it (through a TLS proxy, https).
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost:8000");
    let https = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

pub async fn delete_token(
    State(state): State<AppState>,
    PageIds(id): PageIds<i64>,
    AdminForm { admin, form }: AdminForm<ConfirmForm>,
) -> Response {
    let token = lectern_store::ApiTokenId(id);
    let revoked = async {
        ticked(
            &form.confirm,
            "the token may stop working (tick “stop it working”)",
        )?;
        tokens::delete(&state.app, &admin.actor, token).await
    }
    .await;
    match revoked {
        Ok(()) => back_to("/admin/tokens", "token-deleted"),
        Err(e) => {
            let target = Some(format!("token={id}"));
            Refusal::announce(&state, &admin.actor, "token.delete", target, e)
                .await
                .page(&admin, "/admin/tokens")
        }
    }
}
