//! Moving database files into and out of place, with the journal files
//! SQLite keeps beside them: what an offline restore does.

use std::path::{Path, PathBuf};

/// Where a damaged database and its journal files were moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedAside {
    pub database: PathBuf,
    pub others: Vec<PathBuf>,
}

/// Moves a database that cannot be read, with its `-wal` and `-shm`, to
/// `dest` (`dest-wal`, `dest-shm`): nothing of it stays beside the file
/// that replaces it, and nothing of it is deleted.
pub fn move_aside(database: &Path, dest: &Path) -> std::io::Result<MovedAside> {
    move_file(database, dest)?;
    let mut others = Vec::new();
    for suffix in ["-wal", "-shm", "-journal"] {
        let from = with_suffix(database, suffix);
        if from.exists() {
            let to = with_suffix(dest, suffix);
            move_file(&from, &to)?;
            others.push(to);
        }
    }
    Ok(MovedAside {
        database: dest.to_owned(),
        others,
    })
}

/// Puts a prepared snapshot at `database`, where no database is now (after
/// [`move_aside`], or when there was none). It is linked there, which fails
/// when a database has appeared meanwhile (a server started) rather than
/// replacing it; across file systems it is copied beside it first. Either
/// way the final step is atomic.
pub fn install(prepared: &Path, database: &Path) -> std::io::Result<()> {
    // Written without syncs while it was unpacked: on disk before it counts,
    // and before the check below, so that nothing slow comes between it
    // and the link.
    std::fs::File::open(prepared)?.sync_all()?;
    if database.exists() {
        return Err(appeared(database));
    }
    // Journal files of a database that is gone, which SQLite would
    // otherwise apply to this one.
    for suffix in ["-wal", "-shm", "-journal"] {
        remove_if_present(&with_suffix(database, suffix))?;
    }
    link_new(prepared, database)?;
    // In place now: a copy left behind is only untidy.
    let _ = std::fs::remove_file(prepared);
    sync_parent(database)
}

/// Undoes [`move_aside`], unless a database appeared at `database`
/// meanwhile: that one is never replaced, and the moved file stays aside.
pub fn put_back(aside: &Path, database: &Path) -> std::io::Result<()> {
    link_new(aside, database)?;
    std::fs::remove_file(aside)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let from = with_suffix(aside, suffix);
        if from.exists() {
            std::fs::rename(&from, with_suffix(database, suffix))?;
        }
    }
    sync_parent(database)
}

/// Puts `from` at `to` under a second name, failing rather than replacing
/// a file that is there (across file systems, by a copy beside it first).
pub fn link_new(from: &Path, to: &Path) -> std::io::Result<()> {
    let linked = match std::fs::hard_link(from, to) {
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            let beside = with_suffix(to, ".incoming");
            std::fs::copy(from, &beside)?;
            std::fs::File::open(&beside)?.sync_all()?;
            let linked = std::fs::hard_link(&beside, to);
            std::fs::remove_file(&beside)?;
            linked
        }
        other => other,
    };
    linked.map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => appeared(to),
        _ => e,
    })
}

fn appeared(database: &Path) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!(
            "a database appeared at {} meanwhile (is a server starting?)",
            database.display()
        ),
    )
}

fn move_file(from: &Path, to: &Path) -> std::io::Result<()> {
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            let beside = with_suffix(to, ".incoming");
            std::fs::copy(from, &beside)?;
            std::fs::File::open(&beside)?.sync_all()?;
            std::fs::rename(&beside, to)?;
            std::fs::remove_file(from)
        }
        Err(e) => Err(e),
    }
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_puts_the_file_in_place_but_never_over_a_database() {
        let dir = tempfile::tempdir().unwrap();
        let prepared = dir.path().join("prepared.db");
        let database = dir.path().join("lectern.db");
        std::fs::write(&prepared, b"restored").unwrap();
        std::fs::write(with_suffix(&database, "-wal"), b"stale").unwrap();
        install(&prepared, &database).unwrap();
        assert_eq!(std::fs::read(&database).unwrap(), b"restored");
        assert!(!prepared.exists());
        assert!(
            !with_suffix(&database, "-wal").exists(),
            "no stale WAL beside it"
        );

        // A database that appeared meanwhile (a server started) stays,
        // with its WAL.
        std::fs::write(&prepared, b"another").unwrap();
        std::fs::write(with_suffix(&database, "-wal"), b"live").unwrap();
        let refused = install(&prepared, &database).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(refused.to_string().contains("appeared"), "{refused}");
        assert_eq!(std::fs::read(&database).unwrap(), b"restored");
        assert_eq!(
            std::fs::read(with_suffix(&database, "-wal")).unwrap(),
            b"live"
        );
        assert!(prepared.exists(), "nothing of the restore is lost either");
    }
}
