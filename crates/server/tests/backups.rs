//! Backups over real HTTP: the seed's scenario C (a user deleted by
//! mistake, brought back by a restore), the folder as the truth for the
//! list, and hostile uploads.

mod common;

use common::*;
use lectern_store::{NewUser, Role};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn create_backup(app: &TestApp, token: &str, notes: &str) -> Value {
    let body = json!({ "notes": notes });
    let (status, record) = call(
        app,
        Method::POST,
        "/api/admin/backup/create",
        Some(token),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{record}");
    record
}

async fn upload(app: &TestApp, token: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let response = app
        .req(Method::POST, "/api/admin/backup/upload", Some(token))
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn listed(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, list) = app.get("/api/admin/backup/list", token).await;
    assert_eq!(status, StatusCode::OK);
    list.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_c_a_deleted_user_comes_back_with_a_restore() {
    let app = spawn_app().await;
    let course = app.grant_alice("Programming/Rust Basics").await;
    let alice = app.store.user_login("alice").await.unwrap().unwrap().0;
    let lesson = app
        .files()
        .await
        .into_iter()
        .find(|f| f.path == "Programming/Rust Basics/01 Introduction/01 Welcome.md")
        .unwrap();
    app.store
        .set_progress(alice.id, lesson.id, Some(12.5), Some(true))
        .await
        .unwrap();
    let admin = app.token("admin", ADMIN_PW).await;
    let backup = create_backup(&app, &admin, "before the mistake").await;
    assert_eq!(backup["backup_type"], "manual");
    assert_eq!(backup["created_by"], "user:admin");
    assert_eq!(backup["notes"], "before the mistake");

    // The mistake: alice is deleted, and her progress with her.
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/admin/users/{}", alice.id.0),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(app.store.user_login("alice").await.unwrap().is_none());
    // Someone else arrives after the backup; the restore will undo that too.
    let carol = NewUser {
        username: "carol".into(),
        password_hash: lectern_app::passwords::hash_password("carol password").unwrap(),
        role: Role::User,
    };
    app.store.create_user(&carol).await.unwrap();

    let id = backup["id"].as_str().unwrap();
    let path = format!("/api/admin/backup/restore/{id}");
    let (status, body) = call(&app, Method::POST, &path, Some(&admin), Some(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no confirmation: {body}");
    let (status, done) = call(
        &app,
        Method::POST,
        &path,
        Some(&admin),
        Some(json!({ "confirm": true })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["restored"]["id"], id);
    let safety = done["safety_backup_id"].as_str().unwrap();

    // Alice is back, with her progress and her grant; carol is gone.
    let alice_again = app.store.user_login("alice").await.unwrap().unwrap().0;
    assert_eq!(alice_again.id, alice.id);
    let progress = app.store.course_progress(alice.id, course).await.unwrap();
    assert!(progress
        .iter()
        .any(|p| p.file_id == lesson.id && p.completed && p.position_seconds == Some(12.5)));
    assert!(app.store.user_login("carol").await.unwrap().is_none());
    let alice_token = app.token("alice", ALICE_PW).await;
    let (status, _) = app
        .get(&format!("/api/courses/{}", course.0), &alice_token)
        .await;
    assert_eq!(status, StatusCode::OK, "her grant came back");

    // Every session ended: the admin signs in again.
    let (status, _) = app.get("/api/auth/me", &admin).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let admin = app.token("admin", ADMIN_PW).await;

    // The list has the backup and the safety backup taken before.
    let list = listed(&app, &admin).await;
    let types: Vec<&str> = list
        .iter()
        .map(|r| r["backup_type"].as_str().unwrap())
        .collect();
    assert!(
        list.iter()
            .any(|r| r["id"] == safety && r["backup_type"] == "safety"),
        "{types:?}"
    );
    assert!(list.iter().any(|r| r["id"] == id));

    // The audit log shows the deletion (kept through the restore) and the restore.
    let (_, audit) = app.get("/api/admin/audit?limit=50", &admin).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"backup.restore"), "{actions:?}");
    assert!(
        actions.contains(&"user.delete"),
        "entries newer than the backup stay: {actions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_folder_is_the_truth_for_the_list_and_downloads_are_the_archive() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    assert!(listed(&app, &admin).await.is_empty());
    let record = create_backup(&app, &admin, "one").await;
    let file = std::path::PathBuf::from(record["file_path"].as_str().unwrap());
    assert!(file.starts_with(app.dir.path().join("backups")), "{file:?}");

    let response = app
        .req(
            Method::GET,
            "/api/admin/backup/download/latest",
            Some(&admin),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.contains(record["filename"].as_str().unwrap()),
        "{disposition}"
    );
    let bytes = response.bytes().await.unwrap();
    assert_eq!(
        bytes.as_ref(),
        std::fs::read(&file).unwrap(),
        "the archive, byte for byte"
    );

    // Deleted by hand: gone from the list. Copied in by hand: listed.
    let copy = file.with_file_name(
        record["filename"]
            .as_str()
            .unwrap()
            .replace("manual", "scheduled"),
    );
    std::fs::copy(&file, &copy).unwrap();
    std::fs::remove_file(&file).unwrap();
    let list = listed(&app, &admin).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["backup_type"], "scheduled");
    let (status, _) = call(
        &app,
        Method::GET,
        &format!(
            "/api/admin/backup/download/{}",
            record["id"].as_str().unwrap()
        ),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let id = list[0]["id"].as_str().unwrap();
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/admin/backup/{id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(listed(&app, &admin).await.is_empty());
    for bad in ["nope", "..%2F..%2Fetc%2Fpasswd", "latest"] {
        let (status, body) = call(
            &app,
            Method::DELETE,
            &format!("/api/admin/backup/{bad}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}: {body}");
        assert_envelope(&body, "not_found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_judged_by_its_content_and_a_bad_one_is_not_kept() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let record = create_backup(&app, &admin, "to upload").await;
    let archive = std::fs::read(record["file_path"].as_str().unwrap()).unwrap();

    let (status, uploaded) = upload(&app, &admin, archive.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    assert_eq!(uploaded["backup_type"], "uploaded");
    assert_ne!(
        uploaded["id"], record["id"],
        "an upload is an entry of its own"
    );

    let mut flipped = archive.clone();
    let middle = flipped.len() - 600;
    flipped[middle] ^= 0xff;
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("text", b"hello, this is not a backup".to_vec()),
        ("truncated", archive[..archive.len() / 2].to_vec()),
        ("corrupt", flipped),
    ];
    for (what, bytes) in hostile {
        let (status, body) = upload(&app, &admin, bytes).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
        assert!(
            body["error"]["code"]
                .as_str()
                .is_some_and(|c| c != "internal"),
            "{what}: {body}"
        );
    }
    assert_eq!(listed(&app, &admin).await.len(), 2, "nothing bad was kept");
    let work = app.dir.path().join("tmp");
    let leftovers: Vec<_> = std::fs::read_dir(&work)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(
        leftovers.is_empty(),
        "no temporary file left: {leftovers:?}"
    );

    // The multipart form of a browser, with the part `file`.
    let form =
        reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(archive));
    let response = app
        .req(Method::POST, "/api/admin/backup/upload", Some(&admin))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let form = reqwest::multipart::Form::new().text("other", "x");
    let response = app
        .req(Method::POST, "/api/admin/backup/upload", Some(&admin))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_operation_at_a_time_and_the_status_says_who_holds_the_lock() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let record = create_backup(&app, &admin, "x").await;
    let lock = lectern_store::lock::LockHandle::acquire(&app.store, "scan", "test")
        .await
        .unwrap();
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/admin/backup/create",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let path = format!(
        "/api/admin/backup/restore/{}",
        record["id"].as_str().unwrap()
    );
    let (status, _) = call(
        &app,
        Method::POST,
        &path,
        Some(&admin),
        Some(json!({ "confirm": true })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = app.get("/api/admin/backup/status", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["lock"]["operation"], "scan", "{body}");
    assert_eq!(body["lock"]["holder"], "test");
    assert!(
        body["lock"].get("token").is_none(),
        "the lock's token stays private"
    );
    assert_eq!(body["maintenance"], false);
    assert_eq!(body["last_backup"]["id"], record["id"]);
    lock.release().await.unwrap();
    let (status, body) = app.get("/api/admin/backup/status", &admin).await;
    assert_eq!(
        (status, body["lock"].clone()),
        (StatusCode::OK, Value::Null)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_are_for_admins_only() {
    let app = spawn_app().await;
    let alice = app.token("alice", ALICE_PW).await;
    for (method, path) in [
        (Method::POST, "/api/admin/backup/create"),
        (Method::GET, "/api/admin/backup/list"),
        (Method::GET, "/api/admin/backup/download/latest"),
        (Method::POST, "/api/admin/backup/upload"),
        (Method::POST, "/api/admin/backup/restore/x"),
        (Method::DELETE, "/api/admin/backup/x"),
        (Method::GET, "/api/admin/backup/status"),
    ] {
        let response = app
            .req(method.clone(), path, Some(&alice))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
        let response = app.req(method.clone(), path, None).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_follow_the_settings_and_keep_what_the_retention_says() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let (status, body) = app.get("/api/admin/settings", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["schedule"], "0 2 * * *", "{body}");
    assert_eq!(
        body["retention"],
        json!({ "daily": 7, "weekly": 4, "monthly": 12 })
    );

    for bad in [
        json!({ "schedule": "every night" }),
        json!({ "retention": { "daily": -1 } }),
    ] {
        let (status, body) = call(
            &app,
            Method::PUT,
            "/api/admin/settings",
            Some(&admin),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let keep_one = json!({ "daily": 1, "weekly": 0, "monthly": 0 });
    let change = json!({ "schedule": "30 3 * * *", "retention": keep_one });
    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/admin/settings",
        Some(&admin),
        Some(change),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["schedule"], "30 3 * * *");
    let (_, status_now) = app.get("/api/admin/backup/status", &admin).await;
    assert!(
        status_now["next_scheduled"]
            .as_str()
            .unwrap()
            .contains("T03:30:00"),
        "{status_now}"
    );

    // Two runs the same day: the daily rule keeps the newer one only.
    let plan = lectern_app::schedule::BackupPlan::load(app.store.as_ref())
        .await
        .unwrap();
    lectern_app::schedule::run_once(&app.state.app, &plan.retention).await;
    lectern_app::schedule::run_once(&app.state.app, &plan.retention).await;
    let manual = create_backup(&app, &admin, "kept until deleted").await;
    let list = listed(&app, &admin).await;
    let scheduled: Vec<_> = list
        .iter()
        .filter(|r| r["backup_type"] == "scheduled")
        .collect();
    assert_eq!(scheduled.len(), 1, "{list:?}");
    assert!(
        list.iter().any(|r| r["id"] == manual["id"]),
        "manual backups are not pruned"
    );

    // A run that finds the lock held is no failure: it waits its turn.
    let lock = lectern_store::lock::LockHandle::acquire(&app.store, "scan", "test")
        .await
        .unwrap();
    let ran = lectern_app::schedule::run_once(&app.state.app, &plan.retention).await;
    assert_eq!(ran, lectern_app::schedule::Ran::Busy);
    let (_, status_now) = app.get("/api/admin/backup/status", &admin).await;
    assert_eq!(status_now["last_failure"], Value::Null, "{status_now}");
    lock.release().await.unwrap();

    // A failed run is recorded and shown until one succeeds: the backup
    // folder is a plain file for this one.
    let folder = app.dir.path().join("backups");
    let aside = app.dir.path().join("backups-aside");
    std::fs::rename(&folder, &aside).unwrap();
    std::fs::write(&folder, b"not a folder").unwrap();
    let ran = lectern_app::schedule::run_once(&app.state.app, &plan.retention).await;
    assert_eq!(ran, lectern_app::schedule::Ran::Done);
    let (_, status_now) = app.get("/api/admin/backup/status", &admin).await;
    let failure = status_now["last_failure"]["action"].as_str();
    assert_eq!(failure, Some("backup.create"), "{status_now}");
    std::fs::remove_file(&folder).unwrap();
    std::fs::rename(&aside, &folder).unwrap();
    let (_, audit) = app
        .get("/api/admin/audit?actor=system:scheduler", &admin)
        .await;
    let outcomes: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["failed", "ok", "ok"], "{audit}");
    lectern_app::schedule::run_once(&app.state.app, &plan.retention).await;
    let (_, status_now) = app.get("/api/admin/backup/status", &admin).await;
    assert_eq!(status_now["last_failure"], Value::Null, "{status_now}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_archives_go_off_site_and_a_failed_copy_is_recorded_like_a_failed_backup() {
    let app = spawn_app_with(|options, data| {
        let nas = data.join("nas");
        std::fs::create_dir(&nas).unwrap();
        options.backups.offsite = lectern_backup::Offsite {
            mirror: Some(nas),
            after_command: Some("echo remote unreachable >&2; exit 7".into()),
            s3: None,
        };
    })
    .await;
    let admin = app.token("admin", ADMIN_PW).await;
    let record = create_backup(&app, &admin, "off site").await;
    let mirrored = app
        .dir
        .path()
        .join("nas")
        .join(record["filename"].as_str().unwrap());
    assert_eq!(
        std::fs::read(&mirrored).unwrap(),
        std::fs::read(record["file_path"].as_str().unwrap()).unwrap(),
        "the mirror holds the same archive"
    );
    let (_, status) = app.get("/api/admin/backup/status", &admin).await;
    assert_eq!(
        status["last_failure"]["action"], "backup.offsite",
        "{status}"
    );
    assert!(status["last_failure"]["message"]
        .as_str()
        .unwrap()
        .contains("remote unreachable"));
    let (_, audit) = app
        .get("/api/admin/audit?action=backup.offsite", &admin)
        .await;
    assert_eq!(audit["entries"][0]["outcome"], "failed", "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_restore_drill_tries_the_newest_backup_and_keeps_the_result() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let drill = lectern_app::schedule::drill_once(&app.state.app)
        .await
        .unwrap();
    assert!(
        !drill.ok && drill.message.contains("no backup"),
        "{drill:?}"
    );

    let record = create_backup(&app, &admin, "to drill").await;
    let drill = lectern_app::schedule::drill_once(&app.state.app)
        .await
        .unwrap();
    assert!(drill.ok, "{drill:?}");
    assert_eq!(drill.backup_id.as_deref(), record["id"].as_str());
    let (_, status) = app.get("/api/admin/backup/status", &admin).await;
    assert_eq!(status["last_drill"]["ok"], true, "{status}");

    // The archive rots on disk: the next drill says so.
    let path = record["file_path"].as_str().unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes.len() - 700;
    bytes[at] ^= 0x55;
    std::fs::write(path, bytes).unwrap();
    let drill = lectern_app::schedule::drill_once(&app.state.app)
        .await
        .unwrap();
    assert!(!drill.ok, "{drill:?}");
    let (_, status) = app.get("/api/admin/backup/status", &admin).await;
    assert_eq!(status["last_drill"]["ok"], false, "{status}");
    assert_eq!(status["last_failure"]["action"], "backup.drill", "{status}");

    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/admin/settings",
        Some(&admin),
        Some(json!({ "drill": "soon" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/admin/settings",
        Some(&admin),
        Some(json!({ "drill": "off" })),
    )
    .await;
    assert_eq!(
        (status, body["drill"].as_str()),
        (StatusCode::OK, Some("off"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleanup_takes_a_safety_backup_first() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let (status, done) = call(
        &app,
        Method::POST,
        "/api/scanner/cleanup",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let safety = done["safety_backup_id"].as_str().unwrap();
    let list = listed(&app, &admin).await;
    assert!(
        list.iter()
            .any(|r| r["id"] == safety && r["backup_type"] == "safety"),
        "{list:?}"
    );
    // When the backup cannot be taken, nothing is purged.
    let lock = lectern_store::lock::LockHandle::acquire(&app.store, "scan", "test")
        .await
        .unwrap();
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/scanner/cleanup",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    lock.release().await.unwrap();
}

/// A zstd payload of about `len` bytes that expands to gigabytes of
/// zeros: frames of 128 MiB of zeros one after another, as zstd allows.
fn bomb_payload(len: usize) -> Vec<u8> {
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    let mut zeros = std::io::Read::take(std::io::repeat(0), 128 << 20);
    std::io::copy(&mut zeros, &mut encoder).unwrap();
    let frame = encoder.finish().unwrap();
    frame.repeat(len.div_ceil(frame.len()))
}

/// An archive around `payload` with the manifest of the real archive
/// `model`, declaring a database of `db_size` bytes; the payload's own
/// size and checksum fit, so only the expansion is wrong.
fn forge(model: &[u8], payload: &[u8], db_size: u64) -> Vec<u8> {
    use sha2::Digest;
    let mut tar = tar::Archive::new(model);
    let mut first = tar.entries().unwrap().next().unwrap().unwrap();
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut first, &mut json).unwrap();
    drop(first);
    let mut manifest: Value = serde_json::from_slice(&json).unwrap();
    manifest["encryption"] = "none".into();
    manifest["payload"] = json!({
        "name": "lectern.db.zst", "size": payload.len(),
        "sha256": hex::encode(sha2::Sha256::digest(payload)),
        "db_size": db_size, "db_sha256": "0".repeat(64),
    });
    let json = serde_json::to_vec(&manifest).unwrap();
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in [("manifest.json", &json[..]), ("lectern.db.zst", payload)] {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o600);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, name, data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// The bytes of the files under `dir`, however deep; what vanishes while
/// it is counted counts as nothing.
fn bytes_under(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => bytes_under(&entry.path()),
            Ok(_) => entry.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

/// Measures a folder every millisecond on a thread of its own, from
/// before [`Sampler::watch`] returns until stopped: the most it held, and
/// how many times it was measured.
struct Sampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(u64, u64)>,
}

impl Sampler {
    fn watch(dir: &std::path::Path) -> Sampler {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (stopped, dir) = (stop.clone(), dir.to_owned());
        let (started, running) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let (mut peak, mut samples) = (bytes_under(&dir), 1);
            let _ = started.send(());
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(1));
                peak = peak.max(bytes_under(&dir));
                samples += 1;
            }
            (peak, samples)
        });
        running.recv().unwrap();
        Sampler { stop, thread }
    }

    fn finish(self) -> (u64, u64) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decompression_bomb_upload_never_grows_the_work_folder_past_the_limit() {
    let app = spawn_app().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let record = create_backup(&app, &admin, "the model").await;
    let model = std::fs::read(record["file_path"].as_str().unwrap()).unwrap();
    let work = app.dir.path().join("tmp");
    let payload = bomb_payload(150_000);
    assert!(payload.len() < 200_000, "{}", payload.len());
    let declared_small: u64 = 8 << 20;
    let bombs = [
        // Declares 20 GiB from 150 KB: refused before a byte is unpacked,
        // so the work folder holds the upload and nothing more.
        ("declared huge", forge(&model, &payload, 20 << 30), 0),
        // Declares 8 MiB, within every limit: unpacked up to 8 MiB and
        // stopped at the next byte, although it goes on for gigabytes.
        (
            "declared small",
            forge(&model, &payload, declared_small),
            declared_small,
        ),
    ];
    for (what, archive, unpacked_at_most) in bombs {
        let limit = archive.len() as u64 + unpacked_at_most;
        let sampler = Sampler::watch(&work);
        let (status, body) = upload(&app, &admin, archive).await;
        let (peak, samples) = sampler.finish();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
        assert_envelope(&body, "decompression_bomb");
        assert!(
            peak <= limit,
            "{what}: the work folder held {peak} bytes, over {limit} ({samples} samples)"
        );
        let left: Vec<_> = std::fs::read_dir(&work).unwrap().flatten().collect();
        assert!(left.is_empty(), "{what}: left behind {left:?}");
    }
    assert_eq!(listed(&app, &admin).await.len(), 1, "no bomb was kept");
}
