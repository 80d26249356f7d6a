//! Maintenance mode (SPEC §3). While a restore replaces the data, every
//! other request gets 503 with `Retry-After`, and the restore first waits
//! for the requests already running, response bodies included, to finish.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Routes that answer during maintenance: what tells people and monitors
/// what is going on.
pub(crate) const ALWAYS_OPEN: &[&str] = &[
    "/api/admin/backup/status",
    "/healthz",
    "/readyz",
    "/static/app.css",
];

#[derive(Default)]
pub struct Maintenance {
    on: AtomicBool,
    reason: Mutex<Option<String>>,
    in_flight: AtomicUsize,
    idle: Notify,
}

impl Maintenance {
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::SeqCst)
    }

    /// What the maintenance notice says.
    pub fn reason(&self) -> Option<String> {
        self.reason.lock().ok().and_then(|r| r.clone())
    }

    /// Turns maintenance on until the returned guard is dropped, so that
    /// every way out of a restore, a panic included, brings Lectern back.
    pub fn begin(self: &Arc<Self>, reason: &str) -> Window {
        if let Ok(mut slot) = self.reason.lock() {
            *slot = Some(reason.to_owned());
        }
        self.on.store(true, Ordering::SeqCst);
        Window(self.clone())
    }

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

/// Maintenance is on while this lives.
pub struct Window(Arc<Maintenance>);

impl Drop for Window {
    fn drop(&mut self) {
        self.0.on.store(false, Ordering::SeqCst);
        if let Ok(mut slot) = self.0.reason.lock() {
            *slot = None;
        }
    }
}

/// One request in flight, until its response body is finished or dropped.
struct Ticket(Arc<Maintenance>);

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.idle.notify_waiters();
    }
}

/// The gate every request passes: refused during maintenance, counted
/// otherwise.
pub async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let maintenance = &state.maintenance;
    if maintenance.is_on() && !ALWAYS_OPEN.contains(&request.uri().path()) {
        let error = ApiError::Maintenance(maintenance.reason().unwrap_or_default());
        return match request.uri().path().starts_with("/api/") {
            true => error.into_response(),
            false => crate::pages::PageError::Api(error).into_response(),
        };
    }
    let ticket = maintenance.enter();
    let response = next.run(request).await;
    // The ticket rides along with the body: a download still streaming
    // is still in flight.
    response.map(|body| {
        Body::new(body.map_frame(move |frame| {
            let _alive = &ticket;
            frame
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_waits_for_requests_in_flight_but_not_for_its_own() {
        let m = Arc::new(Maintenance::default());
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

    #[test]
    fn the_window_closes_on_drop() {
        let m = Arc::new(Maintenance::default());
        {
            let _window = m.begin("restoring a backup");
            assert!(m.is_on());
            assert_eq!(m.reason().as_deref(), Some("restoring a backup"));
        }
        assert!(!m.is_on());
        assert_eq!(m.reason(), None);
    }
}
