//! `GET /api/search` over real HTTP against the scanned demo library.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Searches with `q` properly encoded, plus any extra parameters.
async fn search(
    app: &TestApp,
    token: &str,
    q: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut params = vec![("q", q)];
    params.extend_from_slice(extra);
    let response = app
        .req(Method::GET, "/api/search", Some(token))
        .query(&params)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn results(body: &Value) -> &Vec<Value> {
    body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
}

/// `kind name (course)` of every result, in order.
fn lines(body: &Value) -> Vec<String> {
    results(body)
        .iter()
        .map(|r| {
            format!(
                "{} {} ({})",
                r["kind"].as_str().unwrap(),
                r["name"].as_str().unwrap(),
                r["course_name"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_finds_only_what_is_granted_and_an_admin_finds_all() {
    let app = spawn_app().await;
    let german = app.grant_alice("Languages/German A1").await;
    let admin = app.token("admin", ADMIN_PW).await;
    let alice = app.token("alice", ALICE_PW).await;

    // Both language courses have a phrasebook; alice is granted one.
    let (status, body) = search(&app, &admin, "phrase", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut all = lines(&body);
    all.sort();
    assert_eq!(
        all,
        [
            "file 02 Phrasebook.md (German A1)",
            "file 02 Phrasebook.md (Spanish A1)"
        ]
    );
    let (status, body) = search(&app, &alice, "phrase", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lines(&body), ["file 02 Phrasebook.md (German A1)"]);
    let hit = &results(&body)[0];
    assert_eq!(hit["course_id"], german.0);
    assert_eq!(hit["path"], "01 Greetings/02 Phrasebook.md");
    let (status, _) = app.get(&format!("/api/files/{}", hit["id"]), &alice).await;
    assert_eq!(status, StatusCode::OK, "a hit's id is the file's id");

    // Words in both courses' folders and descriptions: alice sees only hers.
    let (_, everyone) = search(&app, &admin, "greet", &[]).await;
    let (_, hers) = search(&app, &alice, "greet", &[]).await;
    assert!(results(&everyone)
        .iter()
        .any(|r| r["course_name"] == "Spanish A1"));
    assert!(!results(&hers).is_empty());
    assert!(
        results(&hers).iter().all(|r| r["course_id"] == german.0),
        "{hers}"
    );
    let (_, body) = search(&app, &alice, "rust", &[]).await;
    assert_eq!(lines(&body), Vec::<String>::new(), "not a title leaks");
    let (_, body) = search(&app, &admin, "rust", &[]).await;
    assert!(lines(&body).contains(&"course Rust Basics (Rust Basics)".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_carry_their_kind_ids_and_a_description_snippet() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let (status, body) = search(&app, &admin, "  bienvenidos ", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["query"], "bienvenidos");
    let course = &results(&body)[0];
    let spanish = app
        .store
        .course_by_path(&lectern_core::LibraryPath::parse("Languages/Spanish A1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(course["kind"], "course");
    assert_eq!(
        (course["id"].as_i64(), course["course_id"].as_i64()),
        (Some(spanish.id.0), Some(spanish.id.0))
    );
    assert_eq!(course["category_id"], spanish.category_id.0);
    assert!(
        course["snippet"].as_str().unwrap().contains("Bienvenidos"),
        "{course}"
    );
    assert!(course["path"].is_null());
    // Accents do not matter.
    let (_, body) = search(&app, &admin, "cafe", &[]).await;
    assert_eq!(lines(&body), ["file 01 At the Café.txt (Spanish A1)"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_is_respected_and_checked() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    // "0" starts the numbered name of nearly every lesson.
    let (status, body) = search(&app, &admin, "0", &[("limit", "3")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(results(&body).len(), 3);
    let (_, body) = search(&app, &admin, "0", &[]).await;
    assert_eq!(results(&body).len(), 20, "the default limit");
    let (_, body) = search(&app, &admin, "0", &[("limit", "100")]).await;
    assert!(results(&body).len() > 20);
    for bad in ["0", "101", "-1", "abc", "", "1.5", "99999999999"] {
        let (status, body) = search(&app, &admin, "0", &[("limit", bad)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "limit={bad}");
        assert_envelope(&body, "bad_request");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_gets_401_and_a_missing_blank_or_long_query_gets_400() {
    let app = spawn_app().await;
    let response = app
        .req(Method::GET, "/api/search?q=rust", None)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_envelope(&response.json().await.unwrap(), "unauthorized");

    let alice = app.token("alice", ALICE_PW).await;
    for path in [
        "/api/search",
        "/api/search?q=",
        "/api/search?q=%20%09%0A",
        "/api/search?limit=5",
    ] {
        let (status, body) = app.get(path, &alice).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_envelope(&body, "bad_request");
    }
    let long = "a".repeat(201);
    let (status, body) = search(&app, &alice, &long, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "bad_request");
    let (status, _) = search(&app, &alice, &"a".repeat(200), &[]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_queries_get_200_or_400_never_500() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let typed = [
        "\"",
        "\"\"",
        "*",
        "**",
        "NEAR(",
        "NEAR(rust basics, 2)",
        "-rust",
        "rust -basics",
        "name:rust",
        "{name}:x",
        "a:b:c",
        "(",
        ")",
        "AND",
        "OR",
        "NOT rust",
        "^rust",
        "+",
        "rust\"",
        "'; DROP TABLE files; --",
        "%",
        "\\",
        "\0",
        "a\0b",
        "🦀",
        "ß",
        "İ",
        "\u{301}",
        "\u{200b}",
        "\u{feff}x",
    ];
    for q in typed {
        let (status, body) = search(&app, &admin, q, &[]).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "{q:?}: {status} {body}"
        );
        if status == StatusCode::BAD_REQUEST {
            assert_envelope(&body, "bad_request");
        }
    }
    for raw in [
        "q=%FF%FE",
        "q=%",
        "q=%zz",
        "q=a&q=b",
        "q[]=a",
        "q=rust&limit=1&limit=2",
    ] {
        let (status, body) = app.get(&format!("/api/search?{raw}"), &admin).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "{raw}: {status} {body}"
        );
        if status == StatusCode::BAD_REQUEST {
            assert_envelope(&body, "bad_request");
        }
    }
    // Operators are only characters: the words around them still count.
    let (_, body) = search(&app, &admin, "\"borrowing\" NEAR(", &[]).await;
    assert_eq!(
        lines(&body),
        Vec::<String>::new(),
        "NEAR is a word to find, and is not there"
    );
    let (_, body) = search(&app, &admin, "borrowing*\"", &[]).await;
    assert!(
        lines(&body).contains(&"file 02 borrowing.rs (Rust Basics)".to_owned()),
        "{body}"
    );
}
