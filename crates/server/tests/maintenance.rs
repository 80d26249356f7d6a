//! Maintenance mode over real HTTP: what a restore relies on.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_maintenance_every_request_gets_503_with_retry_after() {
    let app = spawn_app().await;
    let token = app.token("admin", ADMIN_PW).await;
    let window = app
        .state
        .begin_maintenance("restoring a backup")
        .await
        .unwrap();

    let (status, body) = app.get("/api/categories", &token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_envelope(&body, "maintenance");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("restoring a backup"));
    let page = app.http.get(format!("{}/", app.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(page.headers()["retry-after"], "30");
    assert!(page.text().await.unwrap().contains("Back in a moment"));
    let login = app.login("admin", ADMIN_PW).await;
    assert_eq!(login.status(), StatusCode::SERVICE_UNAVAILABLE);

    app.state.end_maintenance(window).await.unwrap();
    let (status, _) = app.get("/api/categories", &token).await;
    assert_eq!(status, StatusCode::OK, "back online when the window closes");
}

/// A download reads a file, not the database: a restore need not wait for
/// it (it once held the whole site in 503 for the drain's 30 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_answers_while_a_download_is_held_open() {
    let app = spawn_app().await;
    let token = app.token("admin", ADMIN_PW).await;
    // Larger than every buffer between the server and this client, so the
    // server is still sending while the test holds the response.
    let big = app.root.join("Programming/Rust Basics/big.bin");
    std::fs::write(&big, vec![7u8; 64 << 20]).unwrap();
    app.rescan().await;
    let file = app.file_named("big.bin").await;
    let created = call(
        &app,
        Method::POST,
        "/api/admin/backup/create",
        Some(&token),
        None,
    );
    let (status, backup) = created.await;
    assert_eq!(status, StatusCode::CREATED, "{backup}");

    let mut download = app
        .req(
            Method::GET,
            &format!("/api/files/{}/content", file.id.0),
            Some(&token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    // The headers are here, the body is not read: the download is open.
    let first = download.chunk().await.unwrap().expect("a first chunk");
    let started = Instant::now();
    let restore = format!(
        "/api/admin/backup/restore/{}",
        backup["id"].as_str().unwrap()
    );
    let confirmed = Some(json!({"confirm": true}));
    let (status, body) = call(&app, Method::POST, &restore, Some(&token), confirmed).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the restore waited {:?} for the download",
        started.elapsed()
    );
    // The download goes on to its end, whole.
    let mut received = first.len();
    while let Some(chunk) = download.chunk().await.unwrap() {
        received += chunk.len();
    }
    assert_eq!(received, 64 << 20);
}
