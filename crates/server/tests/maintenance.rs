//! Maintenance mode over real HTTP: what a restore relies on.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_maintenance_every_request_gets_503_with_retry_after() {
    let app = spawn_app().await;
    let token = app.token("admin", ADMIN_PW).await;
    let window = app.state.maintenance().begin("restoring a backup");

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

    drop(window);
    let (status, _) = app.get("/api/categories", &token).await;
    assert_eq!(status, StatusCode::OK, "back online when the window closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_waits_for_a_download_still_streaming() {
    let app = spawn_app().await;
    let token = app.token("admin", ADMIN_PW).await;
    // Larger than every buffer between the server and this client, so the
    // server is still sending while the test holds the response.
    let big = app.root.join("Programming/Rust Basics/big.bin");
    std::fs::write(&big, vec![7u8; 64 << 20]).unwrap();
    app.rescan().await;
    let file = app.file_named("big.bin").await;
    let maintenance = app.state.maintenance().clone();
    assert_eq!(maintenance.drain(0, Duration::from_secs(5)).await, Ok(()));

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
    // The headers are here, the body is not read: still in flight.
    let short = Duration::from_millis(100);
    assert_eq!(maintenance.drain(0, short).await, Err(1));
    while download.chunk().await.unwrap().is_some() {}
    drop(download);
    assert_eq!(maintenance.drain(0, Duration::from_secs(5)).await, Ok(()));
}
