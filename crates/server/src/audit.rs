//! The audit log's writer for admin actions (SPEC §4 `GET /api/admin/audit`):
//! a middleware that records every request that may change something under
//! `/api/admin/` and `/api/scanner/` by a signed-in caller, whatever its
//! outcome. Sign-ins are recorded by the app's `AuditListener`, from the
//! events the sign-in use case emits.
//!
//! It never records a request body: the entry says who (the caller), what
//! (a stable dotted action named from the route), on what (the ids in the
//! path, and the id a creation answered with), how it ended (status and
//! outcome, and the error code) and from where (the peer address). Only
//! the `id`/`scan_id` and `error.code` fields of a small JSON answer are
//! read, so a created token's secret never reaches the log.
//!
//! Recording is bookkeeping: when it fails the request still gets its
//! answer and the failure goes to the log.

use crate::auth::{client_address, Caller};
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lectern_store::{NewAuditEntry, Outcome};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use std::net::SocketAddr;

/// Answers larger than this are never read: an answer to a change is a
/// small record.
const PEEK_LIMIT: usize = 64 * 1024;
/// The longest id kept in a target; a hostile path cannot fill the log.
const MAX_VALUE: usize = 64;
/// The longest unmatched path kept in an action.
const MAX_PATH: usize = 200;

/// One audited route: its action and how its target reads. In the target,
/// `{name}` is the path parameter of that name and `{new}` the `id` (or
/// `scan_id`) of the answer; a word whose value is unknown is left out.
struct Route {
    method: Method,
    path: &'static str,
    action: &'static str,
    target: &'static str,
}

const fn route(
    method: Method,
    path: &'static str,
    action: &'static str,
    target: &'static str,
) -> Route {
    Route {
        method,
        path,
        action,
        target,
    }
}

/// Every audited route by name. A route missing here is still recorded,
/// as `METHOD /template` with its path parameters as the target.
const ROUTES: &[Route] = &[
    route(
        Method::POST,
        "/api/admin/users",
        "user.create",
        "user={new}",
    ),
    route(
        Method::PATCH,
        "/api/admin/users/{id}",
        "user.update",
        "user={id}",
    ),
    route(
        Method::DELETE,
        "/api/admin/users/{id}",
        "user.delete",
        "user={id}",
    ),
    route(
        Method::POST,
        "/api/admin/groups",
        "group.create",
        "group={new}",
    ),
    route(
        Method::PATCH,
        "/api/admin/groups/{id}",
        "group.rename",
        "group={id}",
    ),
    route(
        Method::DELETE,
        "/api/admin/groups/{id}",
        "group.delete",
        "group={id}",
    ),
    route(
        Method::POST,
        "/api/admin/groups/{id}/members",
        "group.member.add",
        "group={id} user={new}",
    ),
    route(
        Method::DELETE,
        "/api/admin/groups/{id}/members/{user_id}",
        "group.member.remove",
        "group={id} user={user_id}",
    ),
    route(
        Method::POST,
        "/api/admin/groups/{id}/grants",
        "group.grant.add",
        "group={id} grant={new}",
    ),
    route(
        Method::DELETE,
        "/api/admin/groups/{id}/grants/{grant_id}",
        "group.grant.remove",
        "group={id} grant={grant_id}",
    ),
    route(
        Method::POST,
        "/api/admin/tokens",
        "token.create",
        "token={new}",
    ),
    route(
        Method::DELETE,
        "/api/admin/tokens/{id}",
        "token.delete",
        "token={id}",
    ),
    route(Method::PUT, "/api/admin/settings", "settings.update", ""),
    route(
        Method::POST,
        "/api/scanner/scan",
        "scan.start",
        "scan={new}",
    ),
    route(
        Method::POST,
        "/api/scanner/rescan/{course_id}",
        "scan.rescan",
        "course={course_id} scan={new}",
    ),
    route(
        Method::POST,
        "/api/scanner/cleanup",
        "cleanup",
        "scan={new}",
    ),
    route(
        Method::POST,
        "/api/scanner/abort",
        "scan.abort",
        "scan={new}",
    ),
    route(
        Method::POST,
        "/api/admin/backup/create",
        "backup.create",
        "backup={new}",
    ),
    route(
        Method::POST,
        "/api/admin/backup/upload",
        "backup.upload",
        "backup={new}",
    ),
    route(
        Method::POST,
        "/api/admin/backup/restore/{id}",
        "backup.restore",
        "backup={id}",
    ),
    route(
        Method::DELETE,
        "/api/admin/backup/{id}",
        "backup.delete",
        "backup={id}",
    ),
];

/// The middleware; `lib.rs` puts it around every route.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let method = request.method();
    let admin_area = path.starts_with("/api/admin/") || path.starts_with("/api/scanner/");
    if admin_area && !method.is_safe() {
        return admin_action(state, request, next).await;
    }
    next.run(request).await
}

async fn admin_action(state: AppState, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    // Looked up before the handler runs: a change of one's own password or
    // account ends the session the request came with.
    let caller = match Caller::find(&parts, &state).await {
        Ok(Some(caller)) => caller,
        Ok(None) => return next.run(Request::from_parts(parts, body)).await,
        Err(e) => {
            tracing::warn!("audit: cannot tell who is asking: {e}");
            return next.run(Request::from_parts(parts, body)).await;
        }
    };
    let user = caller.user().clone();
    // The handler's extractor takes it from here instead of asking again.
    parts.extensions.insert(caller);
    let params = path_params(&mut parts).await;
    let (action, target) = describe(&parts, params);
    let mut entry = NewAuditEntry::now(format!("user:{}", user.username), action);
    entry.actor_id = Some(user.id);
    entry.address = address(&parts, &state);
    let response = next.run(Request::from_parts(parts, body)).await;
    let (response, answer) = peek::<Answer>(response).await;
    let answer = answer.unwrap_or_default();
    entry.target = target.read(answer.new_id());
    finish(&mut entry, response.status(), answer.error);
    save(&state, &entry).await;
    response
}

/// The fields of an answer the log may keep; everything else in it (a new
/// token, above all) is skipped unread.
#[derive(Deserialize, Default)]
struct Answer {
    id: Option<Value>,
    scan_id: Option<Value>,
    error: Option<ErrorCode>,
}

#[derive(Deserialize)]
struct ErrorCode {
    code: String,
}

impl Answer {
    fn new_id(&self) -> Option<String> {
        match self.id.as_ref().or(self.scan_id.as_ref())? {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) => Some(clip(s, MAX_VALUE)),
            _ => None,
        }
    }
}

fn finish(entry: &mut NewAuditEntry, status: StatusCode, error: Option<ErrorCode>) {
    entry.status = Some(status.as_u16());
    entry.outcome = if status.is_client_error() || status.is_server_error() {
        Outcome::Failed
    } else {
        Outcome::Ok
    };
    entry.detail =
        error.map(|e| serde_json::json!({ "error": clip(&e.code, MAX_VALUE) }).to_string());
}

async fn save(state: &AppState, entry: &NewAuditEntry) {
    if let Err(e) = state.store.record_audit(entry).await {
        tracing::error!(
            action = %entry.action,
            actor = %entry.actor,
            "cannot record an audit entry: {e}"
        );
    }
}

/// What to call the target of a request, once the answer is known.
struct Target {
    template: Option<&'static str>,
    params: Vec<(String, String)>,
}

impl Target {
    fn read(&self, new: Option<String>) -> Option<String> {
        let value = |name: &str| -> Option<String> {
            if name == "new" {
                return new.clone();
            }
            let found = self.params.iter().find(|(key, _)| key == name);
            found.map(|(_, value)| clip(value, MAX_VALUE))
        };
        let words: Vec<String> = match self.template {
            Some(template) => template
                .split_whitespace()
                .filter_map(|word| {
                    let (label, name) = word.split_once('=')?;
                    let name = name.strip_prefix('{')?.strip_suffix('}')?;
                    Some(format!("{label}={}", value(name)?))
                })
                .collect(),
            None => self
                .params
                .iter()
                .map(|(key, value)| format!("{}={}", clip(key, MAX_VALUE), clip(value, MAX_VALUE)))
                .collect(),
        };
        (!words.is_empty()).then(|| words.join(" "))
    }
}

/// The action and target of a request, by the route it matched.
fn describe(parts: &Parts, params: Vec<(String, String)>) -> (String, Target) {
    let Some(matched) = parts.extensions.get::<MatchedPath>() else {
        // No route: the path as asked, cut short.
        let action = format!("{} {}", parts.method, clip(parts.uri.path(), MAX_PATH));
        return (
            action,
            Target {
                template: None,
                params,
            },
        );
    };
    let known = ROUTES
        .iter()
        .find(|r| r.method == parts.method && r.path == matched.as_str());
    match known {
        Some(route) => (
            route.action.to_owned(),
            Target {
                template: Some(route.target),
                params,
            },
        ),
        None => (
            format!("{} {}", parts.method, matched.as_str()),
            Target {
                template: None,
                params,
            },
        ),
    }
}

/// The path parameters axum found for the matched route (none when no
/// route matched, or one is not UTF-8).
async fn path_params(parts: &mut Parts) -> Vec<(String, String)> {
    let found = RawPathParams::from_request_parts(parts, &()).await;
    found
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn address(parts: &Parts, state: &AppState) -> Option<String> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    let trusted = &state.options.trusted_proxies;
    Some(client_address(peer.0.ip(), &parts.headers, trusted).to_string())
}

fn is_small(body: &Body) -> bool {
    body.size_hint()
        .exact()
        .is_some_and(|n| n <= PEEK_LIMIT as u64)
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The answer as `T` when it is small JSON; the response goes on unchanged.
async fn peek<T: DeserializeOwned>(response: Response) -> (Response, Option<T>) {
    if !is_json(response.headers()) || !is_small(response.body()) {
        return (response, None);
    }
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, PEEK_LIMIT).await {
        Ok(bytes) => {
            let parsed = serde_json::from_slice(&bytes).ok();
            (Response::from_parts(parts, Body::from(bytes)), parsed)
        }
        Err(e) => {
            let error = ApiError::Internal(format!("audit: cannot read an answer: {e}"));
            (error.into_response(), None)
        }
    }
}

/// At most `max` characters of `text`.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(template: Option<&'static str>, params: &[(&str, &str)]) -> Target {
        Target {
            template,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn targets_fill_known_words_and_drop_unknown_ones() {
        let grant = target(Some("group={id} grant={new}"), &[("id", "3")]);
        assert_eq!(
            grant.read(Some("9".into())).as_deref(),
            Some("group=3 grant=9")
        );
        assert_eq!(grant.read(None).as_deref(), Some("group=3"));
        assert_eq!(target(Some(""), &[]).read(None), None);
        let unknown = target(None, &[("id", "3"), ("name", "x")]);
        assert_eq!(
            unknown.read(Some("9".into())).as_deref(),
            Some("id=3 name=x")
        );
    }

    #[test]
    fn clip_cuts_long_text_on_a_character_boundary() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("ünïcødé", 3), "ünï…");
    }

    #[test]
    fn the_route_table_names_each_route_once() {
        for (i, a) in ROUTES.iter().enumerate() {
            assert!(a.action.chars().all(|c| c.is_ascii_lowercase() || c == '.'));
            for b in &ROUTES[i + 1..] {
                assert!(a.method != b.method || a.path != b.path, "{}", a.path);
                assert_ne!(a.action, b.action);
            }
        }
    }
}
