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
    ("HEAD", "/api/files/{id}/content"),
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
    ("GET", "/api/health"),
    ("GET", "/api/admin/alerts"),
    ("POST", "/api/admin/alerts/test"),
    ("POST", "/api/admin/backup/create"),
    ("GET", "/api/admin/backup/list"),
    ("GET", "/api/admin/backup/download/{id}"),
    ("HEAD", "/api/admin/backup/download/{id}"),
    ("POST", "/api/admin/backup/upload"),
    ("POST", "/api/admin/backup/restore/{id}"),
    ("DELETE", "/api/admin/backup/{id}"),
    ("GET", "/api/admin/backup/status"),
];

/// The routes that answer without sign-in.
const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/api/openapi.json"),
    ("POST", "/api/auth/login"),
    ("GET", "/api/health"),
];

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
        // Every error this API sends itself has the envelope (304 has no
        // body; 414 and 431 come from hyper, before any route).
        for (status, response) in responses {
            if status.starts_with('4') && !["414", "431"].contains(&status.as_str()) {
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

// ---------------------------------------------------------------------
// The document against the real answers.
// ---------------------------------------------------------------------

/// What is wrong with `value` under `schema` (empty when it fits). Walks
/// what the document uses: `$ref`, `allOf`/`oneOf`/`anyOf`, `type` (one
/// or a list, `null` included), `enum`, `required`, `properties`, `items`,
/// and the bounds. An object may only hold the properties its schema
/// declares, so a field the document does not mention is caught too.
fn problems(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    check(doc, schema, value, "$", true, &mut found);
    found
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("an unexpected $ref {reference}"));
            let target = &doc["components"]["schemas"][name];
            assert!(!target.is_null(), "{reference} is missing");
            resolve(doc, target)
        }
        None => schema,
    }
}

/// Every property `schema` declares, through `$ref` and `allOf`.
fn declared(doc: &Value, schema: &Value, names: &mut BTreeSet<String>) {
    let schema = resolve(doc, schema);
    if let Some(properties) = schema["properties"].as_object() {
        names.extend(properties.keys().cloned());
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        declared(doc, part, names);
    }
}

fn type_fits(kind: &str, value: &Value) -> bool {
    match kind {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("an unknown type {other}"),
    }
}

fn check(
    doc: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
    strict: bool,
    out: &mut Vec<String>,
) {
    let schema = resolve(doc, schema);
    if let Some(parts) = schema["allOf"].as_array() {
        for part in parts {
            // Each part sees only its own properties; the whole is checked
            // for strays below.
            check(doc, part, value, at, false, out);
        }
    }
    for (key, need_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(options) = schema[key].as_array() {
            let fitting = options
                .iter()
                .filter(|option| {
                    let mut inner = Vec::new();
                    check(doc, option, value, at, strict, &mut inner);
                    inner.is_empty()
                })
                .count();
            if (need_one && fitting != 1) || fitting == 0 {
                out.push(format!("{at}: {value} fits {fitting} of the {key} options"));
            }
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            out.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(kind) => vec![kind.as_str()],
        Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|kind| type_fits(kind, value)) {
        out.push(format!("{at}: {value} is not {types:?}"));
        return;
    }
    bounds(schema, value, at, out);
    match value {
        Value::Object(fields) => {
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap();
                if !fields.contains_key(name) {
                    out.push(format!("{at}: `{name}` is required but missing"));
                }
            }
            let properties = schema["properties"].as_object();
            for (name, field) in fields {
                if let Some(property) = properties.and_then(|p| p.get(name)) {
                    check(doc, property, field, &format!("{at}.{name}"), true, out);
                }
            }
            let mut names = BTreeSet::new();
            declared(doc, schema, &mut names);
            let closed = !names.is_empty() || schema["additionalProperties"] == false;
            if strict && closed {
                for name in fields.keys().filter(|n| !names.contains(*n)) {
                    out.push(format!("{at}: `{name}` is not in the schema"));
                }
            }
        }
        Value::Array(items) if schema.get("items").is_some() => {
            for (i, item) in items.iter().enumerate() {
                check(
                    doc,
                    &schema["items"],
                    item,
                    &format!("{at}[{i}]"),
                    true,
                    out,
                );
            }
        }
        _ => {}
    }
}

fn bounds(schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    if let (Some(n), Some(min)) = (value.as_f64(), schema["minimum"].as_f64()) {
        if n < min {
            out.push(format!("{at}: {n} is below the minimum {min}"));
        }
    }
    if let (Some(n), Some(max)) = (value.as_f64(), schema["maximum"].as_f64()) {
        if n > max {
            out.push(format!("{at}: {n} is over the maximum {max}"));
        }
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        if schema["minLength"].as_u64().is_some_and(|min| length < min) {
            out.push(format!("{at}: {text:?} is shorter than minLength"));
        }
        if schema["maxLength"].as_u64().is_some_and(|max| length > max) {
            out.push(format!("{at}: {text:?} is longer than maxLength"));
        }
    }
}

#[test]
fn the_checker_finds_what_does_not_fit() {
    let doc = serde_json::json!({"components": {"schemas": {
        "Inner": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer", "minimum": 1}}},
        "Outer": {"allOf": [{"$ref": "#/components/schemas/Inner"}, {"type": "object", "properties": {
            "kind": {"type": "string", "enum": ["a", "b"]},
            "maybe": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Inner"}]},
            "list": {"type": "array", "items": {"type": ["string", "null"], "maxLength": 2}}
        }}]}
    }}});
    let outer = serde_json::json!({"$ref": "#/components/schemas/Outer"});
    let good = serde_json::json!({"n": 1, "kind": "a", "maybe": null, "list": ["ab", null]});
    assert_eq!(problems(&doc, &outer, &good), Vec::<String>::new());
    for bad in [
        serde_json::json!({"kind": "a"}),
        serde_json::json!({"n": 0}),
        serde_json::json!({"n": "1"}),
        serde_json::json!({"n": 1, "kind": "c"}),
        serde_json::json!({"n": 1, "maybe": {"n": 0}}),
        serde_json::json!({"n": 1, "list": ["abc"]}),
        serde_json::json!({"n": 1, "list": [1]}),
        serde_json::json!({"n": 1, "extra": true}),
        serde_json::json!([]),
    ] {
        assert!(!problems(&doc, &outer, &bad).is_empty(), "{bad} passed");
    }
}

/// The operation a concrete request reached.
fn operation<'a>(doc: &'a Value, method: &str, template: &str) -> &'a Value {
    let op = &doc["paths"][template][method.to_lowercase()];
    assert!(op.is_object(), "{method} {template} is not documented");
    op
}

/// Checks a real answer against what the document says of it: its status
/// is listed, its content type is one listed for that status, a JSON body
/// fits the schema and a declared header is sent. Returns the body.
async fn conforms(doc: &Value, method: &str, template: &str, response: reqwest::Response) -> Value {
    let status = response.status();
    let what = format!("{method} {template} → {status}");
    let documented = &operation(doc, method, template)["responses"][status.as_str()];
    assert!(documented.is_object(), "{what} is not documented");
    for (name, _) in documented["headers"].as_object().into_iter().flatten() {
        let optional = ["ETag", "Last-Modified", "Content-Disposition"].contains(&name.as_str());
        if !optional {
            assert!(
                response.headers().contains_key(name.as_str()),
                "{what} without {name}"
            );
        }
    }
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.bytes().await.unwrap();
    let content = documented["content"].as_object();
    if method == "HEAD" {
        assert!(bytes.is_empty(), "{what} sent a body");
        return Value::Null;
    }
    let Some(content) = content.filter(|c| !c.is_empty()) else {
        assert!(
            bytes.is_empty(),
            "{what} sent a body the document does not mention"
        );
        return Value::Null;
    };
    let kind = kind.unwrap_or_else(|| panic!("{what} has no Content-Type"));
    let essence = kind.split(';').next().unwrap().trim();
    let (listed, media) = content
        .iter()
        .find(|(listed, _)| listed.as_str() == essence || listed.as_str() == "*/*")
        .unwrap_or_else(|| panic!("{what}: {kind} is not among {:?}", content.keys()));
    if listed != "application/json" {
        return Value::Null;
    }
    let body: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{what}: the body is not JSON ({e})"));
    if let Some(schema) = media.get("schema") {
        let wrong = problems(doc, schema, &body);
        assert!(
            wrong.is_empty(),
            "{what} does not fit its schema: {wrong:#?}\n{body}"
        );
    }
    body
}

/// A request as a signed-in caller, checked against the document.
struct Client<'a> {
    app: &'a TestApp,
    doc: &'a Value,
    token: String,
}

impl Client<'_> {
    async fn send(&self, method: &str, template: &str, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .app
            .req(method.parse().unwrap(), path, Some(&self.token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        conforms(self.doc, method, template, request.send().await.unwrap()).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_answer_fits_its_schema() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let admin = Client {
        app: &app,
        doc: &doc,
        token: app.token("admin", ADMIN_PW).await,
    };

    // Sign-in, and a refused one.
    let login = serde_json::json!({"username": "alice", "password": ALICE_PW});
    let response = app
        .req(Method::POST, "/api/auth/login", None)
        .json(&login)
        .send()
        .await
        .unwrap();
    conforms(&doc, "POST", "/api/auth/login", response).await;
    let wrong = serde_json::json!({"username": "alice", "password": "nope"});
    let response = app
        .req(Method::POST, "/api/auth/login", None)
        .json(&wrong)
        .send()
        .await
        .unwrap();
    conforms(&doc, "POST", "/api/auth/login", response).await;
    let response = app
        .req(Method::GET, "/api/auth/me", None)
        .send()
        .await
        .unwrap();
    conforms(&doc, "GET", "/api/auth/me", response).await;
    admin
        .send("GET", "/api/auth/me", "/api/auth/me", None)
        .await;

    // The library.
    let categories = admin
        .send("GET", "/api/categories", "/api/categories", None)
        .await;
    let category = categories[0]["id"].as_i64().unwrap();
    let detail = admin
        .send(
            "GET",
            "/api/categories/{id}",
            &format!("/api/categories/{category}"),
            None,
        )
        .await;
    let course = detail["courses"][0]["id"].as_i64().unwrap();
    admin
        .send(
            "GET",
            "/api/courses/{id}",
            &format!("/api/courses/{course}"),
            None,
        )
        .await;
    admin
        .send("GET", "/api/courses/{id}", "/api/courses/999999", None)
        .await;
    let media = app.file_named("01 Hallo.wav").await;
    let subtitle = app.file_named("01 Hallo.en.srt").await;
    let file = format!("/api/files/{}", media.id);
    admin.send("GET", "/api/files/{id}", &file, None).await;
    admin
        .send(
            "GET",
            "/api/files/{id}/content",
            &format!("{file}/content"),
            None,
        )
        .await;
    admin
        .send(
            "HEAD",
            "/api/files/{id}/content",
            &format!("{file}/content"),
            None,
        )
        .await;
    let vtt = format!("/api/files/{}/vtt", subtitle.id);
    admin.send("GET", "/api/files/{id}/vtt", &vtt, None).await;
    admin
        .send("GET", "/api/files/{id}/vtt", &format!("{file}/vtt"), None)
        .await;
    let progress = format!("{file}/progress");
    for body in [
        serde_json::json!({"position_seconds": 12.5}),
        serde_json::json!({}),
    ] {
        admin
            .send("PUT", "/api/files/{id}/progress", &progress, Some(body))
            .await;
    }
    admin
        .send(
            "GET",
            "/api/courses/{id}",
            &format!("/api/courses/{course}"),
            None,
        )
        .await;
    for query in ["q=hallo", "q=rust&limit=5", "q=", "q=%20%00", "limit=0&q=a"] {
        admin
            .send("GET", "/api/search", &format!("/api/search?{query}"), None)
            .await;
    }

    // Backups: the status before and after one, the list, the archive.
    let status = "/api/admin/backup/status";
    admin.send("GET", status, status, None).await;
    let create = "/api/admin/backup/create";
    let made = admin.send("POST", create, create, None).await;
    let backup = made["id"].as_str().unwrap().to_owned();
    admin.send("GET", status, status, None).await;
    admin
        .send(
            "GET",
            "/api/admin/backup/list",
            "/api/admin/backup/list",
            None,
        )
        .await;
    let download = format!("/api/admin/backup/download/{backup}");
    admin
        .send("GET", "/api/admin/backup/download/{id}", &download, None)
        .await;
    admin
        .send("HEAD", "/api/admin/backup/download/{id}", &download, None)
        .await;
    let restore = format!("/api/admin/backup/restore/{backup}");
    let unconfirmed = serde_json::json!({});
    admin
        .send(
            "POST",
            "/api/admin/backup/restore/{id}",
            &restore,
            Some(unconfirmed),
        )
        .await;
    admin
        .send(
            "DELETE",
            "/api/admin/backup/{id}",
            &format!("/api/admin/backup/{backup}"),
            None,
        )
        .await;

    // Accounts.
    admin
        .send("GET", "/api/admin/users", "/api/admin/users", None)
        .await;
    let new_user =
        serde_json::json!({"username": "bob", "password": "bob password", "role": "user"});
    let bob = admin
        .send(
            "POST",
            "/api/admin/users",
            "/api/admin/users",
            Some(new_user),
        )
        .await;
    let bob_id = bob["id"].as_i64().unwrap();
    let bob_path = format!("/api/admin/users/{bob_id}");
    admin
        .send("GET", "/api/admin/users/{id}", &bob_path, None)
        .await;
    let patch = serde_json::json!({"disabled": false});
    admin
        .send("PATCH", "/api/admin/users/{id}", &bob_path, Some(patch))
        .await;
    let bad = serde_json::json!({"username": "a/b", "password": "short", "role": "user"});
    admin
        .send("POST", "/api/admin/users", "/api/admin/users", Some(bad))
        .await;
    let group = admin
        .send(
            "POST",
            "/api/admin/groups",
            "/api/admin/groups",
            Some(serde_json::json!({"name": "staff"})),
        )
        .await;
    let group_path = format!("/api/admin/groups/{}", group["id"]);
    let member = serde_json::json!({"user_id": bob_id});
    let members = format!("{group_path}/members");
    admin
        .send(
            "POST",
            "/api/admin/groups/{id}/members",
            &members,
            Some(member),
        )
        .await;
    let grant = serde_json::json!({"course_id": course});
    let grants = format!("{group_path}/grants");
    admin
        .send(
            "POST",
            "/api/admin/groups/{id}/grants",
            &grants,
            Some(grant),
        )
        .await;
    admin
        .send("GET", "/api/admin/groups", "/api/admin/groups", None)
        .await;
    admin
        .send("GET", "/api/admin/groups/{id}", &group_path, None)
        .await;
    admin
        .send("GET", "/api/admin/groups/{id}/members", &members, None)
        .await;
    admin
        .send("GET", "/api/admin/groups/{id}/grants", &grants, None)
        .await;
    let renamed = serde_json::json!({"name": "teachers"});
    admin
        .send(
            "PATCH",
            "/api/admin/groups/{id}",
            &group_path,
            Some(renamed),
        )
        .await;
    let token = serde_json::json!({"name": "cron", "expires_in_days": 30});
    admin
        .send(
            "POST",
            "/api/admin/tokens",
            "/api/admin/tokens",
            Some(token),
        )
        .await;
    admin
        .send("GET", "/api/admin/tokens", "/api/admin/tokens", None)
        .await;
    admin
        .send("GET", "/api/admin/settings", "/api/admin/settings", None)
        .await;
    let open = serde_json::json!({"library_open": false});
    admin
        .send(
            "PUT",
            "/api/admin/settings",
            "/api/admin/settings",
            Some(open),
        )
        .await;
    admin
        .send("GET", "/api/admin/audit", "/api/admin/audit?limit=5", None)
        .await;

    // The scanner: its status while idle, a scan, and the history.
    let idle = admin
        .send("GET", "/api/scanner/status", "/api/scanner/status", None)
        .await;
    assert_eq!(idle["running"], false, "{idle}");
    let started = admin
        .send("POST", "/api/scanner/scan", "/api/scanner/scan", None)
        .await;
    let scan = started["scan_id"].as_i64().unwrap();
    admin
        .send("GET", "/api/scanner/status", "/api/scanner/status", None)
        .await;
    admin
        .send("POST", "/api/scanner/abort", "/api/scanner/abort", None)
        .await;
    admin
        .send("GET", "/api/scanner/history", "/api/scanner/history", None)
        .await;
    let record = format!("/api/scanner/history/{scan}");
    admin
        .send("GET", "/api/scanner/history/{scan_id}", &record, None)
        .await;
    admin
        .send(
            "POST",
            "/api/scanner/scan",
            "/api/scanner/scan?nope=1",
            None,
        )
        .await;

    // A user where only admins may go.
    let alice = Client {
        app: &app,
        doc: &doc,
        token: app.token("alice", ALICE_PW).await,
    };
    alice.send("GET", status, status, None).await;
    alice
        .send("GET", "/api/scanner/status", "/api/scanner/status", None)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scanner_and_backup_status_have_schemas_of_their_own() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let schema_of = |path: &str| {
        operation(&doc, "GET", path)["responses"]["200"]["content"]["application/json"]["schema"]
            ["$ref"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_ne!(
        schema_of("/api/scanner/status"),
        schema_of("/api/admin/backup/status")
    );
    let token = app.token("admin", ADMIN_PW).await;
    for path in ["/api/scanner/status", "/api/admin/backup/status"] {
        let response = app
            .req(Method::GET, path, Some(&token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        conforms(&doc, "GET", path, response).await;
    }
}

/// Every response body named in the document is one Rust type: two types
/// under one name would leave one of them answering under the other's
/// schema. Each named schema is a response body somewhere only once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_schema_describes_its_own_answers() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    // The status answers both exist by their own names.
    for name in ["ScannerStatus", "BackupStatusReport"] {
        assert!(schemas.contains_key(name), "{name}");
    }
    assert!(
        !schemas.contains_key("Status"),
        "the ambiguous name is gone"
    );
    let scanner = &schemas["ScannerStatus"]["properties"];
    for field in [
        "running",
        "scan_id",
        "phase",
        "files_seen",
        "bytes_hashed",
        "percent",
    ] {
        assert!(scanner.get(field).is_some(), "ScannerStatus.{field}");
    }
    let backup = &schemas["BackupStatusReport"]["properties"];
    for field in [
        "lock",
        "maintenance",
        "last_backup",
        "running",
        "last_drill",
    ] {
        assert!(backup.get(field).is_some(), "BackupStatusReport.{field}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_body_is_optional_and_either_form_is_taken() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let body = &operation(&doc, "POST", "/api/admin/backup/create")["requestBody"];
    assert!(body.is_object(), "the body is described");
    assert_ne!(body["required"], true, "{body}");
    let token = app.token("admin", ADMIN_PW).await;
    let create = "/api/admin/backup/create";
    let none = app
        .req(Method::POST, create, Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::CREATED);
    conforms(&doc, "POST", create, none).await;
    let notes = serde_json::json!({"notes": "before the upgrade"});
    let given = app
        .req(Method::POST, create, Some(&token))
        .json(&notes)
        .send()
        .await
        .unwrap();
    assert_eq!(given.status(), StatusCode::CREATED);
    let made = conforms(&doc, "POST", create, given).await;
    assert_eq!(made["notes"], "before the upgrade");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_json_body_is_413_too_large_as_documented() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let token = app.token("admin", ADMIN_PW).await;
    // Just over axum's 2 MiB body limit (so that little is left unsent
    // when the server answers early), and valid JSON otherwise.
    let huge = serde_json::json!({ "name": "x".repeat(2 << 20) });
    for path in [
        "/api/admin/groups",
        "/api/admin/backup/create",
        "/api/auth/login",
    ] {
        let response = app
            .req(Method::POST, path, Some(&token))
            .json(&huge)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let body = conforms(&doc, "POST", path, response).await;
        assert_envelope(&body, "too_large");
    }
    // Every operation that takes JSON says so.
    for (method, path) in operations(&doc) {
        let op = operation(&doc, &method, &path);
        if op["requestBody"]["content"]
            .get("application/json")
            .is_some()
        {
            assert!(
                op["responses"].get("413").is_some(),
                "{method} {path} without 413"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_is_documented_and_answered_where_get_streams_bytes() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let token = app.token("admin", ADMIN_PW).await;
    let media = app.file_named("01 Hallo.wav").await;
    let path = format!("/api/files/{}/content", media.id);
    let head = app
        .req(Method::HEAD, &path, Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    let length = head.headers()["content-length"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(length, media.size.to_string());
    assert_eq!(head.headers()["accept-ranges"], "bytes");
    assert_eq!(head.headers()["content-type"].to_str().unwrap(), media.mime);
    conforms(&doc, "HEAD", "/api/files/{id}/content", head).await;
    let ranged = app
        .req(Method::GET, &path, Some(&token))
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    let body = conforms(&doc, "GET", "/api/files/{id}/content", ranged).await;
    assert!(body.is_null(), "bytes, not JSON");
    for template in ["/api/files/{id}/content", "/api/admin/backup/download/{id}"] {
        let get = operation(&doc, "GET", template);
        assert!(get["responses"]["200"]["content"]
            .as_object()
            .is_some_and(|c| !c.is_empty()));
        operation(&doc, "HEAD", template);
    }
    let listed = operation(&doc, "GET", "/api/files/{id}/content")["responses"]["200"]["content"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(listed, ["*/*"], "the file's own type, whatever it is");
    let vtt = &operation(&doc, "GET", "/api/files/{id}/vtt")["responses"]["200"]["content"];
    assert!(vtt.get("text/vtt").is_some(), "{vtt}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preconditions_on_file_content_answer_412_as_documented() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let token = app.token("admin", ADMIN_PW).await;
    let media = app.file_named("01 Hallo.wav").await;
    let path = format!("/api/files/{}/content", media.id);
    let etag = format!("\"{}\"", media.sha256);
    let template = "/api/files/{id}/content";
    for (name, value, expected) in [
        (
            "if-match",
            "\"someone-else\"",
            StatusCode::PRECONDITION_FAILED,
        ),
        ("if-match", etag.as_str(), StatusCode::OK),
        ("if-match", "*", StatusCode::OK),
        (
            "if-unmodified-since",
            "Thu, 01 Jan 1970 00:00:00 GMT",
            StatusCode::PRECONDITION_FAILED,
        ),
        (
            "if-unmodified-since",
            "Fri, 01 Jan 2100 00:00:00 GMT",
            StatusCode::OK,
        ),
    ] {
        let response = app
            .req(Method::GET, &path, Some(&token))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{name}: {value}");
        let body = conforms(&doc, "GET", template, response).await;
        if expected == StatusCode::PRECONDITION_FAILED {
            assert_envelope(&body, "precondition_failed");
        }
    }
}

/// One raw HTTP/1.1 request; the status line's code.
async fn raw_status(app: &TestApp, request: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    let line = text.lines().next().unwrap_or_default();
    line.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_long_uris_and_headers_answer_414_and_431_as_documented() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let long_uri = format!(
        "GET /api/categories?q={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(70_000)
    );
    assert_eq!(raw_status(&app, long_uri.as_bytes()).await, 414);
    let many: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many =
        format!("GET /api/categories HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n\r\n");
    assert_eq!(raw_status(&app, many.as_bytes()).await, 431);
    // hyper checks its 408 KiB buffer only while a head is incomplete, and
    // reads in growing chunks: one twice that size is always refused.
    let big = format!(
        "GET /api/categories HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(1 << 20)
    );
    assert_eq!(raw_status(&app, big.as_bytes()).await, 431);
    for (method, path) in operations(&doc) {
        let responses = &operation(&doc, &method, &path)["responses"];
        for status in ["414", "431"] {
            assert!(
                responses.get(status).is_some(),
                "{method} {path} without {status}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_503_is_documented_everywhere_but_the_open_routes() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let open = ["/api/admin/backup/status"];
    for (method, path) in operations(&doc) {
        let answer = &operation(&doc, &method, &path)["responses"]["503"];
        if open.contains(&path.as_str()) {
            assert!(answer.is_null(), "{method} {path} stays open");
        } else {
            assert!(answer.is_object(), "{method} {path} without 503");
            assert!(
                answer["headers"].get("Retry-After").is_some(),
                "{method} {path}"
            );
        }
    }
    let token = app.token("admin", ADMIN_PW).await;
    let _window = app
        .state
        .begin_maintenance("restoring a backup")
        .await
        .unwrap();
    for path in [
        "/api/categories",
        "/api/scanner/status",
        "/api/openapi.json",
    ] {
        let response = app
            .req(Method::GET, path, Some(&token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(response.headers()["retry-after"], "30");
        let body = conforms(&doc, "GET", path, response).await;
        assert_envelope(&body, "maintenance");
    }
    let status = "/api/admin/backup/status";
    let response = app
        .req(Method::GET, status, Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = conforms(&doc, "GET", status, response).await;
    assert_eq!(body["maintenance"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mutating_backup_routes_document_the_csrf_refusal() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    for (method, path) in operations(&doc) {
        let admin = path.starts_with("/api/admin") || path.starts_with("/api/scanner");
        if method == "GET" || method == "HEAD" || !admin {
            continue;
        }
        let refusal = operation(&doc, &method, &path)["responses"]["403"]["description"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            refusal.contains("csrf_rejected"),
            "{method} {path}: {refusal}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_input_limits_the_handlers_enforce_are_declared() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];
    let q = operation(&doc, "GET", "/api/search")["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "q")
        .unwrap()["schema"]
        .clone();
    assert_eq!(
        (q["minLength"].as_u64(), q["maxLength"].as_u64()),
        (Some(1), Some(200)),
        "{q}"
    );
    assert!(q["pattern"].is_string(), "{q}");
    for (schema, field, min, max) in [
        ("NewUserBody", "username", 1, 64),
        ("NewUserBody", "password", 8, 1024),
        ("GroupBody", "name", 1, 100),
        ("NewTokenBody", "name", 1, 100),
    ] {
        let property = &schemas[schema]["properties"][field];
        assert_eq!(
            property["minLength"].as_u64(),
            Some(min),
            "{schema}.{field}"
        );
        assert_eq!(
            property["maxLength"].as_u64(),
            Some(max),
            "{schema}.{field}"
        );
    }
    for (schema, field) in [
        ("NewUserBody", "username"),
        ("GroupBody", "name"),
        ("NewTokenBody", "name"),
    ] {
        let property = &schemas[schema]["properties"][field];
        let pattern = property["pattern"].as_str().expect("a pattern");
        // No control characters (NUL included) and not only spaces: the
        // pattern is the ECMA-262 text; its classes name the same ranges.
        assert!(
            pattern.contains(r"\u0000-\u001f\u007f-\u009f"),
            "{schema}.{field}: {pattern}"
        );
        assert!(pattern.contains(r"\s"), "{schema}.{field}: {pattern}");
        assert!(
            pattern.starts_with('^') && pattern.ends_with('$'),
            "{pattern}"
        );
    }
    assert_eq!(
        schemas["CreateBody"]["properties"]["notes"]["maxLength"],
        2000
    );
    // The server refuses what the schema excludes.
    let token = app.token("admin", ADMIN_PW).await;
    for name in ["", "   ", "a\u{0}b", "tab\tin", &"n".repeat(101)] {
        let body = serde_json::json!({ "name": name });
        let (status, answer) = call(
            &app,
            Method::POST,
            "/api/admin/groups",
            Some(&token),
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}");
        assert_envelope(&answer, "bad_request");
    }
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/admin/groups",
        Some(&token),
        Some(serde_json::json!({"name": null})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a null name");
    for q in ["", "%20%20", "%00", &"a".repeat(201)] {
        let (status, _) = app.get(&format!("/api/search?q={q}"), &token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "q={q}");
    }
}

// ---------------------------------------------------------------------
// The public shape, held to a committed snapshot.
// ---------------------------------------------------------------------

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openapi.snapshot.json");

/// `value` without the prose (descriptions, summaries, examples): what is
/// left is what a client's code depends on. Under `properties` the keys
/// are field names (a course has a `description`), kept all.
fn without_prose(value: &Value) -> Value {
    strip(value, false)
}

fn strip(value: &Value, names: bool) -> Value {
    const PROSE: [&str; 4] = ["description", "summary", "example", "examples"];
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .filter(|(key, _)| names || !PROSE.contains(&key.as_str()))
                .map(|(key, field)| (key.clone(), strip(field, !names && key == "properties")))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|item| strip(item, false)).collect()),
        other => other.clone(),
    }
}

/// The schemas by name with their properties, and every operation with
/// its parameters, body and answers.
fn public_shape(doc: &Value) -> Value {
    serde_json::json!({
        "schemas": without_prose(&doc["components"]["schemas"]),
        "paths": without_prose(&doc["paths"]),
    })
}

/// The API's bodies are its own types (`api::views`), not the store's
/// models, so a store change cannot reshape an answer unnoticed: any change
/// to the public shape shows here and is made on purpose, by running the
/// tests once with `LECTERN_UPDATE_OPENAPI_SNAPSHOT=1` and committing the
/// file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_shape_matches_the_committed_snapshot() {
    let app = spawn_app().await;
    let shape = public_shape(&document(&app).await);
    if std::env::var_os("LECTERN_UPDATE_OPENAPI_SNAPSHOT").is_some() {
        let text = serde_json::to_string_pretty(&shape).unwrap() + "\n";
        std::fs::write(SNAPSHOT, text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(SNAPSHOT).unwrap_or_else(|e| {
        panic!("{SNAPSHOT}: {e}; make it with LECTERN_UPDATE_OPENAPI_SNAPSHOT=1")
    });
    let committed: Value = serde_json::from_str(&committed).expect("the snapshot is JSON");
    let mut changed = Vec::new();
    for part in ["schemas", "paths"] {
        let (now, then) = (
            shape[part].as_object().unwrap(),
            committed[part].as_object().unwrap(),
        );
        let names: BTreeSet<&String> = now.keys().chain(then.keys()).collect();
        for name in names {
            if now.get(name) != then.get(name) {
                changed.push(format!("{part}: {name}"));
            }
        }
    }
    assert!(
        changed.is_empty(),
        "the public API changed: {changed:#?}\nIf that is meant, run the tests with \
         LECTERN_UPDATE_OPENAPI_SNAPSHOT=1 and commit tests/openapi.snapshot.json"
    );
}

#[test]
fn the_shape_leaves_out_only_prose() {
    let doc = serde_json::json!({
        "components": {"schemas": {"A": {"type": "object", "description": "words",
            "properties": {"n": {"type": "integer", "example": 3}, "description": {"type": "string"}}}}},
        "paths": {"/x": {"get": {"summary": "s", "operationId": "x"}}}
    });
    let shape = public_shape(&doc);
    let kept = serde_json::json!({"type": "object", "properties": {"n": {"type": "integer"}, "description": {"type": "string"}}});
    assert_eq!(shape["schemas"]["A"], kept);
    assert_eq!(
        shape["paths"]["/x"]["get"],
        serde_json::json!({"operationId": "x"})
    );
}
