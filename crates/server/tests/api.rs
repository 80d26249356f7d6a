//! The JSON API over real HTTP: a server on port 0 with its own database and
//! a scanned demo library.

mod common;

use common::*;
use lectern_store::{FileRecord, FileRole};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_gives_a_working_token_and_logout_ends_it() {
    let app = spawn_app().await;
    let response = app.login("ALICE", ALICE_PW).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "usernames are case-insensitive"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["username"], "alice");
    assert!(body["expires_at"].as_i64().unwrap() > lectern_store::now_ms());
    assert!(body["user"].get("password_hash").is_none());
    let token = body["token"].as_str().unwrap();

    let me = app
        .req(Method::GET, "/api/auth/me", Some(token))
        .send()
        .await
        .unwrap();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "SAMEORIGIN"),
        ("referrer-policy", "same-origin"),
    ] {
        assert_eq!(me.headers()[name], value, "security header {name}");
    }
    let (status, me) = app.get("/api/auth/me", token).await;
    assert_eq!(
        (status, me["role"].as_str()),
        (StatusCode::OK, Some("user"))
    );
    let out = app
        .req(Method::POST, "/api/auth/logout", Some(token))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let (status, body) = app.get("/api/auth/me", token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_envelope(&body, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_wrong_passwords_lock_that_account_at_that_address_and_no_other_account() {
    let app = spawn_app().await;
    for _ in 0..10 {
        let response = app.login("alice", "wrong").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_envelope(&response.json().await.unwrap(), "bad_credentials");
    }
    let response = app.login("alice", ALICE_PW).await;
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password, for now: alice is under attack from here"
    );
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_envelope(&response.json().await.unwrap(), "too_many_attempts");
    // The same address, other accounts: not limited by alice's failures.
    assert_eq!(
        app.login("nobody-here", "x").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.login("admin", ADMIN_PW).await.status(), StatusCode::OK);
}

/// A server that trusts the test client (127.0.0.1) as its reverse proxy,
/// so that `X-Forwarded-For` gives each request the address it names.
async fn behind_a_proxy() -> TestApp {
    spawn_app_with(|options, _| {
        options.trusted_proxies = lectern_server::parse_trusted_proxies(&["127.0.0.1"]).unwrap();
    })
    .await
}

async fn login_from(app: &TestApp, address: &str, user: &str, password: &str) -> StatusCode {
    app.http
        .post(format!("{}/api/auth/login", app.base))
        .header("x-forwarded-for", address)
        .json(&json!({ "username": user, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_failing_for_admin_elsewhere_never_keeps_admin_out() {
    let app = behind_a_proxy().await;
    let home = "192.0.2.10";
    assert_eq!(
        login_from(&app, home, "admin", ADMIN_PW).await,
        StatusCode::OK
    );
    // Ten failures from one address: that address is limited for admin.
    for _ in 0..10 {
        let status = login_from(&app, "203.0.113.1", "admin", "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let status = login_from(&app, "203.0.113.1", "admin", ADMIN_PW).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // A correct password from an address with no failures: signed in.
    let status = login_from(&app, "198.51.100.1", "admin", ADMIN_PW).await;
    assert_eq!(status, StatusCode::OK, "a new address, not attacking admin");
    // A guess spread over many addresses (with the ten above, twenty): the
    // account backs off for addresses it does not know, never for its
    // known-good ones.
    for i in 0..10 {
        let status = login_from(&app, &format!("203.0.113.{}", 100 + i), "admin", "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let status = login_from(&app, "203.0.113.200", "admin", ADMIN_PW).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "unknown address, account under attack"
    );
    for known in [home, "198.51.100.1"] {
        assert_eq!(
            login_from(&app, known, "admin", ADMIN_PW).await,
            StatusCode::OK,
            "{known}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    let app = spawn_app().await;
    for i in 0..10 {
        let status = login_from(&app, &format!("203.0.113.{i}"), "alice", "wrong").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let status = login_from(&app, "198.51.100.1", "alice", ALICE_PW).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "every request came from 127.0.0.1, whatever the header said"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_passwords_are_counted_before_any_is_hashed() {
    let app = spawn_app().await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (http, url) = (app.http.clone(), format!("{}/api/auth/login", app.base));
            tokio::spawn(async move {
                let body = json!({ "username": "alice", "password": "wrong" });
                let response = http.post(url).json(&body).send().await.unwrap();
                let retry = response.headers().contains_key("retry-after");
                (response.status(), retry)
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let unauthorized = statuses
        .iter()
        .filter(|s| s.0 == StatusCode::UNAUTHORIZED)
        .count();
    let limited: Vec<_> = statuses
        .iter()
        .filter(|s| s.0 == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    // Ten pass the limits; on a slow machine one may still time out in
    // the hashing queue, and gets 429 too.
    assert!((1..=10).contains(&unauthorized), "{statuses:?}");
    assert_eq!(unauthorized + limited.len(), 100, "{statuses:?}");
    assert!(limited.iter().all(|s| s.1), "every 429 says when to retry");
    assert_eq!(app.login("admin", ADMIN_PW).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_gets_401_and_a_user_gets_403_on_admin_routes() {
    let app = spawn_app().await;
    let alice = app.token("alice", ALICE_PW).await;
    let user_routes = [
        (Method::GET, "/api/auth/me"),
        (Method::GET, "/api/categories"),
        (Method::GET, "/api/categories/1"),
        (Method::GET, "/api/courses/1"),
        (Method::GET, "/api/files/1"),
        (Method::GET, "/api/files/1/content"),
        (Method::PUT, "/api/files/1/progress"),
        (Method::POST, "/api/auth/logout"),
    ];
    let admin_routes = [
        (Method::POST, "/api/scanner/scan"),
        (Method::POST, "/api/scanner/rescan/1"),
        (Method::POST, "/api/scanner/cleanup"),
        (Method::GET, "/api/scanner/status"),
        (Method::POST, "/api/scanner/abort"),
        (Method::GET, "/api/scanner/history"),
        (Method::GET, "/api/scanner/history/1"),
    ];
    for (method, path) in user_routes.iter().chain(&admin_routes) {
        let response = app.req(method.clone(), path, None).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert_envelope(&response.json().await.unwrap(), "unauthorized");
    }
    let bogus = app
        .req(Method::GET, "/api/categories", Some("not-a-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), StatusCode::UNAUTHORIZED);
    for (method, path) in &admin_routes {
        let response = app
            .req(method.clone(), path, Some(&alice))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
        assert_envelope(&response.json().await.unwrap(), "forbidden");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_sees_only_what_is_granted_and_nothing_else_leaks() {
    let app = spawn_app().await;
    let alice = app.token("alice", ALICE_PW).await;
    let admin = app.token("admin", ADMIN_PW).await;
    let (_, none) = app.get("/api/categories", &alice).await;
    assert_eq!(none, json!([]), "no grant, nothing listed");

    let granted = app.grant_alice("Languages/German A1").await;
    let (_, listed) = app.get("/api/categories", &alice).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        (
            listed[0]["name"].as_str(),
            listed[0]["course_count"].as_u64()
        ),
        (Some("Languages"), Some(1))
    );
    let category = listed[0]["id"].as_i64().unwrap();
    let (_, detail) = app
        .get(&format!("/api/categories/{category}"), &alice)
        .await;
    let names: Vec<&str> = detail["courses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["German A1"]);
    let (status, _) = app
        .get(&format!("/api/courses/{}", granted.0), &alice)
        .await;
    assert_eq!(status, StatusCode::OK);

    let hidden: Vec<FileRecord> = app
        .files()
        .await
        .into_iter()
        .filter(|f| f.course_id != granted)
        .collect();
    for f in &hidden {
        for path in [
            format!("/api/files/{}", f.id),
            format!("/api/files/{}/content", f.id),
            format!("/api/courses/{}", f.course_id),
        ] {
            let response = app
                .req(Method::GET, &path, Some(&alice))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            let text = response.text().await.unwrap();
            assert!(
                !text.contains(&f.name) && !text.contains(&f.sha256.to_hex()),
                "{path} leaked: {text}"
            );
        }
    }
    let (_, all) = app.get("/api/categories", &admin).await;
    assert_eq!(all.as_array().unwrap().len(), 3, "admins see everything");

    app.store
        .set_setting(lectern_store::settings::LIBRARY_OPEN, "true")
        .await
        .unwrap();
    let (_, open) = app.get("/api/categories", &alice).await;
    assert_eq!(
        open.as_array().unwrap().len(),
        3,
        "an open library shows everything"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_honours_ranges_etags_and_head() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let file = app.file_named("01 Hallo.wav").await;
    let bytes = std::fs::read(file.path.to_path(&app.root)).unwrap();
    let path = format!("/api/files/{}/content", file.id);
    let etag = format!("\"{}\"", file.sha256);

    let full = app
        .req(Method::GET, &path, Some(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(full.status(), StatusCode::OK);
    assert_eq!(full.headers()["etag"], etag.as_str());
    assert_eq!(full.headers()["content-type"], "audio/wav");
    assert!(full.headers().contains_key("last-modified"));
    assert_eq!(full.bytes().await.unwrap().as_ref(), &bytes[..]);

    let n = bytes.len();
    for (range, want) in [
        ("bytes=0-9".to_owned(), &bytes[0..10]),
        (
            format!("bytes={}-{}", n / 2, n / 2 + 99),
            &bytes[n / 2..n / 2 + 100],
        ),
        ("bytes=-16".to_owned(), &bytes[n - 16..]),
    ] {
        let part = app
            .req(Method::GET, &path, Some(&admin))
            .header("range", &range)
            .send()
            .await
            .unwrap();
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(part.bytes().await.unwrap().as_ref(), want, "{range}");
    }
    let beyond = app
        .req(Method::GET, &path, Some(&admin))
        .header("range", format!("bytes={}-", n + 10))
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(beyond.headers()["content-range"], format!("bytes */{n}"));
    assert_envelope(&beyond.json().await.unwrap(), "range_not_satisfiable");

    let cached = app
        .req(Method::GET, &path, Some(&admin))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert!(cached.bytes().await.unwrap().is_empty());
    let other = app
        .req(Method::GET, &path, Some(&admin))
        .header("range", "bytes=0-9")
        .header("if-range", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        StatusCode::OK,
        "a range of another version is not sent"
    );
    let head = app
        .req(Method::HEAD, &path, Some(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], n.to_string().as_str());
    assert!(head.bytes().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_changed_since_the_scan_is_served_without_the_stale_hash() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let file = app.file_named("02 Why Rust.txt").await;
    std::fs::write(file.path.to_path(&app.root), "rewritten since the scan").unwrap();
    let response = app
        .req(
            Method::GET,
            &format!("/api/files/{}/content", file.id),
            Some(&admin),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!response.headers().contains_key("etag"));
    assert_eq!(response.text().await.unwrap(), "rewritten since the scan");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_from_the_library_downloads_inside_a_sandbox() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let file = app.file_named("01 Report Preview.html").await;
    let response = app
        .req(
            Method::GET,
            &format!("/api/files/{}/content", file.id),
            Some(&admin),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-disposition"], "attachment");
    assert!(response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_kept_and_counted_in_the_course() {
    let app = spawn_app().await;
    let course = app.grant_alice("Design/Typography").await;
    let alice = app.token("alice", ALICE_PW).await;
    let lesson = app
        .files()
        .await
        .into_iter()
        .find(|f| f.course_id == course && f.role == FileRole::Material)
        .unwrap();
    let put = |body: Value| {
        app.req(
            Method::PUT,
            &format!("/api/files/{}/progress", lesson.id),
            Some(&alice),
        )
        .json(&body)
        .send()
    };

    let saved = put(json!({ "position_seconds": 12.5 })).await.unwrap();
    assert_eq!(saved.status(), StatusCode::OK);
    let saved = put(json!({ "completed": true })).await.unwrap();
    let body: Value = saved.json().await.unwrap();
    assert_eq!(
        (
            body["completed"].as_bool(),
            body["position_seconds"].as_f64()
        ),
        (Some(true), Some(12.5))
    );

    let (_, detail) = app.get(&format!("/api/courses/{}", course.0), &alice).await;
    let progress = &detail["progress"];
    assert_eq!(progress["completed"], 1);
    let total = progress["total"].as_f64().unwrap();
    assert_eq!(
        progress["percent"].as_f64().unwrap(),
        (1000.0 / total).round() / 10.0
    );
    let tree = detail["tree"].to_string();
    assert!(
        tree.contains("\"folder\"") && tree.contains(&lesson.name),
        "{tree}"
    );

    for bad in [
        json!({}),
        json!({ "position_seconds": -1 }),
        json!({ "completed": "yes" }),
        json!({ "other": 1 }),
    ] {
        let response = put(bad.clone()).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_envelope(&response.json().await.unwrap(), "bad_request");
    }
    let garbage = app
        .req(
            Method::PUT,
            &format!("/api/files/{}/progress", lesson.id),
            Some(&alice),
        )
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_run_in_the_background_and_a_held_lock_answers_409() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    std::fs::write(
        app.root.join("Design/Typography/2 Basics/03 New.md"),
        "# New",
    )
    .unwrap();
    let started = app
        .req(Method::POST, "/api/scanner/scan", Some(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let id = started.json::<Value>().await.unwrap()["scan_id"]
        .as_i64()
        .unwrap();
    // `running` in the status is the signal: true from the 202 until the
    // scan has recorded its end and let go of the lock.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, status) = app.get("/api/scanner/status", &admin).await;
        if status["running"] == false {
            break;
        }
        assert_eq!(status["scan_id"], id, "{status}");
        assert!(std::time::Instant::now() < deadline, "the scan never ended");
        tokio::task::yield_now().await;
    }
    let (_, record) = app.get(&format!("/api/scanner/history/{id}"), &admin).await;
    assert_eq!(
        (
            record["scan"]["status"].as_str(),
            record["scan"]["added"].as_u64()
        ),
        (Some("completed"), Some(1))
    );
    let now = lectern_store::now_ms();
    let held = lectern_store::LockInfo {
        operation: "backup".into(),
        owner: lectern_store::lock::this_process("test"),
        token: "held-by-test".into(),
        acquired_at: now,
        expires_at: now + 60_000,
    };
    assert!(app.store.swap_lock(None, &held).await.unwrap());
    let busy = app
        .req(Method::POST, "/api/scanner/scan", Some(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(busy.status(), StatusCode::CONFLICT);
    assert_envelope(&busy.json().await.unwrap(), "conflict");
    let rescan_unknown = app
        .req(Method::POST, "/api/scanner/rescan/99999", Some(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(rescan_unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_ids_get_the_error_envelope() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    for path in [
        "/api/nothing-here",
        "/api/courses/99999",
        "/api/files/99999",
        "/api/categories/99999",
    ] {
        let (status, body) = app.get(path, &admin).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_envelope(&body, "not_found");
    }
    // Not an id names nothing.
    let (status, body) = app.get("/api/files/not-a-number", &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_envelope(&body, "not_found");
    let (status, body) = app.get("/api/scanner/scan", &admin).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_envelope(&body, "method_not_allowed");
    let response = app
        .req(Method::POST, "/api/scanner/scan?verify=maybe", Some(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_envelope(&response.json().await.unwrap(), "bad_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renamed_course_and_category_folders_keep_grants_and_progress() {
    let app = spawn_app().await;
    let course = app.grant_alice("Design/Typography").await;
    let alice = app.token("alice", ALICE_PW).await;
    let lesson = app
        .files()
        .await
        .into_iter()
        .find(|f| f.course_id == course && f.role == FileRole::Material)
        .unwrap();
    let saved = app
        .req(
            Method::PUT,
            &format!("/api/files/{}/progress", lesson.id),
            Some(&alice),
        )
        .json(&json!({ "completed": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::OK);
    // A grant on a whole category, too.
    let languages = app
        .store
        .categories()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == "Languages")
        .unwrap();
    let group = app.store.groups().await.unwrap()[0].id;
    app.store
        .add_grant(group, lectern_store::Grant::Category(languages.id))
        .await
        .unwrap();

    std::fs::rename(
        app.root.join("Design/Typography"),
        app.root.join("Design/Typography (2nd ed.)"),
    )
    .unwrap();
    std::fs::rename(
        app.root.join("Languages"),
        app.root.join("Languages and Linguistics"),
    )
    .unwrap();
    app.rescan().await;

    let (status, detail) = app.get(&format!("/api/courses/{}", course.0), &alice).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the granted course is still open to alice"
    );
    assert_eq!(detail["name"], "Typography (2nd ed.)");
    let (status, file) = app.get(&format!("/api/files/{}", lesson.id), &alice).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(file["path"], lesson.path_in_course().as_ref());
    assert_eq!(
        detail["progress"]["completed"], 1,
        "alice's progress is kept"
    );
    let (_, listed) = app.get("/api/categories", &alice).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Design", "Languages and Linguistics"],
        "the category grant follows its folder"
    );
    let renamed = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Languages and Linguistics")
        .unwrap();
    assert_eq!(renamed["id"], languages.id.0);
}

/// Names that are not UTF-8, or hold a newline, are served like any other:
/// listed in their course, shown on its page, downloaded byte-equal and
/// found by search; two names that differ only in their odd bytes (and so
/// show alike) stay two files, told apart by `raw_name`.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_name_is_listed_shown_downloaded_byte_equal_and_searched() {
    use std::os::unix::ffi::OsStrExt;
    let app = spawn_app().await;
    let folder = app.root.join("Design/Typography/Odd names");
    std::fs::create_dir_all(&folder).unwrap();
    let shown_alike = "Kerning \u{fffd}t\u{fffd}.txt";
    let names: [(&[u8], &str, Option<&str>); 3] = [
        (
            b"Kerning \xe9t\xe9.txt",
            shown_alike,
            Some("Kerning %E9t%E9.txt"),
        ),
        (
            b"Kerning \xe9t\xff.txt",
            shown_alike,
            Some("Kerning %E9t%FF.txt"),
        ),
        (b"Kerning\nnewline.txt", "Kerning\nnewline.txt", None),
    ];
    for (i, (name, ..)) in names.iter().enumerate() {
        let path = folder.join(std::ffi::OsStr::from_bytes(name));
        std::fs::write(path, format!("the bytes of file {i}")).unwrap();
    }
    app.rescan().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let course = app
        .store
        .course_by_path(&lectern_core::LibraryPath::parse("Design/Typography").unwrap())
        .await
        .unwrap()
        .unwrap();

    let (status, detail) = app
        .get(&format!("/api/courses/{}", course.id.0), &admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    let odd = detail["tree"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "Odd names")
        .unwrap_or_else(|| panic!("no folder Odd names in {detail}"));
    let listed = odd["children"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    let mut ids = Vec::new();
    for (i, (_, shown, raw)) in names.iter().enumerate() {
        let file = listed
            .iter()
            .find(|f| f["name"] == *shown && f["raw_name"].as_str() == *raw)
            .unwrap_or_else(|| panic!("{shown:?} {raw:?} not listed in {listed:?}"));
        let id = file["id"].as_i64().unwrap();
        ids.push(id);
        let (status, meta) = app.get(&format!("/api/files/{id}"), &admin).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(meta["name"], *shown);
        assert_eq!(meta["raw_name"].as_str(), *raw);
        if let Some(raw) = raw {
            assert_eq!(meta["raw_path"], format!("Odd names/{raw}"));
        } else {
            assert!(meta.get("raw_path").is_none(), "{meta}");
        }
        let content = app
            .req(
                Method::GET,
                &format!("/api/files/{id}/content"),
                Some(&admin),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(content.status(), StatusCode::OK);
        let bytes = content.bytes().await.unwrap();
        assert_eq!(&bytes[..], format!("the bytes of file {i}").as_bytes());
    }

    let (status, found) = app.get("/api/search?q=kerning", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let mut hits: Vec<i64> = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    hits.sort_unstable();
    ids.sort_unstable();
    assert_eq!(hits, ids, "all three found: {found}");

    let signed = common::forms::sign_in(&app, "admin", ADMIN_PW).await;
    let (status, html) =
        common::forms::page(&app, &signed.client, &format!("/courses/{}", course.id.0)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches(shown_alike).count(), 2, "both shown");
    for raw in ["Kerning %E9t%E9.txt", "Kerning %E9t%FF.txt"] {
        assert!(
            html.contains(&format!("title=\"{raw}\"")),
            "{raw} tells the two apart on hover"
        );
    }
    assert!(html.contains("Kerning\nnewline.txt"), "{html}");
}

async fn etag_of(app: &TestApp, path: &str, token: &str) -> String {
    let answer = app
        .req(Method::GET, path, Some(token))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK, "{path}");
    assert_eq!(answer.headers()["cache-control"], "private, no-cache");
    answer.headers()["etag"].to_str().unwrap().to_owned()
}

async fn revalidated(app: &TestApp, path: &str, token: &str, etag: &str) -> StatusCode {
    let answer = app
        .req(Method::GET, path, Some(token))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    if status == StatusCode::NOT_MODIFIED {
        assert_eq!(answer.headers()["etag"], etag.trim_start_matches("W/"));
        assert!(
            answer.bytes().await.unwrap().is_empty(),
            "a 304 has no body"
        );
    }
    status
}

/// Each browse answer has an ETag; asking again with it gives an empty 304
/// until the answer changes: the reader's own progress, or a scan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_answers_revalidate_with_etags_until_progress_or_a_scan_changes_them() {
    let app = spawn_app().await;
    let course = app.grant_alice("Design/Typography").await;
    let alice = app.token("alice", ALICE_PW).await;
    let lesson = app
        .files()
        .await
        .into_iter()
        .find(|f| f.course_id == course && f.role == FileRole::Material)
        .unwrap();
    let course_path = format!("/api/courses/{}", course.0);
    let file_path = format!("/api/files/{}", lesson.id);
    for path in ["/api/categories", course_path.as_str(), file_path.as_str()] {
        let etag = etag_of(&app, path, &alice).await;
        assert_eq!(
            revalidated(&app, path, &alice, &etag).await,
            StatusCode::NOT_MODIFIED
        );
        let weak = format!("W/{etag}");
        assert_eq!(
            revalidated(&app, path, &alice, &weak).await,
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            revalidated(&app, path, &alice, "\"other\"").await,
            StatusCode::OK
        );
    }

    let before = etag_of(&app, &course_path, &alice).await;
    let saved = app
        .req(Method::PUT, &format!("{file_path}/progress"), Some(&alice))
        .json(&json!({ "completed": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::OK);
    assert_eq!(
        revalidated(&app, &course_path, &alice, &before).await,
        StatusCode::OK,
        "the reader's progress changed the answer"
    );

    let after_progress = etag_of(&app, &course_path, &alice).await;
    std::fs::write(app.root.join("Design/Typography/99 New lesson.md"), "new").unwrap();
    app.rescan().await;
    assert_eq!(
        revalidated(&app, &course_path, &alice, &after_progress).await,
        StatusCode::OK,
        "the scan changed the answer"
    );
}

/// What browsing keeps between requests follows the index at once: a file
/// a scan added is listed on the next request, and a renamed course shows
/// its new name; and what is kept never widens what a reader sees: alice
/// is refused what an admin just read, until she is granted it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_browse_answers_follow_each_scan_and_each_readers_grants() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let course = app.grant_alice("Design/Typography").await;
    let alice = app.token("alice", ALICE_PW).await;
    let other = app
        .store
        .course_by_path(&lectern_core::LibraryPath::parse("Languages/German A1").unwrap())
        .await
        .unwrap()
        .unwrap();
    let other_path = format!("/api/courses/{}", other.id.0);
    let (status, _) = app.get(&other_path, &admin).await;
    assert_eq!(status, StatusCode::OK, "read (and kept) for the admin");
    let (status, _) = app.get(&other_path, &alice).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not granted to alice");
    let (_, categories) = app.get("/api/categories", &alice).await;
    assert_eq!(categories.as_array().unwrap().len(), 1, "{categories}");

    let course_path = format!("/api/courses/{}", course.0);
    let count = |detail: &Value| detail["progress"]["total"].as_u64().unwrap();
    let (_, first) = app.get(&course_path, &alice).await;
    std::fs::write(app.root.join("Design/Typography/99 New lesson.md"), "new").unwrap();
    app.rescan().await;
    let (_, second) = app.get(&course_path, &alice).await;
    assert_eq!(
        count(&second),
        count(&first) + 1,
        "the new lesson is listed"
    );
    std::fs::rename(
        app.root.join("Design/Typography"),
        app.root.join("Design/Type"),
    )
    .unwrap();
    app.rescan().await;
    let (_, renamed) = app.get(&course_path, &alice).await;
    assert_eq!(renamed["name"], "Type");

    let group = app.store.groups().await.unwrap()[0].id;
    app.store
        .add_grant(group, lectern_store::Grant::Course(other.id))
        .await
        .unwrap();
    let (status, _) = app.get(&other_path, &alice).await;
    assert_eq!(status, StatusCode::OK, "granted: open at once");
    let (_, categories) = app.get("/api/categories", &alice).await;
    assert_eq!(categories.as_array().unwrap().len(), 2, "{categories}");
}
