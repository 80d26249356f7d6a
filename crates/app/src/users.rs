//! Accounts: list, create, change, delete. Password hashes never leave
//! the store; a new password or a disabled account ends that person's
//! sessions; the last enabled admin cannot be demoted, disabled or deleted
//! (the store refuses it as a conflict).

use crate::access::{name, require_admin};
use crate::context::App;
use crate::error::AppError;
use crate::events::{Actor, Event};
use crate::login_limits::Attempt;
use crate::passwords::hash_password;
use crate::sign_in::SignInGuard;
use lectern_store::{NewUser, Role, User, UserChanges, UserId};

pub const MIN_PASSWORD: usize = 8;
/// Argon2 takes any length, but nobody types more, and hashing a megabyte
/// for every sign-in would be an easy way to load the server.
pub const MAX_PASSWORD: usize = 1024;
pub const MAX_USERNAME: usize = 64;

/// A new account as asked for, before its checks.
pub struct NewAccount {
    pub username: String,
    pub password: String,
    pub role: Role,
}

/// What to change of an account; `None` leaves it.
#[derive(Default)]
pub struct AccountChanges {
    pub password: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// Names people type and read: also no slashes, which would make paths
/// and log lines that mention the name ambiguous.
pub fn username(raw: &str) -> Result<String, AppError> {
    let name = name(raw, "username", MAX_USERNAME)?;
    if name.contains(['/', '\\']) {
        return Err(AppError::Invalid("a username cannot hold slashes".into()));
    }
    Ok(name)
}

/// Checks the password and hashes it off the async workers (Argon2 is
/// slow on purpose).
pub async fn password_hash(password: String) -> Result<String, AppError> {
    let length = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&length) {
        return Err(AppError::Invalid(format!(
            "a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )));
    }
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AppError::internal("the password hashing task failed", e))?
        .map_err(|e| AppError::internal("cannot hash the password", e))
}

pub async fn list(app: &App, by: &Actor) -> Result<Vec<User>, AppError> {
    require_admin(by)?;
    Ok(app.store.users().await?)
}

pub async fn show(app: &App, by: &Actor, id: UserId) -> Result<User, AppError> {
    require_admin(by)?;
    let user = app.store.user(id).await?;
    user.ok_or_else(|| AppError::NotFound(format!("there is no user with id {id}")))
}

pub async fn create(app: &App, by: &Actor, new: NewAccount) -> Result<User, AppError> {
    require_admin(by)?;
    let new = NewUser {
        username: username(&new.username)?,
        password_hash: password_hash(new.password).await?,
        role: new.role,
    };
    let user = app.store.create_user(&new).await?;
    let event = Event::UserCreated {
        by: by.clone(),
        user_id: user.id.0,
    };
    app.events.emit(event).await;
    Ok(user)
}

pub async fn update(
    app: &App,
    by: &Actor,
    id: UserId,
    changes: AccountChanges,
) -> Result<User, AppError> {
    require_admin(by)?;
    let changed = changed(&changes);
    if changed.is_empty() {
        return Err(AppError::Invalid(
            "nothing to change: give password, role or disabled".into(),
        ));
    }
    let password_hash = match changes.password {
        Some(password) => Some(password_hash(password).await?),
        None => None,
    };
    let sessions_ended = password_hash.is_some() || changes.disabled == Some(true);
    let changes = UserChanges {
        password_hash,
        role: changes.role,
        disabled: changes.disabled,
    };
    let user = app.store.update_user(id, &changes).await?;
    let user = user.ok_or_else(|| AppError::NotFound(format!("there is no user with id {id}")))?;
    if sessions_ended {
        app.store.delete_user_sessions(id).await?;
    }
    let event = Event::UserUpdated {
        by: by.clone(),
        user_id: id.0,
        sessions_ended,
        changed,
    };
    app.events.emit(event).await;
    Ok(user)
}

/// What `changes` changes, as the audit log names it.
fn changed(changes: &AccountChanges) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if changes.role.is_some() {
        changed.push("role");
    }
    if changes.password.is_some() {
        changed.push("password");
    }
    match changes.disabled {
        Some(true) => changed.push("disabled"),
        Some(false) => changed.push("enabled"),
        None => {}
    }
    changed
}

/// Deletes the account with its progress, sessions, memberships and tokens.
pub async fn delete(app: &App, by: &Actor, id: UserId) -> Result<(), AppError> {
    require_admin(by)?;
    if !app.store.delete_user(id).await? {
        return Err(AppError::NotFound(format!("there is no user with id {id}")));
    }
    let event = Event::UserDeleted {
        by: by.clone(),
        user_id: id.0,
    };
    app.events.emit(event).await;
    Ok(())
}

/// A signed-in person's own new password, given their current one,
/// checked under the same limits as a sign-in (so a session left open
/// cannot be used to guess it). Every session of theirs ends, this one
/// too: they sign in again with the new one.
pub async fn change_own_password(
    app: &App,
    guard: &SignInGuard,
    by: &Actor,
    current: String,
    new: String,
) -> Result<(), AppError> {
    let Actor::User {
        id,
        username,
        address,
        ..
    } = by
    else {
        return Err(AppError::Forbidden);
    };
    let id = UserId(*id);
    let address = address
        .as_deref()
        .and_then(|a| a.parse().ok())
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    // Signed in from here already: only the account's own limit applies.
    let attempt = Attempt::new(username, address, true);
    let found = app.store.user_login(username).await?;
    let found = found.filter(|(user, _)| user.id == id);
    match guard.check(&attempt, found, current).await {
        Ok(_) => {}
        Err(AppError::BadCredentials) => {
            return Err(AppError::Invalid(
                "the current password is not right".into(),
            ))
        }
        Err(other) => return Err(other),
    }
    let changes = UserChanges {
        password_hash: Some(password_hash(new).await?),
        role: None,
        disabled: None,
    };
    app.store.update_user(id, &changes).await?;
    app.store.delete_user_sessions(id).await?;
    let event = Event::UserUpdated {
        by: by.clone(),
        user_id: id.0,
        sessions_ended: true,
        changed: vec!["password"],
    };
    app.events.emit(event).await;
    Ok(())
}

/// Ends every session of the signed-in person, on every device.
pub async fn sign_out_everywhere(app: &App, by: &Actor) -> Result<(), AppError> {
    let Actor::User { id, .. } = by else {
        return Err(AppError::Forbidden);
    };
    app.store.delete_user_sessions(UserId(*id)).await?;
    let event = Event::SignedOutEverywhere {
        by: by.clone(),
        user_id: *id,
    };
    app.events.emit(event).await;
    Ok(())
}
