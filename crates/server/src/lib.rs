//! Lectern's HTTP server (SPEC §2, §4): the JSON API under `/api`.
//!
//! `app` builds the router over an [`AppState`]; `serve` runs it on a bound
//! listener until the shutdown future resolves, finishing requests in flight.

pub(crate) mod api;
mod auth;
mod content;
mod error;
mod scans;
mod state;

pub use auth::{hash_password, new_password, verify_password};
pub use error::ApiError;
pub use state::{AppState, ServerOptions};

use axum::Router;
use std::future::Future;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

pub fn app(state: AppState) -> Router {
    Router::new()
        .nest("/api", api::routes())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
