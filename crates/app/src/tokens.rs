//! Long-lived API tokens for scripts (a cron job that starts a scan). A
//! token acts as its owner exactly like a login token; it is shown once,
//! when made, and only its hash is kept. Deleting it ends it at once.

use crate::access::{name, require_admin};
use crate::context::App;
use crate::error::AppError;
use crate::events::{Actor, Event};
use crate::passwords::{new_token, token_hash};
use lectern_store::{ApiToken, ApiTokenId, NewApiToken, UserId};

pub const MAX_TOKEN_NAME: usize = 100;
pub const MAX_DAYS: u32 = 36_500;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// A token as asked for; the owner defaults to the one asking.
pub struct NewToken {
    pub name: String,
    pub owner: Option<UserId>,
    pub expires_in_days: Option<u32>,
}

/// The token itself (shown this once) and its record.
pub struct CreatedToken {
    pub token: String,
    pub record: ApiToken,
}

fn expiry(days: Option<u32>) -> Result<Option<i64>, AppError> {
    match days {
        None => Ok(None),
        Some(days @ 1..=MAX_DAYS) => Ok(Some(lectern_store::now_ms() + i64::from(days) * DAY_MS)),
        Some(_) => Err(AppError::Invalid(format!(
            "expires_in_days is 1 to {MAX_DAYS}; leave it out for a token that never expires"
        ))),
    }
}

/// Every token, expired ones included, oldest first.
pub async fn list(app: &App, by: &Actor) -> Result<Vec<ApiToken>, AppError> {
    require_admin(by)?;
    Ok(app.store.api_tokens().await?)
}

pub async fn create(app: &App, by: &Actor, new: NewToken) -> Result<CreatedToken, AppError> {
    require_admin(by)?;
    let name = name(&new.name, "token name", MAX_TOKEN_NAME)?;
    let expires_at = expiry(new.expires_in_days)?;
    let owner_id = new
        .owner
        .or(by.user_id().map(UserId))
        .ok_or_else(|| AppError::Invalid("say whose token it is".into()))?;
    let owner = app.store.user(owner_id).await?;
    let owner =
        owner.ok_or_else(|| AppError::Invalid(format!("there is no user with id {owner_id}")))?;
    if owner.disabled {
        return Err(AppError::Invalid(format!(
            "{} is disabled; a token for them would not work",
            owner.username
        )));
    }
    let token = new_token();
    let new = NewApiToken {
        name,
        user_id: owner.id,
        token_hash: token_hash(&token),
        csrf_token: new_token(),
        expires_at,
    };
    let record = app.store.create_api_token(&new).await?;
    let event = Event::TokenCreated {
        by: by.clone(),
        token_id: record.id.0,
        owner_id: owner.id.0,
    };
    app.events.emit(event).await;
    Ok(CreatedToken { token, record })
}

pub async fn delete(app: &App, by: &Actor, id: ApiTokenId) -> Result<(), AppError> {
    require_admin(by)?;
    if !app.store.delete_api_token(id).await? {
        return Err(AppError::NotFound(format!(
            "there is no token with id {id}"
        )));
    }
    let event = Event::TokenDeleted {
        by: by.clone(),
        token_id: id.0,
    };
    app.events.emit(event).await;
    Ok(())
}
