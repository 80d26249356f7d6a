//! Runs the real `lectern` binary in a throwaway folder with its own data
//! folder and database.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn data(&self) -> PathBuf {
        self.path("data")
    }

    /// `lectern` with `--data` set, run in the sandbox, no LECTERN_* leaking
    /// in, watching off.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lectern"));
        cmd.current_dir(self.dir.path())
            .arg("--data")
            .arg(self.data());
        for (key, _) in std::env::vars() {
            if key.starts_with("LECTERN_") {
                cmd.env_remove(key);
            }
        }
        // Watching would start scans of its own beside the ones a test
        // starts; the watching tests switch it back on.
        cmd.env("LECTERN_WATCH__MODE", "off");
        cmd
    }

    /// Writes the demo library to `rel` and returns its path.
    pub fn demo(&self, rel: &str) -> PathBuf {
        let out = self
            .cmd()
            .arg("demo")
            .arg(self.path(rel))
            .output()
            .expect("run lectern demo");
        assert!(
            out.status.success(),
            "demo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.path(rel)
    }

    pub fn db_url(&self) -> String {
        format!("sqlite://{}", self.data().join("lectern.db").display())
    }
}

/// The last line of stdout, parsed as JSON (the `--json` contract).
pub fn last_json(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_else(|| {
        panic!(
            "no output; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// Runs `scan --json` plus `extra`; returns the exit status and the JSON.
pub fn scan_json(cmd: &mut Command, extra: &[&str]) -> (i32, Value) {
    let out = cmd
        .arg("scan")
        .arg("--json")
        .args(extra)
        .output()
        .expect("run lectern scan");
    (out.status.code().unwrap_or(-1), last_json(&out))
}

pub fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            n += count_files(&path);
        } else {
            n += 1;
        }
    }
    n
}

/// A running `lectern serve`, killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd` (a `lectern serve --port 0`, its options set) and reads its
/// stdout up to the address: the server, its base URL and the lines
/// before it (the first administrator's password, say).
pub fn serve_with(mut cmd: Command) -> (Server, String, Vec<String>) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut server = Server(cmd.spawn().unwrap());
    let mut lines = Vec::new();
    let mut reader = BufReader::new(server.0.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "serve exited early: {lines:?}"
        );
        lines.push(line.trim_end().to_owned());
        if let Some(rest) = line.split("sign in at ").nth(1) {
            let url = rest.split_whitespace().next().unwrap();
            return (server, url.trim_end_matches('/').to_owned(), lines);
        }
    }
}

/// `lectern serve --port 0` in the sandbox.
pub fn serve(sb: &Sandbox) -> (Server, String, Vec<String>) {
    let mut cmd = sb.cmd();
    cmd.args(["serve", "--port", "0"]);
    serve_with(cmd)
}

/// The first administrator's password, from the lines `serve` printed.
pub fn first_admin_password(lines: &[String]) -> String {
    let shown = lines
        .iter()
        .find(|l| l.contains("first administrator"))
        .expect("a one-time password");
    let password = shown.split("password \"").nth(1).unwrap();
    password.trim_end_matches('"').to_owned()
}

/// Runs `lectern` without root's power to read anything (as `nobody`), so
/// that permission bits really deny reading.
pub fn unprivileged(sb: &Sandbox) -> Option<Command> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some(sb.cmd());
    }
    let setpriv = Path::new("/usr/bin/setpriv");
    if !setpriv.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have setpriv (util-linux)"
        );
        eprintln!("skipped: running as root without setpriv, so permissions cannot deny reading");
        return None;
    }
    let inner = sb.cmd();
    let mut cmd = Command::new(setpriv);
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(inner.get_program());
    cmd.args(inner.get_args()).current_dir(sb.dir.path());
    Some(cmd)
}

pub fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// An administrator signed in over the JSON API of a running `serve`.
pub struct Admin {
    pub http: reqwest::Client,
    pub url: String,
    pub token: String,
}

impl Admin {
    pub async fn sign_in(url: &str, password: &str) -> Admin {
        let http = reqwest::Client::new();
        let body = json!({ "username": "admin", "password": password });
        let answer = http
            .post(format!("{url}/api/auth/login"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let token = answer.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        Admin {
            http,
            url: url.to_owned(),
            token,
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> Value {
        self.send(reqwest::Method::GET, path, None).await.1
    }
}
