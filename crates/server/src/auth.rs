//! Passwords, tokens, who is asking, and the login limiter.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum_extra::extract::CookieJar;
use lectern_app::passwords::{hash_password, token_hash, verify_password};
use lectern_store::{Role, Session, SessionKind, User};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Hashing is slow on purpose; keep it off the async workers.
pub async fn verify_password_blocking(password: String, stored: Option<String>) -> bool {
    // An unknown user still costs one verification, so timing does not
    // tell which usernames exist.
    tokio::task::spawn_blocking(move || {
        let dummy = || {
            DUMMY_HASH
                .get_or_init(|| hash_password("").unwrap_or_default())
                .clone()
        };
        verify_password(&password, &stored.unwrap_or_else(dummy))
    })
    .await
    .unwrap_or(false)
}

static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The name of the web pages' session cookie.
pub const SESSION_COOKIE: &str = "lectern_session";
/// The header a page's script sends its session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer …`: a script, which a browser never sends on
    /// its own, so no CSRF check is needed.
    Bearer,
    /// The HttpOnly session cookie, which the browser attaches to any
    /// request: changes need the session's CSRF token as well.
    Cookie,
}

/// The signed-in caller, from a Bearer token or the session cookie.
#[derive(Debug, Clone)]
pub struct Caller {
    pub session: Session,
    pub token_hash: String,
    pub via: Credential,
}

impl Caller {
    pub fn user(&self) -> &User {
        &self.session.user
    }

    pub fn is_admin(&self) -> bool {
        self.user().role == Role::Admin
    }

    /// Compares in constant time, so the token cannot be guessed byte by byte.
    pub fn csrf_matches(&self, given: &str) -> bool {
        let expected = self.session.csrf_token.as_bytes();
        given.len() == expected.len()
            && given
                .bytes()
                .zip(expected)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// The caller behind this request, if any; `Ok(None)` when the request
    /// carries no credential or a dead one.
    pub async fn find(parts: &Parts, state: &AppState) -> Result<Option<Self>, ApiError> {
        let Some((token, via)) = credential(&parts.headers) else {
            return Ok(None);
        };
        let token_hash = token_hash(&token);
        let Some(session) = state.store.session(&token_hash).await? else {
            return Ok(None);
        };
        // A cookie holds only a web session: an API token pasted into a
        // cookie would skip the CSRF token the page never had.
        if via == Credential::Cookie && session.kind != SessionKind::Web {
            return Ok(None);
        }
        Ok(Some(Caller {
            session,
            token_hash,
            via,
        }))
    }
}

/// The Bearer token wins over the cookie: a script's request says exactly
/// who it is.
fn credential(headers: &HeaderMap) -> Option<(String, Credential)> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(token) = bearer {
        return Some((token.to_owned(), Credential::Bearer));
    }
    CookieJar::from_headers(headers)
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|t| !t.is_empty())
        .map(|t| (t, Credential::Cookie))
}

/// Requests that change something and ride on the cookie must show they
/// come from Lectern's own pages: the session's CSRF token in a header (a
/// form carries it in a field instead, see `pages::CsrfForm`), and no
/// foreign `Origin`.
fn check_cookie_request(parts: &Parts, caller: &Caller) -> Result<(), ApiError> {
    if caller.via != Credential::Cookie || parts.method.is_safe() {
        return Ok(());
    }
    if !same_origin(&parts.headers) {
        return Err(ApiError::CsrfRejected);
    }
    let given = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !caller.csrf_matches(given) {
        return Err(ApiError::CsrfRejected);
    }
    Ok(())
}

/// False when the browser says the request comes from another site.
/// Browsers send `Origin` on every cross-site POST, PUT and DELETE.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    origin_host.is_some() && origin_host == host
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // The audit middleware may have looked the session up already.
        let caller = match parts.extensions.get::<Caller>() {
            Some(found) => found.clone(),
            None => Caller::find(parts, state)
                .await?
                .ok_or(ApiError::Unauthorized)?,
        };
        check_cookie_request(parts, &caller)?;
        Ok(caller)
    }
}

/// A signed-in administrator; anyone else signed in gets 403.
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if !caller.is_admin() {
            return Err(ApiError::Forbidden);
        }
        Ok(Admin(caller))
    }
}

/// Counts failed sign-ins per account and per address; more than
/// `MAX_FAILURES` within `WINDOW` blocks further tries until they age out.
/// Successful sign-ins are never counted, so normal use is never limited.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

const MAX_FAILURES: usize = 10;
const WINDOW: Duration = Duration::from_secs(60);

impl LoginLimiter {
    pub fn blocked(&self, keys: &[String]) -> bool {
        let Ok(mut failures) = self.failures.lock() else {
            return false;
        };
        keys.iter().any(|key| {
            let list = failures.entry(key.clone()).or_default();
            while list.front().is_some_and(|t| t.elapsed() > WINDOW) {
                list.pop_front();
            }
            list.len() >= MAX_FAILURES
        })
    }

    pub fn failed(&self, keys: &[String]) {
        if let Ok(mut failures) = self.failures.lock() {
            for key in keys {
                failures
                    .entry(key.clone())
                    .or_default()
                    .push_back(Instant::now());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_blocks_after_ten_failures_for_that_key_only() {
        let limiter = LoginLimiter::default();
        let alice = vec!["user:alice".to_owned()];
        for _ in 0..MAX_FAILURES {
            assert!(!limiter.blocked(&alice));
            limiter.failed(&alice);
        }
        assert!(limiter.blocked(&alice));
        assert!(!limiter.blocked(&["user:bob".to_owned()]));
    }
}
