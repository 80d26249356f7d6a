//! The command line's contracts: JSON forms, exit statuses, configuration
//! layers, and clear errors for bad input.

mod common;

use common::{count_files, last_json, scan_json, Sandbox};
use std::collections::BTreeSet;

const SCAN_FIELDS: [&str; 10] = [
    "scan_id",
    "status",
    "added",
    "updated",
    "removed",
    "moved",
    "unchanged",
    "errors",
    "hashed_files",
    "hashed_bytes",
];

#[test]
fn scan_json_has_exactly_the_documented_fields_and_a_rescan_changes_nothing() {
    let sb = Sandbox::new();
    let root = sb.demo("lib");
    let files = count_files(&root) as u64;
    let (code, first) = scan_json(sb.cmd().arg("--root").arg(&root), &[]);
    assert_eq!(code, 0, "{first}");
    let keys: BTreeSet<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, SCAN_FIELDS.into_iter().collect());
    assert_eq!(first["status"], "completed");
    // The demo holds a .lecternignore, an ignored drafts/ file and a dot-file.
    assert_eq!(first["added"].as_u64().unwrap(), files - 3);
    assert_eq!(first["hashed_files"], first["added"]);

    let (code, second) = scan_json(sb.cmd().arg("--root").arg(&root), &[]);
    assert_eq!(code, 0);
    for field in [
        "added",
        "updated",
        "removed",
        "moved",
        "hashed_files",
        "hashed_bytes",
        "errors",
    ] {
        assert_eq!(second[field], 0, "{field} in {second}");
    }
    assert_eq!(second["unchanged"], first["added"]);
    assert_ne!(second["scan_id"], first["scan_id"]);
}

#[test]
fn the_safety_guard_exits_3_and_changes_nothing_until_forced() {
    let sb = Sandbox::new();
    let root = sb.demo("lib");
    let (_, first) = scan_json(sb.cmd().arg("--root").arg(&root), &[]);
    let before = sb.cmd().args(["list", "--json"]).output().unwrap().stdout;
    std::fs::remove_dir_all(root.join("Programming")).unwrap();
    std::fs::remove_dir_all(root.join("Design")).unwrap();

    let out = sb
        .cmd()
        .arg("--root")
        .arg(&root)
        .args(["scan", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(last_json(&out)["status"], "aborted");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unmounted"),
        "reason on stderr"
    );
    let after = sb.cmd().args(["list", "--json"]).output().unwrap().stdout;
    assert_eq!(before, after, "an aborted scan changed the index");

    let (code, forced) = scan_json(sb.cmd().arg("--root").arg(&root), &["--force"]);
    assert_eq!(code, 0);
    // Only Languages is left, and it holds no ignored files.
    let remaining = count_files(&root) as u64;
    assert_eq!(
        forced["removed"].as_u64().unwrap(),
        first["added"].as_u64().unwrap() - remaining
    );
}

#[test]
fn a_missing_root_aborts_and_a_file_as_root_aborts() {
    let sb = Sandbox::new();
    let (code, v) = scan_json(sb.cmd().arg("--root").arg(sb.path("nowhere")), &[]);
    assert_eq!((code, v["status"].as_str()), (3, Some("aborted")));
    std::fs::write(sb.path("plain"), b"x").unwrap();
    let (code, v) = scan_json(sb.cmd().arg("--root").arg(sb.path("plain")), &[]);
    assert_eq!((code, v["status"].as_str()), (3, Some("aborted")));
}

#[test]
fn root_comes_from_flag_then_environment_then_lectern_toml() {
    let sb = Sandbox::new();
    let a = sb.demo("a");
    let b = sb.demo("b");
    std::fs::remove_dir_all(b.join("Languages")).unwrap();
    let c = sb.demo("c");
    std::fs::remove_dir_all(c.join("Design")).unwrap();
    // Each layer on a fresh database, all with lectern.toml naming `a`.
    let added = |cmd: &mut std::process::Command| scan_json(cmd, &[]).1["added"].as_u64();
    let with_toml = || {
        let sb = Sandbox::new();
        std::fs::write(
            sb.path("lectern.toml"),
            format!("root = {:?}\n", a.display().to_string()),
        )
        .unwrap();
        sb
    };
    let (file_sb, env_sb, flag_sb) = (with_toml(), with_toml(), with_toml());
    let from_file = added(&mut file_sb.cmd());
    let from_env = added(env_sb.cmd().env("LECTERN_ROOT", &b));
    let from_flag = added(flag_sb.cmd().env("LECTERN_ROOT", &b).arg("--root").arg(&c));

    assert_eq!(from_file, Some(count_files(&a) as u64 - 3));
    assert_eq!(from_env, Some(count_files(&b) as u64 - 3));
    assert_eq!(from_flag, Some(count_files(&c) as u64 - 2));
}

#[test]
fn bad_input_gets_a_clear_error_and_the_documented_exit_status() {
    let sb = Sandbox::new();
    let root = sb.demo("lib");

    let out = sb
        .cmd()
        .arg("--root")
        .arg(&root)
        .args(["scan", "--course", "999", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(last_json(&out)["error"]["code"], "not_found");

    let out = sb.cmd().arg("demo").arg(&root).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not an empty folder"),
        "{out:?}"
    );

    // A database server that is not there is said at once, in its words.
    let out = sb
        .cmd()
        .args([
            "--database-url",
            "postgres://127.0.0.1:1/x",
            "scan",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let message = last_json(&out)["error"]["message"].clone();
    let message = message.as_str().unwrap();
    assert!(
        message.contains("cannot open the database at postgres://127.0.0.1:1/x")
            && message.contains("refused"),
        "{message}"
    );
    let out = sb
        .cmd()
        .args(["--database-url", "mysql://localhost/x", "scan", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let message = last_json(&out)["error"]["message"].clone();
    assert!(
        message
            .as_str()
            .unwrap()
            .contains("expected sqlite://PATH or postgres://"),
        "{message}"
    );

    let out = sb
        .cmd()
        .args(["--config", "missing.toml", "scan"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));

    std::fs::write(
        sb.path("lectern.toml"),
        "scan = { max_missing_percent = 400 }\n",
    )
    .unwrap();
    let out = sb.cmd().arg("scan").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_file(sb.path("lectern.toml")).unwrap();

    let out = sb.cmd().args(["history", "12345"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn the_coordination_settings_are_lengths_of_time_and_are_checked() {
    let sb = Sandbox::new();
    std::fs::write(
        sb.path("lectern.toml"),
        "[coordination]\ninstance_id = \"web-2\"\nlease = \"1m 30s\"\nheartbeat = 20\n",
    )
    .unwrap();
    let out = sb.cmd().arg("list").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let env_ok = sb
        .cmd()
        .env("LECTERN_COORDINATION__LEASE", "45")
        .env("LECTERN_COORDINATION__HEARTBEAT", "5s")
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(env_ok.status.code(), Some(0));
    for (key, value, says) in [
        ("LECTERN_COORDINATION__LEASE", "500ms", "at least 1s"),
        ("LECTERN_COORDINATION__LEASE", "soon", "not a duration"),
        (
            "LECTERN_COORDINATION__HEARTBEAT",
            "2m",
            "shorter than the lease",
        ),
        ("LECTERN_COORDINATION__HEARTBEAT", "0", "more than 0s"),
        ("LECTERN_COORDINATION__INSTANCE_ID", "web 2", "instance_id"),
    ] {
        let out = sb.cmd().env(key, value).arg("list").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}={value}: {stderr}");
        assert!(stderr.contains(says), "{key}={value}: {stderr}");
    }
}

#[test]
fn a_course_rescan_and_cleanup_report_in_json() {
    let sb = Sandbox::new();
    let root = sb.demo("lib");
    scan_json(sb.cmd().arg("--root").arg(&root), &[]);
    let list = last_json(&sb.cmd().args(["list", "--json"]).output().unwrap());
    let course = &list[0]["courses"][0]["course"];
    let course_dir = root.join(course["path"].as_str().unwrap());
    std::fs::write(course_dir.join("new lesson.md"), "# New\n").unwrap();
    let lesson = std::fs::read_dir(&course_dir)
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap();
    std::fs::remove_dir_all(lesson.path()).unwrap();

    let id = course["id"].as_i64().unwrap().to_string();
    let (code, v) = scan_json(sb.cmd().arg("--root").arg(&root), &["--course", &id]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["added"], 1);
    assert!(v["removed"].as_u64().unwrap() >= 1);

    let out = sb.cmd().args(["cleanup", "--json"]).output().unwrap();
    assert!(out.status.success());
    let cleaned = last_json(&out);
    assert_eq!(cleaned["files"], v["removed"]);
    assert_eq!(cleaned["status"], "completed");

    let history = last_json(&sb.cmd().args(["history", "--json"]).output().unwrap());
    let kinds: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["cleanup", "course", "full"]);
}
