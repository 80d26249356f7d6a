//! One archive format for both backends: a snapshot of one restores into
//! the other with every record the same (ids, logins, grants, progress,
//! file names that are not UTF-8, search), SQLite → PostgreSQL → SQLite.

use lectern_core::{LibraryPath, Sha256Digest};
use lectern_store::*;
use std::sync::Arc;

fn p(s: &str) -> LibraryPath {
    LibraryPath::parse(s).unwrap()
}

fn facts(n: u8, role: FileRole) -> FileFacts {
    FileFacts {
        size: u64::from(n),
        mtime_ns: i64::from(n) * 1_000,
        sha256: Sha256Digest([n; 32]),
        mime: "video/mp4".into(),
        role,
        subtitle: None,
    }
}

/// A library, people, groups, grants, progress and an audit entry.
async fn fill(store: &Arc<dyn Store>) {
    let courses = [p("Languages/Spanish A1"), p("Design/Colour Theory")];
    let ids = store.ensure_courses(&courses).await.unwrap();
    let (spanish, colour) = (ids[&courses[0]], ids[&courses[1]]);
    let mut odd = b"Languages/Spanish A1/caf\xe9 ".to_vec();
    odd.extend_from_slice(b"01.mp4");
    let files = [
        (
            spanish,
            p("Languages/Spanish A1/01 Intro/01 Welcome.mp4"),
            FileRole::Material,
        ),
        (
            spanish,
            LibraryPath::from_bytes(&odd).unwrap(),
            FileRole::Material,
        ),
        (
            spanish,
            p("Languages/Spanish A1/README.md"),
            FileRole::Description,
        ),
        (
            colour,
            p("Design/Colour Theory/Hue/01 Hue Value.md"),
            FileRole::Material,
        ),
    ];
    let added = (1u8..)
        .zip(files)
        .map(|(n, (course_id, path, role))| NewFile {
            course_id,
            path,
            facts: facts(n, role),
        })
        .collect();
    let descriptions = vec![(spanish, Some("¡Bienvenidos! Ordering food.".into()))];
    store
        .apply(&ChangeBatch {
            added,
            descriptions,
            ..Default::default()
        })
        .await
        .unwrap();
    let admin = store
        .create_user(&NewUser {
            username: "Admin".into(),
            password_hash: "hash-a".into(),
            role: Role::Admin,
        })
        .await
        .unwrap();
    let ana = store
        .create_user(&NewUser {
            username: "ana".into(),
            password_hash: "hash-b".into(),
            role: Role::User,
        })
        .await
        .unwrap();
    let group = store.create_group("Students").await.unwrap();
    store.add_member(group, ana.id).await.unwrap();
    store
        .add_grant(group, Grant::Course(spanish))
        .await
        .unwrap();
    let welcome = store.all_files().await.unwrap()[0].id;
    store
        .set_progress(ana.id, welcome, Some(12.5), Some(true))
        .await
        .unwrap();
    store
        .record_audit(&NewAuditEntry::now("user:Admin", "user.create"))
        .await
        .unwrap();
    let _ = admin;
}

/// Everything a person could see, read through the store.
async fn view(store: &Arc<dyn Store>) -> String {
    let users = store.users().await.unwrap();
    let mut out = format!("{users:?}\n");
    for user in &users {
        let login = store.user_login(&user.username).await.unwrap();
        out += &format!("{:?}\n", login.map(|(_, hash)| hash));
        out += &format!("{:?}\n", store.granted(user.id).await.unwrap());
        for course in store.courses(None).await.unwrap() {
            let progress = store.course_progress(user.id, course.id).await.unwrap();
            let progress: Vec<_> = progress
                .into_iter()
                .map(|p| (p.file_id, p.position_seconds, p.completed))
                .collect();
            out += &format!("{progress:?}\n");
        }
    }
    out += &format!("{:?}\n", store.categories().await.unwrap());
    out += &format!("{:?}\n", store.courses(None).await.unwrap());
    out += &format!("{:?}\n", store.all_files().await.unwrap());
    for group in store.groups().await.unwrap() {
        out += &format!(
            "{group:?} {:?}\n",
            store.group_grants(group.id).await.unwrap()
        );
        out += &format!("{:?}\n", store.group_members(group.id).await.unwrap());
    }
    for words in ["welcome", "cafe", "bienvenidos", "hue"] {
        let query = SearchQuery::parse(words).unwrap();
        let hits = store
            .search(&query, &Visibility::Everything, 10)
            .await
            .unwrap();
        let found: Vec<_> = hits.iter().map(|h| (h.kind, h.file_id, &h.name)).collect();
        out += &format!("{words}: {found:?}\n");
    }
    let audit = store.audit(&AuditQuery::default()).await.unwrap();
    let audit: Vec<_> = audit.entries.iter().map(|e| (e.id, &e.action)).collect();
    out += &format!("{audit:?}\n");
    out
}

/// `from`'s data put into `to` through an archive's payload.
async fn carry(from: &Arc<dyn Store>, to: &Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("payload.db");
    from.snapshot(&payload).await.unwrap();
    snapshot::inspect(&payload).await.unwrap();
    snapshot::migrate(&payload).await.unwrap();
    to.replace_with_snapshot(&payload, i64::MAX).await.unwrap();
}

async fn sqlite(dir: &std::path::Path, name: &str) -> Arc<dyn Store> {
    open(&format!("sqlite://{}", dir.join(name).display()))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_moves_sqlite_to_postgres_and_back_with_every_record_the_same() {
    let Some(pg) = lectern_testdb::TestDb::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let first = sqlite(dir.path(), "first.db").await;
    fill(&first).await;
    let original = view(&first).await;

    let postgres = open(pg.url()).await.unwrap();
    carry(&first, &postgres).await;
    assert_eq!(view(&postgres).await, original, "SQLite → PostgreSQL");

    // New ids continue after the restored ones.
    let next = postgres.create_group("After").await.unwrap();
    let groups = first.groups().await.unwrap();
    assert!(groups.iter().all(|g| g.id.0 < next.0), "{next:?}");
    postgres.delete_group(next).await.unwrap();

    let last = sqlite(dir.path(), "last.db").await;
    carry(&postgres, &last).await;
    assert_eq!(view(&last).await, original, "PostgreSQL → SQLite");
    for store in [first, postgres, last] {
        store.close().await;
    }
}
