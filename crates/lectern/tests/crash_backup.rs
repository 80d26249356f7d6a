//! A backup or a restore killed with SIGKILL at several points: no partial
//! archive is ever listed, the next backup or restore clears the killed
//! one's temporary files and takes over its lock, and the data is always
//! the old data whole or the backup's data whole, never a mix.

#![cfg(unix)]

mod common;

use common::{last_json, scan_json, Sandbox};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::SqlitePool;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

fn run(sb: &Sandbox, args: &[&str]) -> Output {
    sb.cmd()
        .env("USER", "tester")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn spawn(sb: &Sandbox, args: &[&str]) -> Child {
    sb.cmd()
        .env("USER", "tester")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn ok(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    last_json(out)
}

fn db_path(sb: &Sandbox) -> PathBuf {
    sb.data().join("lectern.db")
}

async fn open_db(path: &Path) -> SqlitePool {
    // The store's own settings, so opening changes nothing about the file.
    let options = SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap()
}

async fn exec(pool: &SqlitePool, sql: &str) {
    sqlx::query(sql).execute(pool).await.unwrap();
}

async fn count(pool: &SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// The demo library scanned, then enough people and progress (with bulky,
/// incompressible password hashes) that a backup takes a while.
async fn large_sandbox() -> Sandbox {
    let sb = Sandbox::new();
    let root = sb.demo("lib");
    let (status, scan) = scan_json(sb.cmd().arg("--root").arg(&root), &[]);
    assert_eq!(status, 0, "{scan}");
    let pool = open_db(&db_path(&sb)).await;
    exec(
        &pool,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000)
         INSERT INTO users (username, password_hash, role, created_at, updated_at)
         SELECT 'bulk' || i, hex(randomblob(1024)), 'user', 0, 0 FROM n",
    )
    .await;
    exec(
        &pool,
        "INSERT INTO progress (user_id, file_id, position_seconds, completed, updated_at)
         SELECT u.id, f.id, 1.5, 0, 0 FROM users u, files f",
    )
    .await;
    assert!(count(&pool, "SELECT count(*) FROM progress").await >= 6000);
    pool.close().await;
    sb
}

/// Kills `child` after `delay`; whether it was still running by then.
async fn kill_after(child: &mut Child, delay: Duration) -> bool {
    tokio::time::sleep(delay).await;
    if let Some(status) = child.try_wait().unwrap() {
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert!(status.success(), "it failed before the kill: {err}");
        return false;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    true
}

fn entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Every file in the backup folder is listed, complete, and nothing else.
fn assert_only_complete_archives(sb: &Sandbox) -> Vec<Value> {
    let records = ok(&run(sb, &["backup", "list", "--json"]))
        .as_array()
        .unwrap()
        .clone();
    for r in &records {
        assert_eq!(r["status"], "completed", "a partial archive is listed: {r}");
    }
    let mut listed: Vec<String> = records
        .iter()
        .map(|r| r["filename"].as_str().unwrap().to_owned())
        .collect();
    let mut files = entries(&sb.data().join("backups"));
    listed.sort();
    files.sort();
    assert_eq!(
        files, listed,
        "files in the backup folder that are not listed"
    );
    records
}

/// The time a complete `args` run takes.
fn timed(sb: &Sandbox, args: &[&str]) -> (Duration, Value) {
    let started = Instant::now();
    let out = ok(&run(sb, args));
    (started.elapsed(), out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_killed_at_any_point_leaves_no_partial_archive_and_no_temp_files() {
    let sb = large_sandbox().await;
    let (took, _) = timed(&sb, &["backup", "create", "--json"]);
    let mut caught = 0;
    for tenths in [0, 1, 2, 4, 6, 8, 9] {
        let mut child = spawn(&sb, &["backup", "create", "--json"]);
        if kill_after(&mut child, took * tenths / 10).await {
            caught += 1;
        }
        // Whichever point was hit: nothing partial shows.
        assert_only_complete_archives(&sb);
    }
    assert!(
        caught > 0,
        "every backup finished before it could be killed"
    );

    // The next backup takes over the dead holders' lock and clears their
    // temporary files; its own are gone when it ends.
    ok(&run(&sb, &["backup", "create", "--json"]));
    assert_eq!(entries(&sb.data().join("tmp")), Vec::<String>::new());
    for record in assert_only_complete_archives(&sb) {
        let id = record["id"].as_str().unwrap();
        let verified = ok(&run(&sb, &["backup", "verify", id, "--json"]));
        assert_eq!(verified["status"], "sound", "{id}");
    }
}

/// The facts that tell the old data from the backup's.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Content {
    users: i64,
    progress: i64,
    only_in_backup: i64,
    only_in_current: i64,
}

/// Opens the database as the next process would, checks it, and reads
/// what distinguishes the two versions.
async fn content(sb: &Sandbox) -> Content {
    let pool = open_db(&db_path(sb)).await;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let named = |name: &str| format!("SELECT count(*) FROM users WHERE username = '{name}'");
    let content = Content {
        users: count(&pool, "SELECT count(*) FROM users").await,
        progress: count(&pool, "SELECT count(*) FROM progress").await,
        only_in_backup: count(&pool, &named("only-in-backup")).await,
        only_in_current: count(&pool, &named("only-in-current")).await,
    };
    pool.close().await;
    content
}

/// Puts the old data back as a plain file, with no process running.
fn reset(sb: &Sandbox, old: &Path) {
    let db = db_path(sb);
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::copy(old, &db).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_killed_at_any_point_leaves_the_old_data_or_the_new_never_a_mix() {
    let sb = large_sandbox().await;
    let pool = open_db(&db_path(&sb)).await;
    exec(&pool, "INSERT INTO users (username, password_hash, role, created_at, updated_at) VALUES ('only-in-backup', 'x', 'user', 0, 0)").await;
    pool.close().await;
    let (_, archive) = timed(&sb, &["backup", "create", "--json"]);
    let archive = archive["file_path"].as_str().unwrap().to_owned();

    // The current data differs from the backup's in who is there and in
    // how much progress there is.
    let pool = open_db(&db_path(&sb)).await;
    exec(&pool, "DELETE FROM users WHERE username = 'only-in-backup'").await;
    exec(
        &pool,
        "DELETE FROM users WHERE username IN ('bulk1', 'bulk2', 'bulk3')",
    )
    .await;
    exec(&pool, "INSERT INTO users (username, password_hash, role, created_at, updated_at) VALUES ('only-in-current', 'x', 'user', 0, 0)").await;
    let old = sb.path("old.db");
    exec(&pool, &format!("VACUUM INTO '{}'", old.display())).await;
    pool.close().await;
    let old_content = content(&sb).await;
    reset(&sb, &old);
    assert_eq!(content(&sb).await, old_content);

    // One restore run through shows the backup's data and how long a
    // restore takes; then the old data again, and restores killed at
    // points spread over that time, closer together near the end, where
    // the data is replaced.
    let restore = ["backup", "restore", archive.as_str(), "--yes", "--json"];
    let (took, _) = timed(&sb, &restore);
    let new_content = content(&sb).await;
    assert_eq!(new_content.only_in_backup, 1);
    assert_eq!(new_content.only_in_current, 0);
    assert_eq!(new_content.users, old_content.users + 3);
    assert_ne!(new_content.progress, old_content.progress);
    reset(&sb, &old);
    let mut caught = 0;
    for percent in [10, 30, 50, 70, 80, 85, 90, 93, 96, 98, 100, 105] {
        let mut child = spawn(&sb, &restore);
        if kill_after(&mut child, took * percent / 100).await {
            caught += 1;
        }
        // Whichever point was hit: the old data whole or the new whole.
        let now = content(&sb).await;
        assert!(
            now == old_content || now == new_content,
            "a mix after a kill at {percent}%: {now:?}, old {old_content:?}, new {new_content:?}"
        );
        if now == new_content {
            reset(&sb, &old);
        }
    }
    assert!(
        caught > 0,
        "every restore finished before it could be killed"
    );

    // The next restore takes over the dead holders' lock, clears their
    // temporary files and finishes; its own are gone when it ends.
    ok(&run(&sb, &restore));
    assert_eq!(content(&sb).await, new_content);
    assert_eq!(entries(&sb.data().join("tmp")), Vec::<String>::new());
    assert_only_complete_archives(&sb);
}
