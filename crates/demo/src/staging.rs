//! Writing the library safely: never over a user's files, never half done.
//!
//! Everything goes into a temporary sibling folder first, which is renamed
//! into place only when every file is written, so a failure (full disk,
//! permissions) leaves no partial library behind.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::DemoError;

/// Writes `files` (relative path, bytes) so that they appear under `dest`
/// all at once. Returns the path of the finished library.
pub fn publish(dest: &Path, files: &[(&str, Vec<u8>)]) -> Result<PathBuf, DemoError> {
    let dest = usable_path(dest)?;
    let existed = check_destination(&dest)?;
    let temp = temp_sibling(&dest)?;
    let written = write_all(&temp, files).and_then(|()| move_into_place(&temp, &dest, existed));
    if written.is_err() {
        // Best effort: the original error matters more than this one.
        let _ = fs::remove_dir_all(&temp);
    }
    written.map(|()| dest)
}

/// Paths such as `.` or `foo/..` have no final name to give the temporary
/// sibling, so they are resolved to the real folder first.
fn usable_path(dest: &Path) -> Result<PathBuf, DemoError> {
    let dest = match dest.file_name() {
        Some(_) => dest.to_path_buf(),
        None => fs::canonicalize(dest).map_err(io_error(dest))?,
    };
    match dest.file_name() {
        Some(_) => Ok(dest),
        None => Err(DemoError::NoFolderName(dest)),
    }
}

/// Returns whether `dest` already exists (as an empty folder).
fn check_destination(dest: &Path) -> Result<bool, DemoError> {
    // symlink_metadata: a link is not an empty folder we may replace.
    let meta = match fs::symlink_metadata(dest) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(io_error(dest)(err)),
    };
    if !meta.is_dir() {
        return Err(DemoError::NotEmpty(dest.to_path_buf()));
    }
    match fs::read_dir(dest).map_err(io_error(dest))?.next() {
        None => Ok(true),
        Some(Ok(_)) => Err(DemoError::NotEmpty(dest.to_path_buf())),
        Some(Err(err)) => Err(io_error(dest)(err)),
    }
}

fn temp_sibling(dest: &Path) -> Result<PathBuf, DemoError> {
    let parent = match dest.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::create_dir_all(parent).map_err(io_error(parent))?;
    let mut name = OsString::from(dest.file_name().unwrap_or_default());
    name.push(format!(".partial-{}", std::process::id()));
    let temp = parent.join(name);
    // create_dir, not create_dir_all: an existing folder of that name is
    // not ours to fill or delete.
    fs::create_dir(&temp).map_err(io_error(&temp))?;
    Ok(temp)
}

fn write_all(root: &Path, files: &[(&str, Vec<u8>)]) -> Result<(), DemoError> {
    for (relative, bytes) in files {
        let path = relative
            .split('/')
            .fold(root.to_path_buf(), |p, c| p.join(c));
        if let Some(folder) = path.parent() {
            fs::create_dir_all(folder).map_err(io_error(folder))?;
        }
        fs::write(&path, bytes).map_err(io_error(&path))?;
    }
    Ok(())
}

fn move_into_place(temp: &Path, dest: &Path, existed: bool) -> Result<(), DemoError> {
    if existed {
        // remove_dir fails if anything appeared in it meanwhile: good.
        fs::remove_dir(dest).map_err(io_error(dest))?;
    }
    fs::rename(temp, dest).map_err(io_error(dest))
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_leaves_nothing_behind() {
        let temp = tempfile::tempdir().unwrap();
        let dest = temp.path().join("library");
        // "a" is written as a file, so the folder "a/" cannot be created.
        let files = [("a", b"x".to_vec()), ("a/b", b"y".to_vec())];
        let err = publish(&dest, &files).unwrap_err();
        assert!(matches!(err, DemoError::Io { .. }), "{err}");
        assert_eq!(fs::read_dir(temp.path()).unwrap().count(), 0);
    }

    #[test]
    fn root_has_no_folder_name() {
        let err = publish(Path::new("/"), &[]).unwrap_err();
        assert!(matches!(err, DemoError::NoFolderName(_)), "{err}");
    }
}
