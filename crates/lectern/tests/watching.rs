//! Watching the library as a librarian meets it: the real `lectern serve`,
//! real file operations in its library root, and what the JSON API shows
//! afterwards. The quiet period is short (300 ms) and every wait generous.

mod common;

use common::{first_admin_password, serve_with, Admin, Sandbox, Server};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long anything here may take to happen.
const PATIENCE: Duration = Duration::from_secs(90);

/// A library of two categories with a course each, two files per course.
fn library(sb: &Sandbox, rel: &str) -> PathBuf {
    let root = sb.path(rel);
    for (course, files) in [
        ("Rust/Basics", ["a.txt", "b.txt"]),
        ("Go/Intro", ["c.txt", "d.txt"]),
    ] {
        let dir = root.join(course).join("01 Start");
        std::fs::create_dir_all(&dir).unwrap();
        for name in files {
            std::fs::write(dir.join(name), format!("{course}/{name}")).unwrap();
        }
    }
    root
}

/// `lectern serve` over `root` (as the configured default), watching with
/// a short quiet period, with `env` set on top; signed in as the admin
/// once the first scan of the new library has ended.
async fn serve(sb: &Sandbox, root: &Path, env: &[(&str, &str)]) -> (Server, Admin) {
    let (server, url, lines) = start(sb, root, env);
    let admin = Admin::sign_in(&url, &first_admin_password(&lines)).await;
    until("the first scan", || async {
        scans(&admin)
            .await
            .iter()
            .any(|s| s["status"] == "completed")
    })
    .await;
    (server, admin)
}

/// `lectern serve` over `root`, as [`serve`] starts it: its process, URL
/// and what it printed.
fn start(sb: &Sandbox, root: &Path, env: &[(&str, &str)]) -> (Server, String, Vec<String>) {
    // The root as lectern.toml's default, so that a saved one wins.
    std::fs::write(sb.path("lectern.toml"), format!("root = {root:?}\n")).unwrap();
    let mut cmd = sb.cmd();
    cmd.args(["serve", "--port", "0"])
        .env("LECTERN_HEALTH__INTERVAL", "200ms")
        .env("LECTERN_WATCH__MODE", "events")
        .env("LECTERN_WATCH__QUIET", "300ms")
        .envs(env.iter().copied());
    serve_with(cmd)
}

/// Waits until `done` holds, looking ten times a second.
async fn until<F, Fut>(what: &str, done: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !done().await {
        assert!(Instant::now() < deadline, "{what} never happened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every scan in the history, newest first.
async fn scans(admin: &Admin) -> Vec<Value> {
    let history = admin.get("/api/scanner/history?limit=100").await;
    history.as_array().cloned().unwrap_or_default()
}

/// The watched scans that ended, oldest first.
async fn watched(admin: &Admin) -> Vec<Value> {
    let mut list: Vec<Value> = scans(admin)
        .await
        .into_iter()
        .filter(|s| s["kind"] == "watch" && s["status"] != "running")
        .collect();
    list.reverse();
    list
}

/// Every file record in the index the admin sees, as
/// (`Category/Course/path`, state, id).
async fn files(admin: &Admin) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    let categories = admin.get("/api/categories").await;
    for category in categories.as_array().into_iter().flatten() {
        let detail = admin
            .get(&format!("/api/categories/{}", category["id"]))
            .await;
        for course in detail["courses"].as_array().into_iter().flatten() {
            let tree = admin.get(&format!("/api/courses/{}", course["id"])).await;
            let prefix = format!(
                "{}/{}",
                category["name"].as_str().unwrap(),
                course["name"].as_str().unwrap()
            );
            collect(&tree["tree"], &prefix, &mut out);
        }
    }
    out
}

fn collect(node: &Value, prefix: &str, out: &mut Vec<(String, String, i64)>) {
    match node {
        Value::Array(items) => items.iter().for_each(|n| collect(n, prefix, out)),
        Value::Object(map) => {
            if let (Some(path), Some(state), Some(id)) = (
                map.get("path").and_then(Value::as_str),
                map.get("state").and_then(Value::as_str),
                map.get("id").and_then(Value::as_i64),
            ) {
                if map.contains_key("sha256") {
                    out.push((format!("{prefix}/{path}"), state.to_owned(), id));
                }
            }
            map.values().for_each(|v| collect(v, prefix, out));
        }
        _ => {}
    }
}

async fn state_of(admin: &Admin, path: &str) -> Option<String> {
    let all = files(admin).await;
    all.into_iter()
        .find(|(p, _, _)| p == path)
        .map(|(_, s, _)| s)
}

async fn watcher(admin: &Admin) -> Value {
    let health = admin.get("/api/health").await;
    health["checks"]["watcher:state"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_added_appears_and_a_deleted_one_goes_missing_only_through_a_scan() {
    let sb = Sandbox::new();
    let root = library(&sb, "lib");
    let (_server, admin) = serve(&sb, &root, &[]).await;
    until("the watcher watching", || async {
        watcher(&admin).await["observedValue"] == "events"
    })
    .await;

    std::fs::write(root.join("Rust/Basics/01 Start/new.txt"), "new").unwrap();
    until("the new file in the index", || async {
        state_of(&admin, "Rust/Basics/01 Start/new.txt")
            .await
            .as_deref()
            == Some("present")
    })
    .await;
    let first = watched(&admin).await;
    assert_eq!(first.len(), 1, "one watched scan: {first:#?}");
    assert_eq!(
        (first[0]["added"].as_u64(), first[0]["status"].as_str()),
        (Some(1), Some("completed"))
    );
    assert!(
        first[0]["course_id"].is_i64(),
        "a rescan of the one course: {:?}",
        first[0]
    );

    let before = files(&admin).await;
    let (_, _, gone) = before
        .iter()
        .find(|f| f.0 == "Rust/Basics/01 Start/a.txt")
        .unwrap();
    std::fs::remove_file(root.join("Rust/Basics/01 Start/a.txt")).unwrap();
    // A missing file leaves the course's tree and is no longer served.
    until("the deleted file marked missing", || async {
        let (status, _) = admin
            .send(reqwest::Method::GET, &format!("/api/files/{gone}"), None)
            .await;
        status == 404
            && state_of(&admin, "Rust/Basics/01 Start/a.txt")
                .await
                .is_none()
    })
    .await;
    let all = watched(&admin).await;
    let last = all.last().unwrap();
    assert_eq!(last["removed"], 1, "the scan marked it: {last:#?}");
    assert_eq!(
        state_of(&admin, "Go/Intro/01 Start/c.txt").await.as_deref(),
        Some("present")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_changed_while_lectern_was_stopped_is_scanned_when_it_starts() {
    let sb = Sandbox::new();
    let root = library(&sb, "lib");
    let (server, admin) = serve(&sb, &root, &[]).await;
    let scans_before = scans(&admin).await.len();
    drop(server);
    std::fs::write(root.join("Go/Intro/01 Start/while-stopped.txt"), "x").unwrap();
    std::fs::remove_file(root.join("Rust/Basics/01 Start/a.txt")).unwrap();

    let (_server, url, lines) = start(&sb, &root, &[]);
    assert!(
        !lines.iter().any(|l| l.contains("for the first time")),
        "no first scan: {lines:?}"
    );
    // The session outlives the restart: it is kept in the database.
    let admin = Admin { url, ..admin };
    until("the file added while stopped in the index", || async {
        state_of(&admin, "Go/Intro/01 Start/while-stopped.txt")
            .await
            .as_deref()
            == Some("present")
    })
    .await;
    assert_eq!(state_of(&admin, "Rust/Basics/01 Start/a.txt").await, None);
    until("the scan at the start ended", || async {
        let all = scans(&admin).await;
        all.len() > scans_before && all.iter().all(|s| s["status"] != "running")
    })
    .await;
    let all = scans(&admin).await;
    let new = &all[..all.len() - scans_before];
    assert_eq!(new.len(), 1, "one scan at the start: {new:#?}");
    let scan = &new[0];
    assert_eq!(
        (scan["kind"].as_str(), scan["course_id"].is_null()),
        (Some("watch"), true),
        "a watched scan of the whole library: {scan:#?}"
    );
    assert_eq!(
        (scan["added"].as_u64(), scan["removed"].as_u64()),
        (Some(1), Some(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_course_of_two_thousand_files_copied_in_is_a_few_scans() {
    let sb = Sandbox::new();
    let root = library(&sb, "lib");
    let (_server, admin) = serve(&sb, &root, &[]).await;
    for section in 0..20 {
        let dir = root.join(format!("Rust/Advanced/{section:02} Part"));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..100 {
            std::fs::write(dir.join(format!("{i:03}.txt")), format!("{section} {i}")).unwrap();
        }
    }
    until("all 2,000 files in the index", || async {
        let all = files(&admin).await;
        all.iter()
            .filter(|(p, s, _)| p.starts_with("Rust/Advanced/") && s == "present")
            .count()
            == 2_000
    })
    .await;
    let records = watched(&admin).await;
    assert!(
        records.len() <= 5,
        "{} watched scans: {records:#?}",
        records.len()
    );
    let added: u64 = records.iter().map(|r| r["added"].as_u64().unwrap()).sum();
    assert_eq!(added, 2_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_course_moved_to_another_category_keeps_its_files() {
    let sb = Sandbox::new();
    let root = library(&sb, "lib");
    let (_server, admin) = serve(&sb, &root, &[]).await;
    let before = files(&admin).await;
    let id_of = |all: &[(String, String, i64)], path: &str| {
        all.iter().find(|(p, _, _)| p == path).map(|f| f.2)
    };
    let old = id_of(&before, "Go/Intro/01 Start/c.txt").unwrap();
    std::fs::rename(root.join("Go/Intro"), root.join("Rust/Intro")).unwrap();
    until("the moved course's file at its new path", || async {
        state_of(&admin, "Rust/Intro/01 Start/c.txt")
            .await
            .as_deref()
            == Some("present")
    })
    .await;
    let after = files(&admin).await;
    assert_eq!(
        id_of(&after, "Rust/Intro/01 Start/c.txt"),
        Some(old),
        "{after:#?}"
    );
    let records = watched(&admin).await;
    let last = records.last().unwrap();
    assert_eq!(
        (last["moved"].as_u64(), last["removed"].as_u64()),
        (Some(2), Some(0)),
        "{last:#?}"
    );
    assert!(
        last["course_id"].is_null(),
        "seen by a scan of the library: {last:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_waits_for_a_root_that_went_away_and_scans_it_when_back() {
    let sb = Sandbox::new();
    let root = library(&sb, "lib");
    let (_server, admin) = serve(&sb, &root, &[]).await;
    let away = sb.path("lib-away");
    std::fs::rename(&root, &away).unwrap();
    until("the watcher waiting for the root", || async {
        watcher(&admin).await["observedValue"] == "root_missing"
    })
    .await;
    let check = watcher(&admin).await;
    assert_eq!(check["status"], "warn", "{check:#?}");
    // Changed while unmounted: only a scan of everything can know.
    std::fs::write(away.join("Go/Intro/01 Start/while-away.txt"), "x").unwrap();
    std::fs::rename(&away, &root).unwrap();
    until("the change made while away in the index", || async {
        state_of(&admin, "Go/Intro/01 Start/while-away.txt")
            .await
            .as_deref()
            == Some("present")
    })
    .await;
    until("the watcher watching again", || async {
        watcher(&admin).await["observedValue"] == "events"
    })
    .await;
    let missing: Vec<_> = files(&admin)
        .await
        .into_iter()
        .filter(|f| f.1 != "present")
        .collect();
    assert!(missing.is_empty(), "nothing went missing: {missing:#?}");
    std::fs::write(root.join("Rust/Basics/01 Start/after.txt"), "x").unwrap();
    until("a change after the return", || async {
        state_of(&admin, "Rust/Basics/01 Start/after.txt")
            .await
            .as_deref()
            == Some("present")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_root_setting_is_watched() {
    let sb = Sandbox::new();
    let root = library(&sb, "lib");
    let (_server, admin) = serve(&sb, &root, &[]).await;
    let other = library(&sb, "other");
    let body = json!({ "root_path": other.to_str().unwrap() });
    let (status, answer) = admin
        .send(reqwest::Method::PUT, "/api/admin/settings", Some(body))
        .await;
    assert_eq!(status, 200, "{answer:#?}");
    std::fs::write(other.join("Go/Intro/01 Start/in-other.txt"), "x").unwrap();
    until("a change in the new root in the index", || async {
        state_of(&admin, "Go/Intro/01 Start/in-other.txt")
            .await
            .as_deref()
            == Some("present")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_finds_changes_where_events_are_off() {
    let sb = Sandbox::new();
    let root = library(&sb, "lib");
    let env = [
        ("LECTERN_WATCH__MODE", "poll"),
        ("LECTERN_WATCH__POLL_INTERVAL", "1s"),
    ];
    let (_server, admin) = serve(&sb, &root, &env).await;
    until("the watcher polling", || async {
        watcher(&admin).await["observedValue"] == "polling"
    })
    .await;
    let check = watcher(&admin).await;
    let output = check["output"].as_str().unwrap();
    assert!(
        output.contains("polling every") && output.contains("set by the configuration"),
        "{check:#?}"
    );
    std::fs::write(root.join("Go/Intro/01 Start/polled.txt"), "x").unwrap();
    until("the polled change in the index", || async {
        state_of(&admin, "Go/Intro/01 Start/polled.txt")
            .await
            .as_deref()
            == Some("present")
    })
    .await;
    assert!(!watched(&admin).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_event_queue_ends_in_a_scan_of_the_whole_library() {
    let sb = Sandbox::new();
    let root = library(&sb, "lib");
    // A queue of one change: a burst of hundreds overflows it whatever the
    // machine's speed (each file brings a create and a write).
    let (_server, admin) = serve(&sb, &root, &[("LECTERN_WATCH__QUEUE", "1")]).await;
    until("the watcher watching", || async {
        watcher(&admin).await["observedValue"] == "events"
    })
    .await;
    let staging = sb.path("staging/02 Many");
    std::fs::create_dir_all(&staging).unwrap();
    for i in 0..200 {
        std::fs::write(staging.join(format!("{i:03}.txt")), i.to_string()).unwrap();
    }
    let copied = std::process::Command::new("cp")
        .arg("-r")
        .arg(&staging)
        .arg(root.join("Rust/Basics"))
        .status()
        .unwrap();
    assert!(copied.success());
    // The library holds 204 files: a scan that saw them all (Go/Intro's
    // two as unchanged) covered the whole library, not one course.
    until("a scan of the whole library", || async {
        watched(&admin).await.iter().any(|r| {
            let seen = r["added"].as_u64().unwrap() + r["unchanged"].as_u64().unwrap();
            r["course_id"].is_null() && seen == 204
        })
    })
    .await;
    let all = files(&admin).await;
    let many = all.iter().filter(|(p, _, _)| p.contains("/02 Many/"));
    assert_eq!(many.count(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_full_scan_runs_with_watching_off() {
    let sb = Sandbox::new();
    let root = library(&sb, "lib");
    let env = [
        ("LECTERN_WATCH__MODE", "off"),
        ("LECTERN_WATCH__FULL_SCAN_EVERY", "1s"),
    ];
    let (_server, admin) = serve(&sb, &root, &env).await;
    until("the health report", || async {
        watcher(&admin).await["observedValue"] == "off"
    })
    .await;
    std::fs::write(root.join("Go/Intro/01 Start/later.txt"), "x").unwrap();
    until("the periodic scan's find in the index", || async {
        state_of(&admin, "Go/Intro/01 Start/later.txt")
            .await
            .as_deref()
            == Some("present")
    })
    .await;
    let periodic: Vec<Value> = scans(&admin)
        .await
        .into_iter()
        .filter(|s| s["started_by"] == "system:periodic-scan")
        .collect();
    assert!(!periodic.is_empty());
    assert!(periodic
        .iter()
        .all(|s| s["kind"] == "full" && s["course_id"].is_null()));
    assert!(
        watched(&admin).await.is_empty(),
        "no watched scans with watching off"
    );
}
