//! Model-based test of the scanner: a random small library goes through a
//! random sequence of filesystem changes, and after each one a forced full
//! scan must leave the index equal to the tree (SPEC §1 "Content model" and
//! "Scans"): present records are exactly the files on disk with their real
//! size and SHA-256, vanished records are missing (or moved, keeping their
//! id), and an immediate second scan does nothing and reads nothing. Now and
//! then more than half the library vanishes, and an unforced scan must stop
//! at the safety guard without changing a thing. Course and category
//! folders are renamed too, and keep their ids (SPEC §1 renames).

mod common;

use common::*;
use lectern_core::scan::ScanStatus;
use lectern_core::FileId;
use lectern_scanner::{ScanReport, ScanScope};
use lectern_store::{FileRecord, FileState};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

const CATEGORIES: [&str; 2] = ["Alpha", "Beta"];
const COURSES: [&str; 2] = ["1 Intro", "10 Deep"];
/// `""` is the course's own folder (depth 3); the others are sections.
const SECTIONS: [&str; 3] = ["", "01 Start", "02 More"];
/// A small pool, so that new names often land on paths the index knows
/// (present, or missing since an earlier step).
const NAMES: [&str; 6] = ["a.txt", "B.md", "c.bin", "d.pdf", "e.txt", "lesson.mp4"];
const FOLDERS: usize = CATEGORIES.len() * COURSES.len() * SECTIONS.len();
/// Names a course or category folder may be renamed to (the first ones
/// are the usual names, so a rename may land where a folder once was).
const COURSE_NAMES: [&str; 4] = ["1 Intro", "10 Deep", "2 Renamed", "3 Again"];
const CATEGORY_NAMES: [&str; 3] = ["Alpha", "Beta", "Gamma"];

fn folder(i: usize) -> String {
    let cat = CATEGORIES[i / (COURSES.len() * SECTIONS.len())];
    let course = COURSES[(i / SECTIONS.len()) % COURSES.len()];
    match SECTIONS[i % SECTIONS.len()] {
        "" => format!("{cat}/{course}"),
        section => format!("{cat}/{course}/{section}"),
    }
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map(|(dir, _)| dir).unwrap()
}

#[derive(Debug, Clone)]
enum Op {
    Add {
        folder: usize,
        name: usize,
        len: usize,
    },
    Delete {
        pick: Index,
    },
    /// New content of a different size.
    Grow {
        pick: Index,
    },
    /// New content of the same size, and a new modification time.
    Rewrite {
        pick: Index,
    },
    /// A new modification time, the same bytes.
    Touch {
        pick: Index,
    },
    /// A new name in the same folder.
    Rename {
        pick: Index,
        name: usize,
    },
    /// To another section, course or category, keeping the name if free.
    Move {
        pick: Index,
        folder: usize,
    },
    /// A second file with the same content (so content is not always unique).
    Copy {
        pick: Index,
        folder: usize,
        name: usize,
    },
    /// More than half the files vanish at once: the safety guard's case.
    DeleteMany {
        pick: Index,
    },
    /// A rename or move onto a path that held a file deleted earlier (so
    /// the index may hold a missing record there).
    MoveToGone {
        pick: Index,
        gone: Index,
    },
    /// A course folder renamed within its category, or a category folder
    /// renamed: its files all move, and the folder keeps its id.
    RenameFolder {
        pick: Index,
        name: usize,
        category: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..FOLDERS, 0..NAMES.len(), 16..160usize).prop_map(|(folder, name, len)| Op::Add { folder, name, len }),
        2 => any::<Index>().prop_map(|pick| Op::Delete { pick }),
        1 => any::<Index>().prop_map(|pick| Op::Grow { pick }),
        2 => any::<Index>().prop_map(|pick| Op::Rewrite { pick }),
        2 => any::<Index>().prop_map(|pick| Op::Touch { pick }),
        3 => (any::<Index>(), 0..NAMES.len()).prop_map(|(pick, name)| Op::Rename { pick, name }),
        3 => (any::<Index>(), 0..FOLDERS).prop_map(|(pick, folder)| Op::Move { pick, folder }),
        1 => (any::<Index>(), 0..FOLDERS, 0..NAMES.len()).prop_map(|(pick, folder, name)| Op::Copy { pick, folder, name }),
        1 => any::<Index>().prop_map(|pick| Op::DeleteMany { pick }),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(pick, gone)| Op::MoveToGone { pick, gone }),
        2 => (any::<Index>(), 0..COURSE_NAMES.len(), any::<bool>()).prop_map(|(pick, name, category)| Op::RenameFolder { pick, name, category }),
    ]
}

/// What the forced scan after an operation must report.
#[derive(Debug)]
enum Expect {
    /// The operation found nothing to act on.
    Nothing,
    Added,
    Removed(u64),
    Updated,
    Touched,
    Moved {
        from: String,
        to: String,
    },
    Copied,
    /// A folder renamed: its `files` files moved.
    FolderMoved {
        from: String,
        to: String,
        files: u64,
    },
}

struct Model {
    lib: Lib,
    /// Makes every written content unique (unless copied on purpose).
    serial: u64,
    /// Makes every modification time distinct.
    tick: u64,
    /// Paths of files this model deleted (some may exist again).
    deleted: BTreeSet<String>,
}

impl Model {
    fn files(&self) -> Vec<String> {
        disk_files(&self.lib.root).into_keys().collect()
    }

    fn fresh(&mut self, len: usize) -> Vec<u8> {
        self.serial += 1;
        let mut bytes = format!("{:08}|", self.serial).into_bytes();
        let serial = self.serial as usize;
        bytes.extend((0..len).map(|i| b'a' + ((i * 7 + serial) % 26) as u8));
        bytes.truncate(len.max(9));
        bytes
    }

    fn put(&mut self, rel: &str, bytes: &[u8]) {
        let path = self.lib.write(rel, bytes);
        self.stamp(&path);
    }

    fn stamp(&mut self, path: &std::path::Path) {
        self.tick += 1;
        set_mtime(path, mtime(self.tick));
    }

    /// The first name from `start` on that is free in `dir` on disk.
    fn free_name(&self, dir: &str, start: usize) -> Option<String> {
        (0..NAMES.len())
            .map(|k| format!("{dir}/{}", NAMES[(start + k) % NAMES.len()]))
            .find(|p| !self.lib.path(p).exists())
    }

    fn apply(&mut self, op: &Op) -> Expect {
        let files = self.files();
        let pick = |i: &Index| (!files.is_empty()).then(|| files[i.index(files.len())].clone());
        match op {
            Op::Add {
                folder: f,
                name,
                len,
            } => {
                let Some(path) = self.free_name(&folder(*f), *name) else {
                    return Expect::Nothing;
                };
                let bytes = self.fresh(*len);
                self.put(&path, &bytes);
                Expect::Added
            }
            Op::Delete { pick: i } => {
                let Some(path) = pick(i) else {
                    return Expect::Nothing;
                };
                self.lib.remove(&path);
                self.deleted.insert(path);
                Expect::Removed(1)
            }
            Op::Grow { pick: i } => {
                let Some(path) = pick(i) else {
                    return Expect::Nothing;
                };
                let mut bytes = std::fs::read(self.lib.path(&path)).unwrap();
                self.serial += 1;
                bytes.extend(format!("+{}", self.serial).bytes());
                self.put(&path, &bytes);
                Expect::Updated
            }
            Op::Rewrite { pick: i } => {
                let Some(path) = pick(i) else {
                    return Expect::Nothing;
                };
                let len = std::fs::metadata(self.lib.path(&path)).unwrap().len() as usize;
                let bytes = self.fresh(len);
                assert_eq!(bytes.len(), len);
                self.put(&path, &bytes);
                Expect::Updated
            }
            Op::Touch { pick: i } => {
                let Some(path) = pick(i) else {
                    return Expect::Nothing;
                };
                let full = self.lib.path(&path);
                self.stamp(&full);
                Expect::Touched
            }
            Op::Rename { pick: i, name } => {
                let Some(from) = pick(i) else {
                    return Expect::Nothing;
                };
                let Some(to) = self.free_name(parent(&from), *name) else {
                    return Expect::Nothing;
                };
                self.lib.rename(&from, &to);
                Expect::Moved { from, to }
            }
            Op::Move { pick: i, folder: f } => {
                let Some(from) = pick(i) else {
                    return Expect::Nothing;
                };
                let mut dir = folder(*f);
                if dir == parent(&from) {
                    dir = folder((*f + 1) % FOLDERS);
                }
                let name = NAMES
                    .iter()
                    .position(|n| *n == from.rsplit('/').next().unwrap())
                    .unwrap();
                let Some(to) = self.free_name(&dir, name) else {
                    return Expect::Nothing;
                };
                self.lib.rename(&from, &to);
                Expect::Moved { from, to }
            }
            Op::Copy {
                pick: i,
                folder: f,
                name,
            } => {
                let Some(from) = pick(i) else {
                    return Expect::Nothing;
                };
                let Some(to) = self.free_name(&folder(*f), *name) else {
                    return Expect::Nothing;
                };
                let bytes = std::fs::read(self.lib.path(&from)).unwrap();
                self.put(&to, &bytes);
                Expect::Copied
            }
            Op::DeleteMany { pick: i } => {
                if files.is_empty() {
                    return Expect::Nothing;
                }
                let n = files.len();
                let k = n / 2 + 1;
                let start = i.index(n);
                for j in 0..k {
                    let path = &files[(start + j) % n];
                    self.lib.remove(path);
                    self.deleted.insert(path.clone());
                }
                Expect::Removed(k as u64)
            }
            Op::MoveToGone { pick: i, gone } => {
                let Some(from) = pick(i) else {
                    return Expect::Nothing;
                };
                let targets: Vec<&String> = self
                    .deleted
                    .iter()
                    .filter(|p| !self.lib.path(p).exists())
                    .collect();
                if targets.is_empty() {
                    return Expect::Nothing;
                }
                let to = targets[gone.index(targets.len())].clone();
                self.lib.rename(&from, &to);
                Expect::Moved { from, to }
            }
            Op::RenameFolder {
                pick: i,
                name,
                category,
            } => {
                let depth = if *category { 1 } else { 2 };
                let folders: BTreeSet<String> = files
                    .iter()
                    .map(|f| {
                        f.splitn(depth + 1, '/')
                            .take(depth)
                            .collect::<Vec<_>>()
                            .join("/")
                    })
                    .collect();
                let folders: Vec<String> = folders.into_iter().collect();
                if folders.is_empty() {
                    return Expect::Nothing;
                }
                let from = folders[i.index(folders.len())].clone();
                let pool: &[&str] = if *category {
                    &CATEGORY_NAMES
                } else {
                    &COURSE_NAMES
                };
                let to = (0..pool.len())
                    .map(|k| pool[(name + k) % pool.len()])
                    .map(|n| match from.rsplit_once('/') {
                        Some((cat, _)) => format!("{cat}/{n}"),
                        None => n.to_owned(),
                    })
                    .find(|p| !self.lib.path(p).exists());
                let Some(to) = to else {
                    return Expect::Nothing;
                };
                self.lib.rename(&from, &to);
                let inside = format!("{from}/");
                let moved = files.iter().filter(|f| f.starts_with(&inside)).count() as u64;
                Expect::FolderMoved {
                    from,
                    to,
                    files: moved,
                }
            }
        }
    }
}

fn check_counts(expect: &Expect, r: &ScanReport) {
    let c = &r.counts;
    let got = (c.added, c.updated, c.removed, c.moved);
    match expect {
        Expect::Nothing => assert_eq!(got, (0, 0, 0, 0), "{c:?}"),
        Expect::Added => assert_eq!((got, c.hashed_files), ((1, 0, 0, 0), 1), "{c:?}"),
        Expect::Removed(n) => assert_eq!((got, c.hashed_files), ((0, 0, *n, 0), 0), "{c:?}"),
        Expect::Updated => assert_eq!((got, c.hashed_files), ((0, 1, 0, 0), 1), "{c:?}"),
        Expect::Touched => assert_eq!((got, c.hashed_files), ((0, 0, 0, 0), 1), "{c:?}"),
        Expect::Moved { from, to } => assert_eq!(
            (got, c.hashed_files),
            ((0, 0, 0, 1), 1),
            "a rename/move {from:?} -> {to:?} must count as one move: {c:?}"
        ),
        // A new file whose content matches a missing record takes that
        // record's id (a move back); otherwise it is new.
        Expect::Copied => assert_eq!(
            (c.added + c.moved, c.updated, c.removed, c.hashed_files),
            (1, 0, 0, 1),
            "{c:?}"
        ),
        // Each file pairs with a record of its content: most often the
        // one it left, or a missing one of the same content.
        Expect::FolderMoved { files, .. } => {
            assert_eq!((c.added + c.moved, c.updated), (*files, 0), "{c:?}")
        }
    }
}

/// (a) The index equals the tree, and no record is lost or re-pointed.
fn check_index(
    before: &[FileRecord],
    disk: &BTreeMap<String, (u64, String)>,
    after: &[FileRecord],
) {
    let present: BTreeMap<&str, &FileRecord> = after
        .iter()
        .filter(|f| f.state == FileState::Present)
        .map(|f| (text(&f.path), f))
        .collect();
    assert_eq!(
        present.keys().copied().collect::<Vec<_>>(),
        disk.keys().map(String::as_str).collect::<Vec<_>>(),
        "present records are not the files on disk"
    );
    for (path, (size, sha)) in disk {
        let r = present[path.as_str()];
        assert_eq!(
            (r.size, &r.sha256.to_hex()),
            (*size, sha),
            "size/sha256 of {path:?}"
        );
    }
    let by_id: HashMap<FileId, &FileRecord> = after.iter().map(|f| (f.id, f)).collect();
    let mut expected_missing = BTreeSet::new();
    for b in before {
        let Some(a) = by_id.get(&b.id) else {
            // The one way a record may go: it was missing, and a file moved
            // onto its path keeps the moved file's id (a path holds one record).
            let taken_over = present.get(text(&b.path)).is_some_and(|p| p.id != b.id);
            assert!(
                b.state == FileState::Missing && taken_over,
                "record {} ({:?}) was lost",
                b.id,
                b.path
            );
            continue;
        };
        if b.state == FileState::Present && disk.contains_key(text(&b.path)) {
            assert_eq!(
                a.path, b.path,
                "the record of a file still on disk was re-pointed"
            );
        }
        if a.state == FileState::Missing {
            assert_eq!(a.path, b.path, "a missing record changed path");
        }
        if a.path != b.path {
            assert_eq!(
                (a.size, &a.sha256),
                (b.size, &b.sha256),
                "record {} moved {:?} -> {:?} to different content",
                b.id,
                b.path,
                a.path
            );
        } else if !disk.contains_key(text(&b.path)) {
            expected_missing.insert(text(&b.path));
        }
    }
    let missing: BTreeSet<&str> = after
        .iter()
        .filter(|f| f.state == FileState::Missing)
        .map(|f| text(&f.path))
        .collect();
    assert_eq!(
        missing, expected_missing,
        "missing records are not the known paths gone from disk"
    );
    let known: BTreeSet<FileId> = before.iter().map(|b| b.id).collect();
    for a in after.iter().filter(|a| !known.contains(&a.id)) {
        assert_eq!(
            a.state,
            FileState::Present,
            "a new record {:?} is not present",
            a.path
        );
    }
}

/// (c) A renamed or moved file whose content is unique keeps its id.
fn check_move(
    expect: &Expect,
    before: &[FileRecord],
    disk: &BTreeMap<String, (u64, String)>,
    after: &[FileRecord],
) {
    let Expect::Moved { from, to } = expect else {
        return;
    };
    let sha = &disk[to].1;
    let unique = disk.values().filter(|(_, s)| s == sha).count() == 1
        && before.iter().filter(|b| &b.sha256.to_hex() == sha).count() == 1;
    if !unique {
        return;
    }
    let old = before
        .iter()
        .find(|b| &b.path == from)
        .expect("the moved file had a record");
    let new = after
        .iter()
        .find(|a| &a.path == to)
        .expect("the moved file has a record");
    assert_eq!(
        new.id, old.id,
        "{from:?} -> {to:?} (unique content) did not keep its id; before: {before:#?}\nafter: {after:#?}"
    );
}

/// The id of the course (depth 2) or category (depth 1) folder at `path`.
async fn folder_id(lib: &Lib, path: &str) -> Option<i64> {
    let parsed = lectern_core::LibraryPath::parse(path).unwrap();
    if parsed.depth() == 2 {
        let course = lib.store.course_by_path(&parsed).await.unwrap();
        return course.map(|c| c.id.0);
    }
    let categories = lib.store.categories().await.unwrap();
    categories
        .into_iter()
        .find(|c| c.name == path)
        .map(|c| c.id.0)
}

/// (d) A renamed folder whose files all have unique content keeps its
/// id, unless the index already had a folder at the new name.
async fn check_folder(
    m: &Model,
    expect: &Expect,
    before: &[FileRecord],
    old: Option<i64>,
    taken: bool,
) {
    let Expect::FolderMoved { from, to, files } = expect else {
        return;
    };
    let after = disk_files(&m.lib.root);
    let inside = format!("{to}/");
    let unique = after
        .iter()
        .filter(|(p, _)| p.starts_with(&inside))
        .all(|(_, (_, sha))| {
            after.values().filter(|(_, s)| s == sha).count() == 1
                && before.iter().filter(|b| &b.sha256.to_hex() == sha).count() <= 1
        });
    if !unique || taken || *files == 0 {
        return;
    }
    assert_eq!(
        folder_id(&m.lib, to).await,
        old,
        "{from:?} -> {to:?} did not keep its id"
    );
}

async fn scan_and_check(m: &Model, expect: &Expect) {
    if matches!(expect, Expect::Removed(n) if *n > 1) {
        // More than half the files are gone: without --force, the guard.
        let before = m.lib.files().await;
        let r = m.lib.scan().await;
        assert_eq!(r.status, ScanStatus::Aborted, "{:?}", r.counts);
        assert!(
            r.reason.as_deref().is_some_and(|s| !s.is_empty()),
            "an aborted scan gives a reason"
        );
        assert_eq!(
            m.lib.files().await,
            before,
            "an aborted scan changed the index"
        );
    }
    let before = m.lib.files().await;
    let (old, taken) = match expect {
        Expect::FolderMoved { from, to, .. } => (
            folder_id(&m.lib, from).await,
            folder_id(&m.lib, to).await.is_some(),
        ),
        _ => (None, false),
    };
    let disk = disk_files(&m.lib.root);
    let r = m.lib.scan_with(opts(ScanScope::All, false, true)).await;
    assert_completed(&r);
    assert_eq!(r.counts.errors, 0, "{:?}", r.issues);
    check_counts(expect, &r);
    let after = m.lib.files().await;
    check_index(&before, &disk, &after);
    check_move(expect, &before, &disk, &after);
    check_folder(m, expect, &before, old, taken).await;
    // (b) Nothing changed since: nothing to do, nothing to read.
    let again = m.lib.scan().await;
    assert_idle(&again);
    assert_eq!(m.lib.files().await, after, "an idle scan changed the index");
}

async fn run_case(initial: Vec<(usize, usize, usize)>, ops: Vec<Op>) {
    let mut m = Model {
        lib: Lib::new().await,
        serial: 0,
        tick: 0,
        deleted: BTreeSet::new(),
    };
    let mut added = 0;
    for (f, name, len) in &initial {
        if let Expect::Added = m.apply(&Op::Add {
            folder: *f,
            name: *name,
            len: *len,
        }) {
            added += 1;
        }
    }
    let r = m.lib.scan().await;
    assert_completed(&r);
    assert_eq!(r.counts.added, added);
    check_index(&[], &disk_files(&m.lib.root), &m.lib.files().await);
    assert_idle(&m.lib.scan().await);
    for op in &ops {
        let expect = m.apply(op);
        scan_and_check(&m, &expect).await;
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        max_shrink_iters: 200,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn index_follows_the_tree_through_random_changes(
        initial in prop::collection::vec((0..FOLDERS, 0..NAMES.len(), 16..160usize), 2..8),
        ops in prop::collection::vec(op(), 1..15),
    ) {
        runtime().block_on(run_case(initial, ops));
    }
}
