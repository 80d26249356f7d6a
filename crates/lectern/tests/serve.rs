//! `lectern user` and `lectern serve` as an operator runs them.

mod common;

use common::{first_admin_password, last_json, serve, Sandbox};
use std::io::Write;
use std::process::{Command, Stdio};

fn with_stdin(mut cmd: Command, input: &str) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn user_add_reads_the_password_from_stdin_and_refuses_bad_input() {
    let sb = Sandbox::new();
    let mut add = sb.cmd();
    add.args(["user", "add", "alice", "--password-stdin", "--json"]);
    let out = with_stdin(add, "s3cret pass\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(last_json(&out)["role"], "user");

    let mut again = sb.cmd();
    again.args(["user", "add", "ALICE", "--password-stdin"]);
    let out = with_stdin(again, "x\n");
    assert_eq!(
        out.status.code(),
        Some(2),
        "a taken name (any case) is refused"
    );
    let mut empty = sb.cmd();
    empty.args(["user", "add", "bob", "--admin"]);
    assert_eq!(
        with_stdin(empty, "\n").status.code(),
        Some(2),
        "an empty password is refused"
    );
    let mut spaced = sb.cmd();
    spaced.args(["user", "add", " bob"]);
    assert_eq!(with_stdin(spaced, "pw\n").status.code(), Some(2));

    let list = last_json(&sb.cmd().args(["user", "list", "--json"]).output().unwrap());
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice"]);
    let out = sb
        .cmd()
        .args(["user", "disable", "nobody"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

async fn get_json(http: &reqwest::Client, url: &str, token: &str) -> serde_json::Value {
    let response = http.get(url).bearer_auth(token).send().await.unwrap();
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_bootstraps_one_admin_serves_the_demo_and_stops_on_sigterm() {
    let sb = Sandbox::new();
    let (mut server, url, lines) = serve(&sb);
    let shown = lines
        .iter()
        .find(|l| l.contains("first administrator"))
        .expect("a one-time password");
    let password = shown
        .split("password \"")
        .nth(1)
        .unwrap()
        .trim_end_matches('"');
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{url}/api/auth/login"))
        .json(&serde_json::json!({ "username": "admin", "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let token = login.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The first start scans the new library on its own; wait for it to end.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let status = get_json(&http, &format!("{url}/api/scanner/status"), &token).await;
        if status["running"] == false {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first scan never ended"
        );
        tokio::task::yield_now().await;
    }
    let history = get_json(&http, &format!("{url}/api/scanner/history"), &token).await;
    assert_eq!(history[0]["started_by"], "serve:first-start", "{history}");
    assert_eq!(history[0]["status"], "completed", "{history}");
    let scan = http
        .post(format!("{url}/api/scanner/scan"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(scan.status(), 202, "the demo library is the root");

    // SAFETY: sending SIGTERM to our own child.
    unsafe { libc::kill(server.0.id() as i32, libc::SIGTERM) };
    let status = server.0.wait().unwrap();
    assert!(status.success(), "graceful shutdown: {status:?}");

    // A second start finds the admin and makes no other.
    let (_again, _, lines) = serve(&sb);
    assert!(
        !lines.iter().any(|l| l.contains("first administrator")),
        "{lines:?}"
    );
}

/// The peak resident memory of a process so far, in KiB (`VmHWM`).
fn peak_memory_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/PID/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

async fn login(http: &reqwest::Client, url: &str, password: &str) -> reqwest::StatusCode {
    let body = serde_json::json!({ "username": "admin", "password": password });
    let response = http
        .post(format!("{url}/api/auth/login"))
        .json(&body)
        .send()
        .await
        .unwrap();
    response.status()
}

/// A login storm against the real binary: 300 wrong passwords for the
/// admin sent at once from one address (127.0.0.2) are counted before any
/// is hashed, so only a few get as far as a 401 and the rest get 429 at
/// once; memory stays flat; and the admin, from its known-good address
/// (127.0.0.1, where it signed in before), still signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_storm_is_refused_cheaply_and_the_admin_still_signs_in_from_home() {
    let sb = Sandbox::new();
    let (server, url, lines) = serve(&sb);
    let password = first_admin_password(&lines);
    let home = reqwest::Client::new();
    assert_eq!(
        login(&home, &url, &password).await,
        200,
        "now 127.0.0.1 is known-good"
    );
    let before = peak_memory_kib(server.0.id());

    let stranger = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let storm: Vec<_> = (0..300)
        .map(|i| {
            let (http, url) = (stranger.clone(), url.clone());
            tokio::spawn(async move {
                let response = http
                    .post(format!("{url}/api/auth/login"))
                    .json(&serde_json::json!({ "username": "admin", "password": format!("guess {i}") }))
                    .send()
                    .await
                    .unwrap();
                let retry = response.headers().contains_key("retry-after");
                (response.status().as_u16(), retry)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in storm {
        answers.push(task.await.unwrap());
    }
    let unauthorized = answers.iter().filter(|a| a.0 == 401).count();
    let limited = answers.iter().filter(|a| a.0 == 429 && a.1).count();
    assert!(
        unauthorized <= 36,
        "{unauthorized} got as far as the password check"
    );
    assert_eq!(
        unauthorized + limited,
        300,
        "only 401s and 429s with Retry-After: {answers:?}"
    );

    let peak = peak_memory_kib(server.0.id());
    println!(
        "peak memory: {} MiB before the storm, {} MiB after",
        before / 1024,
        peak / 1024
    );
    assert!(peak < 300 * 1024, "peak memory {} MiB", peak / 1024);
    assert_eq!(
        login(&home, &url, &password).await,
        200,
        "the admin, from home"
    );
    assert_eq!(
        login(&stranger, &url, &password).await,
        429,
        "the stranger's address stays locked"
    );
}

#[test]
fn serve_refuses_a_trusted_proxy_that_is_not_an_address() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .env("LECTERN_SERVER__TRUSTED_PROXIES", "[\"proxy.example\"]")
        .args(["serve", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a configuration error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("trusted_proxies"), "{stderr}");
}

/// `lectern user` goes through the same account use cases as the API, so
/// the same rules hold: 8 to 1024 characters of password, no slashes in a
/// name, and the last admin cannot be disabled.
#[test]
fn the_command_lines_account_rules_are_the_apis() {
    let sb = Sandbox::new();
    let add = |name: &str, password: &str, admin: bool| {
        let mut cmd = sb.cmd();
        cmd.args(["user", "add", name, "--password-stdin"]);
        if admin {
            cmd.arg("--admin");
        }
        with_stdin(cmd, &format!("{password}\n")).status.code()
    };
    assert_eq!(add("carol", "short", false), Some(2), "a short password");
    assert_eq!(add("a/b", "long enough", false), Some(2), "a slash");
    assert_eq!(add("root", "long enough", true), Some(0));
    let out = sb.cmd().args(["user", "disable", "root"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "the last enabled admin");
    let list = last_json(&sb.cmd().args(["user", "list", "--json"]).output().unwrap());
    assert_eq!(list[0]["disabled"], false);
}
