//! What a file is to its course, from its name and its neighbours: the
//! course description, its cover, captions for a video, or material.

use lectern_core::LibraryPath;
use lectern_core::Sha256Digest;
use lectern_store::{FileFacts, FileRole, SubtitleLink};
use std::collections::HashMap;

const COVER_NAMES: [&str; 4] = ["cover.jpg", "cover.jpeg", "cover.png", "cover.webp"];
const SUBTITLE_EXTS: [&str; 2] = ["srt", "vtt"];
const MEDIA_EXTS: [&str; 16] = [
    "mp4", "m4v", "webm", "mkv", "mov", "ogv", "avi", "mp3", "m4a", "ogg", "oga", "opus", "wav",
    "flac", "aac", "weba",
];

/// The kind-of-file facts the scanner stores beside the content facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    pub mime: &'static str,
    pub role: FileRole,
    pub subtitle: Option<Box<SubtitleLink>>,
}

impl Kind {
    /// Whether stored facts already say what this kind says.
    pub fn matches(&self, facts: &FileFacts) -> bool {
        &*facts.mime == self.mime && facts.role == self.role && facts.subtitle == self.subtitle
    }

    pub fn with_content(&self, size: u64, mtime_ns: i64, sha256: Sha256Digest) -> FileFacts {
        FileFacts {
            size,
            mtime_ns,
            sha256,
            mime: self.mime.into(),
            role: self.role,
            subtitle: self.subtitle.clone(),
        }
    }
}

/// Media files by folder and stem, so a subtitle can find the video it
/// sits beside. Where one stem has several media files (`a.mp4`, `a.webm`),
/// the first by name wins, so the choice is the same on every scan. Names
/// are compared as the bytes they are on disk.
#[derive(Debug, Default)]
pub struct Neighbours {
    media: HashMap<(Vec<u8>, Vec<u8>), LibraryPath>,
}

impl Neighbours {
    pub fn new<'a>(paths: impl Iterator<Item = &'a LibraryPath>) -> Self {
        let mut media: HashMap<(Vec<u8>, Vec<u8>), LibraryPath> = HashMap::new();
        for path in paths {
            let Some((stem, ext)) = split_ext(path.name()) else {
                continue;
            };
            if !MEDIA_EXTS
                .iter()
                .any(|e| ext.eq_ignore_ascii_case(e.as_bytes()))
            {
                continue;
            }
            let key = (folder(path).to_owned(), stem.to_owned());
            let entry = media.entry(key).or_insert_with(|| path.clone());
            if path < entry {
                *entry = path.clone();
            }
        }
        Self { media }
    }

    fn media_named(&self, folder: &[u8], stem: &[u8]) -> Option<&LibraryPath> {
        self.media.get(&(folder.to_owned(), stem.to_owned()))
    }
}

pub fn classify(path: &LibraryPath, neighbours: &Neighbours) -> Kind {
    let name = path.name();
    let at_course_top = path.depth() == 3;
    let mut subtitle = None;
    let role = if at_course_top && name.eq_ignore_ascii_case(b"readme.md") {
        FileRole::Description
    } else if at_course_top
        && COVER_NAMES
            .iter()
            .any(|c| name.eq_ignore_ascii_case(c.as_bytes()))
    {
        FileRole::Cover
    } else if let Some(link) = subtitle_link(path, neighbours) {
        subtitle = Some(Box::new(link));
        FileRole::Subtitle
    } else {
        FileRole::Material
    };
    Kind {
        mime: mime_of(name),
        role,
        subtitle,
    }
}

fn mime_of(name: &[u8]) -> &'static str {
    let Some(ext) = split_ext(name).and_then(|(_, ext)| std::str::from_utf8(ext).ok()) else {
        return "application/octet-stream";
    };
    let is = |e: &str| ext.eq_ignore_ascii_case(e);
    // Types browsers need exactly, which the guess table has otherwise.
    if is("md") || is("markdown") {
        "text/markdown"
    } else if is("srt") {
        "application/x-subrip"
    } else if is("vtt") {
        "text/vtt"
    } else {
        mime_guess::from_ext(ext)
            .first_raw()
            .unwrap_or("application/octet-stream")
    }
}

/// `Lesson.srt` belongs to `Lesson.mp4`; `Lesson.en.srt` to the same, in English.
fn subtitle_link(path: &LibraryPath, neighbours: &Neighbours) -> Option<SubtitleLink> {
    let (stem, ext) = split_ext(path.name())?;
    if !SUBTITLE_EXTS
        .iter()
        .any(|e| ext.eq_ignore_ascii_case(e.as_bytes()))
    {
        return None;
    }
    let dir = folder(path);
    let link = |media_stem: &[u8], lang: Option<&str>| {
        let media = neighbours.media_named(dir, media_stem)?;
        Some(SubtitleLink {
            media_path: media.clone(),
            lang: lang.map(str::to_owned),
        })
    };
    if let Some(found) = link(stem, None) {
        return Some(found);
    }
    let (base, lang) = split_ext(stem)?;
    let lang = std::str::from_utf8(lang).ok()?;
    is_language_tag(lang)
        .then(|| link(base, Some(lang)))
        .flatten()
}

fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split(['-', '_']);
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn split_ext(name: &[u8]) -> Option<(&[u8], &[u8])> {
    let dot = name.iter().rposition(|&b| b == b'.')?;
    let (stem, ext) = (&name[..dot], &name[dot + 1..]);
    (!stem.is_empty() && !ext.is_empty()).then_some((stem, ext))
}

/// The folder a file is in, as the bytes of its path before the name.
fn folder(path: &LibraryPath) -> &[u8] {
    let bytes = path.as_bytes();
    let name = path.name().len();
    bytes[..bytes.len() - name]
        .strip_suffix(b"/")
        .unwrap_or(b"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> LibraryPath {
        LibraryPath::parse(s).unwrap()
    }

    fn kinds(paths: &[&str]) -> Vec<Kind> {
        let paths: Vec<LibraryPath> = paths.iter().map(|s| p(s)).collect();
        let n = Neighbours::new(paths.iter());
        paths.iter().map(|path| classify(path, &n)).collect()
    }

    #[test]
    fn readme_and_cover_only_at_the_course_top() {
        let k = kinds(&[
            "C/K/README.md",
            "C/K/Cover.PNG",
            "C/K/01 S/README.md",
            "C/K/01 S/cover.png",
        ]);
        assert_eq!(k[0].role, FileRole::Description);
        assert_eq!(k[0].mime, "text/markdown");
        assert_eq!(k[1].role, FileRole::Cover);
        assert_eq!(k[2].role, FileRole::Material);
        assert_eq!(k[3].role, FileRole::Material);
    }

    #[test]
    fn subtitles_attach_to_the_media_beside_them() {
        let k = kinds(&[
            "C/K/01/Welcome.mp4",
            "C/K/01/Welcome.en.srt",
            "C/K/01/Welcome.srt",
            "C/K/01/Welcome.pt-BR.vtt",
            "C/K/01/Other.en.srt",
            "C/K/02/Welcome.de.srt",
        ]);
        let link = |i: usize| {
            k[i].subtitle
                .clone()
                .map(|s| (s.media_path.to_str().map(str::to_owned), s.lang))
        };
        assert_eq!(
            link(1),
            Some((Some("C/K/01/Welcome.mp4".into()), Some("en".into())))
        );
        assert_eq!(link(2), Some((Some("C/K/01/Welcome.mp4".into()), None)));
        assert_eq!(
            link(3),
            Some((Some("C/K/01/Welcome.mp4".into()), Some("pt-BR".into())))
        );
        assert_eq!(k[4].role, FileRole::Material, "no Other.* media beside it");
        assert_eq!(
            k[5].role,
            FileRole::Material,
            "the video is in another folder"
        );
    }

    #[cfg(unix)]
    #[test]
    fn names_that_are_not_utf8_match_by_their_bytes() {
        let raw = |b: &[u8]| LibraryPath::from_bytes(b).unwrap();
        let paths = [
            raw(b"C/K/01/Intro\xff.mp4"),
            raw(b"C/K/01/Intro\xfe.mp4"),
            raw(b"C/K/01/Intro\xfe.en.srt"),
            raw(b"C/K/01/Outro\xfd.srt"),
        ];
        let n = Neighbours::new(paths.iter());
        let k: Vec<Kind> = paths.iter().map(|path| classify(path, &n)).collect();
        assert_eq!(k[0].mime, "video/mp4");
        let link = k[2].subtitle.as_ref().expect("a subtitle");
        assert_eq!(link.media_path, paths[1], "not the name that shows alike");
        assert_eq!(link.lang.as_deref(), Some("en"));
        assert_eq!(k[3].role, FileRole::Material);
    }
}
