//! The admin account API over real HTTP: users, groups and grants, API
//! tokens and settings, each against a server on port 0 with its own
//! database and a scanned demo library.

mod common;

use common::*;
use lectern_store::NewApiToken;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A request that must be refused as the client's mistake, with the envelope.
async fn expect_400(app: &TestApp, method: Method, path: &str, token: &str, body: Value) {
    let (status, answer) = call(app, method, path, Some(token), Some(body.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
    assert_envelope(&answer, "bad_request");
}

/// A request whose body is sent exactly as given, as JSON.
async fn call_raw(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: &str,
) -> (StatusCode, Value) {
    let response = app
        .req(method, path, Some(token))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn admin(app: &TestApp) -> String {
    app.token("admin", ADMIN_PW).await
}

async fn user_id(app: &TestApp, name: &str) -> i64 {
    app.store.user_login(name).await.unwrap().unwrap().0.id.0
}

async fn course_id(app: &TestApp, path: &str) -> i64 {
    let path = lectern_core::LibraryPath::parse(path).unwrap();
    app.store.course_by_path(&path).await.unwrap().unwrap().id.0
}

async fn new_user(app: &TestApp, token: &str, name: &str, password: &str, role: &str) -> Value {
    let body = json!({ "username": name, "password": password, "role": role });
    let (status, user) = call(
        app,
        Method::POST,
        "/api/admin/users",
        Some(token),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    user
}

fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_created_listed_changed_and_deleted() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let bob = new_user(&app, &admin, "bob", "bob password", "user").await;
    let id = bob["id"].as_i64().unwrap();
    assert_eq!(
        (bob["username"].as_str(), bob["role"].as_str()),
        (Some("bob"), Some("user"))
    );
    assert_eq!(bob["disabled"], false);

    let listing = app
        .req(Method::GET, "/api/admin/users", Some(&admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !listing.contains("argon2") && !listing.contains("password"),
        "{listing}"
    );
    let names: Vec<Value> = serde_json::from_str::<Vec<Value>>(&listing)
        .unwrap()
        .into_iter()
        .map(|u| u["username"].clone())
        .collect();
    assert_eq!(names, ["admin", "alice", "bob"]);
    let (status, shown) = app.get(&format!("/api/admin/users/{id}"), &admin).await;
    assert_eq!((status, &shown), (StatusCode::OK, &bob));

    let body = json!({ "username": "BOB", "password": "another one", "role": "user" });
    let (status, taken) = call(
        &app,
        Method::POST,
        "/api/admin/users",
        Some(&admin),
        Some(body),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "usernames are case-insensitive"
    );
    assert_envelope(&taken, "conflict");

    let path = format!("/api/admin/users/{id}");
    let first = app.token("bob", "bob password").await;
    let (status, promoted) = call(
        &app,
        Method::PATCH,
        &path,
        Some(&admin),
        Some(json!({ "role": "admin" })),
    )
    .await;
    assert_eq!(
        (status, promoted["role"].as_str()),
        (StatusCode::OK, Some("admin"))
    );
    assert_eq!(
        app.get("/api/scanner/status", &first).await.0,
        StatusCode::OK,
        "a role change needs no new login"
    );

    let change = json!({ "password": "bob's new password" });
    let (status, _) = call(&app, Method::PATCH, &path, Some(&admin), Some(change)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.get("/api/auth/me", &first).await.0,
        StatusCode::UNAUTHORIZED,
        "a new password ends sessions"
    );
    assert_eq!(
        app.login("bob", "bob password").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let second = app.token("bob", "bob's new password").await;

    let (status, off) = call(
        &app,
        Method::PATCH,
        &path,
        Some(&admin),
        Some(json!({ "disabled": true })),
    )
    .await;
    assert_eq!((status, &off["disabled"]), (StatusCode::OK, &json!(true)));
    assert_eq!(
        app.get("/api/auth/me", &second).await.0,
        StatusCode::UNAUTHORIZED,
        "disabling ends sessions"
    );
    assert_eq!(
        app.login("bob", "bob's new password").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = call(
        &app,
        Method::PATCH,
        &path,
        Some(&admin),
        Some(json!({ "disabled": false })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let third = app.token("bob", "bob's new password").await;

    let (status, _) = call(&app, Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/auth/me", &third).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get(&path, &admin).await.0, StatusCode::NOT_FOUND);
    let (status, gone) = call(&app, Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_envelope(&gone, "not_found");
    let (status, _) = call(
        &app,
        Method::PATCH,
        &path,
        Some(&admin),
        Some(json!({ "disabled": true })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_user_takes_their_progress_and_memberships() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let course = app.grant_alice("Design/Typography").await;
    let alice = app.token("alice", ALICE_PW).await;
    let file = app.file_named("01 About This Course.md").await;
    let (status, _) = call(
        &app,
        Method::PUT,
        &format!("/api/files/{}/progress", file.id),
        Some(&alice),
        Some(json!({ "completed": true })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let id = user_id(&app, "alice").await;
    let alice_id = lectern_store::UserId(id);
    assert_eq!(
        app.store
            .course_progress(alice_id, course)
            .await
            .unwrap()
            .len(),
        1
    );

    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/admin/users/{id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(app
        .store
        .course_progress(alice_id, course)
        .await
        .unwrap()
        .is_empty());
    let (_, groups) = app.get("/api/admin/groups", &admin).await;
    assert_eq!(groups[0]["member_count"], 0);
    assert_eq!(
        app.get("/api/auth/me", &alice).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_input_is_checked_and_nothing_is_saved_on_a_400() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let good = |name: &str| json!({ "username": name, "password": "long enough", "role": "user" });
    let mut bad = vec![
        good(""),
        good("   "),
        good(&"x".repeat(65)),
        good(&"y".repeat(100_000)),
        good("a/b"),
        good("a\\b"),
        good("a\u{1}b"),
        good("tab\there"),
        json!({ "username": "carl", "password": "short", "role": "user" }),
        json!({ "username": "carl", "password": "p".repeat(5000), "role": "user" }),
        json!({ "username": "carl", "password": "long enough", "role": "root" }),
        json!({ "username": "carl", "password": "long enough" }),
        json!({ "username": "carl", "role": "user" }),
        json!({ "username": "carl", "password": "long enough", "role": "user", "admin": true }),
        json!({ "username": 5, "password": "long enough", "role": "user" }),
        json!({ "username": "carl", "password": null, "role": "user" }),
        json!(["carl"]),
        json!(null),
    ];
    bad.push(json!({ "username": "carl", "password": "long enough", "role": ["admin"] }));
    for body in bad {
        expect_400(&app, Method::POST, "/api/admin/users", &admin, body).await;
    }
    assert_eq!(
        app.store.users().await.unwrap().len(),
        2,
        "nothing was created"
    );

    let carol = new_user(&app, &admin, "  carol ", "8 chars!", "user").await;
    assert_eq!(carol["username"], "carol", "surrounding spaces are dropped");
    let path = format!("/api/admin/users/{}", carol["id"]);
    for body in [
        json!({}),
        json!({ "password": "short" }),
        json!({ "role": "owner" }),
        json!({ "disabled": "yes" }),
        json!({ "username": "carla" }),
    ] {
        let (status, answer) =
            call(&app, Method::PATCH, &path, Some(&admin), Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_envelope(&answer, "bad_request");
    }
    assert_eq!(
        app.login("carol", "8 chars!").await.status(),
        StatusCode::OK,
        "still as created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_enabled_admin_cannot_be_demoted_disabled_or_deleted() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let path = format!("/api/admin/users/{}", user_id(&app, "admin").await);
    for change in [
        json!({ "role": "user" }),
        json!({ "disabled": true }),
        json!({ "role": "user", "disabled": true }),
    ] {
        let (status, answer) = call(
            &app,
            Method::PATCH,
            &path,
            Some(&admin),
            Some(change.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{change}");
        assert_envelope(&answer, "conflict");
    }
    let (status, answer) = call(&app, Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_envelope(&answer, "conflict");
    let (_, me) = app.get("/api/auth/me", &admin).await;
    assert_eq!(
        (me["role"].as_str(), &me["disabled"]),
        (Some("admin"), &json!(false)),
        "unchanged"
    );

    let second = new_user(&app, &admin, "second", "second password", "admin").await;
    let second_path = format!("/api/admin/users/{}", second["id"]);
    let (status, _) = call(
        &app,
        Method::PATCH,
        &second_path,
        Some(&admin),
        Some(json!({ "disabled": true })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "another enabled admin remains");
    let (status, _) = call(
        &app,
        Method::PATCH,
        &path,
        Some(&admin),
        Some(json!({ "role": "user" })),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a disabled admin does not count"
    );
    let (status, _) = call(
        &app,
        Method::PATCH,
        &second_path,
        Some(&admin),
        Some(json!({ "disabled": false })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&app, Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "an admin may remove themselves while another remains"
    );
    let second = app.token("second", "second password").await;
    let (status, _) = call(&app, Method::DELETE, &second_path, Some(&second), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_members_and_grants_have_full_crud() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let t = Some(admin.as_str());
    let (status, group) = call(
        &app,
        Method::POST,
        "/api/admin/groups",
        t,
        Some(json!({ "name": " Staff " })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    assert_eq!(
        (group["name"].as_str(), &group["member_count"]),
        (Some("Staff"), &json!(0))
    );
    let gid = group["id"].as_i64().unwrap();
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/admin/groups",
        t,
        Some(json!({ "name": "Staff" })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/admin/groups",
        t,
        Some(json!({ "name": "Beta" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/admin/groups/{gid}"),
        t,
        Some(json!({ "name": "Beta" })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, renamed) = call(
        &app,
        Method::PATCH,
        &format!("/api/admin/groups/{gid}"),
        t,
        Some(json!({ "name": "Teachers" })),
    )
    .await;
    assert_eq!(
        (status, renamed["name"].as_str()),
        (StatusCode::OK, Some("Teachers"))
    );

    let members = format!("/api/admin/groups/{gid}/members");
    let alice = user_id(&app, "alice").await;
    let (status, added) = call(
        &app,
        Method::POST,
        &members,
        t,
        Some(json!({ "user_id": alice })),
    )
    .await;
    assert_eq!(
        (status, added["username"].as_str()),
        (StatusCode::CREATED, Some("alice"))
    );
    let (status, _) = call(
        &app,
        Method::POST,
        &members,
        t,
        Some(json!({ "user_id": alice })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "already a member");
    let (status, unknown) = call(
        &app,
        Method::POST,
        &members,
        t,
        Some(json!({ "user_id": 9999 })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .contains("9999"),
        "{unknown}"
    );
    let (_, listed) = app.get(&members, &admin).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["username"], "alice");

    let grants = format!("/api/admin/groups/{gid}/grants");
    let course = course_id(&app, "Languages/Spanish A1").await;
    let (status, grant) = call(
        &app,
        Method::POST,
        &grants,
        t,
        Some(json!({ "course_id": course })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    assert_eq!(
        (grant["course_id"].as_i64(), &grant["category_id"]),
        (Some(course), &Value::Null)
    );
    assert_eq!(grant["path"], "Languages/Spanish A1");
    let (status, again) = call(
        &app,
        Method::POST,
        &grants,
        t,
        Some(json!({ "course_id": course })),
    )
    .await;
    assert_eq!(
        (status, &again["id"]),
        (StatusCode::OK, &grant["id"]),
        "the same grant"
    );
    let design = app
        .store
        .categories()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == "Design")
        .unwrap();
    let (status, by_category) = call(
        &app,
        Method::POST,
        &grants,
        t,
        Some(json!({ "category_id": design.id })),
    )
    .await;
    assert_eq!(
        (status, by_category["path"].as_str()),
        (StatusCode::CREATED, Some("Design"))
    );
    for body in [
        json!({}),
        json!({ "course_id": course, "category_id": design.id }),
        json!({ "course_id": 9999 }),
        json!({ "category_id": 9999 }),
        json!({ "course_id": "1" }),
        json!({ "course": course }),
    ] {
        let (status, answer) = call(&app, Method::POST, &grants, t, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_envelope(&answer, "bad_request");
    }

    let (status, detail) = app.get(&format!("/api/admin/groups/{gid}"), &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&detail["member_count"], &detail["grant_count"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(detail["members"][0]["username"], "alice");
    assert_eq!(detail["grants"].as_array().unwrap().len(), 2);
    let (_, list) = app.get("/api/admin/groups", &admin).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Beta", "Teachers"]);

    let one_grant = format!("{grants}/{}", grant["id"]);
    let (status, _) = call(&app, Method::DELETE, &one_grant, t, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, Method::DELETE, &one_grant, t, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, left) = app.get(&grants, &admin).await;
    assert_eq!(left.as_array().unwrap().len(), 1);
    let one_member = format!("{members}/{alice}");
    let (status, _) = call(&app, Method::DELETE, &one_member, t, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, Method::DELETE, &one_member, t, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let group_path = format!("/api/admin/groups/{gid}");
    let (status, _) = call(&app, Method::DELETE, &group_path, t, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for (method, path, body) in [
        (Method::GET, group_path.clone(), None),
        (Method::DELETE, group_path.clone(), None),
        (
            Method::PATCH,
            group_path.clone(),
            Some(json!({ "name": "x" })),
        ),
        (Method::GET, members.clone(), None),
        (
            Method::POST,
            members.clone(),
            Some(json!({ "user_id": alice })),
        ),
        (Method::GET, grants.clone(), None),
        (
            Method::POST,
            grants.clone(),
            Some(json!({ "course_id": course })),
        ),
        (
            Method::DELETE,
            format!("{grants}/{}", by_category["id"]),
            None,
        ),
    ] {
        let (status, answer) = call(&app, method.clone(), &path, t, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_envelope(&answer, "not_found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_given_through_the_api_shows_the_course_to_alice_until_removed() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let t = Some(admin.as_str());
    let alice = app.token("alice", ALICE_PW).await;
    let course = course_id(&app, "Design/Typography").await;
    let course_path = format!("/api/courses/{course}");
    assert_eq!(app.get(&course_path, &alice).await.0, StatusCode::NOT_FOUND);
    let (_, categories) = app.get("/api/categories", &alice).await;
    assert_eq!(categories, json!([]));

    let (_, group) = call(
        &app,
        Method::POST,
        "/api/admin/groups",
        t,
        Some(json!({ "name": "designers" })),
    )
    .await;
    let gid = group["id"].as_i64().unwrap();
    let alice_id = user_id(&app, "alice").await;
    let members = format!("/api/admin/groups/{gid}/members");
    call(
        &app,
        Method::POST,
        &members,
        t,
        Some(json!({ "user_id": alice_id })),
    )
    .await;
    let grants = format!("/api/admin/groups/{gid}/grants");
    let (status, grant) = call(
        &app,
        Method::POST,
        &grants,
        t,
        Some(json!({ "course_id": course })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, shown) = app.get(&course_path, &alice).await;
    assert_eq!(
        (status, shown["name"].as_str()),
        (StatusCode::OK, Some("Typography"))
    );
    let (_, categories) = app.get("/api/categories", &alice).await;
    assert_eq!(categories[0]["name"], "Design");
    assert_eq!(categories.as_array().unwrap().len(), 1);

    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("{grants}/{}", grant["id"]),
        t,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&course_path, &alice).await.0,
        StatusCode::NOT_FOUND,
        "hidden again"
    );

    call(
        &app,
        Method::POST,
        &grants,
        t,
        Some(json!({ "course_id": course })),
    )
    .await;
    assert_eq!(app.get(&course_path, &alice).await.0, StatusCode::OK);
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("{members}/{alice_id}"),
        t,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&course_path, &alice).await.0,
        StatusCode::NOT_FOUND,
        "no longer a member"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_token_works_like_a_login_until_it_is_deleted() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let t = Some(admin.as_str());
    let (status, made) = call(
        &app,
        Method::POST,
        "/api/admin/tokens",
        t,
        Some(json!({ "name": "nightly scan" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let token = made["token"].as_str().unwrap().to_owned();
    assert_eq!(
        made["user_id"].as_i64(),
        Some(user_id(&app, "admin").await),
        "the caller by default"
    );
    assert_eq!(
        (&made["expires_at"], made["name"].as_str()),
        (&Value::Null, Some("nightly scan"))
    );

    let (status, scanner) = app.get("/api/scanner/status", &token).await;
    assert_eq!(
        (status, &scanner["running"]),
        (StatusCode::OK, &json!(false))
    );
    let listing = app
        .req(Method::GET, "/api/admin/tokens", t)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !listing.contains(&token) && !listing.contains(&sha256_hex(&token)),
        "{listing}"
    );
    let listed: Value = serde_json::from_str(&listing).unwrap();
    assert_eq!(listed[0]["id"], made["id"]);
    assert!(listed[0].get("token").is_none());
    assert!(
        listed[0]["last_used_at"].as_i64().is_some(),
        "its use is recorded"
    );

    let out = app
        .req(Method::POST, "/api/auth/logout", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/scanner/status", &token).await.0,
        StatusCode::OK,
        "logout keeps the token"
    );

    let path = format!("/api/admin/tokens/{}", made["id"]);
    let (status, _) = call(&app, Method::DELETE, &path, t, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, answer) = app.get("/api/scanner/status", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "stops at once");
    assert_envelope(&answer, "unauthorized");
    let (status, _) = call(&app, Method::DELETE, &path, t, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = app.get("/api/admin/tokens", &admin).await;
    assert_eq!(listed, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_carries_its_owners_rights_and_dies_with_their_access() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let t = Some(admin.as_str());
    let alice_id = user_id(&app, "alice").await;
    let body = json!({ "name": "alice's reader", "user_id": alice_id, "expires_in_days": 1 });
    let (status, made) = call(&app, Method::POST, "/api/admin/tokens", t, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let day = 24 * 3600 * 1000;
    let expires_at = made["expires_at"].as_i64().unwrap();
    assert!(
        (expires_at - lectern_store::now_ms() - day).abs() < 60_000,
        "{made}"
    );
    let token = made["token"].as_str().unwrap();
    let (status, me) = app.get("/api/auth/me", token).await;
    assert_eq!(
        (status, me["username"].as_str()),
        (StatusCode::OK, Some("alice"))
    );
    assert_eq!(
        app.get("/api/scanner/status", token).await.0,
        StatusCode::FORBIDDEN
    );

    let alice_path = format!("/api/admin/users/{alice_id}");
    call(
        &app,
        Method::PATCH,
        &alice_path,
        t,
        Some(json!({ "disabled": true })),
    )
    .await;
    assert_eq!(
        app.get("/api/auth/me", token).await.0,
        StatusCode::UNAUTHORIZED,
        "owner disabled"
    );
    let body = json!({ "name": "x", "user_id": alice_id });
    let (status, refused) = call(&app, Method::POST, "/api/admin/tokens", t, Some(body)).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "no new token for a disabled user"
    );
    assert_envelope(&refused, "bad_request");
    call(
        &app,
        Method::PATCH,
        &alice_path,
        t,
        Some(json!({ "disabled": false })),
    )
    .await;
    assert_eq!(
        app.get("/api/auth/me", token).await.0,
        StatusCode::OK,
        "enabled again"
    );
    call(
        &app,
        Method::PATCH,
        &alice_path,
        t,
        Some(json!({ "password": "a brand new one" })),
    )
    .await;
    assert_eq!(
        app.get("/api/auth/me", token).await.0,
        StatusCode::OK,
        "a token is not a session"
    );
    call(&app, Method::DELETE, &alice_path, t, None).await;
    assert_eq!(
        app.get("/api/auth/me", token).await.0,
        StatusCode::UNAUTHORIZED,
        "owner deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_gets_401() {
    let app = spawn_app().await;
    let admin_id = lectern_store::UserId(user_id(&app, "admin").await);
    let token = "a token that expired a moment ago";
    let expired = NewApiToken {
        name: "old".into(),
        user_id: admin_id,
        token_hash: sha256_hex(token),
        csrf_token: "unused".into(),
        expires_at: Some(lectern_store::now_ms() - 1),
    };
    app.store.create_api_token(&expired).await.unwrap();
    let (status, answer) = app.get("/api/scanner/status", token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_envelope(&answer, "unauthorized");

    let live = "a token that expires in a minute";
    let fresh = NewApiToken {
        token_hash: sha256_hex(live),
        expires_at: Some(lectern_store::now_ms() + 60_000),
        ..expired
    };
    app.store.create_api_token(&fresh).await.unwrap();
    assert_eq!(
        app.get("/api/scanner/status", live).await.0,
        StatusCode::OK,
        "the same path works before expiry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_requests_are_checked() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    for body in [
        json!({}),
        json!({ "name": "" }),
        json!({ "name": "  " }),
        json!({ "name": "z".repeat(101) }),
        json!({ "name": "a\u{7}b" }),
        json!({ "name": "ok", "user_id": 9999 }),
        json!({ "name": "ok", "user_id": "1" }),
        json!({ "name": "ok", "expires_in_days": 0 }),
        json!({ "name": "ok", "expires_in_days": -1 }),
        json!({ "name": "ok", "expires_in_days": 36_501 }),
        json!({ "name": "ok", "expires_in_days": 1.5 }),
        json!({ "name": "ok", "expires_in_days": 1e30 }),
        json!({ "name": "ok", "token": "chosen by me" }),
    ] {
        expect_400(&app, Method::POST, "/api/admin/tokens", &admin, body).await;
    }
    assert!(
        app.store.api_tokens().await.unwrap().is_empty(),
        "nothing was made"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_check_the_root_and_open_the_library() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let t = Some(admin.as_str());
    let (status, settings) = app.get("/api/admin/settings", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let effective = app.root.to_str().unwrap();
    assert_eq!(
        settings,
        json!({
            "root_path": null, "effective_root": effective, "root_overridden": true,
            "library_open": false, "schedule": "0 2 * * *",
            "retention": { "daily": 7, "weekly": 4, "monthly": 12 },
            "drill": "0 3 1 * *",
            "health": { "thresholds": null, "alerts_off": [] },
        })
    );

    let a_file = app.root.join("Design/Typography/README.md");
    let missing = app.dir.path().join("no such folder");
    for root in [
        json!("relative/path"),
        json!(""),
        json!(missing.to_str().unwrap()),
        json!(a_file.to_str().unwrap()),
        json!(format!("{}\u{0}", app.root.display())),
        json!(format!("/{}", "d".repeat(100_000))),
        json!(7),
        json!(["/"]),
    ] {
        let body = json!({ "root_path": root, "library_open": true });
        let (status, answer) = call(
            &app,
            Method::PUT,
            "/api/admin/settings",
            t,
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_envelope(&answer, "bad_request");
    }
    for body in [
        json!({}),
        json!({ "library_open": "yes" }),
        json!({ "theme": "dark" }),
    ] {
        let (status, _) = call(
            &app,
            Method::PUT,
            "/api/admin/settings",
            t,
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    assert_eq!(
        app.get("/api/admin/settings", &admin).await.1,
        settings,
        "nothing was saved"
    );

    let new_root = app.dir.path().join("other library");
    std::fs::create_dir(&new_root).unwrap();
    let body = json!({ "root_path": new_root.to_str().unwrap() });
    let (status, saved) = call(&app, Method::PUT, "/api/admin/settings", t, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["root_path"].as_str(), new_root.to_str());
    assert_eq!(
        saved["effective_root"].as_str(),
        Some(effective),
        "the override still wins"
    );
    assert_eq!(app.get("/api/admin/settings", &admin).await.1, saved);

    let alice = app.token("alice", ALICE_PW).await;
    assert_eq!(app.get("/api/categories", &alice).await.1, json!([]));
    let (status, opened) = call(
        &app,
        Method::PUT,
        "/api/admin/settings",
        t,
        Some(json!({ "library_open": true })),
    )
    .await;
    assert_eq!(
        (status, &opened["library_open"]),
        (StatusCode::OK, &json!(true))
    );
    assert_eq!(opened["root_path"], saved["root_path"], "untouched");
    let (_, everything) = app.get("/api/categories", &alice).await;
    assert_eq!(everything.as_array().unwrap().len(), 3, "{everything}");
    call(
        &app,
        Method::PUT,
        "/api/admin/settings",
        t,
        Some(json!({ "library_open": false })),
    )
    .await;
    assert_eq!(
        app.get("/api/categories", &alice).await.1,
        json!([]),
        "closed again"
    );
}

/// Every route this API adds, with a body that would be valid.
fn admin_routes() -> Vec<(Method, &'static str, Option<Value>)> {
    let name = || Some(json!({ "name": "n" }));
    vec![
        (Method::GET, "/api/admin/users", None),
        (
            Method::POST,
            "/api/admin/users",
            Some(json!({ "username": "u", "password": "long enough", "role": "user" })),
        ),
        (Method::GET, "/api/admin/users/1", None),
        (
            Method::PATCH,
            "/api/admin/users/2",
            Some(json!({ "disabled": true })),
        ),
        (Method::DELETE, "/api/admin/users/2", None),
        (Method::GET, "/api/admin/groups", None),
        (Method::POST, "/api/admin/groups", name()),
        (Method::GET, "/api/admin/groups/1", None),
        (Method::PATCH, "/api/admin/groups/1", name()),
        (Method::DELETE, "/api/admin/groups/1", None),
        (Method::GET, "/api/admin/groups/1/members", None),
        (
            Method::POST,
            "/api/admin/groups/1/members",
            Some(json!({ "user_id": 2 })),
        ),
        (Method::DELETE, "/api/admin/groups/1/members/2", None),
        (Method::GET, "/api/admin/groups/1/grants", None),
        (
            Method::POST,
            "/api/admin/groups/1/grants",
            Some(json!({ "course_id": 1 })),
        ),
        (Method::DELETE, "/api/admin/groups/1/grants/1", None),
        (Method::GET, "/api/admin/tokens", None),
        (Method::POST, "/api/admin/tokens", name()),
        (Method::DELETE, "/api/admin/tokens/1", None),
        (Method::GET, "/api/admin/settings", None),
        (
            Method::PUT,
            "/api/admin/settings",
            Some(json!({ "library_open": true })),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_gets_401_and_a_user_403_on_every_admin_route() {
    let app = spawn_app().await;
    app.grant_alice("Design/Typography").await;
    let alice = app.token("alice", ALICE_PW).await;
    for (method, path, body) in admin_routes() {
        let (status, answer) = call(&app, method.clone(), path, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_envelope(&answer, "unauthorized");
        let (status, answer) = call(
            &app,
            method.clone(),
            path,
            Some("not a token"),
            body.clone(),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a bad token"
        );
        assert_envelope(&answer, "unauthorized");
        let (status, answer) = call(&app, method.clone(), path, Some(&alice), body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_envelope(&answer, "forbidden");
        if body.is_some() {
            let (status, _) = call_raw(&app, method.clone(), path, &alice, "{").await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{method} {path}: who asks is checked before the body"
            );
        }
    }
    let (status, _) = app.get("/api/auth/me", &alice).await;
    assert_eq!(status, StatusCode::OK, "alice's session survived it all");
    assert_eq!(app.store.users().await.unwrap().len(), 2);
    assert_eq!(app.store.groups().await.unwrap().len(), 1);
    assert!(!lectern_store::settings::library_open(app.store.as_ref())
        .await
        .unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_and_paths_get_4xx_never_500() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let (_, group) = call(
        &app,
        Method::POST,
        "/api/admin/groups",
        Some(&admin),
        Some(json!({ "name": "g" })),
    )
    .await;
    assert_eq!(group["id"], 1);
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let hostile = [
        "{",
        "",
        "null",
        "[]",
        "\"text\"",
        "{\"name\":}",
        "{\"name\": \"\\ud800\"}",
        deep.as_str(),
        "{\"username\":{\"$gt\":\"\"},\"password\":[],\"role\":1,\"name\":{},\"user_id\":1e999}",
    ];
    for (method, path, _) in admin_routes()
        .into_iter()
        .filter(|(_, _, body)| body.is_some())
    {
        for body in hostile {
            let (status, answer) = call_raw(&app, method.clone(), path, &admin, body).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{method} {path} {:.40}",
                body
            );
            assert_envelope(&answer, "bad_request");
        }
        let response = app
            .req(method.clone(), path, Some(&admin))
            .body("{\"name\":\"n\"}")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{method} {path} without a JSON content type"
        );
    }
    for (method, path, body) in huge_bodies() {
        let (status, answer) = call_raw(&app, method.clone(), path, &admin, &body).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{method} {path} {:.40}",
            body
        );
        assert_envelope(&answer, "bad_request");
    }
    // Past the 2 MiB body limit the server answers before reading it all and
    // may close the connection while the client still sends; if an answer
    // arrives, it is a 413 with the envelope.
    let too_big = format!("{{\"name\":\"{}\"}}", "h".repeat(3 * 1024 * 1024));
    // A client of its own, so that the closed connection is not reused.
    let once = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let sent = once
        .post(format!("{}/api/admin/groups", app.base))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(too_big)
        .send()
        .await;
    if let Ok(response) = sent {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_envelope(&response.json().await.unwrap(), "too_large");
    }
    for path in [
        "/api/admin/users/abc",
        "/api/admin/users/99999999999999999999999",
        "/api/admin/users/-1",
        "/api/admin/groups/1.5",
        "/api/admin/groups/%FF",
        "/api/admin/groups/1/members/x",
        "/api/admin/groups/x/grants/1",
        "/api/admin/tokens/%00",
    ] {
        for method in [Method::GET, Method::DELETE] {
            let (status, answer) = call(&app, method.clone(), path, Some(&admin), None).await;
            assert!(
                status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {status}"
            );
            if status == StatusCode::NOT_FOUND {
                assert_envelope(&answer, "not_found");
            }
        }
    }
    assert_eq!(app.store.users().await.unwrap().len(), 2, "nothing changed");
    assert_eq!(app.store.groups().await.unwrap()[0].name, "g");
}

/// Megabyte-long strings and numbers in each field, inside the body limit:
/// each is read in full and refused.
fn huge_bodies() -> Vec<(Method, &'static str, String)> {
    let long = "h".repeat(1024 * 1024);
    let digits = "9".repeat(1024 * 1024);
    let number = |key: &str| format!("{{\"{key}\":{digits}}}");
    vec![
        (
            Method::POST,
            "/api/admin/users",
            json!({ "username": long, "password": "long enough", "role": "user" }).to_string(),
        ),
        (
            Method::POST,
            "/api/admin/users",
            json!({ "username": "u", "password": long, "role": "user" }).to_string(),
        ),
        (
            Method::POST,
            "/api/admin/users",
            json!({ "username": "u", "password": "long enough", "role": long }).to_string(),
        ),
        (
            Method::PATCH,
            "/api/admin/users/2",
            json!({ "password": long }).to_string(),
        ),
        (
            Method::POST,
            "/api/admin/groups",
            json!({ "name": long }).to_string(),
        ),
        (
            Method::PATCH,
            "/api/admin/groups/1",
            json!({ "name": long }).to_string(),
        ),
        (
            Method::POST,
            "/api/admin/groups/1/members",
            number("user_id"),
        ),
        (
            Method::POST,
            "/api/admin/groups/1/grants",
            number("course_id"),
        ),
        (
            Method::POST,
            "/api/admin/tokens",
            json!({ "name": long }).to_string(),
        ),
        (
            Method::POST,
            "/api/admin/tokens",
            format!("{{\"name\":\"n\",\"expires_in_days\":{digits}}}"),
        ),
        (
            Method::PUT,
            "/api/admin/settings",
            json!({ "root_path": format!("/{long}") }).to_string(),
        ),
    ]
}
