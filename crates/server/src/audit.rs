//! The front end's part of the audit log (SPEC §4 `GET /api/admin/audit`):
//! a request under `/api/admin/` or `/api/scanner/` that may change
//! something, by a signed-in caller, and that was answered with an error
//! (refused, malformed, naming nothing, or failed), is announced as
//! [`Event::Refused`]. Successes are announced by the use cases
//! themselves, with the ids they made; the app's audit listener writes both.
//!
//! The action of a request is the one its route is documented to perform:
//! the `x-audit-action` of its operation in the OpenAPI document (so a
//! route and its action are declared in one place, beside each other). A
//! request no route took is named `METHOD /path`. The target is the ids in
//! the path. Nothing of a body is read, the request's or the answer's:
//! the error's code comes with the answer as [`ErrorCode`].

use crate::auth::{request_address, Caller};
use crate::error::ErrorCode;
use crate::state::AppState;
use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use lectern_app::audit::clip;
use lectern_app::Event;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// The OpenAPI extension that names an operation's audited action.
pub const ACTION_EXTENSION: &str = "x-audit-action";
/// The longest id kept in a target; a hostile path cannot fill the log.
const MAX_VALUE: usize = 64;
/// The longest unmatched path kept in an action.
const MAX_PATH: usize = 200;

/// Each documented operation's action, by method and route template.
#[derive(Default)]
pub struct Actions(HashMap<(Method, String), String>);

impl Actions {
    /// Read off the OpenAPI document (its paths are the full templates).
    pub fn from_document(document: &Value) -> Self {
        let mut actions = HashMap::new();
        let paths = document["paths"].as_object().into_iter().flatten();
        for (path, item) in paths {
            let operations = item.as_object().into_iter().flatten();
            for (method, operation) in operations {
                let Some(action) = operation[ACTION_EXTENSION].as_str() else {
                    continue;
                };
                let Ok(method) = method.to_uppercase().parse::<Method>() else {
                    continue;
                };
                actions.insert((method, path.clone()), action.to_owned());
            }
        }
        Actions(actions)
    }

    fn get(&self, method: &Method, template: &str) -> Option<&str> {
        let key = (method.clone(), template.to_owned());
        self.0.get(&key).map(String::as_str)
    }
}

/// What the middleware works with.
#[derive(Clone)]
pub struct Audit {
    pub state: AppState,
    pub actions: Arc<Actions>,
}

/// The middleware; `lib.rs` puts it around every route.
pub async fn record(State(audit): State<Audit>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let admin_area = path.starts_with("/api/admin/") || path.starts_with("/api/scanner/");
    if !admin_area || request.method().is_safe() {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    // Looked up before the handler runs: a change of one's own password or
    // account ends the session the request came with.
    let caller = match Caller::find(&parts, &audit.state).await {
        Ok(Some(caller)) => caller,
        Ok(None) => return next.run(Request::from_parts(parts, body)).await,
        Err(e) => {
            tracing::warn!("audit: cannot tell who is asking: {e}");
            return next.run(Request::from_parts(parts, body)).await;
        }
    };
    let by = caller.actor(request_address(&parts, &audit.state));
    // The handler's extractor takes it from here instead of asking again.
    parts.extensions.insert(caller);
    let params = path_params(&mut parts).await;
    let action = action(&parts, &audit.actions);
    let response = next.run(Request::from_parts(parts, body)).await;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let code = response
            .extensions()
            .get::<ErrorCode>()
            .map(|c| c.0.to_owned());
        let event = Event::Refused {
            target: target(&action, &params),
            by,
            action,
            status: Some(status.as_u16()),
            code,
        };
        audit.state.events.emit(event).await;
    }
    response
}

/// The documented action of the route the request matched, or
/// `METHOD /template` (`METHOD /path` when none matched).
fn action(parts: &Parts, actions: &Actions) -> String {
    let Some(matched) = parts.extensions.get::<MatchedPath>() else {
        return format!("{} {}", parts.method, clip(parts.uri.path(), MAX_PATH));
    };
    match actions.get(&parts.method, matched.as_str()) {
        Some(action) => action.to_owned(),
        None => format!("{} {}", parts.method, matched.as_str()),
    }
}

/// The ids in the path, each named for what it is: `{id}` after the
/// action's subject (`group.delete` → `group=3`), `{user_id}` → `user=9`.
fn target(action: &str, params: &[(String, String)]) -> Option<String> {
    let subject = action.split_once('.').map(|(subject, _)| subject);
    let words: Vec<String> = params
        .iter()
        .map(|(key, value)| {
            let label = match (key.as_str(), subject) {
                ("id", Some(subject)) => subject,
                (key, _) => key.strip_suffix("_id").unwrap_or(key),
            };
            format!("{}={}", clip(label, MAX_VALUE), clip(value, MAX_VALUE))
        })
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// The path parameters axum found for the matched route (none when no
/// route matched, or one is not UTF-8).
async fn path_params(parts: &mut Parts) -> Vec<(String, String)> {
    use axum::extract::FromRequestParts;
    let found = RawPathParams::from_request_parts(parts, &()).await;
    found
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn targets_name_each_id_for_what_it_is() {
        let member = params(&[("id", "3"), ("user_id", "9")]);
        assert_eq!(
            target("group.member.remove", &member).as_deref(),
            Some("group=3 user=9")
        );
        let course = params(&[("course_id", "5")]);
        assert_eq!(target("scan.rescan", &course).as_deref(), Some("course=5"));
        assert_eq!(target("settings.update", &[]), None);
        let unknown = params(&[("id", "3"), ("name", "x")]);
        assert_eq!(
            target("DELETE /api/admin/x/{id}/{name}", &unknown).as_deref(),
            Some("id=3 name=x")
        );
    }

    #[test]
    fn actions_are_read_off_the_document() {
        let document = serde_json::json!({
            "paths": {
                "/api/admin/users": {
                    "get": {},
                    "post": { ACTION_EXTENSION: "user.create" }
                }
            }
        });
        let actions = Actions::from_document(&document);
        assert_eq!(
            actions.get(&Method::POST, "/api/admin/users"),
            Some("user.create")
        );
        assert_eq!(actions.get(&Method::GET, "/api/admin/users"), None);
    }
}
