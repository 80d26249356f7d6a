//! Lectern's sample library: `lectern demo DIR` writes a few small courses
//! that show every kind of material Lectern handles (markdown, text, code,
//! PDF, images, audio with subtitles, downloads, an HTML file) plus the
//! things it must ignore (a `.lecternignore`d folder, a dot-file).
//!
//! Everything is generated in code and the bytes are the same on every run.

mod audio;
mod catalogue;
mod image;
mod pdf;
mod staging;

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

/// What [`write_demo`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoSummary {
    /// The library root, i.e. the destination folder.
    pub root: PathBuf,
    pub categories: usize,
    pub courses: usize,
    /// Every file written, hidden and ignored ones included.
    pub files: usize,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "{} already exists and is not an empty folder; \
         choose a new or empty folder so no files are overwritten",
        .0.display()
    )]
    NotEmpty(PathBuf),
    #[error("{} does not name a folder to create", .0.display())]
    NoFolderName(PathBuf),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Writes the sample library to `dest`, which must not exist or be an
/// empty folder. Nothing is left behind on failure.
pub fn write_demo(dest: &Path) -> Result<DemoSummary, DemoError> {
    let files = render(dest)?;
    let root = staging::publish(dest, &files)?;
    Ok(summarise(root, &files))
}

/// Generates every file in memory first (a few hundred kB), so a failure
/// here touches the disk not at all.
fn render(dest: &Path) -> Result<Vec<(&'static str, Vec<u8>)>, DemoError> {
    catalogue::entries()
        .into_iter()
        .map(|entry| match entry.content.bytes() {
            Ok(bytes) => Ok((entry.path, bytes)),
            Err(source) => Err(DemoError::Io {
                path: dest.join(entry.path),
                source,
            }),
        })
        .collect()
}

fn summarise(root: PathBuf, files: &[(&str, Vec<u8>)]) -> DemoSummary {
    let prefix =
        |path: &str, depth: usize| path.split('/').take(depth).collect::<Vec<_>>().join("/");
    let categories: BTreeSet<_> = files.iter().map(|(path, _)| prefix(path, 1)).collect();
    let courses: BTreeSet<_> = files.iter().map(|(path, _)| prefix(path, 2)).collect();
    DemoSummary {
        root,
        categories: categories.len(),
        courses: courses.len(),
        files: files.len(),
        bytes: files.iter().map(|(_, bytes)| bytes.len() as u64).sum(),
    }
}
