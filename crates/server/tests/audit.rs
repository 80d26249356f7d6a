//! The audit log over real HTTP: what admins change and every sign-in is
//! recorded with who, what, on what, how it ended and from where; reads
//! are not; no secret ever reaches the log; `GET /api/admin/audit` filters
//! and pages, for admins only.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A change that must answer `expected`; its JSON answer.
async fn change(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    expected: StatusCode,
) -> Value {
    let (status, answer) = call(app, method, path, Some(token), body).await;
    assert_eq!(status, expected, "{path}: {answer}");
    answer
}

/// One page of the log as an admin sees it, for `query` (`?…` or empty).
async fn audit(app: &TestApp, token: &str, query: &str) -> (Vec<Value>, Value) {
    let (status, page) = app.get(&format!("/api/admin/audit{query}"), token).await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    let entries = page["entries"].as_array().unwrap().clone();
    (entries, page["next_before"].clone())
}

fn field(entries: &[Value], name: &str) -> Vec<Value> {
    entries.iter().map(|e| e[name].clone()).collect()
}

async fn course_id(app: &TestApp, path: &str) -> i64 {
    let path = lectern_core::LibraryPath::parse(path).unwrap();
    app.store.course_by_path(&path).await.unwrap().unwrap().id.0
}

fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_changes_are_recorded_with_actor_action_target_and_status_newest_first() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let admin_id = app.store.user_login("admin").await.unwrap().unwrap().0.id.0;
    let post = Method::POST;

    let body = json!({ "username": "bob", "password": "bob password", "role": "user" });
    let bob = change(
        &app,
        &admin,
        post.clone(),
        "/api/admin/users",
        Some(body),
        StatusCode::CREATED,
    )
    .await;
    let bob = bob["id"].as_i64().unwrap();
    let group = change(
        &app,
        &admin,
        post.clone(),
        "/api/admin/groups",
        Some(json!({ "name": "staff" })),
        StatusCode::CREATED,
    )
    .await;
    let group = group["id"].as_i64().unwrap();
    let members = format!("/api/admin/groups/{group}/members");
    let body = json!({ "user_id": bob });
    change(
        &app,
        &admin,
        post.clone(),
        &members,
        Some(body),
        StatusCode::CREATED,
    )
    .await;
    let course = course_id(&app, "Design/Typography").await;
    let grants = format!("/api/admin/groups/{group}/grants");
    let body = json!({ "course_id": course });
    let grant = change(
        &app,
        &admin,
        post.clone(),
        &grants,
        Some(body),
        StatusCode::CREATED,
    )
    .await;
    let grant = grant["id"].as_i64().unwrap();
    let body = json!({ "name": "cron" });
    let token = change(
        &app,
        &admin,
        post.clone(),
        "/api/admin/tokens",
        Some(body),
        StatusCode::CREATED,
    )
    .await;
    let token = token["id"].as_i64().unwrap();
    let body = json!({ "library_open": true });
    change(
        &app,
        &admin,
        Method::PUT,
        "/api/admin/settings",
        Some(body),
        StatusCode::OK,
    )
    .await;
    let member = format!("/api/admin/groups/{group}/members/{bob}");
    change(
        &app,
        &admin,
        Method::DELETE,
        &member,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let scan = change(
        &app,
        &admin,
        post.clone(),
        "/api/scanner/scan",
        None,
        StatusCode::ACCEPTED,
    )
    .await;
    let scan = scan["scan_id"].as_i64().unwrap();
    // Reads change nothing and are not recorded.
    for read in [
        "/api/admin/users",
        "/api/admin/settings",
        "/api/scanner/status",
    ] {
        assert_eq!(app.get(read, &admin).await.0, StatusCode::OK);
    }

    let (entries, next) = audit(&app, &admin, "").await;
    assert_eq!(next, Value::Null);
    let expected = [
        ("scan.start", json!(format!("scan={scan}")), 202),
        (
            "group.member.remove",
            json!(format!("group={group} user={bob}")),
            204,
        ),
        ("settings.update", Value::Null, 200),
        ("token.create", json!(format!("token={token}")), 201),
        (
            "group.grant.add",
            json!(format!("group={group} grant={grant}")),
            201,
        ),
        (
            "group.member.add",
            json!(format!("group={group} user={bob}")),
            201,
        ),
        ("group.create", json!(format!("group={group}")), 201),
        ("user.create", json!(format!("user={bob}")), 201),
        ("session.login", json!("username=admin"), 200),
    ];
    let seen: Vec<(Value, Value, Value)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].clone(),
                e["target"].clone(),
                e["status"].clone(),
            )
        })
        .collect();
    let wanted: Vec<(Value, Value, Value)> = expected
        .iter()
        .map(|(action, target, status)| (json!(action), target.clone(), json!(status)))
        .collect();
    assert_eq!(seen, wanted, "newest first");
    for entry in &entries {
        assert_eq!(entry["actor"], "user:admin", "{entry}");
        assert_eq!(entry["actor_id"], admin_id, "{entry}");
        assert_eq!(entry["outcome"], "ok", "{entry}");
        assert_eq!(entry["address"], "127.0.0.1", "{entry}");
        assert_eq!(entry["detail"], Value::Null, "{entry}");
    }
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    let times: Vec<i64> = entries
        .iter()
        .map(|e| e["created_at"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_admin_actions_are_recorded_as_failed_with_their_error_code() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let taken = json!({ "username": "alice", "password": "long enough", "role": "user" });
    let short = json!({ "username": "carol", "password": "short", "role": "user" });
    let post = Method::POST;
    change(
        &app,
        &admin,
        post.clone(),
        "/api/admin/users",
        Some(taken),
        StatusCode::CONFLICT,
    )
    .await;
    change(
        &app,
        &admin,
        post.clone(),
        "/api/admin/users",
        Some(short),
        StatusCode::BAD_REQUEST,
    )
    .await;
    let gone = "/api/admin/users/999999";
    change(
        &app,
        &admin,
        Method::DELETE,
        gone,
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    let hostile = format!("/api/admin/groups/{}", "9".repeat(300));
    change(
        &app,
        &admin,
        Method::DELETE,
        &hostile,
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    change(
        &app,
        &admin,
        post.clone(),
        "/api/admin/nothing/here",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    change(
        &app,
        &admin,
        Method::DELETE,
        "/api/admin/settings",
        None,
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;

    let (entries, _) = audit(&app, &admin, "?limit=6").await;
    let summary: Vec<(Value, Value, Value, Value)> = entries
        .iter()
        .map(|e| {
            assert_eq!(e["outcome"], "failed", "{e}");
            assert_eq!(e["actor"], "user:admin", "{e}");
            (
                e["action"].clone(),
                e["target"].clone(),
                e["status"].clone(),
                e["detail"].clone(),
            )
        })
        .collect();
    let cut = format!("group={}…", "9".repeat(64));
    assert_eq!(
        summary,
        [
            (
                json!("DELETE /api/admin/settings"),
                Value::Null,
                json!(405),
                json!({"error": "method_not_allowed"})
            ),
            (
                json!("POST /api/admin/nothing/here"),
                Value::Null,
                json!(404),
                json!({"error": "not_found"})
            ),
            (
                json!("group.delete"),
                json!(cut),
                json!(404),
                json!({"error": "not_found"})
            ),
            (
                json!("user.delete"),
                json!("user=999999"),
                json!(404),
                json!({"error": "not_found"})
            ),
            (
                json!("user.create"),
                Value::Null,
                json!(400),
                json!({"error": "bad_request"})
            ),
            (
                json!("user.create"),
                Value::Null,
                json!(409),
                json!({"error": "conflict"})
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_reads_are_not_recorded_and_their_admin_attempts_are_recorded_as_failed() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let alice = app.token("alice", ALICE_PW).await;
    let alice_id = app.store.user_login("alice").await.unwrap().unwrap().0.id.0;
    for read in ["/api/categories", "/api/auth/me", "/api/search?q=type"] {
        assert_eq!(app.get(read, &alice).await.0, StatusCode::OK, "{read}");
    }
    assert_eq!(
        app.get("/api/admin/users", &alice).await.0,
        StatusCode::FORBIDDEN
    );
    let body = json!({ "username": "eve", "password": "eve password", "role": "admin" });
    let post = Method::POST;
    change(
        &app,
        &alice,
        post.clone(),
        "/api/admin/users",
        Some(body.clone()),
        StatusCode::FORBIDDEN,
    )
    .await;
    change(
        &app,
        &alice,
        post.clone(),
        "/api/scanner/scan",
        None,
        StatusCode::FORBIDDEN,
    )
    .await;
    // Nobody signed in: nobody to name, and nothing was done.
    let (status, _) = call(&app, post.clone(), "/api/admin/users", None, Some(body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(&app, post, "/api/scanner/scan", Some("not a token"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (entries, _) = audit(&app, &admin, "?actor=user:alice").await;
    let actions = field(&entries, "action");
    assert_eq!(actions, ["scan.start", "user.create", "session.login"]);
    for entry in &entries[..2] {
        assert_eq!(entry["outcome"], "failed", "{entry}");
        assert_eq!(entry["status"], 403, "{entry}");
        assert_eq!(entry["actor_id"], alice_id, "{entry}");
        assert_eq!(entry["detail"], json!({"error": "forbidden"}), "{entry}");
    }
    let (all, _) = audit(&app, &admin, "").await;
    assert_eq!(
        all.len(),
        4,
        "two sign-ins and alice's two attempts: {all:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_are_recorded_with_the_username_tried() {
    let app = spawn_app().await;
    let began = lectern_store::now_ms();
    assert_eq!(
        app.login("alice", "wrong").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("mallory", "guess").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let alice = app.token("alice", ALICE_PW).await;
    // The login page: a form, answered with a redirect or the form again.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (password, expected) in [
        ("nope", StatusCode::UNAUTHORIZED),
        (ALICE_PW, StatusCode::SEE_OTHER),
    ] {
        let response = browser
            .post(format!("{}/login", app.base))
            .form(&[("username", "alice"), ("password", password)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected);
    }
    assert_eq!(app.get("/api/auth/me", &alice).await.0, StatusCode::OK);
    let admin = app.token("admin", ADMIN_PW).await;

    let ended = lectern_store::now_ms();
    let (entries, _) = audit(&app, &admin, "?action=session.login").await;
    let alice_id = app.store.user_login("alice").await.unwrap().unwrap().0.id.0;
    let seen: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!([
                e["actor"],
                e["actor_id"],
                e["target"],
                e["outcome"],
                e["status"]
            ])
        })
        .collect();
    assert!(entries.iter().all(|e| e["address"] == "127.0.0.1"));
    // Failures are counted per username and address and minute: alice's
    // two (through the API and the page) are one entry, unless a minute
    // ended between them.
    if began / 60_000 != ended / 60_000 {
        let alice_failed: Vec<&Value> = entries
            .iter()
            .filter(|e| e["outcome"] == "failed" && e["target"] == "username=alice")
            .collect();
        let count: u64 = alice_failed
            .iter()
            .map(|e| e["detail"]["count"].as_u64().unwrap())
            .sum();
        assert_eq!(count, 2, "{entries:?}");
        return;
    }
    assert_eq!(
        seen,
        [
            json!([
                "user:admin",
                entries[0]["actor_id"],
                "username=admin",
                "ok",
                200
            ]),
            json!(["user:alice", alice_id, "username=alice", "ok", 303]),
            json!(["user:alice", alice_id, "username=alice", "ok", 200]),
            json!(["anonymous", null, "username=mallory", "failed", 401]),
            json!(["anonymous", null, "username=alice", "failed", 401]),
        ]
    );
    assert_eq!(
        entries[4]["detail"],
        json!({"error": "bad_credentials", "count": 2})
    );
    assert_eq!(
        entries[3]["detail"],
        json!({"error": "bad_credentials", "count": 1})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_failed_sign_ins_is_counted_not_listed() {
    let app = spawn_app().await;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(app.login("alice", "wrong").await.status().as_u16());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 10);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 30);
    let admin = app.token("admin", ADMIN_PW).await;
    let (entries, _) = audit(&app, &admin, "?action=session.login").await;
    let failed: Vec<&Value> = entries
        .iter()
        .filter(|e| e["outcome"] == "failed")
        .collect();
    assert!(failed.len() <= 2, "one entry a minute: {failed:?}");
    let count: u64 = failed
        .iter()
        .map(|e| e["detail"]["count"].as_u64().unwrap())
        .sum();
    assert_eq!(count, 40);
    let newest = failed[0];
    assert_eq!(newest["target"], "username=alice");
    assert_eq!(newest["actor"], "anonymous");
    assert_eq!(newest["status"], 429, "the last answer");
    assert_eq!(newest["detail"]["error"], "too_many_attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_or_token_ever_reaches_the_audit_log() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let bob_pw = "bob-first-secret-4711";
    let bob_new_pw = "bob-second-secret-0815";
    let body = json!({ "username": "bob", "password": bob_pw, "role": "user" });
    let bob = change(
        &app,
        &admin,
        Method::POST,
        "/api/admin/users",
        Some(body),
        StatusCode::CREATED,
    )
    .await;
    let bob_path = format!("/api/admin/users/{}", bob["id"]);
    let bob_token = app.token("bob", bob_pw).await;
    let body = json!({ "password": bob_new_pw });
    change(
        &app,
        &admin,
        Method::PATCH,
        &bob_path,
        Some(body),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        app.login("bob", bob_pw).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let body = json!({ "name": "nightly", "user_id": bob["id"] });
    let api_token = change(
        &app,
        &admin,
        Method::POST,
        "/api/admin/tokens",
        Some(body),
        StatusCode::CREATED,
    )
    .await;
    let api_token = api_token["token"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/scanner/scan",
        Some(&api_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "bob's token acts as bob");
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser
        .post(format!("{}/login", app.base))
        .form(&[("username", "bob"), ("password", bob_new_pw)])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    let session = cookie
        .split(';')
        .next()
        .and_then(|c| c.split_once('='))
        .map(|(_, value)| value.to_owned())
        .unwrap();

    let secrets = [
        ADMIN_PW,
        bob_pw,
        bob_new_pw,
        admin.as_str(),
        bob_token.as_str(),
        api_token.as_str(),
        session.as_str(),
    ];
    let query = lectern_store::AuditQuery::default();
    let everything = app.store.audit(&query).await.unwrap();
    assert!(everything.entries.len() >= 8, "{everything:?}");
    let text = format!("{everything:?}");
    let (status, listing) = app.get("/api/admin/audit?limit=1000", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let listing = listing.to_string();
    for secret in secrets {
        assert!(!text.contains(secret), "{secret} in the audit table");
        assert!(!listing.contains(secret), "{secret} in the audit listing");
    }
    // Nowhere in the database files either: tokens are kept only hashed,
    // passwords only as Argon2.
    for name in ["lectern.db", "lectern.db-wal"] {
        let bytes = std::fs::read(app.dir.path().join(name)).unwrap_or_default();
        for secret in secrets {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{secret} in {name}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_filters_by_actor_action_and_time_and_pages_by_id() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let alice = app.token("alice", ALICE_PW).await;
    for name in ["g1", "g2", "g3", "g4", "g5"] {
        let body = json!({ "name": name });
        change(
            &app,
            &admin,
            Method::POST,
            "/api/admin/groups",
            Some(body),
            StatusCode::CREATED,
        )
        .await;
    }
    change(
        &app,
        &alice,
        Method::POST,
        "/api/admin/groups",
        Some(json!({"name": "x"})),
        StatusCode::FORBIDDEN,
    )
    .await;

    let mut pages = Vec::new();
    let mut query = "?action=group&actor=user:admin&limit=2".to_owned();
    loop {
        let (entries, next) = audit(&app, &admin, &query).await;
        assert!(entries.len() <= 2);
        pages.push(field(&entries, "target"));
        match next.as_i64() {
            Some(before) => {
                query = format!("?action=group&actor=user:admin&limit=2&before={before}")
            }
            None => break,
        }
    }
    let names = |ids: &[&str]| -> Vec<Value> { ids.iter().map(|s| json!(s)).collect() };
    let (all, _) = audit(&app, &admin, "?action=group.create&actor=user%3Aadmin").await;
    let targets = field(&all, "target");
    assert_eq!(targets.len(), 5);
    let t: Vec<&str> = targets.iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(
        pages,
        [names(&t[0..2]), names(&t[2..4]), names(&t[4..5])],
        "pages of two, newest first, no gaps or repeats"
    );

    // Time: since is inclusive, until exclusive, in milliseconds or RFC 3339.
    let (everything, _) = audit(&app, &admin, "").await;
    let third = all[2]["created_at"].as_i64().unwrap();
    let (since, _) = audit(&app, &admin, &format!("?since={third}&action=group.create")).await;
    assert!(
        since.len() >= 3
            && since
                .iter()
                .all(|e| e["created_at"].as_i64().unwrap() >= third)
    );
    let at = rfc3339(third);
    let (until, _) = audit(&app, &admin, &format!("?until={at}")).await;
    assert!(until
        .iter()
        .all(|e| e["created_at"].as_i64().unwrap() < third));
    assert!(!until.is_empty(), "the sign-ins came before");
    let (none, next) = audit(&app, &admin, &format!("?since={third}&until={third}")).await;
    assert_eq!((none.len(), next), (0, Value::Null));
    let (nobody, _) = audit(&app, &admin, "?actor=user:nobody").await;
    assert!(nobody.is_empty());
    let (blank, _) = audit(&app, &admin, "?actor=&action=").await;
    assert_eq!(
        blank.len(),
        everything.len(),
        "blank filters filter nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_for_admins_only_and_bad_queries_get_400() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let alice = app.token("alice", ALICE_PW).await;
    let (status, body) = app.get("/api/admin/audit", &alice).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_envelope(&body, "forbidden");
    let (status, body) = call(&app, Method::GET, "/api/admin/audit", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_envelope(&body, "unauthorized");
    let (status, body) = call(&app, Method::POST, "/api/admin/audit", Some(&admin), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_envelope(&body, "method_not_allowed");

    let long = "a".repeat(201);
    let hostile = [
        "limit=0".to_owned(),
        "limit=1001".into(),
        "limit=-1".into(),
        "limit=abc".into(),
        "limit=99999999999999999999".into(),
        "before=0".into(),
        "before=-5".into(),
        "before=x".into(),
        "since=yesterday".into(),
        "since=2024-05-01".into(),
        "since=-1".into(),
        "until=1e9".into(),
        "until=99999999999999999999999".into(),
        "since=2000&until=1000".into(),
        format!("actor={long}"),
        "action=a%00b".into(),
        "actor=%0a".into(),
        "foo=1".into(),
        "limit=1&limit=2".into(),
    ];
    for query in hostile {
        let (status, body) = app.get(&format!("/api/admin/audit?{query}"), &admin).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_envelope(&body, "bad_request");
    }
    let (status, _) = app.get("/api/admin/audit?limit=1000&since=0", &admin).await;
    assert_eq!(status, StatusCode::OK);
}
