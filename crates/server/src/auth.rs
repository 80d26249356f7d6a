//! Passwords, tokens, who is asking, and the login limiter.

use crate::error::ApiError;
use crate::state::AppState;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use lectern_store::{Role, Session, User};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Argon2id with the crate's defaults (OWASP's minimum: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("cannot hash a password: {e}")))
}

pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

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

/// A password for a generated account: 20 characters people can type.
pub fn new_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20)
        .map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char)
        .collect()
}

/// A new random secret (session or API token): 256 bits, hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Tokens are stored only as their SHA-256: a leaked database holds no
/// usable session.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The signed-in caller, from `Authorization: Bearer …`.
pub struct Caller {
    pub session: Session,
    pub token_hash: String,
}

impl Caller {
    pub fn user(&self) -> &User {
        &self.session.user
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION);
        let token = header
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        let token_hash = token_hash(token);
        let session = state
            .store
            .session(&token_hash)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Caller {
            session,
            token_hash,
        })
    }
}

/// A signed-in administrator; anyone else signed in gets 403.
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.user().role != Role::Admin {
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
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

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
