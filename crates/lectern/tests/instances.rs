//! Two `lectern serve` processes on one PostgreSQL database and one
//! library, as behind a load balancer: what one does, the other sees.

mod common;

use common::{first_admin_password, serve_with, Admin, Sandbox, Server};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `lectern serve` for instance `id`, with its own data folder, on the
/// shared database and library; a short lease, so a dead instance is
/// soon seen as gone.
fn instance(sb: &Sandbox, url: &str, library: &Path, id: &str) -> (Server, String, Vec<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lectern"));
    cmd.current_dir(sb.dir.path())
        .arg("--data")
        .arg(sb.path(id))
        .args(["--database-url", url, "serve", "--port", "0", "--root"])
        .arg(library);
    for (key, _) in std::env::vars() {
        if key.starts_with("LECTERN_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("LECTERN_WATCH__MODE", "off")
        .env("LECTERN_COORDINATION__INSTANCE_ID", id)
        .env("LECTERN_COORDINATION__LEASE", "2s")
        .env("LECTERN_COORDINATION__HEARTBEAT", "500ms");
    serve_with(cmd)
}

/// Large files of zeros (sparse, so quick to make), so that a scan that
/// hashes them all again (3 GiB) runs for seconds: long enough for B to
/// see it and for A to read B's request to stop (A copies its operation
/// out every 500 ms).
fn add_big_files(library: &Path) {
    let folder = library.join("Big/Large Files");
    std::fs::create_dir_all(&folder).unwrap();
    for n in 0..24 {
        let file = std::fs::File::create(folder.join(format!("{n:02}.bin"))).unwrap();
        file.set_len(128 << 20).unwrap();
    }
}

/// Asks until `check` holds, for up to 90 s (a test build on a busy
/// machine hashes slowly).
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn status(admin: &Admin) -> Value {
    admin.get("/api/scanner/status").await
}

/// The same signed-in admin, speaking to another instance.
fn on(admin: &Admin, url: &str) -> Admin {
    Admin {
        http: reqwest::Client::new(),
        url: url.to_owned(),
        token: admin.token.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_sessions_scans_maintenance_and_the_lock() {
    let Some(db) = lectern_testdb::TestDb::create().await else {
        return;
    };
    let sb = Sandbox::new();
    let library = sb.demo("lib");
    add_big_files(&library);
    let (a, url_a, lines) = instance(&sb, db.url(), &library, "a");
    let password = first_admin_password(&lines);
    let admin = Admin::sign_in(&url_a, &password).await;
    until("the first scan", || async {
        let history = admin.get("/api/scanner/history").await;
        history[0]["status"] == "completed"
    })
    .await;
    let (_b, url_b, lines_b) = instance(&sb, db.url(), &library, "b");
    assert!(
        !lines_b.iter().any(|l| l.contains("first administrator")),
        "one first administrator: {lines_b:?}"
    );

    // A session made on A works on B.
    let on_b = on(&admin, &url_b);
    let (code, me) = on_b.send(Method::GET, "/api/auth/me", None).await;
    assert_eq!((code, me["username"].as_str()), (200, Some("admin")));
    // B's dashboard lists both instances.
    until("B's dashboard to list both", || async {
        let page = on_b
            .http
            .get(format!("{url_b}/admin"))
            .bearer_auth(&on_b.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        page.contains("b (this one)") && page.contains("2 instances on PostgreSQL")
    })
    .await;

    // Failed sign-ins on A count on B.
    let http = reqwest::Client::new();
    let wrong = json!({ "username": "mallory", "password": "guess" });
    let attempt = |url: String| {
        let (http, wrong) = (http.clone(), wrong.clone());
        async move {
            let answer = http
                .post(format!("{url}/api/auth/login"))
                .json(&wrong)
                .send();
            answer.await.unwrap().status().as_u16()
        }
    };
    for _ in 0..10 {
        assert_eq!(attempt(url_a.clone()).await, 401);
    }
    assert_eq!(attempt(url_b.clone()).await, 429, "B counts A's failures");

    // A scan started on A shows on B, B cannot start another, B stops it.
    let (code, started) = admin
        .send(Method::POST, "/api/scanner/scan?verify=true", None)
        .await;
    assert_eq!(code, 202, "{started}");
    let scan_id = started["scan_id"].clone();
    until("B to see A's scan", || async {
        let seen = status(&on_b).await;
        seen["running"] == true && seen["scan_id"] == scan_id
    })
    .await;
    let (code, refused) = on_b.send(Method::POST, "/api/scanner/scan", None).await;
    assert_eq!(code, 409, "{refused}");
    let (code, aborted) = on_b.send(Method::POST, "/api/scanner/abort", None).await;
    assert_eq!((code, &aborted["scan_id"]), (200, &scan_id), "{aborted}");
    until("the scan to stop on A", || async {
        let record = admin.get(&format!("/api/scanner/history/{scan_id}")).await;
        record["scan"]["status"] == "cancelled"
    })
    .await;
    until("B to see it stopped", || async {
        status(&on_b).await["running"] == false
    })
    .await;

    // A restore on A puts B into maintenance, and ends every session.
    let (code, backup) = admin
        .send(Method::POST, "/api/admin/backup/create", None)
        .await;
    assert_eq!(code, 201, "{backup}");
    let seen_on_b = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn({
        let (seen_on_b, stop) = (seen_on_b.clone(), stop.clone());
        let on_b = on(&admin, &url_b);
        async move {
            while !stop.load(Ordering::Relaxed) {
                let (code, _) = on_b.send(Method::GET, "/api/auth/me", None).await;
                seen_on_b.lock().unwrap().push(code);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    let id = backup["id"].as_str().unwrap();
    let body = json!({ "confirm": true });
    let (code, restored) = admin
        .send(
            Method::POST,
            &format!("/api/admin/backup/restore/{id}"),
            Some(body),
        )
        .await;
    assert_eq!(code, 200, "{restored}");
    stop.store(true, Ordering::Relaxed);
    watcher.await.unwrap();
    let seen = seen_on_b.lock().unwrap().clone();
    assert!(
        seen.contains(&503),
        "B never answered 503 during the restore: {seen:?}"
    );
    assert_eq!(seen.first(), Some(&200), "{seen:?}");
    // Every session ended, on both (B sees maintenance end within a moment).
    for url in [&url_a, &url_b] {
        until("the session to be refused", || async {
            let (code, _) = on(&admin, url)
                .send(Method::GET, "/api/auth/me", None)
                .await;
            assert!(matches!(code, 401 | 503), "{code} on {url}");
            code == 401
        })
        .await;
    }

    // A killed while it holds the lock: B takes the next operation.
    let admin = Admin::sign_in(&url_a, &password).await;
    let on_b = on(&admin, &url_b);
    let (code, started) = admin
        .send(Method::POST, "/api/scanner/scan?verify=true", None)
        .await;
    assert_eq!(code, 202, "{started}");
    until("B to see the scan", || async {
        status(&on_b).await["running"] == true
    })
    .await;
    drop(a); // SIGKILL
    until("B to take the lock", || async {
        let (code, _) = on_b.send(Method::POST, "/api/scanner/scan", None).await;
        code == 202
    })
    .await;
}
