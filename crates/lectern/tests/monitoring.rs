//! Health checks and alerts as an operator meets them: `lectern serve`
//! sending to a real SMTP server (aiosmtpd) and a real webhook receiver,
//! across a restart and a restore, and `lectern check` with the
//! monitoring-plugin exit codes, each check's failure made real on disk.

mod common;

use common::{first_admin_password, serve_with, Admin, Sandbox};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How long anything here may take to arrive.
const PATIENCE: Duration = Duration::from_secs(60);

/// What a receiver got, and a bell that rings on each arrival.
#[derive(Default)]
struct Inbox {
    items: Mutex<Vec<Value>>,
    changed: Notify,
}

impl Inbox {
    fn push(&self, item: Value) {
        self.items.lock().unwrap().push(item);
        self.changed.notify_waiters();
    }

    fn all(&self) -> Vec<Value> {
        self.items.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what arrived.
    async fn wait_for(&self, what: &str, done: impl Fn(&[Value]) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let rang = self.changed.notified();
            tokio::pin!(rang);
            rang.as_mut().enable();
            if done(&self.all()) {
                return;
            }
            if tokio::time::timeout_at(deadline, rang).await.is_err() {
                panic!("{what} never arrived; got {:#?}", self.all());
            }
        }
    }
}

/// Notices of `condition` with `status` (`firing`, `resolved`, `test`)
/// among Lectern's JSON webhook bodies.
fn hooked(items: &[Value], condition: &str, status: &str) -> usize {
    items
        .iter()
        .filter(|m| m["condition"] == condition && m["status"] == status)
        .count()
}

/// Mails whose subject says `words` (`FIRING: No recent backup`).
fn mailed(items: &[Value], words: &str) -> usize {
    items
        .iter()
        .filter(|m| m["subject"].as_str().is_some_and(|s| s.contains(words)))
        .count()
}

/// A webhook receiver on `listener`: Lectern's JSON bodies at `/hook`.
fn receive_hooks(listener: tokio::net::TcpListener) -> Arc<Inbox> {
    use axum::extract::State;
    let inbox = Arc::new(Inbox::default());
    let keep = |State(inbox): State<Arc<Inbox>>, axum::Json(body): axum::Json<Value>| async move {
        inbox.push(body);
        axum::http::StatusCode::NO_CONTENT
    };
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(keep))
        .with_state(inbox.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    inbox
}

/// aiosmtpd in a child process, on a free port, with what it received.
struct SmtpSink {
    child: Child,
    port: u16,
    inbox: Arc<Inbox>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test cannot run here: skipped with the reason, except under CI,
/// which has everything and must run it.
fn missing(why: String) -> Option<SmtpSink> {
    if std::env::var_os("CI").is_some() {
        panic!("{why} (CI installs it: pip install aiosmtpd)");
    }
    eprintln!("skipped: {why}; `pip install aiosmtpd` to run it");
    None
}

fn smtp_sink() -> Option<SmtpSink> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
    let spawned = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return missing(format!("python3 cannot start: {e}")),
    };
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let Some(Ok(first)) = lines.next() else {
        let mut why = String::new();
        let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut why);
        let _ = child.wait();
        return missing(format!("the SMTP server did not start: {}", why.trim()));
    };
    let port = serde_json::from_str::<Value>(&first).unwrap()["port"]
        .as_u64()
        .unwrap() as u16;
    let inbox = Arc::new(Inbox::default());
    let filled = inbox.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            filled.push(serde_json::from_str(&line).unwrap());
        }
    });
    Some(SmtpSink { child, port, inbox })
}

/// lectern.toml for a Lectern over `root` that checks five times a second
/// and retries deliveries quickly, with `targets` appended. The disk
/// thresholds are 0, so that a nearly full disk here fails no test but
/// the ones that raise them.
fn configure(sb: &Sandbox, root: &Path, targets: &str) {
    let config = format!(
        "root = {root:?}\n\n[health]\ninterval = \"200ms\"\ndisk_warn_below_percent = 0\n\
         disk_fail_below_percent = 0\n\n[alerts]\nsite = \"test-site\"\n\
         public_url = \"http://lectern.example\"\nretry_first = \"200ms\"\nretry_most = \"500ms\"\n\
         timeout = \"5s\"\n\n{targets}"
    );
    std::fs::write(sb.path("lectern.toml"), config).unwrap();
}

/// The mail server in lectern.toml; its recipients come from [`MAIL_TO`].
fn smtp_target(port: u16) -> String {
    format!(
        "[alerts.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n\
         from = \"Lectern <lectern@example.org>\"\n\n"
    )
}

/// A list in the environment, joined to the file's table (docs/monitoring.md).
const MAIL_TO: (&str, &str) = ("LECTERN_ALERTS__SMTP__TO", r#"["admin@example.org"]"#);

/// `lectern serve --port 0` in the sandbox with `env` set.
fn serve(sb: &Sandbox, env: &[(&str, &str)]) -> (common::Server, String, Vec<String>) {
    let mut cmd = sb.cmd();
    cmd.args(["serve", "--port", "0"]).envs(env.iter().copied());
    serve_with(cmd)
}

fn hook_target(port: u16) -> String {
    format!("[[alerts.webhooks]]\nurl = \"http://127.0.0.1:{port}/hook\"\nformat = \"json\"\n\n")
}

impl Admin {
    /// Waits until the background checks ran `n` more times.
    async fn runs(&self, n: usize) {
        let time = |health: &Value| health["checks"]["database:reachable"][0]["time"].clone();
        let mut seen = time(&self.get("/api/health").await);
        let deadline = Instant::now() + PATIENCE;
        let mut count = 0;
        while count < n {
            assert!(Instant::now() < deadline, "the checks stopped running");
            // The checks run in the background every 200 ms.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = time(&self.get("/api/health").await);
            if now != seen {
                count += 1;
                seen = now;
            }
        }
    }

    /// The notices the server recorded as delivered, as (condition, notice).
    async fn sent(&self) -> Vec<(String, String)> {
        let alerts = self.get("/api/admin/alerts").await;
        let list = alerts["sent"].as_array().unwrap();
        list.iter()
            .map(|s| {
                let text = |k: &str| s[k].as_str().unwrap().to_owned();
                (text("condition"), text("notice"))
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_mail_and_a_webhook_once_resolve_and_survive_a_restart_and_a_restore() {
    let Some(smtp) = smtp_sink() else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_port = listener.local_addr().unwrap().port();
    let hooks = receive_hooks(listener);
    let sb = Sandbox::new();
    let lib = sb.demo("lib");
    let targets = smtp_target(smtp.port) + &hook_target(hook_port);
    configure(&sb, &lib, &targets);

    // No backup yet: "no recent backup" fires, to each target once.
    let (server, url, lines) = serve(&sb, &[MAIL_TO]);
    let admin = Admin::sign_in(&url, &first_admin_password(&lines)).await;
    hooks
        .wait_for("the webhook's firing notice", |m| {
            hooked(m, "backup_missing", "firing") == 1
        })
        .await;
    smtp.inbox
        .wait_for("the firing mail", |m| {
            mailed(m, "FIRING: No recent backup") == 1
        })
        .await;
    let mail = smtp.inbox.all()[0].clone();
    assert_eq!(mail["to"], json!(["admin@example.org"]));
    assert!(mail["subject"]
        .as_str()
        .unwrap()
        .contains("[Lectern test-site]"));
    let body = mail["body"].as_str().unwrap();
    assert!(
        body.contains("Details: http://lectern.example/admin/health"),
        "{body}"
    );
    let hook = &hooks.all()[0];
    assert_eq!(hook["source"], "lectern");
    assert_eq!(hook["version"], 1);
    assert_eq!(hook["severity"], "warn");

    // While it lasts it is not sent again, and a restart does not send it
    // again either: the alerts' state outlives the process.
    admin.runs(3).await;
    drop(server);
    let (_server, url, _) = serve(&sb, &[MAIL_TO]);
    let admin = Admin { url, ..admin };
    admin.runs(3).await;
    assert_eq!(hooked(&hooks.all(), "backup_missing", "firing"), 1);
    assert_eq!(mailed(&smtp.inbox.all(), "FIRING: No recent backup"), 1);
    let alerts = admin.get("/api/admin/alerts").await;
    assert_eq!(
        alerts["firing"][0]["condition"], "backup_missing",
        "{alerts}"
    );
    assert_eq!(alerts["pending"], json!([]), "{alerts}");

    // A backup ends it: one resolved notice to each.
    let (status, backup) = admin
        .send(reqwest::Method::POST, "/api/admin/backup/create", None)
        .await;
    assert_eq!(status, 201, "{backup}");
    hooks
        .wait_for("the resolved notice", |m| {
            hooked(m, "backup_missing", "resolved") == 1
        })
        .await;
    smtp.inbox
        .wait_for("the resolved mail", |m| {
            mailed(m, "RESOLVED: No recent backup") == 1
        })
        .await;

    // The library folder gone: a failing alert, resolved when it is back.
    let away = sb.path("lib-away");
    std::fs::rename(&lib, &away).unwrap();
    hooks
        .wait_for("root_unreachable firing", |m| {
            hooked(m, "root_unreachable", "firing") == 1
        })
        .await;
    let fired = hooks.all();
    let root = fired
        .iter()
        .find(|m| m["condition"] == "root_unreachable")
        .unwrap();
    assert_eq!(root["severity"], "fail", "{root}");
    std::fs::rename(&away, &lib).unwrap();
    hooks
        .wait_for("root_unreachable resolved", |m| {
            hooked(m, "root_unreachable", "resolved") == 1
        })
        .await;

    // Low disk space, by thresholds an admin saves above any real free
    // share; resolved when they go back to the configuration's.
    let full = json!({ "health": { "thresholds": {
        "disk_warn_below_percent": 100.0, "disk_fail_below_percent": 100.0,
    } } });
    let (status, answer) = admin
        .send(reqwest::Method::PUT, "/api/admin/settings", Some(full))
        .await;
    assert_eq!(status, 200, "{answer}");
    hooks
        .wait_for("disk_low firing", |m| hooked(m, "disk_low", "firing") == 1)
        .await;
    let back = json!({ "health": { "thresholds": null } });
    let (status, _) = admin
        .send(reqwest::Method::PUT, "/api/admin/settings", Some(back))
        .await;
    assert_eq!(status, 200);
    hooks
        .wait_for("disk_low resolved", |m| {
            hooked(m, "disk_low", "resolved") == 1
        })
        .await;

    // A failed backup (its folder replaced by a file), until one succeeds.
    let folder = sb.data().join("backups");
    let kept = sb.data().join("backups-kept");
    std::fs::rename(&folder, &kept).unwrap();
    std::fs::write(&folder, b"not a folder").unwrap();
    let (status, failed) = admin
        .send(reqwest::Method::POST, "/api/admin/backup/create", None)
        .await;
    assert!(status >= 400, "{status} {failed}");
    std::fs::remove_file(&folder).unwrap();
    std::fs::rename(&kept, &folder).unwrap();
    hooks
        .wait_for("backup_failed firing", |m| {
            hooked(m, "backup_failed", "firing") == 1
        })
        .await;
    let health = admin.get("/api/health").await;
    assert_eq!(health["status"], "fail", "{health}");
    assert_eq!(
        health["checks"]["backup:last"][0]["status"], "fail",
        "{health}"
    );
    // The same checks from the shell while the server runs.
    let out = sb
        .cmd()
        .args(["check", "--json"])
        .env(MAIL_TO.0, MAIL_TO.1)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        common::last_json(&out)["checks"]["backup:last"][0]["status"],
        "fail"
    );
    smtp.inbox
        .wait_for("the failed-backup mail", |m| {
            mailed(m, "FIRING: A backup failed") == 1
        })
        .await;
    let (status, _) = admin
        .send(reqwest::Method::POST, "/api/admin/backup/create", None)
        .await;
    assert_eq!(status, 201);
    hooks
        .wait_for("backup_failed resolved", |m| {
            hooked(m, "backup_failed", "resolved") == 1
        })
        .await;

    // A restore says it started and how it ended, and sends nothing again
    // of what the restored data knew.
    // (An unreadable backup folder, above, may have raised "no recent
    // backup" for a moment: count from here.)
    let before = hooked(&hooks.all(), "backup_missing", "firing");
    let id = backup["id"].as_str().unwrap();
    let (status, restored) = admin
        .send(
            reqwest::Method::POST,
            &format!("/api/admin/backup/restore/{id}"),
            Some(json!({ "confirm": true })),
        )
        .await;
    assert_eq!(status, 200, "{restored}");
    hooks
        .wait_for("the restore's notices", |m| {
            hooked(m, "restore", "firing") == 1 && hooked(m, "restore", "resolved") == 1
        })
        .await;
    let ended = hooks.all();
    let resolved = ended
        .iter()
        .find(|m| m["condition"] == "restore" && m["status"] == "resolved")
        .unwrap();
    assert!(
        resolved["summary"].as_str().unwrap().contains("finished"),
        "{resolved}"
    );
    let admin = Admin::sign_in(&admin.url, &first_admin_password(&lines)).await;
    admin.runs(3).await;
    let all = hooks.all();
    assert_eq!(hooked(&all, "backup_missing", "firing"), before, "{all:#?}");

    // The panel's test button, through the API: both targets get it.
    let (status, queued) = admin
        .send(reqwest::Method::POST, "/api/admin/alerts/test", None)
        .await;
    assert_eq!((status, queued["targets"].clone()), (202, json!(2)));
    hooks
        .wait_for("the test notice", |m| hooked(m, "test", "test") == 1)
        .await;
    smtp.inbox
        .wait_for("the test mail", |m| mailed(m, "TEST: A test alert") == 1)
        .await;
    let sent = admin.sent().await;
    let fired = |condition: &str| {
        sent.iter()
            .filter(|(c, n)| c == condition && n == "firing")
            .count()
    };
    assert_eq!(fired("root_unreachable"), 2, "once per target: {sent:?}");
    assert_eq!(fired("disk_low"), 2, "once per target: {sent:?}");
    let alerts = admin.get("/api/admin/alerts").await;
    assert_eq!(alerts["failures"], json!([]), "{alerts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_down_at_first_gets_the_alert_once_it_is_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sb = Sandbox::new();
    let lib = sb.demo("lib");
    configure(&sb, &lib, "");
    // The webhook from the environment, in the documented form.
    let hooks_env = format!(r#"[{{url="http://127.0.0.1:{port}/hook", format="json"}}]"#);
    let (_server, url, lines) = serve(&sb, &[("LECTERN_ALERTS__WEBHOOKS", &hooks_env)]);
    let admin = Admin::sign_in(&url, &first_admin_password(&lines)).await;

    // Refused connections are recorded and the notice kept.
    let deadline = Instant::now() + PATIENCE;
    let alerts = loop {
        let alerts = admin.get("/api/admin/alerts").await;
        if alerts["failures"].as_array().unwrap().len() >= 2 {
            break alerts;
        }
        assert!(Instant::now() < deadline, "no failure recorded: {alerts}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let failure = &alerts["failures"][0];
    assert_eq!(failure["condition"], "backup_missing", "{alerts}");
    assert!(failure["error"].as_str().unwrap().len() > 5, "{failure}");
    assert!(
        !failure["target"].as_str().unwrap().contains("/hook"),
        "the label shows no webhook path: {failure}"
    );
    let pending = &alerts["pending"][0];
    assert!(pending["attempts"].as_u64().unwrap() >= 1, "{alerts}");

    let hooks = receive_hooks(
        tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap(),
    );
    hooks
        .wait_for("the alert after the receiver came back", |m| {
            hooked(m, "backup_missing", "firing") == 1
        })
        .await;
    admin.runs(3).await;
    assert_eq!(hooked(&hooks.all(), "backup_missing", "firing"), 1, "once");
    assert_eq!(admin.get("/api/admin/alerts").await["pending"], json!([]));
}

/// `lectern check --json` with `env` set: its exit status and its report.
fn check(sb: &Sandbox, env: &[(&str, &str)]) -> (i32, Value) {
    let out = sb
        .cmd()
        .args(["check", "--json"])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (out.status.code().unwrap(), common::last_json(&out))
}

fn status_of<'a>(report: &'a Value, name: &str) -> &'a str {
    report["checks"][name][0]["status"]
        .as_str()
        .unwrap_or("absent")
}

fn run_ok(sb: &Sandbox, args: &[&str]) {
    let out = sb.cmd().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Eleven new files nobody may read: eleven errors for a scan that
/// runs without root's power.
fn unreadable_files(course: &Path) -> Vec<PathBuf> {
    (0..11)
        .map(|i| {
            let path = course.join(format!("locked {i}.txt"));
            std::fs::write(&path, b"x").unwrap();
            common::chmod(&path, 0o000);
            path
        })
        .collect()
}

/// Lets an unprivileged `lectern` write the sandbox's database.
fn open_data_to_all(sb: &Sandbox) {
    common::chmod(sb.dir.path(), 0o755);
    common::chmod(&sb.data(), 0o777);
    for entry in std::fs::read_dir(sb.data()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            common::chmod(&path, 0o666);
        }
    }
}

#[test]
fn lectern_check_exits_0_1_or_2_as_each_check_finds() {
    let sb = Sandbox::new();
    let lib = sb.demo("lib");
    configure(&sb, &lib, "");
    // Before any database: reported, and none is made where --data points.
    let (code, report) = check(&sb, &[]);
    assert_eq!(
        (code, status_of(&report, "database:reachable")),
        (2, "fail")
    );
    assert!(
        !sb.data().join("lectern.db").exists(),
        "the check made a database"
    );

    run_ok(&sb, &["scan"]);
    run_ok(&sb, &["backup", "create"]);
    let (code, report) = check(&sb, &[]);
    assert_eq!(
        (code, report["status"].as_str()),
        (0, Some("pass")),
        "{report:#}"
    );
    for name in lectern_app::health::CHECKS {
        assert_eq!(status_of(&report, name), "pass", "{name}: {report:#}");
    }

    // The human form names the same checks, the verdict first.
    let out = sb.cmd().arg("check").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("LECTERN PASS"), "{text}");
    for name in lectern_app::health::CHECKS {
        assert!(text.contains(name), "{name} in {text}");
    }

    // The library folder renamed away.
    std::fs::rename(&lib, sb.path("lib-away")).unwrap();
    let (code, report) = check(&sb, &[]);
    assert_eq!((code, status_of(&report, "library:root")), (2, "fail"));
    std::fs::rename(sb.path("lib-away"), &lib).unwrap();

    // The backup folder emptied: no backup is a warning at first.
    let backups = sb.data().join("backups");
    for entry in std::fs::read_dir(&backups).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let (code, report) = check(&sb, &[]);
    assert_eq!(
        (code, status_of(&report, "backup:age")),
        (1, "warn"),
        "{report:#}"
    );

    // A backup older than the (short) limit fails.
    run_ok(&sb, &["backup", "create"]);
    assert_eq!(check(&sb, &[]).0, 0);
    // The threshold is a time: let the backup get older than it (ages
    // are whole seconds, and the limit is exceeded only past it).
    std::thread::sleep(Duration::from_millis(2100));
    let short = [
        ("LECTERN_HEALTH__BACKUP_WARN_AFTER", "1s"),
        ("LECTERN_HEALTH__BACKUP_FAIL_AFTER", "1s"),
    ];
    let (code, report) = check(&sb, &short);
    assert_eq!(
        (code, status_of(&report, "backup:age")),
        (2, "fail"),
        "{report:#}"
    );

    // A failed backup: the folder replaced by a file while it runs.
    let kept = sb.data().join("backups-kept");
    std::fs::rename(&backups, &kept).unwrap();
    std::fs::write(&backups, b"not a folder").unwrap();
    let failed = sb.cmd().args(["backup", "create"]).output().unwrap();
    assert!(!failed.status.success(), "the backup must fail");
    std::fs::remove_file(&backups).unwrap();
    std::fs::rename(&kept, &backups).unwrap();
    let (code, report) = check(&sb, &[]);
    assert_eq!(
        (code, status_of(&report, "backup:last")),
        (2, "fail"),
        "{report:#}"
    );
    run_ok(&sb, &["backup", "create"]);
    assert_eq!(status_of(&check(&sb, &[]).1, "backup:last"), "pass");

    // A scan with more than ten errors.
    let category = std::fs::read_dir(&lib)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let course = std::fs::read_dir(&category)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    open_data_to_all(&sb);
    if let Some(mut scan) = common::unprivileged(&sb) {
        let locked = unreadable_files(&course);
        let out = scan.args(["scan", "--json"]).output().unwrap();
        assert_eq!(common::last_json(&out)["errors"], 11);
        let (code, report) = check(&sb, &[]);
        assert_eq!(
            (code, status_of(&report, "scan:errors")),
            (2, "fail"),
            "{report:#}"
        );
        locked.iter().for_each(|p| std::fs::remove_file(p).unwrap());
        run_ok(&sb, &["scan"]);
        assert_eq!(check(&sb, &[]).0, 0);
    }

    // Low disk space: a threshold above any real free share.
    let full = [
        ("LECTERN_HEALTH__DISK_WARN_BELOW_PERCENT", "100"),
        ("LECTERN_HEALTH__DISK_FAIL_BELOW_PERCENT", "100"),
    ];
    let (code, report) = check(&sb, &full);
    assert_eq!(
        (code, status_of(&report, "disk:data")),
        (2, "fail"),
        "{report:#}"
    );
    assert_eq!(status_of(&report, "disk:backups"), "fail");

    // A database made unreadable: reported, not a crash.
    let db = sb.data().join("lectern.db");
    for side in ["lectern.db-wal", "lectern.db-shm"] {
        let _ = std::fs::remove_file(sb.data().join(side));
    }
    std::fs::write(&db, vec![0x5a; 64 * 1024]).unwrap();
    let (code, report) = check(&sb, &[]);
    assert_eq!(code, 2, "{report:#}");
    let database = &report["checks"]["database:reachable"][0];
    assert_eq!(database["status"], "fail", "{report:#}");
    assert!(
        database["output"]
            .as_str()
            .unwrap()
            .contains("cannot be used"),
        "{database}"
    );
    assert_eq!(
        status_of(&report, "library:root"),
        "pass",
        "the rest still runs"
    );

    // A secret of the wrong form is refused without being shown.
    let out = sb
        .cmd()
        .arg("check")
        .env("LECTERN_METRICS__TOKEN", "1234567890123456")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("metrics.token"), "{said}");
    assert!(
        !said.contains("1234567890123456"),
        "the token leaked: {said}"
    );
}
