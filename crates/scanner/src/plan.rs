//! Compares what the index knows with what the walk saw, and decides what
//! must be hashed, what is unchanged and what has vanished. Pure logic: no
//! disk and no database, so it is tested on its own.

use crate::classify::{classify, Kind, Neighbours};
use crate::walk::{SeenFile, WalkOutcome};
use lectern_core::LibraryPath;
use lectern_store::{FileChange, FileFacts, FileState, KnownFile};
use std::collections::{HashMap, HashSet, VecDeque};

/// A file the walk saw that must be read: new, changed, back from missing,
/// or (with `--verify`) every file.
#[derive(Debug, Clone)]
pub struct HashJob {
    pub seen: SeenFile,
    pub kind: Kind,
    pub known: Option<KnownFile>,
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

pub fn plan(known: Vec<KnownFile>, walk: &WalkOutcome, verify: bool) -> Plan {
    let neighbours = Neighbours::new(walk.files.iter().map(|f| &f.path));
    let mut by_path: HashMap<LibraryPath, KnownFile> =
        known.into_iter().map(|k| (k.path.clone(), k)).collect();
    let mut plan = Plan::default();
    for seen in &walk.files {
        let kind = classify(&seen.path, &neighbours);
        let known = by_path.remove(&seen.path);
        match known {
            Some(k) if k.state == FileState::Present && same_stat(&k, seen) && !verify => {
                plan.unchanged += 1;
                if !same_kind(&k.facts, &kind) {
                    plan.relabels.push(relabel(k, kind));
                }
            }
            known => plan.jobs.push(HashJob {
                seen: seen.clone(),
                kind,
                known,
            }),
        }
    }
    let unreadable: HashSet<&LibraryPath> = walk.unreadable.iter().collect();
    for (_, k) in by_path {
        match k.state {
            FileState::Missing => plan.missing_before.push(k),
            FileState::Present if walk.uncertain || under_any(&k.path, &unreadable) => {
                plan.kept += 1
            }
            FileState::Present => plan.vanished.push(k),
        }
    }
    plan.vanished.sort_by(|a, b| a.path.cmp(&b.path));
    plan.missing_before.sort_by(|a, b| a.path.cmp(&b.path));
    plan
}

fn same_stat(k: &KnownFile, seen: &SeenFile) -> bool {
    k.facts.size == seen.size && k.facts.mtime_ns == seen.mtime_ns
}

pub fn same_kind(facts: &FileFacts, kind: &Kind) -> bool {
    facts.mime == kind.mime && facts.role == kind.role && facts.subtitle == kind.subtitle
}

fn relabel(k: KnownFile, kind: Kind) -> FileChange {
    let facts = FileFacts {
        mime: kind.mime,
        role: kind.role,
        subtitle: kind.subtitle,
        ..k.facts
    };
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

/// Pairs new files with vanished (then earlier-missing) records of the same
/// size and content. Candidates are taken in path order, so the pairing is
/// the same on every run.
#[derive(Debug, Default)]
pub struct Moves {
    by_content: HashMap<(u64, String), VecDeque<KnownFile>>,
}

impl Moves {
    pub fn new(vanished: &[KnownFile], missing_before: &[KnownFile]) -> Self {
        let mut by_content: HashMap<(u64, String), VecDeque<KnownFile>> = HashMap::new();
        for k in vanished.iter().chain(missing_before) {
            by_content
                .entry((k.facts.size, k.facts.sha256.clone()))
                .or_default()
                .push_back(k.clone());
        }
        Self { by_content }
    }

    pub fn sizes(&self) -> HashSet<u64> {
        self.by_content.keys().map(|(size, _)| *size).collect()
    }

    pub fn take(&mut self, size: u64, sha256: &str) -> Option<KnownFile> {
        self.by_content
            .get_mut(&(size, sha256.to_owned()))?
            .pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lectern_core::{CourseId, FileId};
    use lectern_store::FileRole;

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
                sha256: format!("h{size}"),
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
        let p = plan(
            vec![known(1, "C/K/a.txt", 3, FileState::Present)],
            &walk,
            false,
        );
        assert_eq!((p.unchanged, p.jobs.len()), (1, 0));
        let p = plan(
            vec![known(1, "C/K/a.txt", 3, FileState::Present)],
            &walk,
            true,
        );
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
        let p = plan(k, &walk, false);
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
            &walk,
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
        assert_eq!(m.take(5, "h5").map(|k| k.id.0), Some(1));
        assert_eq!(m.take(5, "h5").map(|k| k.id.0), Some(2));
        assert_eq!(m.take(5, "h5").map(|k| k.id.0), Some(3));
        assert_eq!(m.take(5, "h5"), None);
    }
}
