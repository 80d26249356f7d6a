use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Component, Path};

/// A path relative to the library root, always `/`-separated UTF-8 with no
/// `.`/`..`/empty components, so it can be stored, compared and joined back
/// onto ROOT without ever escaping it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LibraryPath(String);

impl TryFrom<String> for LibraryPath {
    type Error = PathError;
    fn try_from(s: String) -> Result<Self, PathError> {
        Self::parse(&s)
    }
}

impl From<LibraryPath> for String {
    fn from(p: LibraryPath) -> String {
        p.0
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    #[error("the path is empty")]
    Empty,
    #[error("the name {0:?} is not valid UTF-8")]
    NotUtf8(String),
    #[error("the path {0:?} is not relative to the library root")]
    NotRelative(String),
    #[error("the path {0:?} has a `.`, `..` or empty component")]
    BadComponent(String),
    #[error("the path {0:?} holds a NUL byte")]
    Nul(String),
}

impl LibraryPath {
    /// Parses a stored or user-given `/`-separated relative path.
    pub fn parse(s: &str) -> Result<Self, PathError> {
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        if s.contains('\0') {
            return Err(PathError::Nul(s.to_owned()));
        }
        if s.starts_with('/') || s.contains('\\') && cfg!(windows) {
            return Err(PathError::NotRelative(s.to_owned()));
        }
        if s.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
            return Err(PathError::BadComponent(s.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }

    /// Converts a filesystem path relative to ROOT (as the walker yields it).
    pub fn from_relative(path: &Path) -> Result<Self, PathError> {
        let mut parts = Vec::new();
        for component in path.components() {
            match component {
                Component::Normal(name) => match name.to_str() {
                    Some(name) => parts.push(name),
                    None => return Err(PathError::NotUtf8(name.to_string_lossy().into_owned())),
                },
                _ => return Err(PathError::NotRelative(path.to_string_lossy().into_owned())),
            }
        }
        Self::parse(&parts.join("/"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    pub fn depth(&self) -> usize {
        self.components().count()
    }

    /// The last component: the file or folder name exactly as on disk.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The first `n` components, if the path has that many.
    pub fn prefix(&self, n: usize) -> Option<LibraryPath> {
        if n == 0 || self.depth() < n {
            return None;
        }
        let joined: Vec<&str> = self.components().take(n).collect();
        Some(Self(joined.join("/")))
    }

    /// The path below the first `n` components (e.g. a file's path inside its course).
    pub fn strip_prefix(&self, n: usize) -> Option<&str> {
        let mut rest = self.0.as_str();
        for _ in 0..n {
            rest = rest.split_once('/')?.1;
        }
        Some(rest)
    }

    /// Whether `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &LibraryPath) -> bool {
        self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'/'))
    }

    pub fn join(&self, name: &str) -> Result<Self, PathError> {
        Self::parse(&format!("{}/{}", self.0, name))
    }

    pub fn to_fs_path(&self, root: &Path) -> std::path::PathBuf {
        self.components().fold(root.to_path_buf(), |p, c| p.join(c))
    }
}

impl fmt::Display for LibraryPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_escapes_and_empty_parts() {
        for bad in ["", "/abs", "a/../b", "a//b", "./a", "a/", "a\0b"] {
            assert!(LibraryPath::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn splits_into_category_course_and_rest() {
        let p = LibraryPath::parse("Cat/Course/01 Intro/a.mp4").unwrap();
        assert_eq!(p.depth(), 4);
        assert_eq!(p.prefix(2).unwrap().as_str(), "Cat/Course");
        assert_eq!(p.strip_prefix(2), Some("01 Intro/a.mp4"));
        assert_eq!(p.name(), "a.mp4");
        assert!(p.starts_with(&LibraryPath::parse("Cat/Course").unwrap()));
        assert!(!p.starts_with(&LibraryPath::parse("Cat/Cour").unwrap()));
    }

    #[test]
    fn names_with_newlines_are_valid() {
        let p = LibraryPath::parse("Cat/Course/line\nbreak.txt").unwrap();
        assert_eq!(p.name(), "line\nbreak.txt");
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_names_are_an_error_not_a_panic() {
        use std::os::unix::ffi::OsStrExt;
        let raw = std::ffi::OsStr::from_bytes(b"Cat/bad\xff.txt");
        assert!(matches!(
            LibraryPath::from_relative(Path::new(raw)),
            Err(PathError::NotUtf8(_))
        ));
    }
}
