//! Shared helpers for the scanner's integration tests: a temporary library
//! root beside a temporary SQLite store, and ways to shape the tree.
#![allow(dead_code)] // each test binary uses its own share of these

use lectern_core::scan::{IssueKind, ScanIssue, ScanStatus};
use lectern_scanner::{RunningScan, ScanError, ScanOptions, ScanReport, ScanScope, Scanner};
use lectern_store::{FileRecord, FileState, SqliteStore, Store};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tempfile::TempDir;

/// How long any one scan may take before the test calls it hung. A bound
/// on failure, not a wait for readiness: a healthy scan of these tiny
/// trees ends in milliseconds.
pub const HANG: Duration = Duration::from_secs(60);

pub struct Lib {
    /// Holds ROOT, the database and anything "outside" ROOT a test needs.
    pub dir: TempDir,
    pub root: PathBuf,
    pub store: Arc<dyn Store>,
}

impl Lib {
    pub async fn new() -> Lib {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("ROOT");
        std::fs::create_dir(&root).expect("create ROOT");
        let db = dir.path().join("db").join("lectern.sqlite");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).await.expect("open store"));
        Lib { dir, root, store }
    }

    pub fn scanner(&self) -> Scanner {
        Scanner::new(self.store.clone(), self.root.clone())
    }

    pub async fn start(&self, options: ScanOptions) -> Result<RunningScan, ScanError> {
        self.scanner().start(options).await
    }

    pub async fn scan_with(&self, options: ScanOptions) -> ScanReport {
        let running = self.start(options).await.expect("start scan");
        tokio::time::timeout(HANG, running.run())
            .await
            .expect("the scan hung")
    }

    /// A full quick scan.
    pub async fn scan(&self) -> ScanReport {
        self.scan_with(opts(ScanScope::All, false, false)).await
    }

    pub async fn scan_forced(&self) -> ScanReport {
        self.scan_with(opts(ScanScope::All, false, true)).await
    }

    pub async fn scan_verify(&self) -> ScanReport {
        self.scan_with(opts(ScanScope::All, true, false)).await
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        rel.split('/').fold(self.root.clone(), |p, c| p.join(c))
    }

    /// Writes a file (creating its folders) and returns its full path.
    pub fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(rel);
        write_file(&path, bytes.as_ref());
        path
    }

    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(&path).expect("mkdir");
        path
    }

    pub fn remove(&self, rel: &str) {
        let path = self.path(rel);
        if path.is_dir() {
            std::fs::remove_dir_all(&path).expect("remove dir");
        } else {
            std::fs::remove_file(&path).expect("remove file");
        }
    }

    pub fn rename(&self, from: &str, to: &str) {
        let to = self.path(to);
        std::fs::create_dir_all(to.parent().unwrap()).expect("mkdir");
        std::fs::rename(self.path(from), to).expect("rename");
    }

    pub async fn files(&self) -> Vec<FileRecord> {
        self.store.all_files().await.expect("all_files")
    }

    pub async fn present(&self) -> BTreeMap<String, FileRecord> {
        self.files()
            .await
            .into_iter()
            .filter(|f| f.state == FileState::Present)
            .map(|f| (key(&f.path), f))
            .collect()
    }

    pub async fn record(&self, rel: &str) -> FileRecord {
        self.files()
            .await
            .into_iter()
            .find(|f| f.path == rel)
            .unwrap_or_else(|| panic!("no record for {rel:?}"))
    }

    pub async fn course_id(&self, course_path: &str) -> lectern_core::CourseId {
        let path = lectern_core::LibraryPath::parse(course_path).unwrap();
        self.store
            .course_by_path(&path)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no course {course_path:?}"))
            .id
    }
}

pub fn opts(scope: ScanScope, verify: bool, force: bool) -> ScanOptions {
    ScanOptions {
        scope,
        verify,
        force,
        started_by: "test".into(),
        watched: false,
    }
}

pub fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

/// A path's text, for a test's own paths, which are UTF-8.
pub fn text(path: &lectern_core::LibraryPath) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// A path as a unique key: its text, or its escaped bytes (`bad%FF.txt`)
/// when it is not UTF-8.
pub fn key(path: &lectern_core::LibraryPath) -> String {
    lectern_core::escaped(path.as_bytes()).unwrap_or_else(|| text(path).to_owned())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn sha256_file(path: &Path) -> String {
    sha256_hex(&std::fs::read(path).expect("read"))
}

/// A fixed, distinct modification time: `n` seconds after a base date.
pub fn mtime(n: u64) -> SystemTime {
    UNIX_EPOCH
        + Duration::new(
            1_600_000_000 + n,
            (n as u32).wrapping_mul(7919) % 1_000_000_000,
        )
}

pub fn set_mtime(path: &Path, t: SystemTime) {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open for set_modified");
    f.set_modified(t).expect("set_modified");
}

pub fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .expect("stat")
        .modified()
        .expect("mtime")
}

/// Every regular file at depth 3 or more below `root`, with its size and
/// SHA-256, read straight from the disk (symbolic links are not followed).
pub fn disk_files(root: &Path) -> BTreeMap<String, (u64, String)> {
    fn visit(root: &Path, dir: &Path, out: &mut BTreeMap<String, (u64, String)>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let entry = entry.expect("dir entry");
            let kind = entry.file_type().expect("file type");
            let path = entry.path();
            if kind.is_dir() {
                visit(root, &path, out);
            } else if kind.is_file() {
                let rel = path.strip_prefix(root).unwrap();
                let rel: Vec<&str> = rel
                    .components()
                    .map(|c| c.as_os_str().to_str().unwrap())
                    .collect();
                if rel.len() >= 3 {
                    let bytes = std::fs::read(&path).expect("read");
                    out.insert(rel.join("/"), (bytes.len() as u64, sha256_hex(&bytes)));
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    visit(root, root, &mut out);
    out
}

pub fn assert_completed(report: &ScanReport) {
    assert_eq!(
        report.status,
        ScanStatus::Completed,
        "scan did not complete: reason {:?}, issues {:?}",
        report.reason,
        report.issues
    );
}

/// Nothing added, updated, removed or moved, and nothing read.
pub fn assert_idle(report: &ScanReport) {
    assert_completed(report);
    let c = &report.counts;
    assert_eq!(
        (c.added, c.updated, c.removed, c.moved, c.hashed_files),
        (0, 0, 0, 0, 0),
        "a scan of an unchanged tree did work: {c:?}"
    );
}

pub fn issues_for<'a>(report: &'a ScanReport, path: &str) -> Vec<&'a ScanIssue> {
    report.issues.iter().filter(|i| i.path == path).collect()
}

pub fn has_warning(report: &ScanReport, path: &str) -> bool {
    issues_for(report, path)
        .iter()
        .any(|i| i.kind == IssueKind::Warning)
}
