//! The OpenAPI document (SPEC §4): served without sign-in at
//! `/api/openapi.json`, and it matches the code — every route the API
//! answers is documented and every documented operation is answered.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::BTreeSet;

/// Every route of the JSON API. A new route must be added here and to the
/// document (its handler's `#[utoipa::path]`), or these tests fail.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/openapi.json"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/logout"),
    ("GET", "/api/auth/me"),
    ("GET", "/api/categories"),
    ("GET", "/api/categories/{id}"),
    ("GET", "/api/courses/{id}"),
    ("GET", "/api/files/{id}"),
    ("GET", "/api/files/{id}/content"),
    ("GET", "/api/files/{id}/vtt"),
    ("PUT", "/api/files/{id}/progress"),
    ("GET", "/api/search"),
    ("POST", "/api/scanner/scan"),
    ("POST", "/api/scanner/rescan/{course_id}"),
    ("POST", "/api/scanner/cleanup"),
    ("GET", "/api/scanner/status"),
    ("POST", "/api/scanner/abort"),
    ("GET", "/api/scanner/history"),
    ("GET", "/api/scanner/history/{scan_id}"),
    ("GET", "/api/admin/users"),
    ("POST", "/api/admin/users"),
    ("GET", "/api/admin/users/{id}"),
    ("PATCH", "/api/admin/users/{id}"),
    ("DELETE", "/api/admin/users/{id}"),
    ("GET", "/api/admin/groups"),
    ("POST", "/api/admin/groups"),
    ("GET", "/api/admin/groups/{id}"),
    ("PATCH", "/api/admin/groups/{id}"),
    ("DELETE", "/api/admin/groups/{id}"),
    ("GET", "/api/admin/groups/{id}/members"),
    ("POST", "/api/admin/groups/{id}/members"),
    ("DELETE", "/api/admin/groups/{id}/members/{user_id}"),
    ("GET", "/api/admin/groups/{id}/grants"),
    ("POST", "/api/admin/groups/{id}/grants"),
    ("DELETE", "/api/admin/groups/{id}/grants/{grant_id}"),
    ("GET", "/api/admin/tokens"),
    ("POST", "/api/admin/tokens"),
    ("DELETE", "/api/admin/tokens/{id}"),
    ("GET", "/api/admin/settings"),
    ("PUT", "/api/admin/settings"),
    ("GET", "/api/admin/audit"),
    ("POST", "/api/admin/backup/create"),
    ("GET", "/api/admin/backup/list"),
    ("GET", "/api/admin/backup/download/{id}"),
    ("POST", "/api/admin/backup/upload"),
    ("POST", "/api/admin/backup/restore/{id}"),
    ("DELETE", "/api/admin/backup/{id}"),
    ("GET", "/api/admin/backup/status"),
];

/// The routes that answer without sign-in.
const PUBLIC: &[(&str, &str)] = &[("GET", "/api/openapi.json"), ("POST", "/api/auth/login")];

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

async fn document(app: &TestApp) -> Value {
    let response = app
        .req(Method::GET, "/api/openapi.json", None)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response.headers()["content-type"].to_str().unwrap();
    assert!(kind.starts_with("application/json"), "{kind}");
    serde_json::from_str(&response.text().await.unwrap()).expect("the document is JSON")
}

/// `(METHOD, path)` of every operation in the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            found.insert((method.to_uppercase(), path.clone()));
        }
    }
    found
}

fn listed() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

/// A concrete path for a template: every `{param}` becomes 1.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in template.chars() {
        match c {
            '{' => inside = true,
            '}' => {
                inside = false;
                out.push('1');
            }
            _ if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_served_to_anyone_and_is_openapi_3() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let version = doc["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3."), "{version}");
    assert_eq!(doc["info"]["title"], "Lectern");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["type"], "apiKey");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "lectern_session");
    // Sign-in is required unless an operation says otherwise.
    let global: Vec<&str> = doc["security"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_object().unwrap().keys().map(String::as_str))
        .collect();
    assert_eq!(global, ["bearer", "session"]);

    // The same answer twice: nothing in it depends on the request.
    assert_eq!(document(&app).await, doc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_described_with_its_errors_and_parameters() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("ErrorEnvelope"));
    let mut operation_ids = BTreeSet::new();
    for (method, path) in operations(&doc) {
        let op = &doc["paths"][&path][method.to_lowercase()];
        let id = op["operationId"].as_str().expect("an operationId");
        assert!(
            operation_ids.insert(id.to_owned()),
            "operationId {id} is used twice"
        );
        assert!(
            op["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{method} {path}"
        );
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path} documents no success"
        );
        let public = PUBLIC.contains(&(method.as_str(), path.as_str()));
        if public {
            assert_eq!(op["security"], serde_json::json!([{}]), "{method} {path}");
        } else {
            assert!(op.get("security").is_none(), "{method} {path}");
            assert!(responses.contains_key("401"), "{method} {path} without 401");
        }
        if path.starts_with("/api/admin") || path.starts_with("/api/scanner") {
            assert!(responses.contains_key("403"), "{method} {path} without 403");
        }
        // Every error this API sends itself has the envelope (416 comes
        // from the file service and 304 has no body).
        for (status, response) in responses {
            if status.starts_with('4') && status != "416" {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorEnvelope",
                    "{method} {path} {status}"
                );
            }
        }
        // Every `{param}` in the path is declared as a path parameter.
        let declared: BTreeSet<&str> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        assert_eq!(declared, in_path, "{method} {path}");
        // Bodies that are sent are described.
        if matches!(method.as_str(), "PUT" | "PATCH") {
            assert!(op.get("requestBody").is_some(), "{method} {path}");
        }
    }
    // The query parameters people use.
    let names = |method: &str, path: &str| -> Vec<String> {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names("get", "/api/search"), ["q", "limit"]);
    assert_eq!(names("post", "/api/scanner/scan"), ["verify", "force"]);
    assert_eq!(
        names("post", "/api/scanner/rescan/{course_id}"),
        ["verify", "force"]
    );
    // Schemas referenced anywhere exist.
    let text = doc.to_string();
    for piece in text.split("\"#/components/schemas/").skip(1) {
        let name = &piece[..piece.find('"').unwrap()];
        assert!(
            schemas.contains_key(name),
            "{name} is referenced but missing"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_operations_are_exactly_the_routes_answered() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let documented = operations(&doc);
    let listed = listed();
    let undocumented: Vec<_> = listed.difference(&documented).collect();
    let unlisted: Vec<_> = documented.difference(&listed).collect();
    assert!(
        undocumented.is_empty(),
        "routes not documented: {undocumented:?}"
    );
    assert!(
        unlisted.is_empty(),
        "documented but not listed: {unlisted:?}"
    );

    let paths: BTreeSet<&str> = documented.iter().map(|(_, p)| p.as_str()).collect();
    for path in paths {
        for method in METHODS {
            let response = app
                .req(method.parse().unwrap(), &concrete(path), None)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if documented.contains(&(method.to_owned(), path.to_owned())) {
                // Answered by its handler: not the router's 404 or 405. An
                // anonymous caller is turned away before any id is looked up.
                let public = PUBLIC.contains(&(method, path));
                let expected = if public {
                    [StatusCode::OK, StatusCode::BAD_REQUEST]
                } else {
                    [StatusCode::UNAUTHORIZED; 2]
                };
                assert!(
                    expected.contains(&status),
                    "{method} {path}: {status} {body}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} answers but is not documented: {body}"
                );
                assert_envelope(&body, "method_not_allowed");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_next_to_the_documented_ones_are_not_found() {
    let app = spawn_app().await;
    for path in ["/api/openapi.yaml", "/api/files", "/api/admin", "/api/nope"] {
        let response = app.req(Method::GET, path, None).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_envelope(&response.json().await.unwrap(), "not_found");
    }
}
