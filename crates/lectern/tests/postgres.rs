//! Moving an install from the embedded database to PostgreSQL with the
//! command line, step by step as docs/postgres.md gives it, and an offline
//! restore on PostgreSQL.

mod common;

use common::{last_json, Sandbox};
use lectern_store::Store;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

fn run(mut cmd: Command, args: &[&str]) -> Output {
    let out = cmd.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `lectern` on the PostgreSQL database `url`, in the same sandbox.
fn on_postgres(sb: &Sandbox, url: &str) -> Command {
    let mut cmd = sb.cmd();
    cmd.args(["--database-url", url]);
    cmd
}

fn add_user(mut cmd: Command, name: &str) {
    let mut child = cmd
        .args(["user", "add", name, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"a long enough password\n").unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

/// What the people and the library are, read through a store.
async fn view(store: &Arc<dyn Store>) -> String {
    let users = store.users().await.unwrap();
    let logins = password_hashes(store, &users).await;
    format!(
        "{users:?}\n{logins:?}\n{:?}\n{:?}",
        store.courses(None).await.unwrap(),
        store.all_files().await.unwrap()
    )
}

async fn password_hashes(store: &Arc<dyn Store>, users: &[lectern_store::User]) -> Vec<String> {
    let mut hashes = Vec::new();
    for user in users {
        let (_, hash) = store.user_login(&user.username).await.unwrap().unwrap();
        hashes.push(hash);
    }
    hashes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_move_to_postgres_keeps_everything_and_restores_offline_there() {
    let Some(db) = lectern_testdb::TestDb::create().await else {
        return;
    };
    let sb = Sandbox::new();
    let library = sb.demo("lib");
    run(
        sb.cmd(),
        &["--root", library.to_str().unwrap(), "scan", "--json"],
    );
    add_user(sb.cmd(), "alice");

    // 1. On the old install: an archive.
    let made = last_json(&run(sb.cmd(), &["backup", "create", "--json"]));
    let archive = made["file_path"].as_str().unwrap().to_owned();
    let embedded = lectern_store::open(&sb.db_url()).await.unwrap();
    let before = view(&embedded).await;
    embedded.close().await;

    // 2. Restore it into the new PostgreSQL database.
    run(
        on_postgres(&sb, db.url()),
        &["backup", "restore", &archive, "--yes", "--json"],
    );
    let postgres = lectern_store::open(db.url()).await.unwrap();
    assert_eq!(
        view(&postgres).await,
        before,
        "the same ids, logins and files"
    );

    // An offline restore on PostgreSQL: what came after the backup goes.
    let made = last_json(&run(
        on_postgres(&sb, db.url()),
        &["backup", "create", "--json"],
    ));
    add_user(on_postgres(&sb, db.url()), "bob");
    assert!(postgres.user_login("bob").await.unwrap().is_some());
    let id = made["id"].as_str().unwrap();
    run(
        on_postgres(&sb, db.url()),
        &["backup", "restore", id, "--yes"],
    );
    assert!(postgres.user_login("bob").await.unwrap().is_none());
    assert_eq!(view(&postgres).await, before);
    postgres.close().await;
}
