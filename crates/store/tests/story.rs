//! One story of the store's contract, run against every backend: each
//! backend adds a line to `backends!` and must pass the same checks.

use lectern_core::scan::{IssueKind, ScanCounts, ScanIssue, ScanKind, ScanStatus};
use lectern_core::{CategoryId, CourseId, FileId, LibraryPath};
use lectern_store::*;
use std::sync::Arc;

struct Db {
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
    /// Dropped after the store closes (fields drop in order).
    _postgres: Option<lectern_testdb::TestDb>,
}

async fn sqlite() -> Option<Db> {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    Some(Db {
        store,
        _dir: dir,
        _postgres: None,
    })
}

/// A new database on the local PostgreSQL server; `None` (the test skips,
/// saying why) only when there is none and `CI` is unset.
async fn postgres() -> Option<Db> {
    let db = lectern_testdb::TestDb::create().await?;
    let store = open(db.url()).await.unwrap();
    Some(Db {
        store,
        _dir: tempfile::tempdir().unwrap(),
        _postgres: Some(db),
    })
}

macro_rules! backends {
    ($($backend:ident),*) => {
        $(mod $backend {
            macro_rules! story {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let Some(db) = super::$backend().await else {
                            return;
                        };
                        assert_eq!(db.store.backend(), stringify!($backend));
                        super::$name(&db.store).await;
                        db.store.close().await;
                    }
                };
            }
            story!(settings_round_trip);
            story!(the_lock_row_changes_hands_only_from_the_expected_token);
            story!(scan_history_keeps_counts_issues_and_interruptions);
            story!(the_index_applies_batches_and_loads_every_record_in_pages);
            #[cfg(unix)]
            story!(file_paths_that_are_not_utf8_are_kept_as_their_bytes);
            story!(cleanup_purges_missing_then_empty_courses_and_categories);
            story!(the_index_generation_changes_with_each_index_write_and_only_then);
            story!(a_course_generation_changes_with_writes_to_that_course_only);
            story!(listings_are_naturally_sorted);
            story!(groups_list_rename_and_drop_members_and_grants);
            story!(the_last_enabled_admin_is_never_demoted_disabled_or_deleted);
            story!(api_tokens_act_as_sessions_until_expired_revoked_or_their_owner_is_disabled);
            story!(search_finds_names_descriptions_and_prefixes_within_what_is_visible);
            story!(the_audit_log_lists_newest_first_filters_and_pages);
            story!(counted_audit_entries_grow_one_entry_per_key_and_period);
            story!(known_addresses_are_kept_per_account_and_forgotten_when_old);
            story!(users_sign_in_by_any_case_and_their_sessions_end_together);
            story!(progress_keeps_what_is_not_given_and_overviews_count_present_lessons);
            story!(a_snapshot_restores_every_row_but_keeps_the_lock_and_later_audit);
            story!(the_quick_check_finds_a_sound_index_sound_after_searches_and_writes);
            story!(courses_and_categories_move_and_rename_keeping_their_ids);
        })*
    };
}

backends!(sqlite, postgres);

fn p(s: &str) -> LibraryPath {
    LibraryPath::parse(s).unwrap()
}

fn facts(n: u64) -> FileFacts {
    FileFacts {
        size: n,
        mtime_ns: n as i64 * 1_000,
        sha256: lectern_core::Sha256Digest::from_hex(&format!("{n:064x}")).unwrap(),
        mime: "text/plain".into(),
        role: FileRole::Material,
        subtitle: None,
    }
}

async fn settings_round_trip(store: &Arc<dyn Store>) {
    assert_eq!(store.setting("library_root").await.unwrap(), None);
    store.set_setting("library_root", "/srv/a").await.unwrap();
    store.set_setting("library_root", "/srv/b").await.unwrap();
    assert_eq!(
        store.setting("library_root").await.unwrap().as_deref(),
        Some("/srv/b")
    );
    store
        .set_settings(&[("library_root", "/srv/c"), ("open_library", "true")])
        .await
        .unwrap();
    assert_eq!(
        store.setting("library_root").await.unwrap().as_deref(),
        Some("/srv/c")
    );
    assert_eq!(
        store.setting("open_library").await.unwrap().as_deref(),
        Some("true")
    );
    store.set_settings(&[]).await.unwrap();
    assert_eq!(
        store.setting("open_library").await.unwrap().as_deref(),
        Some("true"),
        "nothing given, nothing changed"
    );
}

async fn the_lock_row_changes_hands_only_from_the_expected_token(store: &Arc<dyn Store>) {
    // Leases go by the database's clock: here, the same machine's.
    let clock = store.clock().await.unwrap();
    assert!((clock - now_ms()).abs() < 5_000, "{clock} vs {}", now_ms());
    let lock = |token: &str| LockInfo {
        operation: "scan".into(),
        owner: lock::this_process("t"),
        token: token.into(),
        acquired_at: 1,
        expires_at: now_ms() + 60_000,
    };
    assert!(store.swap_lock(None, &lock("a")).await.unwrap());
    assert!(
        !store.swap_lock(None, &lock("b")).await.unwrap(),
        "taken while held"
    );
    assert!(
        !store.swap_lock(Some("zzz"), &lock("b")).await.unwrap(),
        "wrong token"
    );
    assert!(store.renew_lock("a", now_ms() + 1).await.unwrap());
    assert!(!store.renew_lock("b", now_ms() + 1).await.unwrap());
    assert!(store.swap_lock(Some("a"), &lock("b")).await.unwrap());
    store.release_lock("a").await.unwrap();
    assert_eq!(
        store.read_lock().await.unwrap().unwrap().token,
        "b",
        "a stale token released it"
    );
    store.release_lock("b").await.unwrap();
    assert!(store.read_lock().await.unwrap().is_none());
}

async fn scan_history_keeps_counts_issues_and_interruptions(store: &Arc<dyn Store>) {
    let new = NewScan {
        kind: ScanKind::Full,
        course_id: None,
        started_by: "t".into(),
        verify: true,
        forced: false,
    };
    let done = store.begin_scan(&new).await.unwrap();
    let issues = [
        ScanIssue::error("a/b/c", "denied"),
        ScanIssue::warning("x\ny", "odd name"),
    ];
    store.record_issues(done, &issues).await.unwrap();
    let counts = ScanCounts {
        added: 3,
        errors: 1,
        hashed_files: 3,
        hashed_bytes: 30,
        ..Default::default()
    };
    store
        .finish_scan(done, ScanStatus::Completed, None, &counts)
        .await
        .unwrap();
    let left_running = store.begin_scan(&new).await.unwrap();
    let so_far = ScanCounts {
        unchanged: 7,
        hashed_files: 2,
        ..Default::default()
    };
    store
        .update_scan_counts(left_running, &so_far)
        .await
        .unwrap();
    let running = store.scan(left_running).await.unwrap().unwrap();
    assert_eq!(
        (running.status, running.counts, running.finished_at),
        (ScanStatus::Running, so_far, None),
        "counts while it runs"
    );
    assert_eq!(store.interrupt_running_scans().await.unwrap(), 1);

    let record = store.scan(done).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.counts, record.verify),
        (ScanStatus::Completed, counts, true)
    );
    assert!(record.finished_at.is_some());
    assert_eq!(store.scan_issues(done).await.unwrap(), issues);
    assert_eq!(
        store.scan_issues(done).await.unwrap()[0].kind,
        IssueKind::Error
    );
    let interrupted = store.scan(left_running).await.unwrap().unwrap();
    assert_eq!(interrupted.status, ScanStatus::Interrupted);
    let ids: Vec<_> = store
        .scans(10, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, [left_running, done], "newest first");
    let older: Vec<_> = store
        .scans(10, 1)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(older, [done], "a page after the newest");
    assert!(store.scans(10, 2).await.unwrap().is_empty());
}

async fn the_index_applies_batches_and_loads_every_record_in_pages(store: &Arc<dyn Store>) {
    let courses = store
        .ensure_courses(&[p("Cat/A"), p("Cat/B")])
        .await
        .unwrap();
    let again = store.ensure_courses(&[p("Cat/A")]).await.unwrap();
    assert_eq!(
        again[&p("Cat/A")],
        courses[&p("Cat/A")],
        "ensure is idempotent"
    );
    let a = courses[&p("Cat/A")];
    // More records than one page of the scanner's load (1,000).
    let added: Vec<NewFile> = (0..12_345u64)
        .map(|n| NewFile {
            course_id: a,
            path: p(&format!("Cat/A/s/{n:05}.txt")),
            facts: facts(n),
        })
        .collect();
    store
        .apply(&ChangeBatch {
            added,
            ..Default::default()
        })
        .await
        .unwrap();
    let known = store.known_files(Scope::All).await.unwrap();
    assert_eq!(known.len(), 12_345);
    assert!(
        known.windows(2).all(|w| w[0].path < w[1].path),
        "in path order, no repeats"
    );
    assert_eq!(known[77].facts, facts(77));

    let mut known = known;
    known.sort_by(|a, b| a.path.cmp(&b.path));
    let (moved, gone) = (known[0].clone(), known[1].clone());
    let b = courses[&p("Cat/B")];
    let change = FileChange {
        id: moved.id,
        course_id: b,
        path: p("Cat/B/moved.txt"),
        facts: moved.facts.clone(),
    };
    let batch = ChangeBatch {
        changed: vec![change],
        missing: vec![gone.id],
        descriptions: vec![(b, Some("# B".into()))],
        ..Default::default()
    };
    store.apply(&batch).await.unwrap();
    let in_b = store.known_files(Scope::Course(b)).await.unwrap();
    assert_eq!(in_b.len(), 1);
    assert_eq!(
        (in_b[0].id, in_b[0].path.to_str().unwrap()),
        (moved.id, "Cat/B/moved.txt")
    );
    assert_eq!(
        store.file(gone.id).await.unwrap().unwrap().state,
        FileState::Missing
    );
    assert_eq!(
        store
            .course(b)
            .await
            .unwrap()
            .unwrap()
            .description
            .as_deref(),
        Some("# B")
    );
    assert_eq!(
        store.course_by_path(&p("Cat/B")).await.unwrap().unwrap().id,
        b
    );
    assert_eq!(store.course_by_path(&p("Cat/Z")).await.unwrap(), None);

    let every = store.all_files().await.unwrap();
    assert_eq!(every.len(), 12_345, "present and missing");
    assert!(
        every.windows(2).all(|w| w[0].path < w[1].path),
        "sorted by path"
    );
    let states: Vec<_> = every
        .iter()
        .filter(|f| f.state == FileState::Missing)
        .map(|f| f.id)
        .collect();
    assert_eq!(states, [gone.id]);
    assert!(every.iter().any(|f| f.path == "Cat/B/moved.txt"));
}

/// Files inside a course may have any name: one that is not UTF-8 is kept
/// as its exact bytes, read back equal, moved, linked as a subtitle's media
/// file and found by the words around its odd bytes; two names that differ
/// only in those bytes stay two files. Category and course names are text:
/// one that is not UTF-8 is refused as a whole, with nothing kept.
#[cfg(unix)]
async fn file_paths_that_are_not_utf8_are_kept_as_their_bytes(store: &Arc<dyn Store>) {
    let raw = |bytes: &[u8]| LibraryPath::from_bytes(bytes).unwrap();
    let bad_course = raw(b"Cat/K\xff");
    let refused = store
        .ensure_courses(&[p("Cat/A"), bad_course.clone()])
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("not named in valid UTF-8") && !refused.is_damage(),
        "{refused}"
    );
    assert!(
        store.courses(None).await.unwrap().is_empty(),
        "nothing made"
    );
    assert_eq!(store.course_by_path(&bad_course).await.unwrap(), None);

    let a = store.ensure_courses(&[p("Cat/A")]).await.unwrap()[&p("Cat/A")];
    let new = |path: LibraryPath, facts: FileFacts| NewFile {
        course_id: a,
        path,
        facts,
    };
    let mut captions = facts(4);
    captions.role = FileRole::Subtitle;
    captions.subtitle = Some(Box::new(SubtitleLink {
        media_path: raw(b"Cat/A/Le\xe7on \xfe.mp4"),
        lang: None,
    }));
    let added = vec![
        new(raw(b"Cat/A/Le\xe7on \xfe.mp4"), facts(1)),
        new(raw(b"Cat/A/Le\xe7on \xff.mp4"), facts(2)),
        new(p("Cat/A/Le\u{fffd}on \u{fffd}.mp4"), facts(3)),
        new(raw(b"Cat/A/Le\xe7on \xfe.srt"), captions),
    ];
    store
        .apply(&ChangeBatch {
            added,
            ..Default::default()
        })
        .await
        .unwrap();
    let every = store.all_files().await.unwrap();
    let paths: Vec<&[u8]> = every.iter().map(|f| f.path.as_bytes()).collect();
    for wanted in [
        &b"Cat/A/Le\xe7on \xfe.mp4"[..],
        b"Cat/A/Le\xe7on \xff.mp4",
        "Cat/A/Le\u{fffd}on \u{fffd}.mp4".as_bytes(),
        b"Cat/A/Le\xe7on \xfe.srt",
    ] {
        assert_eq!(
            paths.iter().filter(|p| **p == wanted).count(),
            1,
            "{} kept once, exactly",
            String::from_utf8_lossy(wanted)
        );
    }
    let subtitle = every.iter().find(|f| f.role == FileRole::Subtitle).unwrap();
    assert_eq!(
        subtitle.subtitle_for.clone().unwrap(),
        raw(b"Cat/A/Le\xe7on \xfe.mp4")
    );
    let shown = store.course_files(a).await.unwrap();
    assert_eq!(shown.len(), 4);
    assert!(shown
        .iter()
        .all(|f| f.name.starts_with("Le\u{fffd}on \u{fffd}.")));
    assert_eq!(
        found(store, "le", &Visibility::Everything, 10).await,
        ["File Le\u{fffd}on \u{fffd}.mp4"; 3],
        "every lesson found by the words around its odd bytes"
    );

    let first = every
        .iter()
        .find(|f| f.path.as_bytes() == b"Cat/A/Le\xe7on \xfe.mp4")
        .unwrap();
    let moved = FileChange {
        id: first.id,
        course_id: a,
        path: raw(b"Cat/A/Moved \xfe.mp4"),
        facts: facts(1),
    };
    store
        .apply(&ChangeBatch {
            changed: vec![moved],
            ..Default::default()
        })
        .await
        .unwrap();
    let after = store.file(first.id).await.unwrap().unwrap();
    assert_eq!(after.path, raw(b"Cat/A/Moved \xfe.mp4"));
    assert_eq!(
        found(store, "moved", &Visibility::Everything, 10).await,
        ["File Moved \u{fffd}.mp4"]
    );
    assert_eq!(
        found(store, "le", &Visibility::Everything, 10).await.len(),
        2
    );
}

/// Reads, settings and progress leave the generation as it is; every
/// write to the index gives a new one.
async fn the_index_generation_changes_with_each_index_write_and_only_then(store: &Arc<dyn Store>) {
    let mut seen = vec![store.index_generation().await.unwrap()];
    let mut changed = |now: i64, what: &str| {
        assert!(!seen.contains(&now), "{what} gave an earlier generation");
        seen.push(now);
    };
    let ids = store.ensure_courses(&[p("Cat/A")]).await.unwrap();
    changed(store.index_generation().await.unwrap(), "a new course");
    let a = ids[&p("Cat/A")];
    store
        .apply(&ChangeBatch {
            added: vec![NewFile {
                course_id: a,
                path: p("Cat/A/one.txt"),
                facts: facts(1),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let after_apply = store.index_generation().await.unwrap();
    changed(after_apply, "a batch");
    store.courses(None).await.unwrap();
    store.course_files(a).await.unwrap();
    store
        .set_settings(&[("library.open", "true")])
        .await
        .unwrap();
    assert_eq!(
        store.index_generation().await.unwrap(),
        after_apply,
        "reads and settings leave it"
    );
    store.move_course(a, &p("Other/A")).await.unwrap();
    changed(store.index_generation().await.unwrap(), "a course moved");
    store.cleanup().await.unwrap();
    changed(store.index_generation().await.unwrap(), "a cleanup");
}

/// A course's generation follows writes to its record and its files, and
/// to no other course's; an unknown id has the index's.
async fn a_course_generation_changes_with_writes_to_that_course_only(store: &Arc<dyn Store>) {
    let ids = store
        .ensure_courses(&[p("Cat/A"), p("Cat/B"), p("Far/C")])
        .await
        .unwrap();
    let (a, b, c) = (ids[&p("Cat/A")], ids[&p("Cat/B")], ids[&p("Far/C")]);
    let now = || async {
        let mut all = Vec::new();
        for id in [a, b, c] {
            all.push(store.course_generation(id).await.unwrap());
        }
        all
    };
    let file = |course, path: &str, n| NewFile {
        course_id: course,
        path: p(path),
        facts: facts(n),
    };
    // C holds a file, so the cleanup at the end keeps it.
    let batch = ChangeBatch {
        added: vec![file(c, "Far/C/three.txt", 3)],
        ..Default::default()
    };
    store.apply(&batch).await.unwrap();
    let before = now().await;
    assert_eq!(
        store.course_generation(CourseId(999_999)).await.unwrap(),
        store.index_generation().await.unwrap(),
        "an unknown id has the index generation"
    );
    let added = vec![file(a, "Cat/A/one.txt", 1), file(a, "Cat/A/two.txt", 2)];
    let batch = ChangeBatch {
        added,
        ..Default::default()
    };
    store.apply(&batch).await.unwrap();
    let after_a = now().await;
    assert_ne!(after_a[0], before[0], "files added to A change A");
    assert_eq!(after_a[1..], before[1..], "and no other course");

    let one = store.course_files(a).await.unwrap()[0].id;
    let moved = FileChange {
        id: one,
        course_id: b,
        path: p("Cat/B/one.txt"),
        facts: facts(1),
    };
    let batch = ChangeBatch {
        changed: vec![moved],
        ..Default::default()
    };
    store.apply(&batch).await.unwrap();
    let after_move = now().await;
    assert_ne!(after_move[0], after_a[0], "a file leaving A changes A");
    assert_ne!(after_move[1], after_a[1], "and B, which it went into");
    assert_eq!(after_move[2], after_a[2], "but not C");

    let (record, at) = store.file_at(one).await.unwrap().unwrap();
    assert_eq!(record, store.file(one).await.unwrap().unwrap());
    assert_eq!(
        at, after_move[1],
        "a file comes with its course's generation"
    );
    assert!(store.file_at(FileId(999_999)).await.unwrap().is_none());

    let two = store.course_files(a).await.unwrap()[0].id;
    let batch = ChangeBatch {
        missing: vec![two],
        ..Default::default()
    };
    store.apply(&batch).await.unwrap();
    let after_missing = now().await;
    assert_ne!(after_missing[0], after_move[0], "a file of A gone missing");
    assert_eq!(after_missing[1..], after_move[1..]);

    store.courses(None).await.unwrap();
    store.set_setting("library.open", "true").await.unwrap();
    assert_eq!(now().await, after_missing, "reads and settings leave them");

    let cat = store.categories().await.unwrap();
    let cat = cat.iter().find(|k| k.name == "Cat").unwrap().id;
    store.rename_category(cat, &p("Cats")).await.unwrap();
    let after_rename = now().await;
    assert_ne!(
        after_rename[0], after_missing[0],
        "a category renamed: A's path"
    );
    assert_ne!(after_rename[1], after_missing[1], "and B's");
    assert_eq!(
        after_rename[2], after_missing[2],
        "not C, in another category"
    );

    store.move_course(c, &p("Cats/C")).await.unwrap();
    let after_course_move = now().await;
    assert_ne!(after_course_move[2], after_rename[2], "a course moved");
    assert_eq!(after_course_move[..2], after_rename[..2]);

    store.cleanup().await.unwrap();
    let after_cleanup = now().await;
    assert_ne!(
        after_cleanup[0], after_course_move[0],
        "A's missing file purged"
    );
    assert_eq!(after_cleanup[1..], after_course_move[1..]);
}

async fn cleanup_purges_missing_then_empty_courses_and_categories(store: &Arc<dyn Store>) {
    let courses = store
        .ensure_courses(&[p("Keep/K"), p("Drop/D")])
        .await
        .unwrap();
    let file = |course: CourseId, path: &str, n| NewFile {
        course_id: course,
        path: p(path),
        facts: facts(n),
    };
    let added = vec![
        file(courses[&p("Keep/K")], "Keep/K/s/a", 1),
        file(courses[&p("Drop/D")], "Drop/D/s/b", 2),
    ];
    store
        .apply(&ChangeBatch {
            added,
            ..Default::default()
        })
        .await
        .unwrap();
    let gone = store
        .known_files(Scope::Course(courses[&p("Drop/D")]))
        .await
        .unwrap()[0]
        .id;
    store
        .apply(&ChangeBatch {
            missing: vec![gone],
            ..Default::default()
        })
        .await
        .unwrap();

    // The summary counts by state and foretells the cleanup exactly.
    let summary = store.index_summary(10).await.unwrap();
    assert_eq!((summary.categories, summary.courses), (2, 2), "{summary:?}");
    assert_eq!(
        (
            summary.files_present,
            summary.files_missing,
            summary.bytes_present
        ),
        (1, 1, 1)
    );
    assert_eq!(summary.missing_sample, ["Drop/D/s/b"]);
    assert!(store
        .index_summary(0)
        .await
        .unwrap()
        .missing_sample
        .is_empty());
    let removed = store.cleanup().await.unwrap();
    assert_eq!(removed, summary.orphans, "the summary foretold the cleanup");
    assert_eq!(
        removed,
        CleanupCounts {
            files: 1,
            courses: 1,
            categories: 1
        }
    );
    let names: Vec<String> = store
        .categories()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["Keep"]);
    // Ids are never handed out again, even after the row holding one is gone.
    let again = store.ensure_courses(&[p("Drop/D")]).await.unwrap();
    assert!(again[&p("Drop/D")].0 > courses[&p("Drop/D")].0);
}

async fn listings_are_naturally_sorted(store: &Arc<dyn Store>) {
    let courses = store
        .ensure_courses(&[p("cat/10 Advanced"), p("cat/2 Basics"), p("Cat/1 Intro")])
        .await
        .unwrap();
    let names: Vec<String> = store
        .categories()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["Cat", "cat"]);
    let lower: Vec<String> = store
        .courses(None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(lower, ["1 Intro", "2 Basics", "10 Advanced"]);
    let course = courses[&p("cat/2 Basics")];
    let added = ["10 b/x", "2 a/y", "2 a/10 z", "2 a/9 z"]
        .iter()
        .enumerate()
        .map(|(n, f)| NewFile {
            course_id: course,
            path: p(&format!("cat/2 Basics/{f}")),
            facts: facts(n as u64),
        })
        .collect();
    store
        .apply(&ChangeBatch {
            added,
            ..Default::default()
        })
        .await
        .unwrap();
    let files: Vec<String> = store
        .course_files(course)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(files, ["9 z", "10 z", "y", "x"]);
    let lower_case = store.course(course).await.unwrap().unwrap().category_id;
    let in_it: Vec<String> = store
        .courses(Some(lower_case))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(in_it, ["2 Basics", "10 Advanced"], "one category's");
}

/// Search hits as `kind name` lines, for short assertions.
async fn found(store: &Arc<dyn Store>, text: &str, seen: &Visibility, limit: u32) -> Vec<String> {
    let query = SearchQuery::parse(text).unwrap();
    store
        .search(&query, seen, limit)
        .await
        .unwrap_or_else(|e| panic!("searching {text:?}: {e}"))
        .into_iter()
        .map(|h| format!("{:?} {}", h.kind, h.name))
        .collect()
}

async fn search_finds_names_descriptions_and_prefixes_within_what_is_visible(
    store: &Arc<dyn Store>,
) {
    let all = Visibility::Everything;
    let courses = store
        .ensure_courses(&[
            p("Design/Colour Theory"),
            p("Languages/Spanish A1"),
            p("Programming/Rust Basics"),
        ])
        .await
        .unwrap();
    let (design, spanish, rust) = (
        courses[&p("Design/Colour Theory")],
        courses[&p("Languages/Spanish A1")],
        courses[&p("Programming/Rust Basics")],
    );
    let m = FileRole::Material;
    let added = [
        (
            spanish,
            "Languages/Spanish A1/02 Food and Drink/01 At the Café.txt",
            m,
        ),
        (
            spanish,
            "Languages/Spanish A1/01 Greetings/01 Welcome.md",
            m,
        ),
        (
            design,
            "Design/Colour Theory/01 Seeing Colour/01 Hue Value.md",
            m,
        ),
        (
            rust,
            "Programming/Rust Basics/01 Introduction/01 Welcome.md",
            m,
        ),
        (
            rust,
            "Programming/Rust Basics/03 Ownership/02 borrowing.rs",
            m,
        ),
        (
            rust,
            "Programming/Rust Basics/README.md",
            FileRole::Description,
        ),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (course_id, path, role))| NewFile {
        course_id,
        path: p(path),
        facts: FileFacts {
            role,
            ..facts(n as u64)
        },
    })
    .collect();
    let spanish_text = "¡Bienvenidos!\n\nOrdering food and asking for the bill.";
    let rust_text = "A first course in Rust, the language of speed.";
    let descriptions = vec![
        (spanish, Some(spanish_text.into())),
        (rust, Some(rust_text.into())),
    ];
    store
        .apply(&ChangeBatch {
            added,
            descriptions,
            ..Default::default()
        })
        .await
        .unwrap();

    // Prefixes of names, files with their place in the course.
    assert_eq!(
        found(store, "borrow", &all, 20).await,
        ["File 02 borrowing.rs"]
    );
    let query = SearchQuery::parse("BORR").unwrap();
    let hit = &store.search(&query, &all, 20).await.unwrap()[0];
    assert_eq!(
        (hit.path.as_deref(), hit.course_name.as_str(), hit.course_id),
        (Some("03 Ownership/02 borrowing.rs"), "Rust Basics", rust)
    );
    assert_eq!(
        found(store, "colour theory", &all, 20).await,
        ["Course Colour Theory"]
    );
    assert!(
        found(store, "col", &all, 20)
            .await
            .contains(&"File 01 Hue Value.md".to_owned()),
        "found by its folder"
    );
    // Descriptions, with a snippet of the text around the word.
    let query = SearchQuery::parse("bill").unwrap();
    let hits = store.search(&query, &all, 20).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(
        (hits[0].kind, hits[0].course_id),
        (HitKind::Course, spanish)
    );
    let snippet = hits[0].snippet.as_deref().unwrap();
    assert_eq!(
        snippet, "¡Bienvenidos! Ordering food and asking for the bill.",
        "one line"
    );
    // Diacritics and case do not matter, either way round.
    assert_eq!(
        found(store, "cafe", &all, 20).await,
        ["File 01 At the Café.txt"]
    );
    assert_eq!(
        found(store, "BIENVENIDÓS", &all, 20).await,
        ["Course Spanish A1"]
    );
    // Every word must match; the README belongs to its course, not the results.
    assert_eq!(
        found(store, "welcome rust", &all, 20).await,
        Vec::<String>::new()
    );
    assert_eq!(found(store, "readme", &all, 20).await, Vec::<String>::new());

    // Only what is visible, and hidden hits take no place in the limit: in
    // id order Rust's Welcome comes first, yet Spanish's is the answer.
    assert_eq!(found(store, "welcome", &all, 20).await.len(), 2);
    assert_eq!(found(store, "welcome", &all, 1).await.len(), 1);
    let only_spanish = Visibility::Only {
        categories: Default::default(),
        courses: [spanish].into(),
    };
    let query = SearchQuery::parse("welcome").unwrap();
    let hits = store.search(&query, &only_spanish, 1).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].course_id, hits[0].kind), (spanish, HitKind::File));
    let only_design = Visibility::Only {
        categories: [store.course(design).await.unwrap().unwrap().category_id].into(),
        courses: Default::default(),
    };
    assert_eq!(
        found(store, "welcome", &only_design, 20).await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(store, "hue", &only_design, 20).await,
        ["File 01 Hue Value.md"]
    );

    // Missing files are not found; a renamed file is, by its new name only.
    let known = store.known_files(Scope::Course(rust)).await.unwrap();
    let id_of = |name: &str| {
        known
            .iter()
            .find(|k| k.path.name() == name.as_bytes())
            .unwrap()
            .clone()
    };
    let (welcome, borrowing) = (id_of("01 Welcome.md"), id_of("02 borrowing.rs"));
    let renamed = FileChange {
        id: borrowing.id,
        course_id: rust,
        path: p("Programming/Rust Basics/03 Ownership/02 references.rs"),
        facts: borrowing.facts.clone(),
    };
    store
        .apply(&ChangeBatch {
            missing: vec![welcome.id],
            changed: vec![renamed],
            ..Default::default()
        })
        .await
        .unwrap();
    let query = SearchQuery::parse("welcome").unwrap();
    let hits = store.search(&query, &all, 20).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].course_id, spanish, "the missing one is gone");
    assert_eq!(
        found(store, "borrowing", &all, 20).await,
        Vec::<String>::new()
    );
    let query = SearchQuery::parse("refer").unwrap();
    let hits = store.search(&query, &all, 20).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].file_id, Some(borrowing.id), "same file, new name");

    // Typed text is never search syntax: none of these is an error.
    for hostile in [
        "\"",
        "*",
        "NEAR(",
        "NEAR(a b)",
        "-rust",
        "name:rust",
        "a:b",
        "\"unclosed",
        "(",
        ")",
        "AND",
        "OR NOT",
        "^start",
        "{name section}: x",
        "café*\"",
        "x\0y",
    ] {
        found(store, hostile, &all, 20).await;
    }
    assert_eq!(
        found(store, "name:Colour", &all, 20).await,
        Vec::<String>::new()
    );
    // Quotes and operators are only characters around the words.
    assert_eq!(
        found(store, "\"cafe\" -", &all, 20).await,
        ["File 01 At the Café.txt"]
    );

    // What cannot be asked.
    assert_eq!(SearchQuery::parse(" \t\n"), Err(QueryError::Empty));
    assert_eq!(SearchQuery::parse(""), Err(QueryError::Empty));
    assert_eq!(
        SearchQuery::parse(&"a".repeat(201)),
        Err(QueryError::TooLong)
    );
    assert!(
        SearchQuery::parse(&"é".repeat(200)).is_ok(),
        "characters, not bytes"
    );

    // Courses purged by a cleanup are no longer found.
    store
        .apply(&ChangeBatch {
            missing: known.iter().map(|k| k.id).collect(),
            ..Default::default()
        })
        .await
        .unwrap();
    store.cleanup().await.unwrap();
    assert_eq!(found(store, "rust", &all, 20).await, Vec::<String>::new());
}

async fn person(store: &Arc<dyn Store>, name: &str, role: Role) -> User {
    let new = NewUser {
        username: name.into(),
        password_hash: format!("hash of {name}"),
        role,
    };
    store.create_user(&new).await.unwrap()
}

fn only(categories: &[CategoryId], courses: &[CourseId]) -> Visibility {
    Visibility::Only {
        categories: categories.iter().copied().collect(),
        courses: courses.iter().copied().collect(),
    }
}

async fn groups_list_rename_and_drop_members_and_grants(store: &Arc<dyn Store>) {
    let courses = store
        .ensure_courses(&[p("Cat/A"), p("Cat/B")])
        .await
        .unwrap();
    let a = courses[&p("Cat/A")];
    let cat = store.categories().await.unwrap()[0].id;
    let alice = person(store, "alice", Role::User).await;
    let bob = person(store, "bob", Role::User).await;
    let staff = store.create_group("staff").await.unwrap();
    let beta = store.create_group("Beta").await.unwrap();
    for user in [&bob, &alice] {
        store.add_member(staff, user.id).await.unwrap();
    }
    store.add_grant(staff, Grant::Course(a)).await.unwrap();
    store.add_grant(staff, Grant::Category(cat)).await.unwrap();

    let listed: Vec<_> = store
        .groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.name, g.member_count, g.grant_count))
        .collect();
    assert_eq!(listed, [("Beta".into(), 0, 0), ("staff".to_owned(), 2, 2)]);
    let members: Vec<_> = store.group_members(staff).await.unwrap();
    assert_eq!(members, [alice.clone(), bob.clone()], "sorted by name");
    let grants = store.group_grants(staff).await.unwrap();
    let shown: Vec<_> = grants
        .iter()
        .map(|g| (g.grant, g.path.to_str().unwrap()))
        .collect();
    assert_eq!(
        shown,
        [(Grant::Course(a), "Cat/A"), (Grant::Category(cat), "Cat")]
    );
    assert_eq!(store.granted(alice.id).await.unwrap(), only(&[cat], &[a]));

    assert!(
        !store.remove_grant(beta, grants[1].id).await.unwrap(),
        "a grant is removed only through its own group"
    );
    assert!(store.remove_grant(staff, grants[1].id).await.unwrap());
    assert_eq!(store.granted(alice.id).await.unwrap(), only(&[], &[a]));
    assert!(store.remove_member(staff, alice.id).await.unwrap());
    assert!(!store.remove_member(staff, alice.id).await.unwrap());
    assert_eq!(store.granted(alice.id).await.unwrap(), only(&[], &[]));

    assert!(matches!(
        store.rename_group(staff, "Beta").await,
        Err(StoreError::Conflict(_))
    ));
    let renamed = store.rename_group(staff, "Staff").await.unwrap().unwrap();
    assert_eq!((renamed.id, renamed.name.as_str()), (staff, "Staff"));
    assert_eq!(store.rename_group(GroupId(999), "x").await.unwrap(), None);

    assert!(store.delete_group(staff).await.unwrap());
    assert!(!store.delete_group(staff).await.unwrap());
    assert_eq!(store.group(staff).await.unwrap(), None);
    assert_eq!(store.granted(bob.id).await.unwrap(), only(&[], &[]));
    assert_eq!(store.user(bob.id).await.unwrap(), Some(bob), "members stay");
}

async fn the_last_enabled_admin_is_never_demoted_disabled_or_deleted(store: &Arc<dyn Store>) {
    let root = person(store, "root", Role::Admin).await;
    let demote = UserChanges {
        role: Some(Role::User),
        ..Default::default()
    };
    let disable = UserChanges {
        disabled: Some(true),
        ..Default::default()
    };
    let enable = UserChanges {
        disabled: Some(false),
        ..Default::default()
    };
    for changes in [&demote, &disable] {
        let refused = store.update_user(root.id, changes).await;
        assert!(
            matches!(refused, Err(StoreError::Conflict(_))),
            "{refused:?}"
        );
    }
    assert!(matches!(
        store.delete_user(root.id).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.user(root.id).await.unwrap(), Some(root.clone()));
    let new_password = UserChanges {
        password_hash: Some("new".into()),
        ..Default::default()
    };
    assert!(store.update_user(root.id, &new_password).await.is_ok());

    let second = person(store, "second", Role::Admin).await;
    let root_now = store.update_user(root.id, &demote).await.unwrap().unwrap();
    assert_eq!(root_now.role, Role::User);
    let promote_disabled = UserChanges {
        role: Some(Role::Admin),
        disabled: Some(true),
        ..Default::default()
    };
    store.update_user(root.id, &promote_disabled).await.unwrap();
    assert!(
        matches!(
            store.delete_user(second.id).await,
            Err(StoreError::Conflict(_))
        ),
        "a disabled admin does not count"
    );
    store.update_user(root.id, &enable).await.unwrap();
    assert!(store.delete_user(second.id).await.unwrap());
    assert_eq!(store.count_admins().await.unwrap(), 1);
    assert_eq!(
        store.update_user(UserId(999), &disable).await.unwrap(),
        None
    );
    assert!(!store.delete_user(UserId(999)).await.unwrap());
}

async fn api_tokens_act_as_sessions_until_expired_revoked_or_their_owner_is_disabled(
    store: &Arc<dyn Store>,
) {
    person(store, "boss", Role::Admin).await;
    let cron = person(store, "cron", Role::User).await;
    let token = |name: &str, hash: &str, expires_at| NewApiToken {
        name: name.into(),
        user_id: cron.id,
        token_hash: hash.into(),
        csrf_token: format!("csrf of {hash}"),
        expires_at,
    };
    let forever = store
        .create_api_token(&token("nightly scan", "h1", None))
        .await
        .unwrap();
    assert_eq!(
        (forever.name.as_str(), forever.username.as_str()),
        ("nightly scan", "cron")
    );
    assert_eq!((forever.expires_at, forever.last_used_at), (None, None));
    let session = store.session("h1").await.unwrap().unwrap();
    assert_eq!(
        (session.kind, session.user.id, session.expires_at),
        (SessionKind::Api, cron.id, i64::MAX)
    );
    assert_eq!(session.csrf_token, "csrf of h1");
    let listed = store.api_tokens().await.unwrap();
    assert!(listed[0].last_used_at.is_some(), "the use is recorded");
    assert!(matches!(
        store.create_api_token(&token("again", "h1", None)).await,
        Err(StoreError::Conflict(_))
    ));

    let soon = now_ms() + 60_000;
    store
        .create_api_token(&token("later", "h2", Some(soon)))
        .await
        .unwrap();
    assert_eq!(store.session("h2").await.unwrap().unwrap().expires_at, soon);
    store
        .create_api_token(&token("old", "h3", Some(now_ms() - 1)))
        .await
        .unwrap();
    assert!(store.session("h3").await.unwrap().is_none(), "expired");

    store.delete_session("h1").await.unwrap();
    assert!(
        store.session("h1").await.unwrap().is_some(),
        "ending login sessions leaves API tokens alone"
    );
    let disable = |disabled| UserChanges {
        disabled: Some(disabled),
        ..Default::default()
    };
    store.update_user(cron.id, &disable(true)).await.unwrap();
    assert!(
        store.session("h1").await.unwrap().is_none(),
        "owner disabled"
    );
    store.update_user(cron.id, &disable(false)).await.unwrap();
    assert!(store.session("h1").await.unwrap().is_some());

    assert!(store.delete_api_token(forever.id).await.unwrap());
    assert!(!store.delete_api_token(forever.id).await.unwrap());
    assert!(store.session("h1").await.unwrap().is_none(), "revoked");
    assert_eq!(store.api_tokens().await.unwrap().len(), 2);
    let login = NewSession {
        token_hash: "s1".into(),
        user_id: cron.id,
        kind: SessionKind::Web,
        csrf_token: "c".into(),
        expires_at: soon,
    };
    store.create_session(&login).await.unwrap();
    assert!(store.delete_user(cron.id).await.unwrap());
    assert!(store.session("s1").await.unwrap().is_none());
    assert!(
        store.api_tokens().await.unwrap().is_empty(),
        "tokens go with their owner"
    );
}

async fn the_audit_log_lists_newest_first_filters_and_pages(store: &Arc<dyn Store>) {
    let empty = store.audit(&AuditQuery::default()).await.unwrap();
    assert_eq!((empty.entries.len(), empty.next_before), (0, None));

    let entry = |at: i64, actor: &str, action: &str| NewAuditEntry {
        created_at: at,
        ..NewAuditEntry::now(actor, action)
    };
    let full = NewAuditEntry {
        actor_id: Some(UserId(7)),
        target: Some("id=3".into()),
        detail: Some(r#"{"error":"conflict"}"#.into()),
        outcome: Outcome::Failed,
        status: Some(409),
        address: Some("10.0.0.1".into()),
        ..entry(1_000, "user:alice", "group.create")
    };
    let first = store.record_audit(&full).await.unwrap();
    for (at, actor, action) in [
        (2_000, "user:alice", "group.grant.add"),
        (3_000, "cli:root", "user.create"),
        (4_000, "user:bob", "groups.odd"),
        (5_000, "user:alice", "group"),
    ] {
        store.record_audit(&entry(at, actor, action)).await.unwrap();
    }

    let all = store.audit(&AuditQuery::default()).await.unwrap();
    let times: Vec<i64> = all.entries.iter().map(|e| e.created_at).collect();
    assert_eq!(times, [5_000, 4_000, 3_000, 2_000, 1_000], "newest first");
    assert_eq!(all.next_before, None);
    let stored = all.entries.last().unwrap();
    assert_eq!(stored.id, first);
    assert_eq!(
        (
            stored.actor_id,
            stored.target.as_deref(),
            stored.detail.as_deref()
        ),
        (
            Some(UserId(7)),
            Some("id=3"),
            Some(r#"{"error":"conflict"}"#)
        )
    );
    assert_eq!(
        (stored.outcome, stored.status, stored.address.as_deref()),
        (Outcome::Failed, Some(409), Some("10.0.0.1"))
    );
    assert_eq!(all.entries[0].outcome, Outcome::Ok);

    let actions =
        |page: AuditPage| -> Vec<String> { page.entries.into_iter().map(|e| e.action).collect() };
    let by_action = AuditQuery {
        action: Some("group".into()),
        ..AuditQuery::default()
    };
    assert_eq!(
        actions(store.audit(&by_action).await.unwrap()),
        ["group", "group.grant.add", "group.create"],
        "a dotted prefix, not `groups`"
    );
    let by_actor = AuditQuery {
        actor: Some("user:alice".into()),
        since: Some(2_000),
        until: Some(5_000),
        ..AuditQuery::default()
    };
    assert_eq!(
        actions(store.audit(&by_actor).await.unwrap()),
        ["group.grant.add"],
        "since is inclusive, until exclusive"
    );
    let odd = AuditQuery {
        action: Some("%".into()),
        ..AuditQuery::default()
    };
    assert!(store.audit(&odd).await.unwrap().entries.is_empty());

    let mut query = AuditQuery {
        limit: 2,
        ..AuditQuery::default()
    };
    let mut pages = Vec::new();
    loop {
        let page = store.audit(&query).await.unwrap();
        assert!(page.entries.len() <= 2);
        pages.push(
            page.entries
                .iter()
                .map(|e| e.created_at)
                .collect::<Vec<_>>(),
        );
        match page.next_before {
            Some(before) => query.before_id = Some(before),
            None => break,
        }
    }
    assert_eq!(pages, [vec![5_000, 4_000], vec![3_000, 2_000], vec![1_000]]);
    query.limit = 5;
    query.before_id = None;
    assert_eq!(
        store.audit(&query).await.unwrap().next_before,
        None,
        "exactly full"
    );
    query.limit = 10_000;
    assert_eq!(query.page_size(), MAX_AUDIT_PAGE);
}

async fn counted_audit_entries_grow_one_entry_per_key_and_period(store: &Arc<dyn Store>) {
    let failed = |at: i64, target: &str, address: Option<&str>, status: u16| NewAuditEntry {
        created_at: at,
        target: Some(target.into()),
        detail: Some(format!(r#"{{"error":"e{status}"}}"#)),
        outcome: Outcome::Failed,
        status: Some(status),
        address: address.map(str::to_owned),
        ..NewAuditEntry::now("anonymous", "session.login")
    };
    let alice = "username=alice";
    let here = Some("10.0.0.1");
    let first = store
        .record_audit_counted(&failed(60_000, alice, here, 401), 60_000)
        .await
        .unwrap();
    for status in [401, 429] {
        let same = failed(70_000, alice, here, status);
        assert_eq!(
            store.record_audit_counted(&same, 60_000).await.unwrap(),
            first
        );
    }
    // Another target, another address (or none), the next period: each
    // its own entry.
    let others = [
        (failed(70_000, "username=bob", here, 401), 60_000),
        (failed(70_000, alice, Some("10.0.0.2"), 401), 60_000),
        (failed(70_000, alice, None, 401), 60_000),
        (failed(70_000, alice, None, 401), 60_000),
        (failed(120_000, alice, here, 401), 120_000),
    ];
    for (entry, since) in &others {
        store.record_audit_counted(entry, *since).await.unwrap();
    }
    let all = store.audit(&AuditQuery::default()).await.unwrap().entries;
    let seen: Vec<_> = all
        .iter()
        .map(|e| {
            (
                e.target.as_deref(),
                e.address.as_deref(),
                e.detail.as_deref(),
                e.status,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                Some(alice),
                here,
                Some(r#"{"error":"e401","count":1}"#),
                Some(401)
            ),
            (
                Some(alice),
                None,
                Some(r#"{"error":"e401","count":2}"#),
                Some(401)
            ),
            (
                Some(alice),
                Some("10.0.0.2"),
                Some(r#"{"error":"e401","count":1}"#),
                Some(401)
            ),
            (
                Some("username=bob"),
                here,
                Some(r#"{"error":"e401","count":1}"#),
                Some(401)
            ),
            (
                Some(alice),
                here,
                Some(r#"{"error":"e429","count":3}"#),
                Some(429)
            ),
        ],
        "newest first; the first entry counted three and took the last status"
    );
    assert_eq!(all[4].id, first);
    assert_eq!(all[4].created_at, 60_000, "an entry keeps when it began");
}

async fn known_addresses_are_kept_per_account_and_forgotten_when_old(store: &Arc<dyn Store>) {
    let alice = person(store, "alice", Role::User).await.id;
    let bob = person(store, "bob", Role::User).await.id;
    let now = now_ms();
    assert!(!store.known_address(alice, "10.0.0.1", 0).await.unwrap());
    store.remember_address(alice, "10.0.0.1", 0).await.unwrap();
    assert!(store.known_address(alice, "10.0.0.1", now).await.unwrap());
    assert!(
        !store.known_address(bob, "10.0.0.1", 0).await.unwrap(),
        "per account"
    );
    assert!(!store.known_address(alice, "10.0.0.2", 0).await.unwrap());
    assert!(
        !store
            .known_address(alice, "10.0.0.1", now_ms() + 1_000)
            .await
            .unwrap(),
        "not seen since then"
    );

    // Only the newest MAX_KNOWN_ADDRESSES stay for one account.
    for i in 0..MAX_KNOWN_ADDRESSES {
        store
            .remember_address(bob, &format!("10.1.0.{i}"), 0)
            .await
            .unwrap();
    }
    store.remember_address(bob, "10.2.0.1", 0).await.unwrap();
    assert!(store.known_address(bob, "10.2.0.1", 0).await.unwrap());
    let kept = {
        let mut n = 0;
        for i in 0..MAX_KNOWN_ADDRESSES {
            n += i64::from(
                store
                    .known_address(bob, &format!("10.1.0.{i}"), 0)
                    .await
                    .unwrap(),
            );
        }
        n
    };
    assert_eq!(kept, MAX_KNOWN_ADDRESSES - 1);
    assert!(
        store.known_address(alice, "10.0.0.1", 0).await.unwrap(),
        "alice keeps hers"
    );

    // Addresses last seen before the cut-off are forgotten, every account's
    // (alice's was last seen before the cut, bob's is seen after it).
    let cut = now_ms() + 1;
    while now_ms() < cut {
        tokio::task::yield_now().await;
    }
    store.remember_address(bob, "10.2.0.1", cut).await.unwrap();
    assert!(!store.known_address(alice, "10.0.0.1", 0).await.unwrap());
    assert!(store.known_address(bob, "10.2.0.1", 0).await.unwrap());
    store.delete_user(bob).await.unwrap();
    assert!(!store.known_address(bob, "10.2.0.1", 0).await.unwrap());
}

async fn users_sign_in_by_any_case_and_their_sessions_end_together(store: &Arc<dyn Store>) {
    let zoe = person(store, "Zoe", Role::User).await;
    let adam = person(store, "adam", Role::Admin).await;
    let names: Vec<String> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["adam", "Zoe"], "sorted by name, whatever the case");
    let (found, hash) = store.user_login("zOE").await.unwrap().unwrap();
    assert_eq!((found, hash.as_str()), (zoe.clone(), "hash of Zoe"));
    assert!(store.user_login("nobody").await.unwrap().is_none());
    assert!(
        matches!(
            store
                .create_user(&NewUser {
                    username: "ZOE".into(),
                    password_hash: "x".into(),
                    role: Role::User,
                })
                .await,
            Err(StoreError::Conflict(_))
        ),
        "names are unique whatever the case"
    );

    let login = |hash: &str, user: &User| NewSession {
        token_hash: hash.into(),
        user_id: user.id,
        kind: SessionKind::Web,
        csrf_token: format!("csrf of {hash}"),
        expires_at: now_ms() + 60_000,
    };
    for (hash, user) in [("z1", &zoe), ("z2", &zoe), ("a1", &adam)] {
        store.create_session(&login(hash, user)).await.unwrap();
    }
    let web = store.session("z1").await.unwrap().unwrap();
    assert_eq!(
        (web.kind, web.user.id, web.csrf_token.as_str()),
        (SessionKind::Web, zoe.id, "csrf of z1")
    );
    store
        .create_api_token(&NewApiToken {
            name: "zoe's script".into(),
            user_id: zoe.id,
            token_hash: "zt".into(),
            csrf_token: "c".into(),
            expires_at: None,
        })
        .await
        .unwrap();

    store.delete_user_sessions(zoe.id).await.unwrap();
    assert!(store.session("z1").await.unwrap().is_none());
    assert!(store.session("z2").await.unwrap().is_none());
    assert!(store.session("a1").await.unwrap().is_some(), "others stay");
    assert_eq!(
        store.session("zt").await.unwrap().map(|s| s.kind),
        Some(SessionKind::Api),
        "API tokens are not sessions to end"
    );
    let expired = NewSession {
        expires_at: now_ms() - 1,
        ..login("old", &adam)
    };
    store.create_session(&expired).await.unwrap();
    assert!(store.session("old").await.unwrap().is_none(), "expired");
}

async fn progress_keeps_what_is_not_given_and_overviews_count_present_lessons(
    store: &Arc<dyn Store>,
) {
    let courses = store
        .ensure_courses(&[p("Cat/Covered"), p("Cat/Plain")])
        .await
        .unwrap();
    let (covered, plain) = (courses[&p("Cat/Covered")], courses[&p("Cat/Plain")]);
    let file = |course, path: &str, n, role| NewFile {
        course_id: course,
        path: p(path),
        facts: FileFacts { role, ..facts(n) },
    };
    let m = FileRole::Material;
    let added = vec![
        file(covered, "Cat/Covered/1.txt", 1, m),
        file(covered, "Cat/Covered/2.txt", 2, m),
        file(covered, "Cat/Covered/3.txt", 3, m),
        file(covered, "Cat/Covered/cover.jpg", 4, FileRole::Cover),
        file(covered, "Cat/Covered/README.md", 5, FileRole::Description),
        file(plain, "Cat/Plain/1.txt", 6, m),
    ];
    store
        .apply(&ChangeBatch {
            added,
            ..Default::default()
        })
        .await
        .unwrap();
    let id = |path: &str| {
        let path = path.to_owned();
        async move {
            store
                .all_files()
                .await
                .unwrap()
                .into_iter()
                .find(|f| f.path == path)
                .unwrap()
                .id
        }
    };
    let (one, two, three) = (
        id("Cat/Covered/1.txt").await,
        id("Cat/Covered/2.txt").await,
        id("Cat/Covered/3.txt").await,
    );
    let cover = id("Cat/Covered/cover.jpg").await;
    let reader = person(store, "reader", Role::User).await;
    let other = person(store, "other", Role::User).await;

    let started = store
        .set_progress(reader.id, one, Some(12.5), None)
        .await
        .unwrap();
    assert_eq!(
        (started.file_id, started.position_seconds, started.completed),
        (one, Some(12.5), false)
    );
    let done = store
        .set_progress(reader.id, one, None, Some(true))
        .await
        .unwrap();
    assert_eq!(
        (done.position_seconds, done.completed),
        (Some(12.5), true),
        "the position is kept"
    );
    assert!(done.updated_at >= started.updated_at);
    store
        .set_progress(reader.id, two, None, Some(true))
        .await
        .unwrap();
    store
        .set_progress(reader.id, three, Some(3.0), Some(false))
        .await
        .unwrap();
    store
        .set_progress(other.id, three, None, Some(true))
        .await
        .unwrap();
    assert!(
        matches!(
            store
                .set_progress(reader.id, FileId(999_999), None, Some(true))
                .await,
            Err(StoreError::Conflict(_))
        ),
        "no progress on a file that is not there"
    );

    let mine = store.course_progress(reader.id, covered).await.unwrap();
    let shown: Vec<_> = mine
        .iter()
        .map(|p| (p.file_id, p.position_seconds, p.completed))
        .collect();
    assert_eq!(
        shown,
        [
            (one, Some(12.5), true),
            (two, None, true),
            (three, Some(3.0), false)
        ]
    );
    assert!(store
        .course_progress(reader.id, plain)
        .await
        .unwrap()
        .is_empty());
    // Read with the course's generation, in one query: the same progress.
    for course in [covered, plain] {
        let (generation, at) = store.course_progress_at(reader.id, course).await.unwrap();
        assert_eq!(generation, store.course_generation(course).await.unwrap());
        assert_eq!(at, store.course_progress(reader.id, course).await.unwrap());
    }
    let (generation, nothing) = store
        .course_progress_at(reader.id, CourseId(999_999))
        .await
        .unwrap();
    assert!(nothing.is_empty());
    assert_eq!(generation, store.index_generation().await.unwrap());

    // A lesson that went missing counts neither as a lesson nor as done.
    store
        .apply(&ChangeBatch {
            missing: vec![two],
            ..Default::default()
        })
        .await
        .unwrap();
    let overview = |list: &[CourseOverview], course| {
        let o = list.iter().find(|o| o.course_id == course).unwrap();
        (o.cover_file_id, o.lessons, o.completed)
    };
    let reader_sees = store.course_overviews(reader.id).await.unwrap();
    assert_eq!(reader_sees.len(), 2, "every course");
    assert_eq!(overview(&reader_sees, covered), (Some(cover), 2, 1));
    assert_eq!(overview(&reader_sees, plain), (None, 1, 0));
    let other_sees = store.course_overviews(other.id).await.unwrap();
    assert_eq!(overview(&other_sees, covered), (Some(cover), 2, 1));

    // Progress goes with its user.
    store.delete_user(other.id).await.unwrap();
    let after = store.course_overviews(other.id).await.unwrap();
    assert_eq!(overview(&after, covered), (Some(cover), 2, 0));
}

async fn a_snapshot_restores_every_row_but_keeps_the_lock_and_later_audit(store: &Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snapshot.db");
    let before = person(store, "before", Role::Admin).await;
    store.set_setting("library_root", "/srv/old").await.unwrap();
    store.ensure_courses(&[p("Cat/Kept")]).await.unwrap();
    let entry = |at: i64, action: &str| NewAuditEntry {
        created_at: at,
        ..NewAuditEntry::now("cli:t", action)
    };
    store.record_audit(&entry(1_000, "old")).await.unwrap();
    assert_eq!(store.quick_check().await.unwrap(), Vec::<String>::new());
    let size = store.database_size().await.unwrap();
    assert!(size >= 4096, "a database of at least one page: {size}");

    store.snapshot(&snap).await.unwrap();
    assert!(
        store.snapshot(&snap).await.is_err(),
        "never over an existing file"
    );
    let info = snapshot::inspect(&snap).await.unwrap();
    assert_eq!(info.schema_version, snapshot::latest_schema_version());
    assert_eq!(info.row_counts["users"], 1);
    assert_eq!(info.row_counts["courses"], 1);

    // What happens after the snapshot was taken.
    let after = person(store, "after", Role::User).await;
    store.set_setting("library_root", "/srv/new").await.unwrap();
    store.ensure_courses(&[p("Cat/Later")]).await.unwrap();
    store
        .create_session(&NewSession {
            token_hash: "s".into(),
            user_id: before.id,
            kind: SessionKind::Web,
            csrf_token: "c".into(),
            expires_at: now_ms() + 60_000,
        })
        .await
        .unwrap();
    store.record_audit(&entry(1_500, "dropped")).await.unwrap();
    store.record_audit(&entry(3_000, "kept")).await.unwrap();
    let lock = lock::LockHandle::acquire(store, "restore", "t")
        .await
        .unwrap();
    let held = store.read_lock().await.unwrap().unwrap().token;

    assert_eq!(
        snapshot::migrate(&snap).await.unwrap(),
        snapshot::latest_schema_version()
    );
    store.replace_with_snapshot(&snap, 2_000).await.unwrap();

    assert_eq!(store.users().await.unwrap(), std::slice::from_ref(&before));
    assert_eq!(store.user(after.id).await.unwrap(), None);
    assert_eq!(
        store.setting("library_root").await.unwrap().as_deref(),
        Some("/srv/old")
    );
    let courses: Vec<String> = store
        .courses(None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.path.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(courses, ["Cat/Kept"]);
    assert!(
        store.session("s").await.unwrap().is_none(),
        "everyone signs in again"
    );
    assert_eq!(
        store.read_lock().await.unwrap().map(|l| l.token),
        Some(held),
        "the restore still holds the lock"
    );
    let actions: Vec<String> = store
        .audit(&AuditQuery::default())
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["kept", "old"], "entries after the cut-off stay");
    assert_eq!(store.quick_check().await.unwrap(), Vec::<String>::new());
    lock.release().await.unwrap();
    assert!(store.read_lock().await.unwrap().is_none());
}

/// The names of the `Store` trait's methods, read from its source.
fn trait_methods() -> Vec<String> {
    let source = include_str!("../src/store.rs");
    let start = source
        .find("pub trait Store")
        .expect("the trait is in store.rs");
    let body = &source[start..];
    let end = body.find("\n}").expect("the trait ends");
    body[..end]
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("//"))
        .filter_map(|line| {
            let rest = line
                .strip_prefix("async fn ")
                .or(line.strip_prefix("fn "))?;
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

/// A second backend passes this suite only if it does all a `Store` does:
/// every trait method is called here at least once (outside comments).
#[test]
fn the_story_calls_every_store_method() {
    let methods = trait_methods();
    assert!(methods.len() > 50, "the trait was read: {methods:?}");
    for expected in ["backend", "set_settings", "replace_with_snapshot", "close"] {
        assert!(methods.iter().any(|m| m == expected), "{expected} is read");
    }
    let story: String = include_str!("story.rs")
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let missing: Vec<&String> = methods
        .iter()
        .filter(|name| !story.contains(&format!(".{name}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "Store methods no story calls: {missing:?}"
    );
}

/// The health check asks the quick check every minute while searches and
/// scans use the other connections: a sound database must stay "ok" (the
/// bundled SQLite's check once reported a sound full-text index as
/// malformed on a connection that had searched before others wrote).
async fn the_quick_check_finds_a_sound_index_sound_after_searches_and_writes(
    store: &Arc<dyn Store>,
) {
    let course = store.ensure_courses(&[p("Cat/Course")]).await.unwrap()[&p("Cat/Course")];
    let query = SearchQuery::parse("less").unwrap();
    for n in 0..12u64 {
        let all = Visibility::Everything;
        let search = || store.search(&query, &all, 10);
        let found = tokio::join!(search(), search(), search(), search());
        for hits in [found.0, found.1, found.2, found.3] {
            hits.unwrap();
        }
        let added = vec![NewFile {
            course_id: course,
            path: p(&format!("Cat/Course/{n:02} lesson {n}.md")),
            facts: facts(n),
        }];
        let batch = ChangeBatch {
            added,
            ..Default::default()
        };
        store.apply(&batch).await.unwrap();
        assert_eq!(
            store.quick_check().await.unwrap(),
            Vec::<String>::new(),
            "after write {n}"
        );
    }
}

/// A course folder renamed or moved, and a category folder renamed, keep
/// their ids; a name already taken changes nothing.
async fn courses_and_categories_move_and_rename_keeping_their_ids(store: &Arc<dyn Store>) {
    let ids = store
        .ensure_courses(&[p("Cat/Rust Basics"), p("Cat/Go"), p("Other/Kept")])
        .await
        .unwrap();
    let (rust, go) = (ids[&p("Cat/Rust Basics")], ids[&p("Cat/Go")]);
    assert!(store
        .move_course(rust, &p("Cat/Rust Basics (2025)"))
        .await
        .unwrap());
    let moved = store.course(rust).await.unwrap().unwrap();
    assert_eq!(
        (moved.name.as_str(), moved.path.clone()),
        ("Rust Basics (2025)", p("Cat/Rust Basics (2025)"))
    );
    assert_eq!(
        found(store, "2025", &Visibility::Everything, 10).await,
        ["Course Rust Basics (2025)"],
        "the search follows the new name"
    );
    assert!(
        !store.move_course(go, &p("Other/Kept")).await.unwrap(),
        "a course is there"
    );
    assert!(store.move_course(go, &p("New/Go")).await.unwrap());
    let new = store.course(go).await.unwrap().unwrap().category_id;
    let names: Vec<String> = store
        .categories()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["Cat", "New", "Other"]);

    let cat = moved.category_id;
    assert!(
        !store.rename_category(cat, &p("Other")).await.unwrap(),
        "the name is taken"
    );
    assert!(store.rename_category(cat, &p("Category")).await.unwrap());
    let renamed = store.course(rust).await.unwrap().unwrap();
    assert_eq!(
        (renamed.category_id, renamed.path),
        (cat, p("Category/Rust Basics (2025)"))
    );
    assert_eq!(store.course(go).await.unwrap().unwrap().category_id, new);
    assert!(store
        .course_by_path(&p("Cat/Rust Basics (2025)"))
        .await
        .unwrap()
        .is_none());
}
