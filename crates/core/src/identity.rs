//! Which folder keeps a course's (or category's) identity when it is
//! renamed or moved (SPEC §1): judged from the files that moved, by the
//! same size and hash pairing as file moves, folder by folder. Pure rules;
//! the scanner feeds them the moves it found and applies the outcome.
//!
//! The rule: a folder that is gone from the disk hands its id to the new
//! folder (one the index does not know yet) that holds more than half of
//! its files; when several would, the one holding the most, ties going to
//! the first in natural order. One new folder takes one id: when several
//! gone folders would hand theirs to it (a merge), the one it holds the
//! most files of does, ties again by natural order. A folder still on disk
//! keeps its own id (a split leaves the original where it is). Every
//! decision, taken or not, is reported.

use crate::LibraryPath;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

/// What became of one folder whose files moved to other folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// `to` takes `from`'s id: it holds `files` of its `of` files.
    Renamed {
        from: LibraryPath,
        to: LibraryPath,
        files: usize,
        of: usize,
    },
    /// `from` is still on disk and keeps its id; `to` are new folders
    /// holding some of its files.
    Split {
        from: LibraryPath,
        to: Vec<(LibraryPath, usize)>,
    },
    /// `from` is gone and no new folder holds more than half its files:
    /// each is new.
    Spread {
        from: LibraryPath,
        to: Vec<(LibraryPath, usize)>,
        of: usize,
    },
    /// `from` is gone and `into` holds more than half its files, but took
    /// the id of `kept`, of which it holds more (a merge).
    Merged {
        from: LibraryPath,
        into: LibraryPath,
        kept: LibraryPath,
    },
}

/// Judges the folders at `depth` (1: categories, 2: courses).
///
/// `moves` are (old path, new path) of files that moved; `present` the
/// number of present files each old folder held before the scan;
/// `on_disk` whether a folder still holds files now; `indexed` whether
/// the index already has a folder at that path (it cannot take an id).
pub fn judge(
    moves: &[(LibraryPath, LibraryPath)],
    depth: usize,
    present: &HashMap<LibraryPath, usize>,
    on_disk: &dyn Fn(&LibraryPath) -> bool,
    indexed: &dyn Fn(&LibraryPath) -> bool,
) -> Vec<Decision> {
    let mut tally: BTreeMap<LibraryPath, BTreeMap<LibraryPath, usize>> = BTreeMap::new();
    for (old, new) in moves {
        let (Some(from), Some(to)) = (old.prefix(depth), new.prefix(depth)) else {
            continue;
        };
        if from != to && !indexed(&to) {
            *tally.entry(from).or_default().entry(to).or_default() += 1;
        }
    }
    let mut decisions = Vec::new();
    // The best new folder for each gone folder: (new folder, files, of).
    let mut claims: BTreeMap<LibraryPath, Vec<(LibraryPath, usize, usize)>> = BTreeMap::new();
    for (from, targets) in tally {
        let of = present.get(&from).copied().unwrap_or(0).max(1);
        let listed = || targets.iter().map(|(p, n)| (p.clone(), *n)).collect();
        if on_disk(&from) {
            decisions.push(Decision::Split { from, to: listed() });
            continue;
        }
        let best = targets
            .iter()
            .filter(|(_, n)| **n * 2 > of)
            .min_by(|a, b| most_then_natural((a.0, *a.1), (b.0, *b.1)));
        match best {
            Some((to, files)) => claims
                .entry(to.clone())
                .or_default()
                .push((from, *files, of)),
            None => decisions.push(Decision::Spread {
                from,
                to: listed(),
                of,
            }),
        }
    }
    for (to, mut rivals) in claims {
        rivals.sort_by(|a, b| most_then_natural((&a.0, a.1), (&b.0, b.1)));
        let mut rivals = rivals.into_iter();
        let Some((kept, files, of)) = rivals.next() else {
            continue;
        };
        for (from, _, _) in rivals {
            decisions.push(Decision::Merged {
                from,
                into: to.clone(),
                kept: kept.clone(),
            });
        }
        decisions.push(Decision::Renamed {
            from: kept,
            to,
            files,
            of,
        });
    }
    decisions
}

/// More files first; among equals, the first in natural order.
fn most_then_natural(a: (&LibraryPath, usize), b: (&LibraryPath, usize)) -> Ordering {
    b.1.cmp(&a.1).then_with(|| a.0.natural_cmp(b.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> LibraryPath {
        LibraryPath::parse(s).unwrap()
    }

    fn moved(pairs: &[(&str, &str)]) -> Vec<(LibraryPath, LibraryPath)> {
        pairs.iter().map(|(a, b)| (p(a), p(b))).collect()
    }

    fn counts(list: &[(&str, usize)]) -> HashMap<LibraryPath, usize> {
        list.iter().map(|(k, n)| (p(k), *n)).collect()
    }

    fn nowhere(_: &LibraryPath) -> bool {
        false
    }

    #[test]
    fn a_renamed_course_takes_its_id_along() {
        let moves = moved(&[("C/A/1", "C/B/1"), ("C/A/2", "C/B/2")]);
        let out = judge(&moves, 2, &counts(&[("C/A", 2)]), &nowhere, &nowhere);
        assert_eq!(
            out,
            vec![Decision::Renamed {
                from: p("C/A"),
                to: p("C/B"),
                files: 2,
                of: 2
            }]
        );
    }

    #[test]
    fn half_is_not_enough_and_more_than_half_is() {
        let moves = moved(&[("C/A/1", "C/B/1"), ("C/A/2", "C/B/2")]);
        let out = judge(&moves, 2, &counts(&[("C/A", 4)]), &nowhere, &nowhere);
        assert!(
            matches!(&out[..], [Decision::Spread { of: 4, .. }]),
            "{out:?}"
        );
        let out = judge(&moves, 2, &counts(&[("C/A", 3)]), &nowhere, &nowhere);
        assert!(
            matches!(
                &out[..],
                [Decision::Renamed {
                    files: 2,
                    of: 3,
                    ..
                }]
            ),
            "{out:?}"
        );
    }

    #[test]
    fn a_folder_still_on_disk_keeps_its_id_when_split() {
        let moves = moved(&[("C/A/1", "C/A2/1"), ("C/A/2", "C/A2/2")]);
        let here = |f: &LibraryPath| *f == p("C/A");
        let out = judge(&moves, 2, &counts(&[("C/A", 3)]), &here, &nowhere);
        assert_eq!(
            out,
            vec![Decision::Split {
                from: p("C/A"),
                to: vec![(p("C/A2"), 2)]
            }]
        );
    }

    #[test]
    fn a_merge_keeps_the_id_of_the_folder_it_holds_most_of_then_the_first() {
        let moves = moved(&[("C/A/1", "C/M/1"), ("C/B/1", "C/M/2"), ("C/B/2", "C/M/3")]);
        let sizes = counts(&[("C/A", 1), ("C/B", 2)]);
        let out = judge(&moves, 2, &sizes, &nowhere, &nowhere);
        assert!(out.contains(&Decision::Renamed {
            from: p("C/B"),
            to: p("C/M"),
            files: 2,
            of: 2
        }));
        assert!(out.contains(&Decision::Merged {
            from: p("C/A"),
            into: p("C/M"),
            kept: p("C/B")
        }));
        // Equal: natural order (2 before 10).
        let moves = moved(&[("C/x10/1", "C/M/1"), ("C/x2/1", "C/M/2")]);
        let sizes = counts(&[("C/x10", 1), ("C/x2", 1)]);
        let out = judge(&moves, 2, &sizes, &nowhere, &nowhere);
        assert!(out.contains(&Decision::Renamed {
            from: p("C/x2"),
            to: p("C/M"),
            files: 1,
            of: 1
        }));
    }

    #[test]
    fn a_folder_the_index_knows_takes_no_id_and_categories_are_judged_alike() {
        let moves = moved(&[("Go/A/1", "Rust/A/1"), ("Go/B/1", "Golang/B/1")]);
        let known = |f: &LibraryPath| *f == p("Rust");
        let out = judge(&moves, 1, &counts(&[("Go", 2)]), &nowhere, &known);
        assert_eq!(
            out,
            vec![Decision::Spread {
                from: p("Go"),
                to: vec![(p("Golang"), 1)],
                of: 2
            }]
        );
        let moves = moved(&[("Go/A/1", "Golang/A/1"), ("Go/B/1", "Golang/B/1")]);
        let out = judge(&moves, 1, &counts(&[("Go", 2)]), &nowhere, &known);
        assert!(matches!(&out[..], [Decision::Renamed { .. }]));
    }
}
