//! `lectern backup …` as an operator runs it, with the real binary: the
//! folder is the truth for the list, verify's exit status, a restore that
//! brings the data back and ends sessions, the lock, and recovery from a
//! database too damaged to start on.

mod common;

use common::{last_json, scan_json, Sandbox};
use lectern_core::FileId;
use lectern_store::lock::LockHandle;
use lectern_store::{NewSession, NewUser, Role, SessionKind, Store, UserId};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::Arc;

fn run(sb: &Sandbox, args: &[&str]) -> Output {
    sb.cmd()
        .env("USER", "tester")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A sandbox with the demo library scanned.
fn scanned() -> Sandbox {
    let sb = Sandbox::new();
    let root = sb.demo("lib");
    let (status, scan) = scan_json(sb.cmd().arg("--root").arg(&root), &[]);
    assert_eq!(status, 0, "{scan}");
    sb
}

fn create(sb: &Sandbox, extra: &[&str]) -> Value {
    let mut args = vec!["backup", "create", "--json"];
    args.extend_from_slice(extra);
    let out = run(sb, &args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    last_json(&out)
}

fn list(sb: &Sandbox) -> Vec<Value> {
    let out = run(sb, &["backup", "list", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    last_json(&out).as_array().unwrap().clone()
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn store(sb: &Sandbox) -> Arc<dyn Store> {
    lectern_store::open(&sb.db_url()).await.unwrap()
}

#[test]
fn created_backups_are_listed_and_the_folder_is_the_truth() {
    let sb = scanned();
    let made = create(&sb, &["--notes", "before the term"]);
    assert_eq!(made["backup_type"], "manual");
    assert_eq!(made["status"], "completed");
    assert_eq!(made["created_by"], "cli:tester");
    assert_eq!(made["notes"], "before the term");
    let path = PathBuf::from(made["file_path"].as_str().unwrap());
    assert!(path.is_absolute() && path.starts_with(sb.data().join("backups")));
    assert_eq!(list(&sb), vec![made.clone()]);

    let folder = sb.data().join("backups");
    let by_hand = folder.join("lectern-20200101T000000Z-manual-0badc0de.tar");
    std::fs::copy(&path, &by_hand).unwrap();
    std::fs::write(
        folder.join("lectern-20200102T000000Z-manual-12345678.tar.tmp"),
        b"half written",
    )
    .unwrap();
    let listed = list(&sb);
    assert_eq!(
        ids(&listed),
        [
            made["id"].as_str().unwrap(),
            "20200101T000000Z-manual-0badc0de"
        ],
        "newest first, the copy dated by its manifest, the .tmp never"
    );
    assert_eq!(listed[1]["created_at"], made["created_at"]);

    std::fs::remove_file(&path).unwrap();
    assert_eq!(ids(&list(&sb)), ["20200101T000000Z-manual-0badc0de"]);

    // The human form names each backup.
    let out = run(&sb, &["backup", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0badc0de"));
}

#[test]
fn verify_exits_zero_only_for_a_sound_archive() {
    let sb = scanned();
    let made = create(&sb, &[]);
    let id = made["id"].as_str().unwrap();
    let out = run(&sb, &["backup", "verify", id, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let sound = last_json(&out);
    assert_eq!(sound["status"], "sound");
    assert_eq!(sound["manifest"]["format"], "lectern-backup");
    assert!(sound["manifest"]["row_counts"]["files"].as_u64().unwrap() > 0);

    let mut bytes = std::fs::read(made["file_path"].as_str().unwrap()).unwrap();
    let at = bytes.len() - 2000;
    bytes[at] ^= 0x01;
    let damaged = sb.path("damaged.tar");
    std::fs::write(&damaged, bytes).unwrap();
    let out = run(
        &sb,
        &["backup", "verify", damaged.to_str().unwrap(), "--json"],
    );
    assert_eq!(code(&out), 1);
    assert_eq!(last_json(&out)["error"]["code"], "checksum_mismatch");

    let out = run(&sb, &["backup", "verify", "no-such-backup"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("neither a file nor the id"));
    let work = sb.data().join("tmp");
    assert_eq!(std::fs::read_dir(work).unwrap().count(), 0, "no work files");
}

#[test]
fn a_passphrase_from_the_environment_encrypts_and_is_needed_to_verify() {
    let sb = scanned();
    let out = sb
        .cmd()
        .env("LECTERN_BACKUP_PASSPHRASE", "correct horse")
        .args(["backup", "create", "--json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let made = last_json(&out);
    assert_eq!(made["encrypted"], true);
    let id = made["id"].as_str().unwrap();

    let out = run(&sb, &["backup", "verify", id, "--json"]);
    assert_eq!(code(&out), 2, "no passphrase configured: a usage error");
    assert_eq!(last_json(&out)["error"]["code"], "secret_missing");
    let pass_file = sb.path("pass");
    std::fs::write(&pass_file, "correct horse\n").unwrap();
    let out = sb
        .cmd()
        .env("LECTERN_BACKUP_PASSPHRASE_FILE", &pass_file)
        .args(["backup", "verify", id])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = sb
        .cmd()
        .env("LECTERN_BACKUP_PASSPHRASE", "wrong horse")
        .args(["backup", "verify", id, "--json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert_eq!(last_json(&out)["error"]["code"], "wrong_secret");
    assert!(
        !stderr(&out).contains("wrong horse"),
        "the secret is not shown"
    );
}

async fn add_user(store: &Arc<dyn Store>, name: &str) -> UserId {
    let user = NewUser {
        username: name.to_owned(),
        password_hash: "x".to_owned(),
        role: Role::User,
    };
    store.create_user(&user).await.unwrap().id
}

async fn sign_in(store: &Arc<dyn Store>, user: UserId, token: &str) {
    let session = NewSession {
        token_hash: token.to_owned(),
        user_id: user,
        kind: SessionKind::Web,
        csrf_token: "csrf".into(),
        expires_at: i64::MAX,
    };
    store.create_session(&session).await.unwrap();
}

async fn position(store: &Arc<dyn Store>, user: UserId, file: FileId) -> Option<f64> {
    let course = store.file(file).await.unwrap().unwrap().course_id;
    let progress = store.course_progress(user, course).await.unwrap();
    progress
        .iter()
        .find(|p| p.file_id == file)
        .and_then(|p| p.position_seconds)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_brings_back_people_and_progress_and_ends_sessions() {
    let sb = scanned();
    let db = store(&sb).await;
    let alice = add_user(&db, "alice").await;
    let file = db.all_files().await.unwrap()[0].id;
    db.set_progress(alice, file, Some(42.0), Some(false))
        .await
        .unwrap();
    sign_in(&db, alice, "alice-before").await;
    db.close().await;
    let made = create(&sb, &[]);

    let db = store(&sb).await;
    db.set_progress(alice, file, Some(300.0), Some(true))
        .await
        .unwrap();
    let bob = add_user(&db, "bob").await;
    sign_in(&db, bob, "bob-after").await;
    db.close().await;

    let id = made["id"].as_str().unwrap();
    let out = run(&sb, &["backup", "restore", id]);
    assert_eq!(code(&out), 2, "no terminal and no --yes: refused");
    let out = run(&sb, &["backup", "restore", id, "--yes", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let restored = last_json(&out);
    assert_eq!(restored["sessions_ended"], true);
    assert_eq!(restored["safety_backup"]["backup_type"], "safety");
    assert!(restored["damaged_file"].is_null());

    let db = store(&sb).await;
    let names: Vec<String> = db
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["alice"]);
    assert_eq!(position(&db, alice, file).await, Some(42.0));
    for token in ["alice-before", "bob-after"] {
        assert!(db.session(token).await.unwrap().is_none(), "{token}");
    }
    assert!(db.read_lock().await.unwrap().is_none(), "the lock is free");
    let audit = db
        .audit(&lectern_store::AuditQuery::default())
        .await
        .unwrap();
    assert_eq!(audit.entries[0].action, "backup.restore");
    assert_eq!(audit.entries[0].actor, "cli:tester");
    db.close().await;

    // The safety backup holds the replaced data: restoring it undoes this.
    let safety = restored["safety_backup"]["id"].as_str().unwrap();
    let out = run(&sb, &["backup", "restore", safety, "--yes"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let db = store(&sb).await;
    assert_eq!(db.users().await.unwrap().len(), 2);
    assert_eq!(position(&db, alice, file).await, Some(300.0));
    db.close().await;
    let types: Vec<Value> = list(&sb).iter().map(|r| r["backup_type"].clone()).collect();
    assert_eq!(types, ["safety", "safety", "manual"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_waits_for_no_one_while_another_operation_holds_the_lock() {
    let sb = scanned();
    let made = create(&sb, &[]);
    let db = store(&sb).await;
    add_user(&db, "after-backup").await;
    let lock = LockHandle::acquire(&db, "scan", "test:scanner")
        .await
        .unwrap();
    let id = made["id"].as_str().unwrap();
    let out = run(&sb, &["backup", "restore", id, "--yes", "--json"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert_eq!(last_json(&out)["error"]["code"], "locked");
    let out = run(&sb, &["backup", "create"]);
    assert_eq!(code(&out), 4, "a backup waits its turn too");
    assert_eq!(db.users().await.unwrap().len(), 1, "nothing changed");
    lock.release().await.unwrap();
    db.close().await;
    assert_eq!(list(&sb).len(), 1, "no safety backup was taken");
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `lectern serve --port 0`; `Ok` once it listens, `Err(status,
/// stderr)` when it exits first.
fn serve(sb: &Sandbox) -> Result<Server, (i32, String)> {
    let mut cmd = sb.cmd();
    cmd.args(["serve", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut server = Server(cmd.spawn().unwrap());
    let mut reader = BufReader::new(server.0.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            let status = server.0.wait().unwrap().code().unwrap_or(-1);
            let mut err = String::new();
            std::io::Read::read_to_string(server.0.stderr.as_mut().unwrap(), &mut err).unwrap();
            return Err((status, err));
        }
        if line.contains("Lectern is listening") {
            return Ok(server);
        }
    }
}

/// Overwrites the database with noise, journal files included, as a disk
/// fault would; returns the noise.
fn wreck(db: &Path) -> Vec<u8> {
    let size = std::fs::metadata(db).unwrap().len() as usize;
    let noise: Vec<u8> = (0..size).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(db, &noise).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    noise
}

#[test]
fn serve_refuses_a_damaged_database_and_an_offline_restore_recovers_it() {
    let sb = scanned();
    let made = create(&sb, &[]);
    let db = sb.data().join("lectern.db");
    let noise = wreck(&db);

    let (status, err) = match serve(&sb) {
        Ok(_) => panic!("serve started on a damaged database"),
        Err(failed) => failed,
    };
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("damaged"), "{err}");
    assert!(err.contains("lectern backup restore FILE"), "{err}");
    assert!(err.contains("lectern backup list"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let out = run(&sb, &["user", "list"]);
    assert_eq!(code(&out), 1, "every command refuses it");

    // list and verify need no database.
    assert_eq!(ids(&list(&sb)), [made["id"].as_str().unwrap()]);
    let id = made["id"].as_str().unwrap();
    let out = run(&sb, &["backup", "restore", id, "--yes", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let restored = last_json(&out);
    assert!(
        restored["safety_backup"].is_null(),
        "nothing readable to save"
    );
    let kept = PathBuf::from(restored["damaged_file"].as_str().unwrap());
    assert!(kept.starts_with(sb.data().join("tmp")), "{kept:?}");
    assert!(
        std::fs::read(&kept).unwrap() == noise,
        "the damaged file is kept as it was"
    );

    let server = serve(&sb).unwrap_or_else(|(s, e)| panic!("serve exited {s}: {e}"));
    drop(server);
    let (status, scan) = scan_json(sb.cmd().arg("--root").arg(sb.path("lib")), &[]);
    assert_eq!(status, 0, "{scan}");
    assert_eq!(scan["added"], 0, "the restored index matches the library");
}

#[test]
fn an_archive_restores_into_a_new_data_folder_by_its_path() {
    let sb = scanned();
    let made = create(&sb, &[]);
    let fresh = Sandbox::new();
    let copy = fresh.path("moved-here.tar");
    std::fs::copy(made["file_path"].as_str().unwrap(), &copy).unwrap();
    let out = run(&fresh, &["backup", "verify", copy.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = run(
        &fresh,
        &[
            "backup",
            "restore",
            copy.to_str().unwrap(),
            "--yes",
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let restored = last_json(&out);
    assert!(
        restored["safety_backup"].is_null(),
        "nothing was there to keep"
    );
    assert_eq!(restored["manifest"]["created_at"], made["created_at"]);
    let out = run(&fresh, &["list", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (status, scan) = scan_json(fresh.cmd().arg("--root").arg(sb.path("lib")), &[]);
    assert_eq!(status, 0, "{scan}");
    assert_eq!(scan["added"], 0, "the index came with the backup");
}

#[test]
fn an_offline_backup_is_copied_off_site_and_a_failed_copy_is_reported() {
    let sb = scanned();
    let mirror = sb.path("nas");
    std::fs::create_dir(&mirror).unwrap();
    let out = sb
        .cmd()
        .env("LECTERN_BACKUP__MIRROR", &mirror)
        .args(["backup", "create", "--json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let made = last_json(&out);
    assert!(made.get("offsite_error").is_none(), "{made}");
    let copy = mirror.join(made["filename"].as_str().unwrap());
    let original = PathBuf::from(made["file_path"].as_str().unwrap());
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        std::fs::read(&original).unwrap()
    );

    let out = sb
        .cmd()
        .env(
            "LECTERN_BACKUP__AFTER_COMMAND",
            "echo no route to the NAS >&2; exit 3",
        )
        .args(["backup", "create", "--json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "a failed copy fails the command");
    let made = last_json(&out);
    let why = made["offsite_error"].as_str().unwrap();
    assert!(why.contains("no route to the NAS"), "{why}");
    assert!(
        stderr(&out).contains("off-site copy failed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(list(&sb).len(), 2, "the backup itself is kept");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let failure = rt.block_on(async {
        let store = store(&sb).await;
        let failure = store.setting("backup_last_failure").await.unwrap();
        store.close().await;
        failure
    });
    let failure: Value = serde_json::from_str(&failure.unwrap()).unwrap();
    assert_eq!(failure["action"], "backup.offsite", "{failure}");
}

/// moto's S3 server (the backup crate's test script) with `buckets`, and
/// its port; `None`, after saying why, where moto is missing and `CI` is
/// unset.
fn s3_server(buckets: &[&str]) -> Option<(common::Server, u16)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../backup/tests/s3_server.py");
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .args(buckets)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut first);
    let server = common::Server(child);
    match first.trim().parse() {
        Ok(port) => Some((server, port)),
        Err(_) => {
            let why = "moto's S3 server did not start";
            assert!(
                std::env::var_os("CI").is_none(),
                "{why} (CI installs moto[server])"
            );
            eprintln!("skipped: {why}; `pip install \"moto[server]\"` to run it");
            None
        }
    }
}

#[test]
fn an_offline_backup_is_uploaded_to_an_s3_bucket_and_a_bad_one_is_reported() {
    let Some((_s3, port)) = s3_server(&["site-backups"]) else {
        return;
    };
    let sb = scanned();
    let endpoint = format!("http://127.0.0.1:{port}");
    let s3 = |location: &str| {
        let mut cmd = sb.cmd();
        cmd.env("LECTERN_BACKUP__S3__LOCATION", location)
            .env("LECTERN_BACKUP__S3__ENDPOINT", &endpoint)
            .env("LECTERN_BACKUP__S3__ACCESS_KEY_ID", "test-key")
            .env("LECTERN_BACKUP__S3__SECRET_ACCESS_KEY", "test-secret")
            .args(["backup", "create", "--json"]);
        cmd.output().unwrap()
    };
    let out = s3("s3://site-backups/lectern/");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let made = last_json(&out);
    assert!(made.get("offsite_error").is_none(), "{made}");
    let filename = made["filename"].as_str().unwrap();
    let original = std::fs::read(made["file_path"].as_str().unwrap()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let uploaded = rt.block_on(async {
        let url = format!("{endpoint}/site-backups/lectern/{filename}");
        reqwest::get(url).await.unwrap().bytes().await.unwrap()
    });
    assert!(uploaded == original, "the bucket's copy differs");

    let out = s3("s3://no-such-bucket");
    assert_eq!(code(&out), 1, "a failed upload fails the command");
    let why = last_json(&out)["offsite_error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(why.contains("s3://no-such-bucket"), "{why}");
    assert!(!why.contains("test-secret"), "{why}");

    // A location that is no bucket, or half a pair of keys, is refused
    // before anything runs, as any bad configuration is.
    let out = s3("https://site-backups");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("s3://BUCKET"), "{}", stderr(&out));
    let out = sb
        .cmd()
        .env("LECTERN_BACKUP__S3__LOCATION", "s3://site-backups")
        .env("LECTERN_BACKUP__S3__SECRET_ACCESS_KEY", "test-secret")
        .args(["backup", "create", "--json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("go together"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("test-secret"), "{}", stderr(&out));
    assert_eq!(list(&sb).len(), 2, "both made backups are kept");
}

/// Overwrites one page of the index `index` with noise, leaving the rest
/// of the file (the schema, the migration history) readable.
async fn damage_index(db: &Path, index: &str) {
    use sqlx::Connection;
    let url = format!("sqlite://{}", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .unwrap();
    let page: i64 = sqlx::query_scalar("SELECT rootpage FROM sqlite_master WHERE name = ?")
        .bind(index)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let size: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let mut bytes = std::fs::read(db).unwrap();
    let start = ((page - 1) * size) as usize;
    for (i, b) in bytes[start..start + size as usize].iter_mut().enumerate() {
        *b = (i * 31 % 253) as u8;
    }
    std::fs::write(db, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_a_database_with_a_damaged_page_is_refused_and_leaves_nothing() {
    let sb = scanned();
    damage_index(&sb.data().join("lectern.db"), "files_course").await;
    let out = run(&sb, &["backup", "create", "--json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let failure = last_json(&out);
    assert_eq!(failure["error"]["code"], "damaged", "{failure}");
    assert!(
        stderr(&out).contains("lectern backup restore FILE"),
        "{}",
        stderr(&out)
    );
    assert!(list(&sb).is_empty(), "no archive of damaged data");
    let left: Vec<_> = std::fs::read_dir(sb.data().join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "nothing left in the work folder: {left:?}");
}

#[test]
fn an_upload_limit_of_zero_is_refused_as_a_configuration_error() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .env("LECTERN_BACKUP__MAX_UPLOAD_GIB", "0")
        .args(["backup", "list"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("max_upload_gib"), "{}", stderr(&out));
}
