//! This instance's requests in flight, which a restore drains, and the
//! routes that answer even during maintenance. A leaf: the maintenance
//! gate, the state and the restore's drain all use it.

use async_trait::async_trait;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Routes that answer during maintenance: what tells people and monitors
/// what is going on.
pub(crate) const ALWAYS_OPEN: &[&str] = &[
    "/api/admin/backup/status",
    "/static/app.css",
    "/healthz",
    "/readyz",
    "/metrics",
];

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

    pub(crate) fn enter(self: &Arc<Self>) -> Ticket {
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
pub(crate) struct Ticket(Arc<Requests>);

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.idle.notify_waiters();
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
