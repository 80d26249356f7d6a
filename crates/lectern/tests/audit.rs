//! The command line's changes reach the audit log, named after the person
//! at the terminal, and a password read from stdin never does.

mod common;

use common::Sandbox;
use lectern_store::{AuditEntry, AuditQuery, Outcome};
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// `lectern ARGS` as the login `tester`, with `input` on stdin.
fn run(sb: &Sandbox, args: &[&str], input: &str) -> Output {
    let mut cmd: Command = sb.cmd();
    cmd.env("USER", "tester").args(args);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// The whole log, newest first.
async fn entries(sb: &Sandbox) -> Vec<AuditEntry> {
    let store = lectern_store::open(&sb.db_url()).await.unwrap();
    let page = store.audit(&AuditQuery::default()).await.unwrap();
    store.close().await;
    page.entries
}

fn summary(entries: &[AuditEntry]) -> Vec<(String, String, Option<String>, Outcome)> {
    entries
        .iter()
        .map(|e| {
            let target = e.target.clone().unwrap_or_default();
            (e.action.clone(), target, e.detail.clone(), e.outcome)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_changes_are_recorded_as_the_person_at_the_terminal() {
    let sb = Sandbox::new();
    let secret = "correct horse battery staple";
    let steps: [(&[&str], i32); 6] = [
        (&["user", "add", "bob", "--password-stdin"], 0),
        (&["user", "add", "BOB", "--password-stdin"], 2),
        (&["user", "passwd", "bob"], 0),
        (&["user", "disable", "bob"], 0),
        (&["user", "enable", "bob"], 0),
        (&["user", "passwd", "nobody"], 1),
    ];
    for (args, code) in steps {
        let out = run(&sb, args, &format!("{secret}\n"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    }
    let listed = run(&sb, &["user", "list"], "");
    assert!(listed.status.success());

    let log = entries(&sb).await;
    let bob = {
        let store = lectern_store::open(&sb.db_url()).await.unwrap();
        let (bob, _) = store.user_login("bob").await.unwrap().unwrap();
        store.close().await;
        format!("user={}", bob.id)
    };
    let failed = |code: &str| Some(format!(r#"{{"error":"{code}"}}"#));
    let changed = |what: &str| Some(format!(r#"{{"changed":["{what}"]}}"#));
    // The API's action names and targets: one naming for both front ends.
    let expected = [
        (
            "user.update",
            "username=nobody",
            failed("not_found"),
            Outcome::Failed,
        ),
        ("user.update", &bob, changed("enabled"), Outcome::Ok),
        ("user.update", &bob, changed("disabled"), Outcome::Ok),
        ("user.update", &bob, changed("password"), Outcome::Ok),
        (
            "user.create",
            "username=BOB",
            failed("invalid"),
            Outcome::Failed,
        ),
        ("user.create", &bob, None, Outcome::Ok),
    ];
    let expected: Vec<_> = expected
        .into_iter()
        .map(|(a, t, d, o)| (a.to_owned(), t.to_owned(), d, o))
        .collect();
    assert_eq!(summary(&log), expected, "listing is not a change");
    for entry in &log {
        assert_eq!(entry.actor, "cli:tester");
        assert_eq!((entry.actor_id, entry.status), (None, None));
        assert!(!format!("{entry:?}").contains(secret), "{entry:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_and_cleanups_are_recorded_with_their_scan_id() {
    let sb = Sandbox::new();
    let root = sb.demo("lib");
    let root = root.to_str().unwrap();
    let out = run(&sb, &["--root", root, "scan", "--json"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scan = common::last_json(&out)["scan_id"].as_i64().unwrap();
    let out = run(&sb, &["cleanup", "--json"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cleanup = common::last_json(&out)["scan_id"].as_i64().unwrap();
    let out = run(&sb, &["--root", root, "scan", "--course", "999999"], "");
    assert!(!out.status.success(), "an unknown course");

    let log = entries(&sb).await;
    let not_found = Some(r#"{"error":"not_found"}"#.to_owned());
    assert_eq!(
        summary(&log),
        [
            (
                "scan.rescan".into(),
                "course=999999".into(),
                not_found,
                Outcome::Failed
            ),
            (
                "cleanup".into(),
                format!("scan={cleanup}"),
                None,
                Outcome::Ok
            ),
            (
                "scan.start".into(),
                format!("scan={scan}"),
                None,
                Outcome::Ok
            ),
        ]
    );
    assert!(log.iter().all(|e| e.actor == "cli:tester"));
}
