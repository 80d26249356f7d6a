//! One story of the store's contract, run against every backend: each
//! backend adds a line to `backends!` and must pass the same checks.

use lectern_core::scan::{IssueKind, ScanCounts, ScanIssue, ScanKind, ScanStatus};
use lectern_core::{CourseId, LibraryPath};
use lectern_store::*;
use std::sync::Arc;

struct Db {
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

async fn sqlite() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    Db { store, _dir: dir }
}

macro_rules! backends {
    ($($backend:ident),*) => {
        $(mod $backend {
            macro_rules! story {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let db = super::$backend().await;
                        super::$name(&db.store).await;
                        db.store.close().await;
                    }
                };
            }
            story!(settings_round_trip);
            story!(the_lock_row_changes_hands_only_from_the_expected_token);
            story!(scan_history_keeps_counts_issues_and_interruptions);
            story!(the_index_applies_batches_and_loads_every_record_in_pages);
            story!(cleanup_purges_missing_then_empty_courses_and_categories);
            story!(listings_are_naturally_sorted);
        })*
    };
}

backends!(sqlite);

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
}

async fn the_lock_row_changes_hands_only_from_the_expected_token(store: &Arc<dyn Store>) {
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
        .scans(10)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, [left_running, done], "newest first");
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
        (in_b[0].id, in_b[0].path.as_str()),
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

    let removed = store.cleanup().await.unwrap();
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
}
