//! Compares what the index knows with what the walk saw, and decides what
//! must be hashed, what is unchanged and what has vanished. Pure logic: no
//! disk and no database, so it is tested on its own.

use crate::classify::{classify, Kind, Neighbours};
use crate::walk::{SeenFile, WalkOutcome};
use lectern_core::{LibraryPath, Sha256Digest};
use lectern_store::{FileChange, FileState, KnownFile};
use std::collections::{HashMap, HashSet, VecDeque};

/// A file the walk saw that must be read: new, changed, back from missing,
/// or (with `--verify`) every file.
#[derive(Debug, Clone)]
pub struct HashJob {
    pub seen: SeenFile,
    pub kind: Kind,
    /// Boxed: most jobs of a first scan have none, and a library's worth of
    /// jobs is held at once.
    pub known: Option<Box<KnownFile>>,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub unchanged: u64,
    /// Unchanged content whose role, type or subtitle link changed (a video
    /// appeared beside a subtitle, say): rewritten without hashing.
    pub relabels: Vec<FileChange>,
    pub jobs: Vec<HashJob>,
    /// Present in the index, gone from disk: missing, unless a move.
    pub vanished: Vec<KnownFile>,
    /// Missing before this scan and still not back: a new file with the
    /// same content is taken as that file moved, so its id is kept.
    pub missing_before: Vec<KnownFile>,
    /// Present records this scan could not judge (below unreadable folders).
    pub kept: u64,
}

/// Joins the index and the walk, both sorted by path, in one pass.
pub fn plan(mut known: Vec<KnownFile>, walk: WalkOutcome, verify: bool) -> Plan {
    let neighbours = Neighbours::new(walk.files.iter().map(|f| &f.path));
    let mut seen = walk.files;
    seen.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    known.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    let unreadable: HashSet<&LibraryPath> = walk.unreadable.iter().collect();
    let mut plan = Plan::default();
    let mut known = known.into_iter().peekable();
    for file in seen {
        while let Some(gone) = known.next_if(|k| k.path < file.path) {
            plan.not_seen(gone, walk.uncertain, &unreadable);
        }
        let same_path = known.next_if(|k| k.path == file.path);
        plan.seen(file, same_path, &neighbours, verify);
    }
    for gone in known {
        plan.not_seen(gone, walk.uncertain, &unreadable);
    }
    plan
}

impl Plan {
    fn seen(
        &mut self,
        file: SeenFile,
        known: Option<KnownFile>,
        neighbours: &Neighbours,
        verify: bool,
    ) {
        let kind = classify(&file.path, neighbours);
        match known {
            Some(k) if k.state == FileState::Present && same_stat(&k, &file) && !verify => {
                self.unchanged += 1;
                if !kind.matches(&k.facts) {
                    self.relabels.push(relabel(k, &kind));
                }
            }
            known => self.jobs.push(HashJob {
                seen: file,
                kind,
                known: known.map(Box::new),
            }),
        }
    }

    fn not_seen(&mut self, k: KnownFile, uncertain: bool, unreadable: &HashSet<&LibraryPath>) {
        match k.state {
            FileState::Missing => self.missing_before.push(k),
            FileState::Present if uncertain || under_any(&k.path, unreadable) => self.kept += 1,
            FileState::Present => self.vanished.push(k),
        }
    }
}

fn same_stat(k: &KnownFile, seen: &SeenFile) -> bool {
    k.facts.size == seen.size && k.facts.mtime_ns == seen.mtime_ns
}

fn relabel(k: KnownFile, kind: &Kind) -> FileChange {
    let facts = kind.with_content(k.facts.size, k.facts.mtime_ns, k.facts.sha256);
    FileChange {
        id: k.id,
        course_id: k.course_id,
        path: k.path,
        facts,
    }
}

fn under_any(path: &LibraryPath, unreadable: &HashSet<&LibraryPath>) -> bool {
    (1..=path.depth()).any(|n| path.prefix(n).is_some_and(|p| unreadable.contains(&p)))
}

/// Pairs files seen at a new path with vanished (then earlier-missing)
/// records of the same size and content. Candidates are taken in path
/// order, so the pairing is the same on every run.
#[derive(Debug, Default)]
pub struct Moves {
    vanished: HashMap<(u64, Sha256Digest), VecDeque<KnownFile>>,
    earlier: HashMap<(u64, Sha256Digest), VecDeque<KnownFile>>,
}

impl Moves {
    pub fn new(vanished: &[KnownFile], missing_before: &[KnownFile]) -> Self {
        Self {
            vanished: by_content(vanished),
            earlier: by_content(missing_before),
        }
    }

    /// The sizes worth hashing early: only a file of one of these sizes can
    /// be a move.
    pub fn sizes(&self) -> HashSet<u64> {
        self.vanished
            .keys()
            .chain(self.earlier.keys())
            .map(|(size, _)| *size)
            .collect()
    }

    /// A record that vanished in this scan with this content.
    pub fn take_vanished(&mut self, size: u64, sha256: Sha256Digest) -> Option<KnownFile> {
        self.vanished.get_mut(&(size, sha256))?.pop_front()
    }

    /// A vanished record, else one missing since an earlier scan.
    pub fn take(&mut self, size: u64, sha256: Sha256Digest) -> Option<KnownFile> {
        let key = (size, sha256);
        self.take_vanished(size, sha256)
            .or_else(|| self.earlier.get_mut(&key)?.pop_front())
    }
}

fn by_content(records: &[KnownFile]) -> HashMap<(u64, Sha256Digest), VecDeque<KnownFile>> {
    let mut map: HashMap<(u64, Sha256Digest), VecDeque<KnownFile>> = HashMap::new();
    for k in records {
        map.entry((k.facts.size, k.facts.sha256))
            .or_default()
            .push_back(k.clone());
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use lectern_core::{CourseId, FileId};
    use lectern_store::{FileFacts, FileRole};

    fn path(s: &str) -> LibraryPath {
        LibraryPath::parse(s).unwrap()
    }

    fn known(id: i64, p: &str, size: u64, state: FileState) -> KnownFile {
        KnownFile {
            id: FileId(id),
            course_id: CourseId(1),
            path: path(p),
            facts: FileFacts {
                size,
                mtime_ns: 7,
                sha256: Sha256Digest([size as u8; 32]),
                mime: "text/plain".into(),
                role: FileRole::Material,
                subtitle: None,
            },
            state,
        }
    }

    fn seen(p: &str, size: u64, mtime_ns: i64) -> SeenFile {
        SeenFile {
            path: path(p),
            size,
            mtime_ns,
        }
    }

    #[test]
    fn same_size_and_mtime_is_not_hashed_unless_verifying() {
        let walk = WalkOutcome {
            files: vec![seen("C/K/a.txt", 3, 7)],
            ..Default::default()
        };
        let known_a = || vec![known(1, "C/K/a.txt", 3, FileState::Present)];
        let p = plan(known_a(), walk.clone(), false);
        assert_eq!((p.unchanged, p.jobs.len()), (1, 0));
        let p = plan(known_a(), walk, true);
        assert_eq!((p.unchanged, p.jobs.len()), (0, 1));
    }

    #[test]
    fn files_below_an_unreadable_folder_are_kept_not_vanished() {
        let walk = WalkOutcome {
            unreadable: vec![path("C/K/locked")],
            ..Default::default()
        };
        let k = vec![
            known(1, "C/K/locked/a.txt", 3, FileState::Present),
            known(2, "C/K/b.txt", 3, FileState::Present),
        ];
        let p = plan(k, walk, false);
        assert_eq!(p.kept, 1);
        assert_eq!(p.vanished.iter().map(|k| k.id.0).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn an_uncertain_walk_marks_nothing_missing() {
        let walk = WalkOutcome {
            uncertain: true,
            ..Default::default()
        };
        let p = plan(
            vec![known(1, "C/K/a.txt", 3, FileState::Present)],
            walk,
            false,
        );
        assert!(p.vanished.is_empty());
    }

    #[test]
    fn moves_pair_vanished_before_earlier_missing_in_path_order() {
        let vanished = [
            known(2, "C/K/b.txt", 5, FileState::Present),
            known(1, "C/K/a.txt", 5, FileState::Present),
        ];
        let mut sorted = vanished.to_vec();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        let mut m = Moves::new(&sorted, &[known(3, "C/K/c.txt", 5, FileState::Missing)]);
        assert_eq!(m.take(5, Sha256Digest([5; 32])).map(|k| k.id.0), Some(1));
        assert_eq!(m.take(5, Sha256Digest([5; 32])).map(|k| k.id.0), Some(2));
        assert_eq!(m.take(5, Sha256Digest([5; 32])).map(|k| k.id.0), Some(3));
        assert_eq!(m.take(5, Sha256Digest([5; 32])), None);
    }
}

#[cfg(test)]
mod join_tests {
    use super::*;
    use lectern_core::{CourseId, FileId};
    use lectern_store::{FileFacts, FileRole};

    #[test]
    fn the_join_sorts_its_inputs_and_sees_every_path_once() {
        let k = |id: i64, p: &str| KnownFile {
            id: FileId(id),
            course_id: CourseId(1),
            path: LibraryPath::parse(p).unwrap(),
            facts: FileFacts {
                size: 1,
                mtime_ns: 1,
                sha256: Sha256Digest([7; 32]),
                mime: "text/plain".into(),
                role: FileRole::Material,
                subtitle: None,
            },
            state: FileState::Present,
        };
        let s = |p: &str| SeenFile {
            path: LibraryPath::parse(p).unwrap(),
            size: 1,
            mtime_ns: 1,
        };
        let walk = WalkOutcome {
            files: vec![s("C/K/d.txt"), s("C/K/b.txt"), s("C/K/a.txt")],
            ..Default::default()
        };
        let p = plan(
            vec![k(3, "C/K/c.txt"), k(2, "C/K/b.txt"), k(4, "C/K/e.txt")],
            walk,
            false,
        );
        assert_eq!(p.unchanged, 1);
        let new: Vec<&str> = p
            .jobs
            .iter()
            .map(|j| j.seen.path.to_str().unwrap())
            .collect();
        assert_eq!(new, ["C/K/a.txt", "C/K/d.txt"]);
        let gone: Vec<i64> = p.vanished.iter().map(|k| k.id.0).collect();
        assert_eq!(gone, [3, 4]);
    }
}
