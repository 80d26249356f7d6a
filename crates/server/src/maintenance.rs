//! Maintenance mode (SPEC §3) at the HTTP edge. While a restore replaces
//! the data, every other request gets 503 with `Retry-After`. The restore
//! first waits for this instance's requests already running to finish,
//! but only while their handler runs: a response body still streaming (a
//! long download) reads a file, not the database, and holds nobody back.

use crate::error::ApiError;
use crate::requests::ALWAYS_OPEN;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

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

/// How often this instance looks for a maintenance window another began.
const LOOK_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Follows the maintenance windows other instances open (a restore on a
/// shared database): the gate refuses new requests once one is seen, and
/// as soon as this instance's running requests have finished it confirms
/// the window drained, which the restoring instance waits for. Runs until
/// the process ends.
pub async fn follow(state: AppState) {
    let coordination = state.app.coordination.clone();
    let me = coordination.instance().clone();
    let mut confirmed = None;
    loop {
        tokio::time::sleep(LOOK_EVERY).await;
        let window = match coordination.maintenance().await {
            Ok(Some(window)) if window.by != me && confirmed != Some(window.epoch) => window,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!("cannot read the maintenance state: {e}");
                continue;
            }
        };
        if let Err(running) = state
            .requests
            .drain(0, lectern_app::restore::DRAIN_LIMIT)
            .await
        {
            tracing::warn!("{running} requests still run as maintenance begins");
        }
        match coordination.confirm_drained(window.epoch).await {
            Ok(()) => confirmed = Some(window.epoch),
            Err(e) => tracing::warn!("cannot confirm this instance drained: {e}"),
        }
    }
}
