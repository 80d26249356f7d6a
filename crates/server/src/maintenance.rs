//! Maintenance mode (SPEC §3) at the HTTP edge. While a restore replaces
//! the data, every other request gets 503 with `Retry-After`. The restore
//! first waits for this instance's requests already running to finish,
//! but only while their handler runs: a response body still streaming (a
//! long download) reads a file, not the database, and holds nobody back.

use crate::error::ApiError;
use crate::state::AppState;
use async_trait::async_trait;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Routes that answer during maintenance: what tells people and monitors
/// what is going on.
pub(crate) const ALWAYS_OPEN: &[&str] = &["/api/admin/backup/status", "/static/app.css"];

/// The requests of this instance whose handlers are running.
#[derive(Default)]
pub struct Requests {
    in_flight: AtomicUsize,
    idle: Notify,
}

impl Requests {
    /// Waits until at most `own` requests run (the caller's own request
    /// counts itself), or `limit` passes; `Err` carries how many still run.
    pub async fn drain(&self, own: usize, limit: Duration) -> Result<(), usize> {
        let wait = async {
            loop {
                let notified = self.idle.notified();
                if self.in_flight.load(Ordering::SeqCst) <= own {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, wait)
            .await
            .map_err(|_| self.in_flight.load(Ordering::SeqCst).saturating_sub(own))
    }

    fn enter(self: &Arc<Self>) -> Ticket {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Ticket(self.clone())
    }
}

/// What a restore started by a request drains: every other request.
pub struct OtherRequests(pub Arc<Requests>);

#[async_trait]
impl lectern_app::restore::Drain for OtherRequests {
    async fn drain(&self, limit: Duration) -> Result<(), usize> {
        self.0.drain(1, limit).await
    }
}

/// One request whose handler runs, until it returns (or is dropped).
struct Ticket(Arc<Requests>);

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.idle.notify_waiters();
    }
}

/// The gate every request passes: refused during maintenance, counted
/// otherwise.
pub async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !ALWAYS_OPEN.contains(&path) {
        if let Some(reason) = maintenance_reason(&state).await {
            let error = ApiError::Maintenance(reason);
            return match path.starts_with("/api/") {
                true => error.into_response(),
                false => crate::pages::PageError::Api(error).into_response(),
            };
        }
    }
    let _ticket = state.requests.enter();
    next.run(request).await
}

/// Why Lectern is in maintenance, on any instance; `None` when it is not.
async fn maintenance_reason(state: &AppState) -> Option<String> {
    match state.app.coordination.maintenance().await {
        Ok(found) => found.map(|m| m.reason),
        Err(e) => {
            // Serving is safer than refusing everyone on a hiccup: the
            // restore's replacement is one transaction either way.
            tracing::warn!("cannot read the maintenance state: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_waits_for_requests_in_flight_but_not_for_its_own() {
        let m = Arc::new(Requests::default());
        let own = m.enter();
        let other = m.enter();
        let short = Duration::from_millis(20);
        assert_eq!(m.drain(1, short).await, Err(1), "one other request runs");
        let waiting = {
            let m = m.clone();
            tokio::spawn(async move { m.drain(1, Duration::from_secs(30)).await })
        };
        drop(other);
        assert_eq!(waiting.await.unwrap(), Ok(()));
        drop(own);
        assert_eq!(m.drain(0, short).await, Ok(()));
    }
}
