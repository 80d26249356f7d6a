//! How a lesson shows in the browser, decided from its indexed type; and
//! markdown, rendered to HTML and sanitised, with links to the course's own
//! files pointed at their pages.

use lectern_core::FileId;
use lectern_store::FileRecord;
use percent_encoding::percent_decode_str;
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Viewer {
    Video,
    Audio,
    Pdf,
    Image,
    Markdown,
    Text,
    /// HTML from the library never renders in Lectern's origin.
    Html,
    Download,
}

/// Types that are text to read although they are not `text/*`.
const TEXT_TYPES: &[&str] = &[
    "application/json",
    "application/javascript",
    "application/x-sh",
    "application/x-subrip",
    "application/toml",
    "application/x-yaml",
    "application/sql",
];

impl Viewer {
    pub fn of(file: &FileRecord) -> Self {
        let mime = file.mime.as_str();
        match mime.split('/').next().unwrap_or_default() {
            _ if mime.contains("html") || mime.contains("xml") => Viewer::Html,
            "video" => Viewer::Video,
            "audio" => Viewer::Audio,
            "image" => Viewer::Image,
            _ if mime == "application/pdf" => Viewer::Pdf,
            _ if mime == "text/markdown" => Viewer::Markdown,
            "text" => Viewer::Text,
            _ if TEXT_TYPES.contains(&mime) => Viewer::Text,
            _ => Viewer::Download,
        }
    }

    /// Whether the page shows the file's text, read on the server.
    pub fn reads_text(self) -> bool {
        matches!(self, Viewer::Markdown | Viewer::Text)
    }
}

/// Markdown to HTML that is safe to put in a page: ammonia keeps the
/// formatting and drops scripts, handlers, styles and `javascript:` links.
/// `siblings` maps the course's paths to ids, so a relative link or image
/// (`![](img/chart.png)`) reaches the course's file through Lectern.
pub fn markdown_html(source: &str, here: &str, siblings: &HashMap<String, FileId>) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let events = Parser::new_ext(source, options).map(|event| match event {
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            dest_url: relink(dest_url, here, siblings, |id| {
                format!("/api/files/{id}/content")
            }),
            link_type,
            title,
            id,
        }),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            dest_url: relink(dest_url, here, siblings, |id| format!("/files/{id}")),
            link_type,
            title,
            id,
        }),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer"))
        .clean(&html)
        .to_string()
}

/// The first paragraph of markdown as plain words, cut at about `max`
/// characters: what a course card says about the course.
pub fn markdown_summary(source: &str, max: usize) -> Option<String> {
    let mut text = String::new();
    let mut inside = false;
    for event in Parser::new(source) {
        match event {
            Event::Start(Tag::Paragraph) => inside = true,
            Event::End(pulldown_cmark::TagEnd::Paragraph) if !text.is_empty() => break,
            Event::Text(t) | Event::Code(t) if inside => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak if inside => text.push(' '),
            _ => {}
        }
    }
    if text.trim().is_empty() {
        return None;
    }
    let mut cut: String = text.chars().take(max).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    Some(cut)
}

/// A relative link resolved against the folder of `here` (a path inside
/// the course); left alone when it leads outside the course's files.
fn relink<'a>(
    url: CowStr<'a>,
    here: &str,
    siblings: &HashMap<String, FileId>,
    to: impl Fn(FileId) -> String,
) -> CowStr<'a> {
    if url.contains(':') || url.starts_with('/') || url.starts_with('#') {
        return url;
    }
    let target = url.split(['#', '?']).next().unwrap_or_default();
    // `%20` and friends, as markdown writers encode spaces in links.
    let decoded = percent_decode_str(target).decode_utf8_lossy();
    match resolve(here, &decoded).and_then(|path| siblings.get(&path)) {
        Some(id) => CowStr::from(to(*id)),
        None => url,
    }
}

fn resolve(here: &str, relative: &str) -> Option<String> {
    let mut parts: Vec<&str> = here.split('/').collect();
    parts.pop();
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            name => parts.push(name),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn siblings() -> HashMap<String, FileId> {
        HashMap::from([
            ("01 Intro/chart one.png".to_owned(), FileId(7)),
            ("02 Next/lesson.md".to_owned(), FileId(8)),
        ])
    }

    #[test]
    fn markdown_is_rendered_and_sanitised() {
        let html = markdown_html(
            "# Title\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) \
             <img src=x onerror=alert(1)> **bold**",
            "01 Intro/a.md",
            &siblings(),
        );
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        for bad in ["<script", "javascript:", "onerror"] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
    }

    #[test]
    fn a_summary_is_the_first_paragraph_in_plain_words() {
        let readme = "# Rust Basics\n\nLearn **Rust** from [zero](x.md)\nup.\n\nMore.";
        assert_eq!(
            markdown_summary(readme, 200).as_deref(),
            Some("Learn Rust from zero up.")
        );
        assert_eq!(markdown_summary("# Only a title\n", 200), None);
        let long = "x".repeat(300);
        assert_eq!(
            markdown_summary(&long, 200).map(|s| s.chars().count()),
            Some(201)
        );
    }

    #[test]
    fn relative_links_reach_the_course_files() {
        let html = markdown_html(
            "![c](chart%20one.png) [next](../02%20Next/lesson.md#top) [gone](nope.md) \
             [web](https://example.org/)",
            "01 Intro/a.md",
            &siblings(),
        );
        assert!(html.contains(r#"src="/api/files/7/content""#), "{html}");
        assert!(html.contains(r#"href="/files/8""#), "{html}");
        assert!(html.contains(r#"href="nope.md""#), "{html}");
        assert!(html.contains(r#"href="https://example.org/""#), "{html}");
        assert_eq!(resolve("a.md", "../../x"), None);
    }
}
