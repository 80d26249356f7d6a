//! Integration tests of full scans, course rescans and cleanup against a
//! real temporary library root and SQLite store (SPEC §1).

mod common;

use common::*;
use lectern_core::scan::{IssueKind, ScanKind, ScanStatus};
use lectern_core::LibraryPath;
use lectern_scanner::{cleanup, ScanError, ScanScope};
use lectern_store::{FileRole, FileState};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

fn set<const N: usize>(paths: [&str; N]) -> BTreeSet<String> {
    paths.iter().map(|s| s.to_string()).collect()
}

async fn present_paths(lib: &Lib) -> BTreeSet<String> {
    lib.present().await.into_keys().collect()
}

// --- 2. the safety guard ------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_root_aborts_with_a_reason_and_changes_nothing() {
    let lib = Lib::new().await;
    lib.write("Cat/K/S/a.txt", "a");
    lib.write("Cat/K/b.txt", "b");
    assert_eq!(lib.scan().await.counts.added, 2);
    let before = lib.files().await;

    std::fs::rename(&lib.root, lib.dir.path().join("unmounted")).unwrap();
    let r = lib.scan().await;
    assert_eq!(r.status, ScanStatus::Aborted);
    let reason = r.reason.clone().expect("an aborted scan says why");
    assert!(reason.contains(&lib.root.display().to_string()), "{reason}");
    assert_eq!(
        lib.files().await,
        before,
        "an aborted scan changed the index"
    );
    let record = lib.store.scan(r.scan_id).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.reason),
        (ScanStatus::Aborted, Some(reason))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_that_is_a_file_aborts_and_changes_nothing() {
    let lib = Lib::new().await;
    lib.write("Cat/K/S/a.txt", "a");
    assert_eq!(lib.scan().await.counts.added, 1);
    let before = lib.files().await;

    std::fs::remove_dir_all(&lib.root).unwrap();
    std::fs::write(&lib.root, "not a folder").unwrap();
    for force in [false, true] {
        let r = lib.scan_with(opts(ScanScope::All, false, force)).await;
        assert_eq!(r.status, ScanStatus::Aborted, "force={force}");
        assert!(r.reason.is_some());
        assert_eq!(lib.files().await, before);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emptied_root_aborts_unless_forced() {
    let lib = Lib::new().await;
    for p in [
        "Cat/K/S/a.txt",
        "Cat/K/S/b.txt",
        "Cat/K2/c.txt",
        "Other/K/S/d.txt",
    ] {
        lib.write(p, p);
    }
    assert_eq!(lib.scan().await.counts.added, 4);
    let before = lib.files().await;

    for entry in std::fs::read_dir(&lib.root).unwrap() {
        std::fs::remove_dir_all(entry.unwrap().path()).unwrap();
    }
    let r = lib.scan().await;
    assert_eq!(r.status, ScanStatus::Aborted);
    assert!(
        r.reason.as_deref().is_some_and(|s| s.contains('4')),
        "{:?}",
        r.reason
    );
    assert_eq!(r.counts.removed, 0);
    assert_eq!(
        lib.files().await,
        before,
        "an aborted scan changed the index"
    );

    let r = lib.scan_forced().await;
    assert_completed(&r);
    assert_eq!(r.counts.removed, 4);
    let files = lib.files().await;
    assert_eq!(files.len(), 4);
    assert!(
        files.iter().all(|f| f.state == FileState::Missing),
        "{files:?}"
    );
    let ids = |fs: &[lectern_store::FileRecord]| fs.iter().map(|f| f.id).collect::<Vec<_>>();
    assert_eq!(
        ids(&files),
        ids(&before),
        "marking missing keeps the records"
    );
}

// --- 3. idempotence -------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_scan_of_an_unchanged_tree_does_nothing_and_reads_nothing() {
    let lib = Lib::new().await;
    lib.write("Cat/K/README.md", "# K\n");
    lib.write("Cat/K/cover.png", [0x89, b'P', b'N', b'G']);
    lib.write("Cat/K/01 S/Lesson.mp4", "video");
    lib.write(
        "Cat/K/01 S/Lesson.en.srt",
        "1\n00:00:00,000 --> 00:00:01,000\nhi\n",
    );
    lib.write("Cat/K/01 S/empty.txt", "");
    lib.write("Cat/K/01 S/dup.txt", "same");
    lib.write("Other/K2/02 T/dup.txt", "same");
    let first = lib.scan().await;
    assert_completed(&first);
    assert_eq!((first.counts.added, first.counts.hashed_files), (7, 7));
    let after_first = lib.files().await;

    let second = lib.scan().await;
    assert_idle(&second);
    assert_eq!(second.counts.unchanged, 7);
    assert_eq!(second.counts.hashed_bytes, 0);
    assert_eq!(lib.files().await, after_first);
    let record = lib.store.scan(second.scan_id).await.unwrap().unwrap();
    assert_eq!((record.counts.added, record.counts.hashed_files), (0, 0));
}

// --- 4. verify ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_silent_corruption_and_keeps_the_stored_hash() {
    let lib = Lib::new().await;
    let path = lib.write("Cat/K/S/a.bin", "hello world 1");
    lib.write("Cat/K/S/b.bin", "fine");
    assert_completed(&lib.scan().await);
    let good = lib.record("Cat/K/S/a.bin").await;
    assert_eq!(good.sha256.to_hex(), sha256_hex(b"hello world 1"));

    let stamp = modified(&path);
    std::fs::write(&path, "hello world 2").unwrap();
    set_mtime(&path, stamp);

    let quick = lib.scan().await;
    assert_idle(&quick);
    assert!(quick.issues.is_empty(), "{:?}", quick.issues);

    let verify = lib.scan_verify().await;
    assert_completed(&verify);
    let found = issues_for(&verify, "Cat/K/S/a.bin");
    assert_eq!(found.len(), 1, "{:?}", verify.issues);
    assert_eq!(found[0].kind, IssueKind::Integrity);
    assert_eq!(
        verify.issues.len(),
        1,
        "only the corrupted file is reported: {:?}",
        verify.issues
    );
    assert_eq!(verify.counts.errors, 1);
    assert_eq!(verify.counts.hashed_files, 2, "verify reads every file");
    assert_eq!(
        lib.record("Cat/K/S/a.bin").await.sha256,
        good.sha256,
        "the stored hash is kept"
    );
    let stored = lib.store.scan_issues(verify.scan_id).await.unwrap();
    assert!(stored
        .iter()
        .any(|i| i.kind == IssueKind::Integrity && i.path == "Cat/K/S/a.bin"));
    let record = lib.store.scan(verify.scan_id).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.counts.errors, record.verify),
        (ScanStatus::Completed, 1, true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_keeps_the_last_good_description_of_a_corrupted_readme() {
    let lib = Lib::new().await;
    let path = lib.write("Cat/K/README.md", "Good text.");
    lib.write("Cat/K/S/a.md", "a");
    assert_completed(&lib.scan().await);
    let id = lib.course_id("Cat/K").await;
    let sha = lib.record("Cat/K/README.md").await.sha256;

    let stamp = modified(&path);
    std::fs::write(&path, "Bad\0text!!").unwrap();
    set_mtime(&path, stamp);
    let verify = lib.scan_verify().await;
    assert_completed(&verify);
    assert!(issues_for(&verify, "Cat/K/README.md")
        .iter()
        .any(|i| i.kind == IssueKind::Integrity));
    assert_eq!(lib.record("Cat/K/README.md").await.sha256, sha);
    let course = lib.store.course(id).await.unwrap().unwrap();
    assert_eq!(
        course.description.as_deref(),
        Some("Good text."),
        "the index keeps the last good README (as it keeps its hash), not the corrupted bytes"
    );
}

// --- 5. ignore rules ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_files_dot_folders_and_os_junk_are_not_indexed() {
    let lib = Lib::new().await;
    lib.write("Cat/K/S/a.md", "a");
    for junk in [
        "Cat/K/S/.hidden.md",
        "Cat/K/.git/config",
        "Cat/K/.secret/S/x.md",
        "Cat/K/S/Thumbs.db",
        "Cat/K/S/desktop.ini",
        "Cat/K/.DS_Store",
        "Cat/K/S/.DS_Store",
        "Cat/.hidden course/S/x.md",
        ".hidden category/K/S/x.md",
    ] {
        lib.write(junk, junk);
    }
    let r = lib.scan().await;
    assert_completed(&r);
    assert_eq!(present_paths(&lib).await, set(["Cat/K/S/a.md"]));
    let courses: Vec<String> = lib
        .store
        .courses(None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| text(&c.path).to_owned())
        .collect();
    assert_eq!(courses, ["Cat/K"]);
    assert_eq!(r.counts.errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lecternignore_at_root_category_and_section_excludes_what_it_matches() {
    let lib = Lib::new().await;
    lib.write(
        ".lecternignore",
        "# scratch files everywhere\n*.tmp\n/Drafts/\n",
    );
    lib.write("Cat/.lecternignore", "wip/\n");
    lib.write("Cat/K/S/.lecternignore", "*.txt\n!keep.txt\n");
    lib.write("Cat/K/S2/.lecternignore", "!special.tmp\n");
    let wanted = [
        "Cat/K/S/keep.txt",
        "Cat/K/S/lesson.md",
        "Cat/K/notes.txt",
        "Cat/K/S2/special.tmp",
        "Other/K/wip/draft.md",
        "Other/K/S/notes.txt",
    ];
    let unwanted = [
        "Cat/K/S/x.tmp",
        "Other/K/S/y.tmp",
        "Drafts/K/S/a.md",
        "Cat/K/wip/draft.md",
        "Cat/K2/S/wip/deep/draft.md",
        "Cat/K/S/notes.txt",
        "Cat/K/S/sub/deep.txt",
        "Cat/K/S2/other.tmp",
    ];
    for p in wanted.iter().chain(&unwanted) {
        lib.write(p, p);
    }
    let r = lib.scan().await;
    assert_completed(&r);
    assert_eq!(present_paths(&lib).await, set(wanted));
    assert!(lib
        .store
        .course_by_path(&LibraryPath::parse("Drafts/K").unwrap())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_directly_in_root_or_a_category_are_warnings_not_records() {
    let lib = Lib::new().await;
    lib.write("stray.txt", "at the root");
    lib.write("Cat/stray.pdf", "in a category");
    lib.write("Cat/K/S/a.md", "a");
    let r = lib.scan().await;
    assert_completed(&r);
    assert_eq!(present_paths(&lib).await, set(["Cat/K/S/a.md"]));
    assert!(has_warning(&r, "stray.txt"), "{:?}", r.issues);
    assert!(has_warning(&r, "Cat/stray.pdf"), "{:?}", r.issues);
    assert_eq!(r.counts.errors, 0, "warnings are not errors");
    let stored = lib.store.scan_issues(r.scan_id).await.unwrap();
    assert!(stored
        .iter()
        .any(|i| i.kind == IssueKind::Warning && i.path == "Cat/stray.pdf"));
}

// --- 6. description, cover, subtitles -------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_is_the_course_description_until_it_is_deleted() {
    let lib = Lib::new().await;
    lib.write("Cat/K/README.md", "# Welcome\nThis course.\n");
    lib.write("Cat/K/S/a.md", "a");
    lib.write("Cat/K/S/b.md", "b");
    assert_completed(&lib.scan().await);
    let id = lib.course_id("Cat/K").await;
    let course = lib.store.course(id).await.unwrap().unwrap();
    assert_eq!(
        course.description.as_deref(),
        Some("# Welcome\nThis course.\n")
    );
    let readme = lib.record("Cat/K/README.md").await;
    assert_eq!(
        (readme.role, readme.mime.as_str()),
        (FileRole::Description, "text/markdown")
    );

    lib.write("Cat/K/README.md", "# Welcome back\n");
    assert_eq!(lib.scan_forced().await.counts.updated, 1);
    let course = lib.store.course(id).await.unwrap().unwrap();
    assert_eq!(course.description.as_deref(), Some("# Welcome back\n"));

    lib.remove("Cat/K/README.md");
    let r = lib.scan_forced().await;
    assert_eq!(r.counts.removed, 1);
    assert_eq!(
        lib.store.course(id).await.unwrap().unwrap().description,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_renamed_away_clears_the_description() {
    let lib = Lib::new().await;
    lib.write("Cat/K/README.md", "About this course.");
    lib.write("Cat/K/S/a.md", "a");
    lib.write("Cat/K/S/b.md", "b");
    assert_completed(&lib.scan().await);
    let id = lib.course_id("Cat/K").await;
    assert!(lib
        .store
        .course(id)
        .await
        .unwrap()
        .unwrap()
        .description
        .is_some());

    lib.rename("Cat/K/README.md", "Cat/K/S/about.md");
    let r = lib.scan_forced().await;
    assert_eq!(r.counts.moved, 1, "{:?}", r.counts);
    assert_eq!(
        lib.record("Cat/K/S/about.md").await.role,
        FileRole::Material
    );
    assert_eq!(
        lib.store.course(id).await.unwrap().unwrap().description,
        None,
        "the course has no README.md any more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cover_and_subtitles_get_their_roles() {
    let lib = Lib::new().await;
    lib.write("Cat/K/cover.png", [0x89, b'P', b'N', b'G', 0x0d, 0x0a]);
    lib.write("Cat/K/01 S/Lesson.mp4", "video bytes");
    lib.write(
        "Cat/K/01 S/Lesson.en.srt",
        "1\n00:00:00,000 --> 00:00:01,000\nHello\n",
    );
    assert_completed(&lib.scan().await);

    let cover = lib.record("Cat/K/cover.png").await;
    assert_eq!(
        (cover.role, cover.mime.as_str()),
        (FileRole::Cover, "image/png")
    );
    let video = lib.record("Cat/K/01 S/Lesson.mp4").await;
    assert_eq!(video.role, FileRole::Material);
    let srt = lib.record("Cat/K/01 S/Lesson.en.srt").await;
    assert_eq!(srt.role, FileRole::Subtitle);
    assert_eq!(
        srt.subtitle_for.as_ref().and_then(|p| p.to_str()),
        Some("Cat/K/01 S/Lesson.mp4")
    );
    assert_eq!(srt.subtitle_lang.as_deref(), Some("en"));

    // Without its video the caption file is plain material; with the video
    // back it is a subtitle again, and relabelling it reads nothing.
    lib.remove("Cat/K/01 S/Lesson.mp4");
    lib.write("Cat/K/02 T/pad.md", "keeps the guard quiet");
    assert_completed(&lib.scan().await);
    let srt = lib.record("Cat/K/01 S/Lesson.en.srt").await;
    assert_eq!(
        (srt.role, srt.subtitle_for, srt.subtitle_lang),
        (FileRole::Material, None, None)
    );
    lib.write("Cat/K/01 S/Lesson.mp4", "video bytes");
    let r = lib.scan().await;
    assert_eq!(
        r.counts.hashed_files, 1,
        "only the video is read: {:?}",
        r.counts
    );
    let srt = lib.record("Cat/K/01 S/Lesson.en.srt").await;
    assert_eq!(srt.role, FileRole::Subtitle);
    assert_eq!(
        srt.subtitle_for.as_ref().and_then(|p| p.to_str()),
        Some("Cat/K/01 S/Lesson.mp4")
    );
    assert_idle(&lib.scan().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_readme_leaves_no_stale_description() {
    let lib = Lib::new().await;
    lib.write("Cat/K/README.md", "Old short text.");
    lib.write("Cat/K/S/a.md", "a");
    assert_completed(&lib.scan().await);
    let id = lib.course_id("Cat/K").await;
    assert_eq!(
        lib.store
            .course(id)
            .await
            .unwrap()
            .unwrap()
            .description
            .as_deref(),
        Some("Old short text.")
    );

    lib.write("Cat/K/README.md", "x".repeat(1024 * 1024 + 1));
    let r = lib.scan().await;
    assert_eq!(r.counts.updated, 1);
    let description = lib.store.course(id).await.unwrap().unwrap().description;
    assert_ne!(
        description.as_deref(),
        Some("Old short text."),
        "the README changed, but the course still shows its old text"
    );
}

// --- 7. natural order -----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn courses_and_files_come_in_natural_case_insensitive_order() {
    let lib = Lib::new().await;
    for p in [
        "zeta/10 Advanced/x.md",
        "zeta/2 Basics/x.md",
        "zeta/Beta/x.md",
        "zeta/alpha/x.md",
        "Alpha/1 Only/x.md",
        "Alpha/K/10 Advanced/a.md",
        "Alpha/K/2 Basics/c10.md",
        "Alpha/K/2 Basics/c9.md",
        "Alpha/K/2 Basics/B.md",
        "Alpha/K/2 Basics/a.md",
    ] {
        lib.write(p, p);
    }
    assert_completed(&lib.scan().await);

    let categories: Vec<String> = lib
        .store
        .categories()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(categories, ["Alpha", "zeta"]);
    let courses: Vec<String> = lib
        .store
        .courses(None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| text(&c.path).to_owned())
        .collect();
    assert_eq!(
        courses,
        [
            "Alpha/1 Only",
            "Alpha/K",
            "zeta/2 Basics",
            "zeta/10 Advanced",
            "zeta/alpha",
            "zeta/Beta"
        ]
    );
    let k = lib.course_id("Alpha/K").await;
    let files: Vec<String> = lib
        .store
        .course_files(k)
        .await
        .unwrap()
        .into_iter()
        .map(|f| text(&f.path).to_owned())
        .collect();
    assert_eq!(
        files,
        [
            "Alpha/K/2 Basics/a.md",
            "Alpha/K/2 Basics/B.md",
            "Alpha/K/2 Basics/c9.md",
            "Alpha/K/2 Basics/c10.md",
            "Alpha/K/10 Advanced/a.md",
        ]
    );
}

// --- 8. hostile names -----------------------------------------------------

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_are_indexed_exactly_or_reported_never_a_crash() {
    use std::os::unix::ffi::OsStrExt;
    let lib = Lib::new().await;
    let long = format!("{}.txt", "L".repeat(251));
    assert_eq!(long.len(), 255);
    let long_emoji = format!("{}.md", "🎓".repeat(63)); // 252 + 3 bytes
    assert_eq!(long_emoji.len(), 255);
    let names = [
        "line\nbreak.txt".to_string(),
        long,
        long_emoji,
        "say \"hi\" it's.txt".to_string(),
        "back\\slash.txt".to_string(),
        "🎓 emoji 🚀.md".to_string(),
        "tab\there.txt".to_string(),
        " leading and trailing .txt".to_string(),
        "100% [x] {y} *?.txt".to_string(),
    ];
    let mut wanted = BTreeMap::new();
    for (i, name) in names.iter().enumerate() {
        let rel = format!("Cat/K/S/{name}");
        let bytes = format!("content {i}");
        lib.write(&rel, &bytes);
        wanted.insert(rel, sha256_hex(bytes.as_bytes()));
    }
    // Inside a course any bytes name a file or folder: two names that
    // differ only in bytes that are not UTF-8 (and show alike) are two.
    let section = lib.mkdir("Cat/K/S");
    for (name, content) in [
        (&b"bad\xff name.txt"[..], "not utf-8"),
        (b"bad\xfe name.txt", "not utf-8 either"),
    ] {
        std::fs::write(section.join(std::ffi::OsStr::from_bytes(name)), content).unwrap();
    }
    wanted.insert("Cat/K/S/bad%FF name.txt".into(), sha256_hex(b"not utf-8"));
    wanted.insert(
        "Cat/K/S/bad%FE name.txt".into(),
        sha256_hex(b"not utf-8 either"),
    );
    let bad_dir = section.join(std::ffi::OsStr::from_bytes(b"dir\xfe"));
    std::fs::create_dir(&bad_dir).unwrap();
    std::fs::write(bad_dir.join("inside.txt"), "below a non-UTF-8 folder").unwrap();
    wanted.insert(
        "Cat/K/S/dir%FE/inside.txt".into(),
        sha256_hex(b"below a non-UTF-8 folder"),
    );
    // A course folder's name is shown and matched as text: one that is not
    // UTF-8 is reported, and what it holds waits for a rename.
    let bad_course = lib
        .mkdir("Cat")
        .join(std::ffi::OsStr::from_bytes(b"Course \xff"));
    std::fs::create_dir(&bad_course).unwrap();
    std::fs::write(
        bad_course.join("lesson.txt"),
        "in a course not named in UTF-8",
    )
    .unwrap();

    let r = lib.scan().await;
    assert_completed(&r);
    let present = lib.present().await;
    let got: BTreeMap<String, String> = present
        .iter()
        .map(|(p, f)| (p.clone(), f.sha256.to_hex()))
        .collect();
    assert_eq!(got, wanted, "every name inside a course is indexed exactly");
    assert_eq!(
        present["Cat/K/S/bad%FF name.txt"].name,
        "bad\u{fffd} name.txt"
    );
    assert!(
        r.issues.iter().any(|i| i.kind == IssueKind::Warning
            && i.path == "Cat/Course \u{fffd}"
            && i.message.contains("valid UTF-8")),
        "no warning for the course folder not named in UTF-8: {:?}",
        r.issues
    );
    assert_eq!(r.issues.len(), 1, "{:?}", r.issues);
    assert_eq!(present["Cat/K/S/line\nbreak.txt"].name, "line\nbreak.txt");

    let again = lib.scan().await;
    assert_idle(&again);
}

// --- 9. symbolic links ----------------------------------------------------

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_loop_is_reported_and_not_followed_forever() {
    use std::os::unix::fs::symlink;
    let lib = Lib::new().await;
    lib.write("Cat/K/S/a.md", "a");
    lib.write("Cat/K/b.md", "b");
    symlink("..", lib.path("Cat/K/S/loop")).unwrap();
    symlink(&lib.root, lib.path("Cat/K/S/to-root")).unwrap();

    let r = lib.scan().await;
    assert_completed(&r);
    let loops: Vec<_> = r
        .issues
        .iter()
        .filter(|i| i.kind == IssueKind::Warning && i.message.to_lowercase().contains("loop"))
        .collect();
    assert!(
        loops.iter().any(|i| i.path == "Cat/K/S/loop"),
        "{:?}",
        r.issues
    );
    assert!(
        loops.iter().any(|i| i.path == "Cat/K/S/to-root"),
        "{:?}",
        r.issues
    );
    assert_eq!(
        present_paths(&lib).await,
        set(["Cat/K/S/a.md", "Cat/K/b.md"])
    );
    assert_idle(&lib.scan().await);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_out_of_root_are_not_followed() {
    use std::os::unix::fs::symlink;
    let lib = Lib::new().await;
    let outside = lib.dir.path().join("outside");
    write_file(&outside.join("secret.txt"), b"secret");
    write_file(&outside.join("dir").join("more.txt"), b"more secret");
    lib.write("Cat/K/S/real.md", "real");
    symlink(outside.join("secret.txt"), lib.path("Cat/K/S/out-file.txt")).unwrap();
    symlink(outside.join("dir"), lib.path("Cat/K/S/out-dir")).unwrap();
    symlink(
        "../../../../outside/secret.txt",
        lib.path("Cat/K/S/relative-out.txt"),
    )
    .unwrap();

    let r = lib.scan().await;
    assert_completed(&r);
    assert_eq!(present_paths(&lib).await, set(["Cat/K/S/real.md"]));
    for link in ["out-file.txt", "out-dir", "relative-out.txt"] {
        assert!(
            has_warning(&r, &format!("Cat/K/S/{link}")),
            "no warning for {link}: {:?}",
            r.issues
        );
    }
    assert_eq!(
        r.counts.errors, 0,
        "links out of ROOT are warnings: {:?}",
        r.issues
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dangling_symlink_is_a_warning_not_a_read_error() {
    use std::os::unix::fs::symlink;
    let lib = Lib::new().await;
    lib.write("Cat/K/S/real.md", "real");
    symlink(
        lib.dir.path().join("nowhere"),
        lib.path("Cat/K/S/dangling.txt"),
    )
    .unwrap();
    let r = lib.scan().await;
    assert_completed(&r);
    assert_eq!(present_paths(&lib).await, set(["Cat/K/S/real.md"]));
    let found = issues_for(&r, "Cat/K/S/dangling.txt");
    assert!(
        !found.is_empty(),
        "the dangling link is not reported: {:?}",
        r.issues
    );
    assert!(
        found.iter().all(|i| i.kind == IssueKind::Warning),
        "a link that leads nowhere is a link not followed (a warning), not an unreadable file: {found:?}"
    );
    assert_eq!(r.counts.errors, 0);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_file_whose_target_is_deleted_goes_missing() {
    use std::os::unix::fs::symlink;
    let lib = Lib::new().await;
    for p in [
        "Cat/K/S/a.md",
        "Cat/K/S/b.md",
        "Cat/K/S/c.md",
        "Cat/K/S/real.md",
    ] {
        lib.write(p, p);
    }
    symlink("real.md", lib.path("Cat/K/S/alias.md")).unwrap();
    assert_eq!(lib.scan().await.counts.added, 5);

    lib.remove("Cat/K/S/real.md"); // alias.md now leads nowhere
    let r = lib.scan_forced().await;
    assert_completed(&r);
    assert_eq!(
        lib.record("Cat/K/S/real.md").await.state,
        FileState::Missing
    );
    assert_eq!(
        lib.record("Cat/K/S/alias.md").await.state,
        FileState::Missing,
        "the link's content is gone, yet its record stays present; issues {:?}",
        r.issues
    );
    assert_eq!(r.counts.removed, 2);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_inside_root_are_indexed() {
    use std::os::unix::fs::symlink;
    let lib = Lib::new().await;
    lib.write("Cat/K/S/real.md", "real content");
    lib.write("Cat/K2/T/other.md", "other content");
    symlink("real.md", lib.path("Cat/K/S/alias.md")).unwrap();
    symlink(lib.path("Cat/K2/T"), lib.path("Cat/K/linked")).unwrap();

    let r = lib.scan().await;
    assert_completed(&r);
    let present = lib.present().await;
    assert_eq!(
        present.keys().cloned().collect::<BTreeSet<_>>(),
        set([
            "Cat/K/S/real.md",
            "Cat/K/S/alias.md",
            "Cat/K2/T/other.md",
            "Cat/K/linked/other.md"
        ])
    );
    assert_eq!(
        present["Cat/K/S/alias.md"].sha256.to_hex(),
        sha256_hex(b"real content")
    );
    assert_eq!(present["Cat/K/S/alias.md"].size, 12);
    assert_idle(&lib.scan().await);
}

// --- 10. FIFOs ------------------------------------------------------------

#[cfg(unix)]
fn mkfifo(path: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o644) },
        0,
        "mkfifo {}",
        path.display()
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_in_a_course_is_a_warning_and_does_not_block() {
    let lib = Lib::new().await;
    lib.write("Cat/K/S/a.md", "a");
    mkfifo(&lib.path("Cat/K/S/pipe"));
    let started = Instant::now();
    let r = lib.scan().await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the scan took {:?}",
        started.elapsed()
    );
    assert_completed(&r);
    assert!(has_warning(&r, "Cat/K/S/pipe"), "{:?}", r.issues);
    assert_eq!(present_paths(&lib).await, set(["Cat/K/S/a.md"]));
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_replaced_by_a_fifo_is_not_hashed() {
    let lib = Lib::new().await;
    for p in [
        "Cat/K/S/a.md",
        "Cat/K/S/b.md",
        "Cat/K/S/c.md",
        "Cat/K/S/d.md",
        "Cat/K/S/lesson.bin",
    ] {
        lib.write(p, p);
    }
    assert_eq!(lib.scan().await.counts.added, 5);
    lib.remove("Cat/K/S/lesson.bin");
    mkfifo(&lib.path("Cat/K/S/lesson.bin"));

    let started = Instant::now();
    let r = lib.scan().await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the scan took {:?}",
        started.elapsed()
    );
    assert_completed(&r);
    assert_eq!(r.counts.hashed_files, 0, "{:?}", r.counts);
    assert!(has_warning(&r, "Cat/K/S/lesson.bin"), "{:?}", r.issues);
    assert_eq!(
        lib.record("Cat/K/S/lesson.bin").await.state,
        FileState::Missing
    );
    assert_eq!(r.counts.removed, 1);
}

// --- 11. moves keep identity ----------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_to_another_section_and_course_keep_the_id() {
    let lib = Lib::new().await;
    lib.write("Cat/K/S1/a.bin", "content of a");
    lib.write("Cat/K/S1/b.bin", "content of b");
    lib.write("Cat/K/S1/c.bin", "content of c");
    assert_completed(&lib.scan().await);
    let a = lib.record("Cat/K/S1/a.bin").await;
    let b = lib.record("Cat/K/S1/b.bin").await;

    lib.rename("Cat/K/S1/a.bin", "Cat/K/S2/a.bin");
    let r = lib.scan().await;
    assert_completed(&r);
    assert_eq!(
        (r.counts.moved, r.counts.added, r.counts.removed),
        (1, 0, 0),
        "{:?}",
        r.counts
    );
    let moved = lib.record("Cat/K/S2/a.bin").await;
    assert_eq!(
        (moved.id, moved.course_id, moved.state),
        (a.id, a.course_id, FileState::Present)
    );

    lib.rename("Cat/K/S1/b.bin", "Other/K2/T/renamed.bin");
    let r = lib.scan().await;
    assert_completed(&r);
    assert_eq!(
        (r.counts.moved, r.counts.added, r.counts.removed),
        (1, 0, 0),
        "{:?}",
        r.counts
    );
    let moved = lib.record("Other/K2/T/renamed.bin").await;
    assert_eq!(moved.id, b.id);
    assert_eq!(moved.course_id, lib.course_id("Other/K2").await);
    assert_ne!(moved.course_id, b.course_id);
    assert_eq!(lib.files().await.len(), 3, "no record left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renaming_a_course_folder_moves_its_files_without_tripping_the_guard() {
    let lib = Lib::new().await;
    for p in [
        "Cat/Old/S/a.md",
        "Cat/Old/S/b.md",
        "Cat/Old/T/c.md",
        "Cat/Old/T/dup.md",
        "Cat/Old/dup.md",
        "Cat/Small/x.md",
    ] {
        let content = if p.ends_with("dup.md") { "same" } else { p };
        lib.write(p, content);
    }
    assert_completed(&lib.scan().await);
    let before: BTreeMap<String, _> = lib
        .files()
        .await
        .into_iter()
        .map(|f| (text(&f.path).to_owned(), f.id))
        .collect();

    lib.rename("Cat/Old", "Cat/New Name");
    let r = lib.scan().await;
    assert_completed(&r);
    assert_eq!(
        (r.counts.moved, r.counts.added, r.counts.removed),
        (5, 0, 0),
        "{:?}",
        r.counts
    );
    let new_course = lib.course_id("Cat/New Name").await;
    for f in lib
        .files()
        .await
        .into_iter()
        .filter(|f| text(&f.path).starts_with("Cat/New Name/"))
    {
        assert_eq!(f.course_id, new_course);
        let old = text(&f.path).replacen("Cat/New Name/", "Cat/Old/", 1);
        if !old.ends_with("dup.md") {
            assert_eq!(
                f.id,
                before[&old],
                "{} did not keep its id",
                f.path.display()
            );
        }
    }
    let ids: BTreeSet<_> = lib.files().await.into_iter().map(|f| f.id).collect();
    assert_eq!(
        ids,
        before.values().copied().collect::<BTreeSet<_>>(),
        "every id is kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_beside_an_identical_copy_loses_nothing() {
    let lib = Lib::new().await;
    lib.write("Cat/K/S/a.bin", "same bytes");
    lib.write("Cat/K/S/copy.bin", "same bytes");
    lib.write("Cat/K/S/other.bin", "other");
    lib.write("Cat/K/S/more.bin", "more");
    assert_completed(&lib.scan().await);
    let a = lib.record("Cat/K/S/a.bin").await;
    let copy = lib.record("Cat/K/S/copy.bin").await;

    // The copy stays: the vanished a.bin is the one that moved.
    lib.rename("Cat/K/S/a.bin", "Cat/K/T/a.bin");
    let r = lib.scan().await;
    assert_eq!(
        (r.counts.moved, r.counts.added, r.counts.removed),
        (1, 0, 0),
        "{:?}",
        r.counts
    );
    assert_eq!(lib.record("Cat/K/T/a.bin").await.id, a.id);
    let kept = lib.record("Cat/K/S/copy.bin").await;
    assert_eq!((kept.id, kept.state), (copy.id, FileState::Present));

    // Both copies vanish and one reappears: one moves, one is missing, and
    // the choice is the first vanished path.
    lib.rename("Cat/K/T/a.bin", "Cat/K/U/z.bin");
    lib.remove("Cat/K/S/copy.bin");
    let r = lib.scan_forced().await;
    assert_eq!(
        (r.counts.moved, r.counts.added, r.counts.removed),
        (1, 0, 1),
        "{:?}",
        r.counts
    );
    let files = lib.files().await;
    assert_eq!(files.len(), 4, "every record is still there: {files:?}");
    let by_id: BTreeMap<_, _> = files.iter().map(|f| (f.id, f)).collect();
    let (s, t) = (by_id[&copy.id], by_id[&a.id]);
    // "Cat/K/S/copy.bin" < "Cat/K/T/a.bin": the copy's record is taken.
    assert_eq!(
        (text(&s.path), s.state),
        ("Cat/K/U/z.bin", FileState::Present)
    );
    assert_eq!(
        (text(&t.path), t.state),
        ("Cat/K/T/a.bin", FileState::Missing)
    );
}

/// Several identical files move at once: which old record each new path
/// gets must not depend on thread timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_files_moved_together_pair_the_same_way_every_time() {
    const N: usize = 10;
    let mut pairings = BTreeSet::new();
    for _run in 0..6 {
        let lib = Lib::new().await;
        for i in 0..N {
            lib.write(&format!("Cat/K/S/old{i:02}.bin"), vec![7u8; 64 * 1024]);
        }
        lib.write("Cat/K/S/unique.bin", "unique");
        assert_completed(&lib.scan().await);
        let before = lib.files().await;
        for i in 0..N {
            lib.rename(
                &format!("Cat/K/S/old{i:02}.bin"),
                &format!("Cat/K/T/new{i:02}.bin"),
            );
        }
        let r = lib.scan().await;
        assert_completed(&r);
        assert_eq!(
            (r.counts.moved, r.counts.added, r.counts.removed),
            (N as u64, 0, 0),
            "{:?}",
            r.counts
        );
        let after = lib.files().await;
        assert_eq!(after.len(), N + 1, "nothing lost: {after:?}");
        assert!(after.iter().all(|f| f.state == FileState::Present));
        let new_path: BTreeMap<_, _> = after
            .iter()
            .map(|f| (f.id, text(&f.path).to_owned()))
            .collect();
        let pairing: Vec<(String, String)> = before
            .iter()
            .map(|b| (text(&b.path).to_owned(), new_path[&b.id].clone()))
            .collect();
        pairings.insert(pairing);
    }
    assert_eq!(
        pairings.len(),
        1,
        "the pairing of identical moved files varies between runs: {pairings:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_onto_the_path_of_a_missing_record_keeps_the_moved_id() {
    let lib = Lib::new().await;
    lib.write("Cat/K/S/a.bin", "content of a");
    lib.write("Cat/K/S/b.bin", "content of b");
    lib.write("Cat/K/S/c.bin", "content of c");
    lib.write("Cat/K/S/d.bin", "content of d");
    assert_completed(&lib.scan().await);
    let a = lib.record("Cat/K/S/a.bin").await;
    lib.remove("Cat/K/S/b.bin");
    assert_eq!(lib.scan().await.counts.removed, 1);

    // a.bin is renamed to the name of the deleted b.bin.
    lib.rename("Cat/K/S/a.bin", "Cat/K/S/b.bin");
    let r = lib.scan().await;
    assert_completed(&r);
    let now = lib.record("Cat/K/S/b.bin").await;
    assert_eq!(now.sha256, a.sha256);
    assert_eq!(
        now.id,
        a.id,
        "a file that vanished from a.bin and appeared at b.bin with the same content is a move \
         and keeps its id; counts {:?}, files {:?}",
        r.counts,
        lib.files().await
    );
    assert_eq!(
        (r.counts.moved, r.counts.added, r.counts.removed),
        (1, 0, 0),
        "{:?}",
        r.counts
    );
}

// --- 12. course rescan ----------------------------------------------------

async fn two_courses() -> Lib {
    let lib = Lib::new().await;
    for course in ["A", "B"] {
        for f in ["1.md", "2.md", "3.md"] {
            let p = format!("Cat/{course}/S/{f}");
            lib.write(&p, &p);
        }
    }
    assert_eq!(lib.scan().await.counts.added, 6);
    lib
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_course_rescan_touches_only_that_course() {
    let lib = two_courses().await;
    let a = lib.course_id("Cat/A").await;
    let b_before: Vec<_> = lib
        .files()
        .await
        .into_iter()
        .filter(|f| text(&f.path).starts_with("Cat/B/"))
        .collect();
    lib.write("Cat/A/S/new.md", "new in A");
    lib.write("Cat/A/S/1.md", "changed in A, longer");
    lib.write("Cat/B/S/new.md", "new in B");
    lib.write("Cat/B/S/2.md", "changed in B, longer");
    lib.remove("Cat/B/S/1.md");
    lib.write("Cat/C/S/x.md", "a new course");

    let r = lib
        .scan_with(opts(ScanScope::Course(a), false, false))
        .await;
    assert_completed(&r);
    assert_eq!(
        (r.counts.added, r.counts.updated, r.counts.removed),
        (1, 1, 0),
        "{:?}",
        r.counts
    );
    let files = lib.files().await;
    let b_after: Vec<_> = files
        .iter()
        .filter(|f| text(&f.path).starts_with("Cat/B/"))
        .cloned()
        .collect();
    assert_eq!(b_after, b_before, "course B was touched by a rescan of A");
    assert!(files.iter().any(|f| f.path == "Cat/A/S/new.md"));
    assert!(!files.iter().any(|f| text(&f.path).starts_with("Cat/C/")));
    assert_eq!(
        lib.record("Cat/A/S/1.md").await.sha256.to_hex(),
        sha256_hex(b"changed in A, longer")
    );
    let record = lib.store.scan(r.scan_id).await.unwrap().unwrap();
    assert_eq!((record.kind, record.course_id), (ScanKind::Course, Some(a)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_course_rescan_of_a_deleted_course_folder_aborts_unless_forced() {
    let lib = two_courses().await;
    let a = lib.course_id("Cat/A").await;
    let before = lib.files().await;
    lib.remove("Cat/A");

    let r = lib
        .scan_with(opts(ScanScope::Course(a), false, false))
        .await;
    assert_eq!(r.status, ScanStatus::Aborted);
    assert!(
        r.reason.as_deref().is_some_and(|s| s.contains("Cat/A")),
        "{:?}",
        r.reason
    );
    assert_eq!(
        lib.files().await,
        before,
        "an aborted rescan changed the index"
    );

    let r = lib.scan_with(opts(ScanScope::Course(a), false, true)).await;
    assert_completed(&r);
    assert_eq!(r.counts.removed, 3);
    for f in lib.files().await {
        let expected = if text(&f.path).starts_with("Cat/A/") {
            FileState::Missing
        } else {
            FileState::Present
        };
        assert_eq!(f.state, expected, "{}", f.path.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lecternignore_above_a_course_applies_in_its_rescan() {
    let lib = Lib::new().await;
    lib.write(".lecternignore", "*.tmp\n");
    lib.write("Cat/.lecternignore", "drafts/\n");
    lib.write("Cat/A/S/a.md", "a");
    assert_completed(&lib.scan().await);
    let a = lib.course_id("Cat/A").await;
    lib.write("Cat/A/S/b.md", "b");
    lib.write("Cat/A/S/x.tmp", "x");
    lib.write("Cat/A/drafts/y.md", "y");
    let r = lib
        .scan_with(opts(ScanScope::Course(a), false, false))
        .await;
    assert_completed(&r);
    assert_eq!(
        present_paths(&lib).await,
        set(["Cat/A/S/a.md", "Cat/A/S/b.md"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescan_of_an_unknown_course_is_refused() {
    let lib = Lib::new().await;
    let err = lib
        .start(opts(
            ScanScope::Course(lectern_core::CourseId(999)),
            false,
            false,
        ))
        .await;
    assert!(matches!(
        err,
        Err(ScanError::UnknownCourse(lectern_core::CourseId(999)))
    ));
}

// --- 13. cleanup ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_purges_missing_files_empty_courses_and_empty_categories() {
    let lib = Lib::new().await;
    for p in [
        "One/K1/S/a.md",
        "One/K1/S/b.md",
        "One/K2/S/c.md",
        "Two/K3/S/d.md",
        "Two/K4/e.md",
    ] {
        lib.write(p, p);
    }
    assert_completed(&lib.scan().await);
    lib.remove("One/K1/S/b.md");
    lib.remove("One/K2/S/c.md");
    lib.remove("Two");
    let r = lib.scan_forced().await;
    assert_eq!(r.counts.removed, 4);
    assert_eq!(lib.files().await.len(), 5, "a scan only marks missing");

    let report = cleanup(&lib.store, "admin").await.expect("cleanup");
    assert_eq!(report.status, ScanStatus::Completed);
    assert_eq!(
        (
            report.removed.files,
            report.removed.courses,
            report.removed.categories
        ),
        (4, 3, 1)
    );
    let files: Vec<String> = lib
        .files()
        .await
        .into_iter()
        .map(|f| text(&f.path).to_owned())
        .collect();
    assert_eq!(files, ["One/K1/S/a.md"]);
    let courses: Vec<String> = lib
        .store
        .courses(None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| text(&c.path).to_owned())
        .collect();
    assert_eq!(courses, ["One/K1"]);
    let categories: Vec<String> = lib
        .store
        .categories()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(categories, ["One"]);
    let record = lib.store.scan(report.scan_id).await.unwrap().unwrap();
    assert_eq!(
        (record.kind, record.status, record.counts.removed),
        (ScanKind::Cleanup, ScanStatus::Completed, 4)
    );

    let again = cleanup(&lib.store, "admin").await.unwrap();
    assert_eq!(
        (
            again.removed.files,
            again.removed.courses,
            again.removed.categories
        ),
        (0, 0, 0)
    );
    assert_idle(&lib.scan().await);
}

// --- 14. one operation at a time -------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_while_a_scan_holds_the_lock_is_busy() {
    let lib = Lib::new().await;
    lib.write("Cat/K/S/a.md", "a");
    let first = lib
        .start(opts(ScanScope::All, false, false))
        .await
        .expect("first start");
    let second = lib.start(opts(ScanScope::All, false, false)).await;
    assert!(
        matches!(second, Err(ScanError::Busy(_))),
        "second start: {:?}",
        second.err()
    );
    let other = cleanup(&lib.store, "admin").await;
    assert!(
        matches!(other, Err(ScanError::Busy(_))),
        "cleanup during a scan: {:?}",
        other.err()
    );

    let r = tokio::time::timeout(HANG, first.run()).await.unwrap();
    assert_completed(&r);
    let third = lib
        .start(opts(ScanScope::All, false, false))
        .await
        .expect("start after the first ended");
    assert_idle(&third.run().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_left_running_is_marked_interrupted_by_the_next_start() {
    let lib = Lib::new().await;
    lib.write("Cat/K/S/a.md", "a");
    let abandoned = lib.start(opts(ScanScope::All, false, false)).await.unwrap();
    let id = abandoned.id();
    assert_eq!(
        lib.store.scan(id).await.unwrap().unwrap().status,
        ScanStatus::Running
    );
    drop(abandoned);
    // Dropping the scan frees the operation lock in the background; wait
    // for that (bounded), as a restarted process would find it free.
    tokio::time::timeout(HANG, async {
        while lib.store.read_lock().await.unwrap().is_some() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the lock of a dropped scan was never released");

    let next = lib
        .start(opts(ScanScope::All, false, false))
        .await
        .expect("start after the drop");
    let old = lib.store.scan(id).await.unwrap().unwrap();
    assert_eq!(old.status, ScanStatus::Interrupted);
    assert!(old.reason.is_some() && old.finished_at.is_some(), "{old:?}");
    let r = next.run().await;
    assert_completed(&r);
    assert_eq!(r.counts.added, 1);
    assert_eq!(
        lib.store.scan(id).await.unwrap().unwrap().status,
        ScanStatus::Interrupted
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_scan_ends_cancelled_keeps_what_it_wrote_and_frees_the_lock() {
    let lib = Lib::new().await;
    for n in 0..50 {
        lib.write(&format!("Cat/K/S/{n}.md"), format!("lesson {n}"));
    }
    let scan = lib
        .start(opts(ScanScope::All, false, false))
        .await
        .expect("start");
    let progress = scan.progress();
    progress.cancel();
    let r = tokio::time::timeout(HANG, scan.run()).await.unwrap();
    assert_eq!(r.status, ScanStatus::Cancelled, "{r:?}");
    let history = lib.store.scan(r.scan_id).await.unwrap().unwrap();
    assert_eq!(history.status, ScanStatus::Cancelled);
    assert_eq!(
        lib.files().await.len() as u64,
        r.counts.added,
        "what it counted is what it wrote"
    );
    assert_eq!(
        progress.snapshot().phase,
        lectern_core::progress::Phase::Done
    );

    let r = lib.scan().await;
    assert_completed(&r);
    assert_eq!(
        lib.present().await.len(),
        50,
        "the next scan finishes the job"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_category_scan_sees_a_course_renamed_in_it_as_moves_and_leaves_the_rest_alone() {
    let lib = two_courses().await;
    lib.write("Other/K/S/k.md", "Other/K/S/k.md");
    assert_eq!(lib.scan().await.counts.added, 1);
    let before = lib.present().await;
    lib.rename("Cat/A", "Cat/A renamed");
    lib.write("Other/K/S/new.md", "outside the category");
    let category = lectern_core::LibraryPath::parse("Cat").unwrap();
    let r = lib
        .scan_with(opts(ScanScope::Category(category), false, false))
        .await;
    assert_completed(&r);
    assert_eq!(
        (r.counts.moved, r.counts.removed, r.counts.added),
        (3, 0, 0),
        "{r:?}"
    );
    let after = lib.present().await;
    for f in ["1.md", "2.md", "3.md"] {
        let (old, new) = (format!("Cat/A/S/{f}"), format!("Cat/A renamed/S/{f}"));
        assert_eq!(after[&new].id, before[&old].id, "{new} kept its id");
    }
    assert!(
        !after.contains_key("Other/K/S/new.md"),
        "another category was scanned"
    );
    let record = lib.store.scan(r.scan_id).await.unwrap().unwrap();
    assert_eq!((record.kind, record.course_id), (ScanKind::Full, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_category_scan_of_a_vanished_category_or_a_deeper_path_changes_nothing() {
    let lib = two_courses().await;
    let before = lib.files().await;
    lib.remove("Cat");
    let category = lectern_core::LibraryPath::parse("Cat").unwrap();
    let r = lib
        .scan_with(opts(ScanScope::Category(category), false, false))
        .await;
    assert_eq!(r.status, ScanStatus::Aborted, "{r:?}");
    assert!(r.reason.unwrap().contains("category folder Cat is gone"));
    assert_eq!(lib.files().await, before);
    let deeper = lectern_core::LibraryPath::parse("Cat/A").unwrap();
    let refused = lib
        .start(opts(ScanScope::Category(deeper), false, false))
        .await;
    assert!(matches!(refused, Err(ScanError::NotACategory(_))));
}

/// The course (id) a file's record belongs to, by the file's path.
async fn course_of(lib: &Lib, path: &str) -> lectern_core::CourseId {
    lib.record(path).await.course_id
}

/// The issues a scan reported about `path`.
fn told(r: &lectern_scanner::ScanReport, path: &str) -> Vec<String> {
    r.issues
        .iter()
        .filter(|i| i.path == path)
        .map(|i| i.message.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_course_folder_keeps_its_course_id() {
    let lib = two_courses().await;
    lib.write("Cat/A/README.md", "About A");
    lib.write("Cat/B/README.md", "About B");
    lib.scan().await;
    let a = lib.course_id("Cat/A").await;
    lib.rename("Cat/A", "Cat/A (2025)");
    let r = lib.scan().await;
    assert_completed(&r);
    assert_eq!((r.counts.moved, r.counts.removed), (4, 0));
    assert_eq!(lib.course_id("Cat/A (2025)").await, a);
    let course = lib.store.course(a).await.unwrap().unwrap();
    assert_eq!(course.description.as_deref(), Some("About A"));
    assert_eq!(course_of(&lib, "Cat/A (2025)/S/1.md").await, a);
    let said = told(&r, "Cat/A");
    assert!(
        said.iter()
            .any(|m| m.contains("now Cat/A (2025)") && m.contains("keeps its id")),
        "{said:?}"
    );
    let old = lectern_core::LibraryPath::parse("Cat/A").unwrap();
    assert!(lib.store.course_by_path(&old).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_course_moved_to_another_category_and_a_renamed_category_keep_their_ids() {
    let lib = two_courses().await;
    lib.write("Other/K/S/k.md", "Other/K/S/k.md");
    lib.scan().await;
    let (a, b, k) = (
        lib.course_id("Cat/A").await,
        lib.course_id("Cat/B").await,
        lib.course_id("Other/K").await,
    );
    lib.rename("Cat/A", "Other/A");
    let r = lib.scan().await;
    assert_completed(&r);
    assert_eq!(lib.course_id("Other/A").await, a);
    let other = lib.store.course(a).await.unwrap().unwrap().category_id;
    assert_eq!(
        other,
        lib.store.course(k).await.unwrap().unwrap().category_id
    );

    let cat = lib.store.course(b).await.unwrap().unwrap().category_id;
    lib.write("Cat/B/README.md", "About B");
    lib.scan().await;
    lib.rename("Cat", "Category");
    let r = lib.scan().await;
    assert_completed(&r);
    assert_eq!((r.counts.moved, r.counts.removed), (4, 0), "{r:?}");
    let old = lectern_core::LibraryPath::parse("Cat/B").unwrap();
    assert!(
        lib.store.course_by_path(&old).await.unwrap().is_none(),
        "no course left behind"
    );
    let course = lib.store.course(b).await.unwrap().unwrap();
    assert_eq!(course.description.as_deref(), Some("About B"));
    assert_eq!(lib.course_id("Category/B").await, b);
    let course = lib.store.course(b).await.unwrap().unwrap();
    assert_eq!((course.category_id, course.name.as_str()), (cat, "B"));
    let names: Vec<String> = lib
        .store
        .categories()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["Category", "Other"]);
    let said = told(&r, "Cat");
    assert!(
        said.iter()
            .any(|m| m.contains("category folder is now Category")),
        "{said:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_with_edits_inside_keeps_the_id_when_most_files_moved() {
    let lib = Lib::new().await;
    for f in ["1.md", "2.md", "3.md", "4.md"] {
        lib.write(&format!("Cat/A/S/{f}"), format!("A {f}"));
    }
    lib.scan().await;
    let a = lib.course_id("Cat/A").await;
    lib.rename("Cat/A", "Cat/Z");
    lib.write("Cat/Z/S/4.md", "edited while renamed, longer");
    lib.write("Cat/Z/S/5.md", "added while renamed");
    let r = lib.scan().await;
    assert_completed(&r);
    assert_eq!(lib.course_id("Cat/Z").await, a, "{r:?}");
    assert_eq!(course_of(&lib, "Cat/Z/S/5.md").await, a);
    assert_eq!(course_of(&lib, "Cat/Z/S/4.md").await, a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_keeps_the_original_and_a_merge_keeps_the_larger_part_and_both_are_told() {
    let lib = Lib::new().await;
    for f in ["1.md", "2.md", "3.md"] {
        lib.write(&format!("Cat/A/S/{f}"), format!("A {f}"));
    }
    for f in ["1.md", "2.md"] {
        lib.write(&format!("Cat/B/S/{f}"), format!("B {f}"));
    }
    lib.scan().await;
    let (a, b) = (lib.course_id("Cat/A").await, lib.course_id("Cat/B").await);

    // A split: two of A's three files leave for a new folder; A stays.
    lib.rename("Cat/A/S/1.md", "Cat/A2/S/1.md");
    lib.rename("Cat/A/S/2.md", "Cat/A2/S/2.md");
    let r = lib.scan().await;
    assert_completed(&r);
    assert_eq!(lib.course_id("Cat/A").await, a);
    assert_ne!(lib.course_id("Cat/A2").await, a);
    let said = told(&r, "Cat/A");
    assert!(
        said.iter()
            .any(|m| m.contains("still there and keeps its id")),
        "{said:?}"
    );

    // A merge: A2 (2 files) and B (2 files) into one new folder M: equal,
    // so the first in natural order (A2) gives its id; B is told.
    let a2 = lib.course_id("Cat/A2").await;
    lib.rename("Cat/A2", "Cat/M");
    lib.rename("Cat/B/S/1.md", "Cat/M/T/1.md");
    lib.rename("Cat/B/S/2.md", "Cat/M/T/2.md");
    lib.remove("Cat/B");
    let r = lib.scan().await;
    assert_completed(&r);
    assert_eq!(lib.course_id("Cat/M").await, a2, "{r:?}");
    assert_eq!(course_of(&lib, "Cat/M/T/1.md").await, a2);
    let said = told(&r, "Cat/B");
    assert!(
        said.iter().any(|m| m.contains("keeps the id of Cat/A2")),
        "{said:?}"
    );
    let _ = b;
}
