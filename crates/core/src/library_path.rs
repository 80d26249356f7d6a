use serde::{ser, Deserialize, Serialize, Serializer};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::path::{Component, Path, PathBuf};

/// A path relative to the library root: `/`-separated names, none of them
/// empty, `.` or `..`, and no NUL byte, so it can be stored, compared and
/// joined back onto ROOT without ever escaping it.
///
/// The names are kept as the bytes the file system gave. On Unix a name is
/// any bytes but `/` and NUL, so a name that is not valid UTF-8 is held
/// exactly and [`to_path`](Self::to_path) still reaches its file. Its text
/// is [`to_str`](Self::to_str) when it is UTF-8; [`display`](Self::display)
/// and [`to_string_lossy`](Self::to_string_lossy) are a lossy form, for
/// people only. Paths are equal, hash and order by their bytes, so two names
/// that show alike lossily are still two paths; on UTF-8 paths the order is
/// the order of their text. Where the platform cannot name a file by bytes
/// (not Unix), only UTF-8 paths can be made.
///
/// Serde: a UTF-8 path is a string, exactly its text, and a string is read
/// with [`parse`](Self::parse). A path that is not UTF-8 has no text form
/// yet: serializing it fails rather than writing a lossy text that would
/// name another file.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct LibraryPath(Box<[u8]>);

impl TryFrom<String> for LibraryPath {
    type Error = PathError;
    fn try_from(s: String) -> Result<Self, PathError> {
        Self::parse(&s)
    }
}

impl Serialize for LibraryPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.to_str() {
            Some(text) => serializer.serialize_str(text),
            None => Err(ser::Error::custom(format!(
                "the library path {} is not valid UTF-8 and has no text form",
                self.display()
            ))),
        }
    }
}

/// The exact bytes of a name (or path) that is not valid UTF-8, as text:
/// printable ASCII but `%` as it is, every other byte as `%XX` (uppercase
/// hex), so any percent-decoder gives the bytes back. `None` for valid
/// UTF-8, whose text is already exact.
pub fn escaped(bytes: &[u8]) -> Option<String> {
    if std::str::from_utf8(bytes).is_ok() {
        return None;
    }
    let mut text = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            text.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(text, "%{b:02X}");
        }
    }
    Some(text)
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    #[error("the path is empty")]
    Empty,
    /// Only where the platform cannot name a file by its bytes (not Unix).
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
        Self::from_bytes(s.as_bytes())
    }

    /// Takes a `/`-separated relative path as bytes, which need not be UTF-8
    /// on Unix.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PathError> {
        let shown = || String::from_utf8_lossy(bytes).into_owned();
        if bytes.is_empty() {
            return Err(PathError::Empty);
        }
        if bytes.contains(&0) {
            return Err(PathError::Nul(shown()));
        }
        if bytes[0] == b'/' || cfg!(windows) && bytes.contains(&b'\\') {
            return Err(PathError::NotRelative(shown()));
        }
        if split(bytes).any(|c| c.is_empty() || c == b"." || c == b"..") {
            return Err(PathError::BadComponent(shown()));
        }
        #[cfg(not(unix))]
        if std::str::from_utf8(bytes).is_err() {
            return Err(PathError::NotUtf8(shown()));
        }
        Ok(Self(bytes.into()))
    }

    /// Converts a filesystem path relative to ROOT (as the walker yields it).
    /// On Unix its names are taken as they are, UTF-8 or not.
    pub fn from_relative(path: &Path) -> Result<Self, PathError> {
        let mut bytes = Vec::with_capacity(path.as_os_str().len());
        for component in path.components() {
            match component {
                Component::Normal(name) => {
                    if !bytes.is_empty() {
                        bytes.push(b'/');
                    }
                    bytes.extend_from_slice(os_bytes(name)?);
                }
                _ => return Err(PathError::NotRelative(path.to_string_lossy().into_owned())),
            }
        }
        Self::from_bytes(&bytes)
    }

    /// The path's bytes, `/`-separated.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The path's exact text, when it is valid UTF-8.
    pub fn to_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    pub fn is_utf8(&self) -> bool {
        self.to_str().is_some()
    }

    /// The path as text, with U+FFFD for bytes that are not UTF-8: for
    /// people, never to find the file by.
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// Shows the path as [`to_string_lossy`](Self::to_string_lossy) does,
    /// without making a string.
    pub fn display(&self) -> PathDisplay<'_> {
        PathDisplay(&self.0)
    }

    /// The names, as bytes.
    pub fn components(&self) -> impl Iterator<Item = &[u8]> {
        split(&self.0)
    }

    /// The names, as lossy text.
    pub fn components_lossy(&self) -> impl Iterator<Item = Cow<'_, str>> {
        self.components().map(String::from_utf8_lossy)
    }

    pub fn depth(&self) -> usize {
        self.components().count()
    }

    /// The last component: the file or folder name exactly as on disk.
    pub fn name(&self) -> &[u8] {
        self.0.rsplit(|&b| b == b'/').next().unwrap_or(&self.0)
    }

    /// The last component as lossy text.
    pub fn name_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.name())
    }

    /// The first `n` components, if the path has that many.
    pub fn prefix(&self, n: usize) -> Option<LibraryPath> {
        let mut end = 0;
        for (i, name) in self.components().enumerate() {
            end += name.len();
            if i + 1 == n {
                return Some(Self(self.0[..end].into()));
            }
            end += 1;
        }
        None
    }

    /// The path below the first `n` components (e.g. a file's path inside
    /// its course), if there is anything below them.
    pub fn strip_prefix(&self, n: usize) -> Option<&[u8]> {
        let mut rest: &[u8] = &self.0;
        for _ in 0..n {
            let at = rest.iter().position(|&b| b == b'/')?;
            rest = &rest[at + 1..];
        }
        Some(rest)
    }

    /// Whether `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &LibraryPath) -> bool {
        self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.get(other.0.len()) == Some(&b'/'))
    }

    /// `self` with `name` (one or more `/`-separated names) below it.
    pub fn join(&self, name: impl AsRef<[u8]>) -> Result<Self, PathError> {
        let name = name.as_ref();
        let mut bytes = Vec::with_capacity(self.0.len() + 1 + name.len());
        bytes.extend_from_slice(&self.0);
        bytes.push(b'/');
        bytes.extend_from_slice(name);
        Self::from_bytes(&bytes)
    }

    /// Where the path is below `root` on disk, with the exact bytes of its
    /// names.
    pub fn to_path(&self, root: &Path) -> PathBuf {
        let mut path = root.to_path_buf();
        for name in self.components() {
            path.push(os_str(name));
        }
        path
    }

    /// Orders paths the way people read them, folder by folder, each name
    /// naturally ([`crate::natural_cmp`]) as it shows; paths that show alike
    /// fall back to their bytes, so the order is total.
    pub fn natural_cmp(&self, other: &LibraryPath) -> Ordering {
        let mut left = self.components_lossy();
        let mut right = other.components_lossy();
        loop {
            match (left.next(), right.next()) {
                (Some(x), Some(y)) => match crate::natural_cmp(&x, &y) {
                    Ordering::Equal => continue,
                    other => return other,
                },
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (None, None) => return self.0.cmp(&other.0),
            }
        }
    }
}

fn split(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split(|&b| b == b'/')
}

#[cfg(unix)]
fn os_bytes(name: &std::ffi::OsStr) -> Result<&[u8], PathError> {
    use std::os::unix::ffi::OsStrExt;
    Ok(name.as_bytes())
}

#[cfg(not(unix))]
fn os_bytes(name: &std::ffi::OsStr) -> Result<&[u8], PathError> {
    name.to_str()
        .map(str::as_bytes)
        .ok_or_else(|| PathError::NotUtf8(name.to_string_lossy().into_owned()))
}

#[cfg(unix)]
fn os_str(name: &[u8]) -> &std::ffi::OsStr {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(name)
}

/// Off Unix a path is always UTF-8 (`from_bytes` refuses others), so the
/// lossy text is exact.
#[cfg(not(unix))]
fn os_str(name: &[u8]) -> std::ffi::OsString {
    String::from_utf8_lossy(name).into_owned().into()
}

impl PartialEq<str> for LibraryPath {
    /// Whether the path is exactly this text.
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other.as_bytes()
    }
}

impl PartialEq<&str> for LibraryPath {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl PartialEq<String> for LibraryPath {
    fn eq(&self, other: &String) -> bool {
        *self == **other
    }
}

impl fmt::Debug for LibraryPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_str() {
            Some(text) => f.debug_tuple("LibraryPath").field(&text).finish(),
            None => write!(f, "LibraryPath(b\"{}\")", self.0.escape_ascii()),
        }
    }
}

/// A library path shown lossily: see [`LibraryPath::display`].
pub struct PathDisplay<'a>(&'a [u8]);

impl fmt::Display for PathDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{FFFD}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_utf8_escape_every_byte_outside_printable_ascii() {
        assert_eq!(escaped("Café 100%.pdf".as_bytes()), None);
        assert_eq!(escaped(b"caf\xe9 100%.pdf").unwrap(), "caf%E9 100%25.pdf");
        assert_eq!(escaped(b"\xff\n\x7f\xc3\xa9").unwrap(), "%FF%0A%7F%C3%A9");
        assert_ne!(escaped(b"a\xfe"), escaped(b"a\xff"));
    }

    #[test]
    fn rejects_escapes_and_empty_parts() {
        for bad in ["", "/abs", "a/../b", "..", "a//b", "./a", "a/", "a\0b"] {
            assert!(LibraryPath::parse(bad).is_err(), "{bad:?} was accepted");
            assert!(
                LibraryPath::from_bytes(bad.as_bytes()).is_err(),
                "{bad:?} was accepted as bytes"
            );
        }
        assert_eq!(LibraryPath::parse(""), Err(PathError::Empty));
        assert!(matches!(LibraryPath::parse("a/\0"), Err(PathError::Nul(_))));
        assert!(matches!(
            LibraryPath::parse("/a"),
            Err(PathError::NotRelative(_))
        ));
        assert!(matches!(
            LibraryPath::parse("a/.."),
            Err(PathError::BadComponent(_))
        ));
    }

    #[test]
    fn from_relative_refuses_what_is_not_below_the_root() {
        for bad in ["", "/abs/a", "../a", "a/../b"] {
            assert!(
                LibraryPath::from_relative(Path::new(bad)).is_err(),
                "{bad:?} was accepted"
            );
        }
        let p = LibraryPath::from_relative(Path::new("Cat/Course/a.mp4")).unwrap();
        assert_eq!(p, "Cat/Course/a.mp4");
    }

    #[test]
    fn splits_into_category_course_and_rest() {
        let p = LibraryPath::parse("Cat/Course/01 Intro/a.mp4").unwrap();
        assert_eq!(p.depth(), 4);
        assert_eq!(p.prefix(2).unwrap(), "Cat/Course");
        assert_eq!(p.prefix(4).unwrap(), p);
        assert_eq!(p.prefix(5), None);
        assert_eq!(p.prefix(0), None);
        assert_eq!(p.strip_prefix(2), Some(&b"01 Intro/a.mp4"[..]));
        assert_eq!(p.strip_prefix(4), None);
        assert_eq!(p.name(), b"a.mp4");
        assert!(p.starts_with(&LibraryPath::parse("Cat/Course").unwrap()));
        assert!(!p.starts_with(&LibraryPath::parse("Cat/Cour").unwrap()));
        assert_eq!(
            p.components().collect::<Vec<_>>(),
            [&b"Cat"[..], b"Course", b"01 Intro", b"a.mp4"]
        );
        let course = p.prefix(2).unwrap();
        assert_eq!(course.join("01 Intro/a.mp4").unwrap(), p);
        assert!(course.join("../x").is_err());
    }

    #[test]
    fn names_with_newlines_are_valid() {
        let p = LibraryPath::parse("Cat/Course/line\nbreak.txt").unwrap();
        assert_eq!(p.name(), b"line\nbreak.txt");
    }

    #[test]
    fn utf8_paths_keep_their_text_and_json() {
        let p = LibraryPath::parse("Cat/K/🎓 \"hi\"\n.md").unwrap();
        assert!(p.is_utf8());
        assert_eq!(p.to_str(), Some("Cat/K/🎓 \"hi\"\n.md"));
        assert_eq!(p.display().to_string(), "Cat/K/🎓 \"hi\"\n.md");
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, serde_json::to_string("Cat/K/🎓 \"hi\"\n.md").unwrap());
        assert_eq!(serde_json::from_str::<LibraryPath>(&json).unwrap(), p);
        assert!(serde_json::from_str::<LibraryPath>("\"a/../b\"").is_err());
    }

    #[test]
    fn natural_order_reads_folder_by_folder() {
        let mut v: Vec<LibraryPath> = [
            "C/10 Advanced/a.md",
            "C/2 Basics/b.md",
            "C/2 Basics-x.md",
            "C/2 Basics/10.md",
        ]
        .iter()
        .map(|s| LibraryPath::parse(s).unwrap())
        .collect();
        v.sort_by(LibraryPath::natural_cmp);
        let shown: Vec<_> = v.iter().filter_map(LibraryPath::to_str).collect();
        assert_eq!(
            shown,
            [
                "C/2 Basics/10.md",
                "C/2 Basics/b.md",
                "C/2 Basics-x.md",
                "C/10 Advanced/a.md"
            ]
        );
    }

    #[cfg(unix)]
    mod not_utf8 {
        use super::*;
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;

        #[test]
        fn a_name_that_is_not_utf8_round_trips_to_the_same_bytes() {
            let raw = OsStr::from_bytes(b"Cat/K/bad\xff name.txt");
            let p = LibraryPath::from_relative(Path::new(raw)).unwrap();
            assert!(!p.is_utf8());
            assert_eq!(p.to_str(), None);
            assert_eq!(p.as_bytes(), b"Cat/K/bad\xff name.txt");
            assert_eq!(p.name(), b"bad\xff name.txt");
            assert_eq!(p.name_lossy(), "bad\u{FFFD} name.txt");
            assert_eq!(p.prefix(2).unwrap(), "Cat/K");
            let root = Path::new("/library");
            assert_eq!(
                p.to_path(root).as_os_str().as_bytes(),
                b"/library/Cat/K/bad\xff name.txt"
            );
            assert_eq!(LibraryPath::from_bytes(p.as_bytes()).unwrap(), p);
            assert_eq!(
                LibraryPath::from_relative(p.to_path(root).strip_prefix(root).unwrap()).unwrap(),
                p
            );
        }

        #[test]
        fn names_that_show_alike_are_different_paths() {
            let a = LibraryPath::from_bytes(b"Cat/K/x\xff.md").unwrap();
            let b = LibraryPath::from_bytes(b"Cat/K/x\xfe.md").unwrap();
            let c = LibraryPath::parse("Cat/K/x\u{FFFD}.md").unwrap();
            assert_eq!(a.display().to_string(), b.display().to_string());
            assert_eq!(a.to_string_lossy(), c.to_string_lossy());
            assert_ne!(a, b);
            assert_ne!(a, c);
            assert_ne!(a.natural_cmp(&b), Ordering::Equal);
            assert_ne!(a.natural_cmp(&c), Ordering::Equal);
            let set: std::collections::HashSet<_> = [a, b, c].into_iter().collect();
            assert_eq!(set.len(), 3);
        }

        #[test]
        fn rejections_hold_for_bytes_too() {
            for bad in [
                &b""[..],
                b"/abs/\xff",
                b"a/\xff/../b",
                b"\xff/..",
                b"a/\xff\0",
                b"a//\xff",
            ] {
                assert!(
                    LibraryPath::from_bytes(bad).is_err(),
                    "{bad:?} was accepted"
                );
            }
            let nul = OsStr::from_bytes(b"Cat/a\0\xff");
            assert!(matches!(
                LibraryPath::from_relative(Path::new(nul)),
                Err(PathError::Nul(_))
            ));
            let absolute = OsStr::from_bytes(b"/Cat/\xff");
            assert!(matches!(
                LibraryPath::from_relative(Path::new(absolute)),
                Err(PathError::NotRelative(_))
            ));
        }

        #[test]
        fn a_path_that_is_not_utf8_does_not_serialize() {
            let p = LibraryPath::from_bytes(b"Cat/K/bad\xff.txt").unwrap();
            let refused = serde_json::to_string(&p).unwrap_err().to_string();
            assert!(refused.contains("not valid UTF-8"), "{refused}");
            assert_eq!(format!("{p:?}"), r#"LibraryPath(b"Cat/K/bad\xff.txt")"#);
        }
    }
}
