//! Signing in: the one use case behind the API's login and the login page.
//!
//! In order: the limits are asked (and the attempt counted) before any
//! password is hashed; the check waits for a place in the [`HashQueue`];
//! a success opens a session, makes the address known-good for the
//! account, and is announced as [`Event::SignedIn`]; anything else as
//! [`Event::SignInFailed`].

use crate::events::{Event, Events};
use crate::hashing::HashQueue;
use crate::login_limits::{Attempt, LoginLimits};
use crate::passwords::{new_token, token_hash};
use crate::AppError;
use lectern_store::{NewSession, SessionKind, Store, User};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long an address stays known-good after a sign-in from it.
pub const KNOWN_GOOD_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// When a check could not get a place in the hashing queue: soon.
pub const BUSY_RETRY: Duration = Duration::from_secs(5);

/// What a sign-in is guarded by, shared by every request of one Lectern.
#[derive(Clone)]
pub struct SignInGuard {
    pub limits: Arc<dyn LoginLimits>,
    pub hashing: Arc<HashQueue>,
}

impl SignInGuard {
    /// The password of `found` (a user and their hash, or nobody) checked
    /// under the limits and the hashing queue, the attempt counted either
    /// way: the user, or `TooManyAttempts` (the limits or a full queue) or
    /// `BadCredentials` (wrong password, nobody, a disabled account).
    pub async fn check(
        &self,
        attempt: &Attempt,
        found: Option<(User, String)>,
        password: String,
    ) -> Result<User, AppError> {
        self.limits
            .check(attempt)
            .await
            .map_err(|retry_after| AppError::TooManyAttempts { retry_after })?;
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        // A check that never ran stays counted, so that flooding the
        // queue cannot be used to try passwords for free.
        let password_ok =
            self.hashing
                .verify(password, hash)
                .await
                .map_err(|_| AppError::TooManyAttempts {
                    retry_after: BUSY_RETRY,
                })?;
        match user.filter(|u| password_ok && !u.disabled) {
            Some(user) => {
                self.limits.record_success(attempt).await;
                Ok(user)
            }
            None => {
                self.limits.record_failure(attempt).await;
                Err(AppError::BadCredentials)
            }
        }
    }
}

impl SignInGuard {
    /// Under `limits` (an [`App`](crate::App)'s), with a hashing queue of
    /// this process's own: hashing takes this machine's cores.
    pub fn with_limits(limits: Arc<dyn LoginLimits>) -> Self {
        Self {
            limits,
            hashing: Arc::new(HashQueue::default()),
        }
    }
}

impl Default for SignInGuard {
    fn default() -> Self {
        Self::with_limits(Arc::new(crate::login_limits::InProcessLimits::default()))
    }
}

/// One sign-in as a front end received it.
pub struct SignIn {
    pub username: String,
    pub password: String,
    /// The client's address (behind a trusted proxy, the one it forwarded).
    pub address: IpAddr,
    pub kind: SessionKind,
    pub session_ttl: Duration,
}

/// A new session: its token (shown once), when it ends, and whose it is.
#[derive(Debug)]
pub struct SignedIn {
    pub token: String,
    pub expires_at: i64,
    pub user: User,
}

/// Checks the password and opens a session. Fails with `BadCredentials`
/// (wrong password, no such user, disabled account: all alike) or
/// `TooManyAttempts` (the limits, or the hashing queue, said no).
pub async fn sign_in(
    store: &dyn Store,
    guard: &SignInGuard,
    events: &Events,
    request: SignIn,
) -> Result<SignedIn, AppError> {
    let address = request.address.to_string();
    let found = store.user_login(&request.username).await?;
    let known_good = match &found {
        Some((user, _)) => {
            let since = lectern_store::now_ms() - KNOWN_GOOD_FOR.as_millis() as i64;
            store.known_address(user.id, &address, since).await?
        }
        None => false,
    };
    let attempt = Attempt::new(&request.username, request.address, known_good);
    let failed = |limited| Event::SignInFailed {
        username: request.username.clone(),
        address: Some(address.clone()),
        limited,
    };
    let user = match guard.check(&attempt, found, request.password).await {
        Ok(user) => user,
        Err(refused) => {
            let limited = !matches!(refused, AppError::BadCredentials);
            events.emit(failed(limited)).await;
            return Err(refused);
        }
    };
    let signed_in = open_session(store, user, request.kind, request.session_ttl).await?;
    let forget_before = lectern_store::now_ms() - KNOWN_GOOD_FOR.as_millis() as i64;
    store
        .remember_address(signed_in.user.id, &address, forget_before)
        .await?;
    events
        .emit(Event::SignedIn {
            user_id: signed_in.user.id.0,
            username: signed_in.user.username.clone(),
            address: Some(address),
            kind: request.kind,
        })
        .await;
    Ok(signed_in)
}

async fn open_session(
    store: &dyn Store,
    user: User,
    kind: SessionKind,
    ttl: Duration,
) -> Result<SignedIn, AppError> {
    let token = new_token();
    let expires_at = lectern_store::now_ms() + ttl.as_millis() as i64;
    let session = NewSession {
        token_hash: token_hash(&token),
        user_id: user.id,
        kind,
        csrf_token: new_token(),
        expires_at,
    };
    store.create_session(&session).await?;
    Ok(SignedIn {
        token,
        expires_at,
        user,
    })
}
