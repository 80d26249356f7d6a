//! What must hold when things go wrong: a scan killed with SIGKILL, files
//! and folders that cannot be read, and an operation lock whose holder died.

mod common;

use common::{chmod, last_json, scan_json, unprivileged, Sandbox};
use lectern_store::lock::this_process;
use lectern_store::{LockInfo, Store};
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Writes `courses` courses of 200 distinct 4 KiB files each.
fn big_library(root: &Path, courses: usize) -> usize {
    let mut n = 0;
    for c in 0..courses {
        for s in 0..4 {
            let dir = root
                .join(format!("Cat {}", c % 3))
                .join(format!("Course {c}"))
                .join(format!("{s} Section"));
            std::fs::create_dir_all(&dir).unwrap();
            for f in 0..50 {
                let mut bytes = vec![0u8; 4096];
                bytes[..8].copy_from_slice(&(n as u64).to_le_bytes());
                std::fs::write(dir.join(format!("{f} lesson.txt")), bytes).unwrap();
                n += 1;
            }
        }
    }
    n
}

async fn open_db(path: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap()
}

async fn count(pool: &SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or(0)
}

/// Starts a scan and kills it once some batch is committed; `None` if the
/// scan finished before it could be caught.
async fn kill_mid_scan(sb: &Sandbox, root: &Path) -> Option<i64> {
    let mut child = sb
        .cmd()
        .arg("--root")
        .arg(root)
        .args(["scan", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let db = sb.data().join("lectern.db");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut pool = None;
    loop {
        assert!(
            Instant::now() < deadline,
            "the scan neither committed nor ended"
        );
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        if pool.is_none() && db.exists() {
            pool = Some(open_db(&db).await);
        }
        if let Some(pool) = &pool {
            let indexed = count(pool, "SELECT count(*) FROM files").await;
            if indexed > 0 {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                pool.close().await;
                return Some(indexed);
            }
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_killed_with_sigkill_leaves_a_consistent_index_and_shows_as_interrupted() {
    let mut courses = 60;
    for _attempt in 0..4 {
        let sb = Sandbox::new();
        let root = sb.path("lib");
        let total = big_library(&root, courses);
        let Some(_) = kill_mid_scan(&sb, &root).await else {
            courses *= 2;
            continue;
        };
        let pool = open_db(&sb.data().join("lectern.db")).await;
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(check, "ok");
        let status: String = sqlx::query_scalar("SELECT status FROM scans WHERE id = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(status, "running", "the kill landed after the scan ended");
        let rows = sqlx::query("SELECT path, size, sha256 FROM files")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert!(
            !rows.is_empty() && rows.len() < total,
            "{} of {total} indexed",
            rows.len()
        );
        for row in &rows {
            let bytes = std::fs::read(root.join(row.get::<String, _>("path"))).unwrap();
            assert_eq!(row.get::<i64, _>("size"), bytes.len() as i64);
            assert_eq!(
                row.get::<String, _>("sha256"),
                hex::encode(Sha256::digest(&bytes))
            );
        }
        let committed = rows.len() as u64;
        pool.close().await;

        // The next scan is not blocked by the dead holder's lock, finishes
        // the job, and the killed scan shows as interrupted.
        let (code, v) = scan_json(sb.cmd().arg("--root").arg(&root), &[]);
        assert_eq!(code, 0, "{v}");
        assert_eq!(v["added"].as_u64().unwrap() + committed, total as u64);
        assert_eq!(v["removed"], 0);
        let out = sb.cmd().args(["history", "1", "--json"]).output().unwrap();
        assert_eq!(last_json(&out)["scan"]["status"], "interrupted");
        return;
    }
    panic!("every scan finished before it could be killed");
}

#[test]
fn unreadable_files_and_folders_keep_their_records_and_are_reported() {
    let sb = Sandbox::new();
    chmod(sb.dir.path(), 0o755);
    std::fs::create_dir_all(sb.data()).unwrap();
    chmod(&sb.data(), 0o777);
    let root = sb.demo("lib");
    let Some(_) = unprivileged(&sb) else { return };
    let scan =
        |extra: &[&str]| scan_json(unprivileged(&sb).unwrap().arg("--root").arg(&root), extra);
    let (code, first) = scan(&[]);
    assert_eq!(code, 0, "{first}");

    let locked_file = root.join("Design/Typography/2 Basics/02 Glossary.txt");
    let locked_dir = root.join("Languages/German A1/01 Greetings");
    let under_dir = std::fs::read_dir(&locked_dir).unwrap().count() as u64;
    chmod(&locked_file, 0o000);
    chmod(&locked_dir, 0o000);
    // --verify reads every file: a quick scan would not open the file,
    // whose size and modification time did not change.
    let (code, second) = scan(&["--verify"]);
    chmod(&locked_file, 0o644);
    chmod(&locked_dir, 0o755);

    assert_eq!(code, 0, "per-file errors do not fail a scan: {second}");
    assert_eq!(second["removed"], 0, "unreadable is not missing: {second}");
    assert!(second["errors"].as_u64().unwrap() >= 2, "{second}");
    assert_eq!(
        second["unchanged"].as_u64().unwrap() + under_dir + 1,
        first["added"].as_u64().unwrap()
    );
    let list =
        String::from_utf8(sb.cmd().args(["list", "--json"]).output().unwrap().stdout).unwrap();
    assert!(!list.contains("\"missing\""), "a record was marked missing");
    let out = sb
        .cmd()
        .args(["history", &second["scan_id"].to_string(), "--json"])
        .output()
        .unwrap();
    let issues = last_json(&out)["issues"].to_string();
    assert!(
        issues.contains("02 Glossary.txt") && issues.contains("01 Greetings"),
        "{issues}"
    );
}

fn lock(owner: lectern_store::LockOwner, expires_in_ms: i64) -> LockInfo {
    let now = lectern_store::now_ms();
    LockInfo {
        operation: "backup".into(),
        owner,
        token: format!("test-{now}"),
        acquired_at: now,
        expires_at: now + expires_in_ms,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operation_lock_blocks_while_its_holder_lives_and_frees_itself_when_it_dies() {
    let sb = Sandbox::new();
    let root = sb.demo("lib");
    assert_eq!(scan_json(sb.cmd().arg("--root").arg(&root), &[]).0, 0);
    let store = lectern_store::open(&sb.db_url()).await.unwrap();
    let take = |store: std::sync::Arc<dyn Store>, info: LockInfo| async move {
        let current = store.read_lock().await.unwrap().map(|l| l.token);
        assert!(store.swap_lock(current.as_deref(), &info).await.unwrap());
    };

    // Held by this (live) test process: busy, exit 4, error code "locked".
    take(store.clone(), lock(this_process("test"), 60_000)).await;
    let out = sb
        .cmd()
        .arg("--root")
        .arg(&root)
        .args(["scan", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(last_json(&out)["error"]["code"], "locked");
    assert!(String::from_utf8_lossy(&out.stderr).contains("backup held by test"));

    // Held by a process on another host whose lease has not run out: busy.
    let mut elsewhere = this_process("other-host");
    elsewhere.host = "some-other-host".into();
    take(store.clone(), lock(elsewhere.clone(), 60_000)).await;
    let out = sb
        .cmd()
        .arg("--root")
        .arg(&root)
        .args(["cleanup", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));

    // Its lease ran out: free.
    take(store.clone(), lock(elsewhere, -1)).await;
    assert_eq!(scan_json(sb.cmd().arg("--root").arg(&root), &[]).0, 0);

    // Held by a process on this host that died (SIGKILL leaves the row): free at once.
    let mut dead = Command::new("true").spawn().unwrap();
    let mut gone = this_process("killed");
    gone.pid = i64::from(dead.id());
    dead.wait().unwrap();
    gone.pid_start = gone.pid_start.map(|s| s - 1);
    take(store.clone(), lock(gone, 60_000)).await;
    assert_eq!(scan_json(sb.cmd().arg("--root").arg(&root), &[]).0, 0);
    assert!(
        store.read_lock().await.unwrap().is_none(),
        "the lock was not released"
    );
    store.close().await;
}
