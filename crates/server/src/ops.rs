//! What orchestrators and Prometheus ask (SPEC §4, §6): `/healthz` (the
//! process answers), `/readyz` (it can serve: the database answers and no
//! restore is replacing it), `/metrics` (the Prometheus text format), and
//! the middleware that counts every request by its route template.
//! Plain text, outside the JSON API: these are for machines that expect it.

use crate::auth::client_address;
use crate::state::AppState;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use subtle::ConstantTimeEq;

/// The media type of the Prometheus text format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

fn text(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Liveness: answering at all is the answer.
async fn healthz() -> Response {
    text(StatusCode::OK, "ok\n".into())
}

/// Readiness: 503 with the reason while a restore runs or the database
/// does not answer. The store is opened (and migrated) before the server
/// listens, so a listening server has its migrations done.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.app.coordination.maintenance().await {
        Ok(Some(m)) => {
            let why = format!("not ready: in maintenance ({})\n", m.reason);
            return text(StatusCode::SERVICE_UNAVAILABLE, why);
        }
        Ok(None) => {}
        Err(e) => {
            let why = format!("not ready: the maintenance state cannot be read: {e}\n");
            return text(StatusCode::SERVICE_UNAVAILABLE, why);
        }
    }
    match state.store.database_size().await {
        Ok(_) => text(StatusCode::OK, "ready\n".into()),
        Err(e) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: the database does not answer: {e}\n"),
        ),
    }
}

/// The metrics, for loopback callers and for whoever presents the
/// configured token.
async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let token = state.options.metrics_token.as_deref();
    if !from_this_machine(peer.ip(), &headers, &state) && !presents(token, &headers) {
        return refuse(token.is_some());
    }
    let mut response = text(StatusCode::OK, state.app.metrics.render(&state.app).await);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROMETHEUS_TEXT),
    );
    response
}

/// A caller on this machine: the client (through trusted proxies) is a
/// loopback address. A loopback peer that forwards for someone else
/// without being trusted is a reverse proxy nobody configured, and the
/// someone else may be anywhere; a trusted proxy must name its client
/// in a form that reads, hop by hop.
fn from_this_machine(peer: IpAddr, headers: &HeaderMap, state: &AppState) -> bool {
    let trusted = &state.options.trusted_proxies;
    // `::ffff:127.0.0.1` is a local IPv4 caller on a dual-stack socket.
    let peer = peer.to_canonical();
    let forwarded = headers.contains_key("x-forwarded-for") || headers.contains_key("forwarded");
    if !trusted.iter().any(|net| net.contains(&peer)) {
        return peer.is_loopback() && !forwarded;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or("?"))
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let readable = !hops.is_empty() && hops.iter().all(|hop| hop.parse::<IpAddr>().is_ok());
    readable && client_address(peer, headers, trusted).is_loopback()
}

fn presents(token: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(expected) = token else { return false };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    given.as_bytes().ct_eq(expected.trim().as_bytes()).into()
}

fn refuse(token_configured: bool) -> Response {
    if token_configured {
        let mut response = text(
            StatusCode::UNAUTHORIZED,
            "the metrics need the bearer token set as [metrics] token\n".into(),
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"metrics\""),
        );
        return response;
    }
    text(
        StatusCode::FORBIDDEN,
        "the metrics answer only on this machine; set [metrics] token to open them to others\n"
            .into(),
    )
}

/// Made-up methods would make a series each: they count as `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    const KNOWN: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    KNOWN
        .iter()
        .find(|known| **known == method.as_str())
        .copied()
        .unwrap_or("other")
}

/// The route a request matched, carried out to [`count`] on the answer.
#[derive(Clone)]
struct Route(MatchedPath);

/// Inside the router: passes the matched route template out with the
/// answer.
pub async fn mark_route(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(path) = matched {
        response.extensions_mut().insert(Route(path));
    }
    response
}

/// Around everything: counts and times each answer by method, route
/// template (never the raw path, whose ids would make a series each) and
/// status. Answers no route matched count under `unmatched`.
pub async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<Route>()
        .map_or("unmatched", |r| r.0.as_str());
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state
        .app
        .metrics
        .observe_request(method, route, status, seconds);
    response
}
