//! Lectern's HTTP server (SPEC §2, §4, §5): the JSON API under `/api` and
//! the web pages everywhere else.
//!
//! `app` builds the router over an [`AppState`]; `serve` runs it on a bound
//! listener until the shutdown future resolves, finishing requests in flight.

pub(crate) mod api;
mod audit;
mod auth;
mod backups;
mod error;
mod maintenance;
mod ops;
mod pages;
mod requests;
mod state;
mod subtitles;

pub use auth::parse_trusted_proxies;
pub use backups::BackupOptions;
pub use error::ApiError;
pub use ipnet::IpNet;
pub use lectern_app::App;
pub use state::{AppState, ServerOptions};

use axum::http::{self, HeaderValue};
use axum::Router;
use std::future::Future;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub fn app(state: AppState) -> Router {
    let header =
        |name, value| SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value));
    let (api, actions) = api::routes();
    let audit = audit::Audit {
        state: state.clone(),
        actions: std::sync::Arc::new(actions),
    };
    Router::new()
        .nest("/api", api)
        .merge(pages::routes())
        .merge(ops::routes())
        .route_layer(axum::middleware::from_fn(ops::mark_route))
        // Inside the maintenance gate: a request it turns away changed nothing.
        .layer(axum::middleware::from_fn_with_state(audit, audit::record))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            maintenance::gate,
        ))
        // On every answer unless the handler set its own (file content does).
        .layer(header(http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(http::header::X_FRAME_OPTIONS, "SAMEORIGIN"))
        // Not `no-referrer`: with it, browsers send `Origin: null` on form
        // posts, and the CSRF check needs the real origin.
        .layer(header(http::header::REFERRER_POLICY, "same-origin"))
        .layer(TraceLayer::new_for_http())
        // Outermost: every answer counts, refusals and maintenance too.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::count,
        ))
        .with_state(state)
}

pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Maintenance another instance begins (a restore on a shared database)
    // is followed here: new requests refused, the drain confirmed.
    let following = tokio::spawn(maintenance::follow(state.clone()));
    let served = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    following.abort();
    served
}
