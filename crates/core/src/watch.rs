//! What a change seen on disk asks a scan to look at, and how many such
//! changes coalesce into a few scans (SPEC §1, watching). Pure rules: the
//! watcher in the application layer feeds them paths and reads the plan.

use crate::LibraryPath;
use std::collections::BTreeSet;

/// The part of the library a change touches, as a folder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Area {
    /// The whole library (a category folder itself, or a rule above it).
    Library,
    /// One category folder (`Category`): a course folder in it appeared,
    /// vanished or was renamed, so the category is scanned as one and a
    /// rename is seen as a move, not as a loss and a gain.
    Category(LibraryPath),
    /// One course folder (`Category/Course`): something inside changed.
    Course(LibraryPath),
}

/// The file whose patterns apply to the folder it is in.
const RULES_FILE: &[u8] = b".lecternignore";

impl Area {
    /// The area a change at `path` (relative to the root) touches, or
    /// `None` for what no scan indexes: names starting with a dot (the scan
    /// skips hidden entries) other than the ignore file, which changes what
    /// its whole folder holds.
    pub fn of(path: &LibraryPath) -> Option<Area> {
        let names: Vec<&[u8]> = path.components().collect();
        let (last, folders) = names.split_last()?;
        if folders.iter().any(|n| n.starts_with(b".")) {
            return None;
        }
        // The ignore file changes what its folder holds; any other name
        // changes the folder it names (a category or course folder
        // itself appearing, vanishing or renamed) or the course it is in.
        let folder_depth = if *last == RULES_FILE {
            folders.len()
        } else if last.starts_with(b".") {
            return None;
        } else {
            names.len().clamp(2, 3) - 1
        };
        Some(match folder_depth {
            0 => Area::Library,
            1 => Area::Category(path.prefix(1)?),
            _ => Area::Course(path.prefix(2)?),
        })
    }

    /// The category folder this area lies in, if it is not the library.
    pub fn category(&self) -> Option<LibraryPath> {
        match self {
            Area::Library => None,
            Area::Category(c) => Some(c.clone()),
            Area::Course(c) => c.prefix(1),
        }
    }
}

/// Changes waiting for their scans, coalesced: a wider area takes in the
/// narrower ones inside it, so a burst of thousands of files in one course
/// is one course rescan.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pending {
    library: bool,
    categories: BTreeSet<LibraryPath>,
    courses: BTreeSet<LibraryPath>,
}

impl Pending {
    pub fn add(&mut self, area: Area) {
        match area {
            Area::Library => {
                self.library = true;
                self.categories.clear();
                self.courses.clear();
            }
            _ if self.library => {}
            Area::Category(c) => {
                self.courses.retain(|course| !course.starts_with(&c));
                self.categories.insert(c);
            }
            Area::Course(c) => {
                let covered = c.prefix(1).is_some_and(|k| self.categories.contains(&k));
                if !covered {
                    self.courses.insert(c);
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.library && self.categories.is_empty() && self.courses.is_empty()
    }

    /// The scans that cover every change, widest first. Two categories
    /// changing together are one library scan: a course that left one
    /// category for another must be seen leaving and arriving in the same
    /// scan, or it would be lost in the first and made anew in the second.
    pub fn plan(&self) -> Vec<Area> {
        if self.library || self.categories.len() > 1 {
            return vec![Area::Library];
        }
        let categories = self.categories.iter().cloned().map(Area::Category);
        let courses = self.courses.iter().cloned().map(Area::Course);
        categories.chain(courses).collect()
    }

    /// Takes every waiting change, leaving none.
    pub fn take(&mut self) -> Pending {
        std::mem::take(self)
    }

    /// Puts back changes that could not be scanned yet (another operation
    /// held the lock), beside any that arrived since.
    pub fn merge(&mut self, other: Pending) {
        if other.library {
            self.add(Area::Library);
        }
        for c in other.categories {
            self.add(Area::Category(c));
        }
        for c in other.courses {
            self.add(Area::Course(c));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> LibraryPath {
        LibraryPath::parse(s).unwrap()
    }

    fn course(s: &str) -> Area {
        Area::Course(p(s))
    }

    fn category(s: &str) -> Area {
        Area::Category(p(s))
    }

    #[test]
    fn a_path_touches_the_folder_a_scan_would_look_at() {
        assert_eq!(
            Area::of(&p("Cat/Course/01 Intro/a.mp4")),
            Some(course("Cat/Course"))
        );
        assert_eq!(Area::of(&p("Cat/Course/a.mp4")), Some(course("Cat/Course")));
        assert_eq!(Area::of(&p("Cat/Course")), Some(category("Cat")));
        assert_eq!(Area::of(&p("Cat")), Some(category("Cat")));
    }

    #[test]
    fn hidden_names_touch_nothing_but_the_ignore_file_touches_its_folder() {
        assert_eq!(Area::of(&p("Cat/Course/.a.swp")), None);
        assert_eq!(Area::of(&p("Cat/.hidden/x/y")), None);
        assert_eq!(Area::of(&p(".git/index")), None);
        assert_eq!(Area::of(&p(".lecternignore")), Some(Area::Library));
        assert_eq!(Area::of(&p("Cat/.lecternignore")), Some(category("Cat")));
        assert_eq!(
            Area::of(&p("Cat/Course/.lecternignore")),
            Some(course("Cat/Course"))
        );
        assert_eq!(
            Area::of(&p("Cat/Course/deep/.lecternignore")),
            Some(course("Cat/Course"))
        );
    }

    #[test]
    fn a_burst_in_one_course_is_one_rescan() {
        let mut pending = Pending::default();
        for i in 0..10_000 {
            pending.add(course("Cat/Course"));
            let _ = i;
        }
        assert_eq!(pending.plan(), vec![course("Cat/Course")]);
    }

    #[test]
    fn a_category_takes_in_its_courses_and_two_categories_are_the_library() {
        let mut pending = Pending::default();
        pending.add(course("A/One"));
        pending.add(course("B/Two"));
        pending.add(category("A"));
        pending.add(course("A/Three"));
        assert_eq!(pending.plan(), vec![category("A"), course("B/Two")]);
        pending.add(category("B"));
        assert_eq!(pending.plan(), vec![Area::Library]);
    }

    #[test]
    fn the_library_takes_in_everything_and_stays_until_taken() {
        let mut pending = Pending::default();
        pending.add(Area::Library);
        pending.add(course("A/One"));
        assert_eq!(pending.plan(), vec![Area::Library]);
        let taken = pending.take();
        assert!(pending.is_empty());
        pending.add(course("A/One"));
        pending.merge(taken);
        assert_eq!(pending.plan(), vec![Area::Library]);
    }
}
