//! Walks the library root and lists what is on disk. Every problem with one
//! entry is a value in the outcome (an issue, an unreadable path), never an
//! abort: one unreadable folder must not stop, or skew, the whole scan.

use ignore::{WalkBuilder, WalkState};
use lectern_core::progress::ScanProgress;
use lectern_core::scan::ScanIssue;
use lectern_core::LibraryPath;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};
use std::time::UNIX_EPOCH;

/// Names that operating systems leave behind, never course material.
const JUNK: [&str; 4] = ["Thumbs.db", "desktop.ini", "ehthumbs.db", "Icon\r"];
pub const IGNORE_FILE: &str = ".lecternignore";

/// A regular file inside a course, as the walk saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenFile {
    pub path: LibraryPath,
    pub size: u64,
    pub mtime_ns: i64,
}

#[derive(Debug, Default, Clone)]
pub struct WalkOutcome {
    pub files: Vec<SeenFile>,
    pub issues: Vec<ScanIssue>,
    /// Paths that could not be read: what the index holds below them is
    /// left as it is rather than marked missing.
    pub unreadable: Vec<LibraryPath>,
    /// An error with no path: nothing may be marked missing in this scan.
    pub uncertain: bool,
}

enum Found {
    File(SeenFile),
    Issue(ScanIssue),
    Unreadable(Option<LibraryPath>, ScanIssue),
}

/// Walks `root`, or only the folder `only` below it (a course rescan). The
/// walk still starts at `root` so that `.lecternignore` files above the
/// course apply, as they do in a full scan.
pub fn walk(root: &Path, only: Option<&LibraryPath>, progress: &ScanProgress) -> WalkOutcome {
    let root = root.to_path_buf();
    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.clone());
    let (tx, rx) = mpsc::channel::<Found>();
    let parts = Mutex::new(Vec::new());
    let mut collectors = Collectors {
        root: &root,
        progress,
        parts: &parts,
    };
    builder(&root, &canonical_root, only, tx)
        .build_parallel()
        .visit(&mut collectors);
    let mut parts = parts
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // What filter_entry skipped with a warning comes through the channel.
    let mut skipped = WalkOutcome::default();
    rx.try_iter().for_each(|found| skipped.take(found));
    parts.push(skipped);
    merge(parts)
}

/// Each walker thread keeps its own findings and hands them over when the
/// walk ends, so no library-sized queue of messages builds up between them.
struct Collectors<'a> {
    root: &'a Path,
    progress: &'a ScanProgress,
    parts: &'a Mutex<Vec<WalkOutcome>>,
}

struct Collector<'a> {
    root: &'a Path,
    progress: &'a ScanProgress,
    parts: &'a Mutex<Vec<WalkOutcome>>,
    found: WalkOutcome,
}

impl<'s> ignore::ParallelVisitorBuilder<'s> for Collectors<'s> {
    fn build(&mut self) -> Box<dyn ignore::ParallelVisitor + 's> {
        Box::new(Collector {
            root: self.root,
            progress: self.progress,
            parts: self.parts,
            found: WalkOutcome::default(),
        })
    }
}

impl ignore::ParallelVisitor for Collector<'_> {
    fn visit(&mut self, entry: Result<ignore::DirEntry, ignore::Error>) -> WalkState {
        let found = match entry {
            Ok(entry) => judge_entry(self.root, &entry),
            Err(err) => Some(judge_error(self.root, err)),
        };
        if let Some(found) = found {
            self.progress
                .saw_files(u64::from(matches!(found, Found::File(_))));
            self.found.take(found);
        }
        WalkState::Continue
    }
}

impl Drop for Collector<'_> {
    fn drop(&mut self) {
        let found = std::mem::take(&mut self.found);
        if let Ok(mut parts) = self.parts.lock() {
            parts.push(found);
        }
    }
}

impl WalkOutcome {
    fn take(&mut self, found: Found) {
        match found {
            Found::File(file) => self.files.push(file),
            Found::Issue(issue) => self.issues.push(issue),
            Found::Unreadable(Some(path), issue) => {
                self.unreadable.push(path);
                self.issues.push(issue);
            }
            Found::Unreadable(None, issue) => {
                self.uncertain = true;
                self.issues.push(issue);
            }
        }
    }
}

/// Grows the largest part's list rather than copying all into a new one:
/// at the end of a walk the lists hold the whole library.
fn merge(mut parts: Vec<WalkOutcome>) -> WalkOutcome {
    parts.sort_by_key(|p| std::cmp::Reverse(p.files.len()));
    let mut parts = parts.into_iter();
    let mut out = parts.next().unwrap_or_default();
    let rest: Vec<WalkOutcome> = parts.collect();
    out.files
        .reserve_exact(rest.iter().map(|p| p.files.len()).sum());
    for part in rest {
        out.files.extend(part.files);
        out.issues.extend(part.issues);
        out.unreadable.extend(part.unreadable);
        out.uncertain |= part.uncertain;
    }
    out
}

fn builder(
    root: &Path,
    canonical_root: &Path,
    only: Option<&LibraryPath>,
    tx: mpsc::Sender<Found>,
) -> WalkBuilder {
    let mut b = WalkBuilder::new(root);
    b.standard_filters(false)
        .hidden(true)
        .add_custom_ignore_filename(IGNORE_FILE)
        .follow_links(true)
        .threads(2);
    let root = root.to_path_buf();
    let canonical_root = canonical_root.to_path_buf();
    let only = only.cloned();
    let tx = Mutex::new(tx);
    b.filter_entry(move |entry| {
        let verdict = admit(&root, &canonical_root, only.as_ref(), entry);
        match verdict {
            Ok(admitted) => admitted,
            Err(issue) => {
                if let Ok(tx) = tx.lock() {
                    let _ = tx.send(Found::Issue(issue));
                }
                false
            }
        }
    });
    b
}

/// Decides whether the walk goes into (or lists) an entry. `Err` skips it
/// with a warning worth reporting; `Ok(false)` skips it silently.
fn admit(
    root: &Path,
    canonical_root: &Path,
    only: Option<&LibraryPath>,
    entry: &ignore::DirEntry,
) -> Result<bool, ScanIssue> {
    if JUNK.iter().any(|j| entry.file_name() == OsStr::new(j)) || entry.file_name() == ".DS_Store" {
        return Ok(false);
    }
    let shown = || display(root, entry.path());
    // Files and folders inside a course may have any name; categories and
    // courses are shown and matched by their names as text.
    if (1..=2).contains(&entry.depth()) && entry.file_name().to_str().is_none() {
        return Err(ScanIssue::warning(
            shown(),
            "a category or course folder's name must be valid UTF-8; rename it to index what it holds",
        ));
    }
    if let Some(only) = only {
        if let Some(Some(rel)) = relative(root, entry.path()) {
            if !(rel.starts_with(only) || only.starts_with(&rel)) {
                return Ok(false);
            }
        }
    }
    if entry.path_is_symlink() && !inside(canonical_root, entry.path()) {
        return Err(ScanIssue::warning(
            shown(),
            "symbolic link leads outside the library root (or nowhere); not followed",
        ));
    }
    Ok(true)
}

fn inside(canonical_root: &Path, path: &Path) -> bool {
    path.canonicalize()
        .map(|target| target.starts_with(canonical_root))
        .unwrap_or(false)
}

/// `Some(None)` is the root itself; `None` a path that is not below the
/// root.
fn relative(root: &Path, path: &Path) -> Option<Option<LibraryPath>> {
    // The walker yields `root` joined with names, so on Unix a byte prefix
    // is enough, and much cheaper than comparing path components per file.
    #[cfg(unix)]
    let rel = {
        let bytes = path.as_os_str().as_encoded_bytes();
        let rest = bytes.strip_prefix(root.as_os_str().as_encoded_bytes())?;
        let rest = rest.strip_prefix(b"/").unwrap_or(rest);
        if rest.is_empty() {
            return Some(None);
        }
        LibraryPath::from_bytes(rest).ok()?
    };
    #[cfg(not(unix))]
    let rel = {
        let rel = path.strip_prefix(root).ok()?;
        if rel.as_os_str().is_empty() {
            return Some(None);
        }
        LibraryPath::from_relative(rel).ok()?
    };
    Some(Some(rel))
}

fn display(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

fn judge_entry(root: &Path, entry: &ignore::DirEntry) -> Option<Found> {
    let rel = relative(root, entry.path())??;
    let file_type = entry.file_type()?;
    if file_type.is_dir() {
        return None;
    }
    let shown = rel.to_string_lossy().into_owned();
    if !file_type.is_file() {
        return Some(Found::Issue(ScanIssue::warning(
            shown,
            "not a regular file (a pipe, socket or device); skipped",
        )));
    }
    if rel.depth() < 3 {
        let place = if rel.depth() == 1 {
            "the library root"
        } else {
            "a category folder"
        };
        return Some(Found::Issue(ScanIssue::warning(
            shown,
            format!("files directly in {place} belong to no course; not indexed"),
        )));
    }
    match entry.metadata() {
        Ok(meta) => Some(Found::File(SeenFile {
            path: rel,
            size: meta.len(),
            mtime_ns: mtime_ns(&meta),
        })),
        Err(err) => Some(Found::Unreadable(
            Some(rel),
            ScanIssue::error(shown, err.to_string()),
        )),
    }
}

fn judge_error(root: &Path, err: ignore::Error) -> Found {
    let message = err.to_string();
    if let Some((ancestor, child)) = loop_paths(&err) {
        let issue = ScanIssue::warning(
            display(root, &child),
            format!(
                "symbolic link loop back to {}; not followed",
                display(root, &ancestor)
            ),
        );
        return Found::Issue(issue);
    }
    let path = error_path(&err);
    let shown = path
        .as_deref()
        .map(|p| display(root, p))
        .unwrap_or_default();
    if path.as_deref().is_some_and(is_dangling_link) {
        // A link to nothing is nothing to index: a warning, and whatever
        // the index held at that path may go missing like any vanished file.
        return Found::Issue(ScanIssue::warning(
            shown,
            "symbolic link points nowhere; skipped",
        ));
    }
    // `None`: the error names no path below the root, so nothing can be
    // known to be gone in this scan.
    let rel = path.and_then(|p| relative(root, &p).flatten());
    Found::Unreadable(rel, ScanIssue::error(shown, message))
}

fn is_dangling_link(path: &Path) -> bool {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    is_link && std::fs::metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

fn loop_paths(err: &ignore::Error) -> Option<(PathBuf, PathBuf)> {
    match err {
        ignore::Error::Loop { ancestor, child } => Some((ancestor.clone(), child.clone())),
        ignore::Error::WithPath { err, .. } | ignore::Error::WithDepth { err, .. } => {
            loop_paths(err)
        }
        _ => None,
    }
}

fn error_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}

pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
