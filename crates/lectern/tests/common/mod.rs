//! Runs the real `lectern` binary in a throwaway folder with its own data
//! folder and database.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

    /// `lectern` with `--data` set, run in the sandbox, no LECTERN_* leaking in.
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
