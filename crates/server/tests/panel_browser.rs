//! The admin panel in a real browser (headless Chromium), clicking as an
//! admin would through each recovery procedure of the seed note: a backup
//! and its restore (Procedure 1), a scan with its progress and history
//! (Procedure 2), the cleanup (Procedure 3), the moved library (Scenario D),
//! and a backup downloaded, deleted and uploaded again.

mod common;
use common::browser::*;
use common::*;

use fantoccini::{Client, Locator};
use lectern_store::settings::LIBRARY_ROOT;
use lectern_store::{NewUser, Role};
use std::os::unix::ffi::OsStrExt;
use std::time::Instant;

async fn admin_session(driver: &Chromedriver, app: &TestApp) -> Client {
    let client = driver.session().await;
    sign_in(&client, app, "admin", ADMIN_PW).await;
    wait_for_path(&client, "/").await;
    client
}

async fn click(client: &Client, css: &str) {
    find(client, css).await.click().await.unwrap();
}

async fn type_into(client: &Client, css: &str, text: &str) {
    let field = find(client, css).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn goto(client: &Client, app: &TestApp, path: &str) {
    client.goto(&format!("{}{path}", app.base)).await.unwrap();
}

/// Waits until the element's text holds `wanted`, and returns that text.
async fn wait_for_text(client: &Client, css: &str, wanted: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let found = client.find(Locator::Css(css)).await;
        if let Ok(element) = found {
            let text = element.text().await.unwrap_or_default();
            if text.contains(wanted) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css} says {text:?}, not {wanted:?}"
            );
        } else if Instant::now() >= deadline {
            let url = client.current_url().await.unwrap();
            let body = client.source().await.unwrap_or_default();
            panic!("no {css} on {url}: {body}");
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn user_exists(app: &TestApp, name: &str) -> bool {
    app.store.user_login(name).await.unwrap().is_some()
}

/// The id of the newest backup row on the backups page.
async fn newest_backup_id(client: &Client) -> String {
    attr_of(client, "#backup-table tbody tr", "data-id").await
}

#[tokio::test]
async fn procedure_1_backup_with_notes_then_restore_behind_warning_box_and_typed_id() {
    let Some(driver) = Chromedriver::start().await else {
        return;
    };
    let app = spawn_app().await;
    let client = admin_session(&driver, &app).await;

    // The dashboard says there is no backup yet.
    find(&client, "#admin-link").await.click().await.unwrap();
    wait_for_path(&client, "/admin").await;
    wait_for_text(&client, ".status-list", "none yet").await;

    goto(&client, &app, "/admin/backups").await;
    type_into(&client, "#notes", "before the term starts").await;
    click(&client, "#create-backup").await;
    wait_for_text(&client, "p.notice", "was created").await;
    let id = newest_backup_id(&client).await;
    let row = text_of(&client, &format!("#backup-{id}")).await;
    assert!(row.contains("before the term starts"), "{row}");
    assert!(
        row.contains("manual") && row.contains("user:admin"),
        "{row}"
    );

    // Made after the backup: gone once it is restored.
    let late = NewUser {
        username: "latecomer".into(),
        password_hash: lectern_app::passwords::hash_password("x").unwrap(),
        role: Role::User,
    };
    app.store.create_user(&late).await.unwrap();

    click(&client, &format!("#backup-{id} a.restore")).await;
    wait_for_path(&client, &format!("/admin/backups/{id}/restore")).await;
    let warning = text_of(&client, "#restore-warning").await;
    assert!(warning.contains("replaces everything"), "{warning}");
    // Without the box ticked the server refuses, whatever the page does.
    type_into(&client, "#typed_id", &id).await;
    client
        .execute(
            "document.getElementById('typed_id').form.noValidate = true",
            vec![],
        )
        .await
        .unwrap();
    click(&client, "#confirm-restore").await;
    wait_for_text(&client, "#restore-error", "tick the box").await;
    assert!(user_exists(&app, "latecomer").await);

    click(&client, "#restore-understood").await;
    type_into(&client, "#typed_id", &id).await;
    click(&client, "#confirm-restore").await;
    wait_for_path(&client, "/login").await;
    let said = wait_for_text(&client, "#restored", "finished").await;
    assert!(said.contains(&id), "{said}");
    assert!(said.contains("safety backup"), "{said}");
    assert!(
        !user_exists(&app, "latecomer").await,
        "the restore put the data back"
    );

    // Signed out: the admin page asks for a sign-in; signing in again works.
    // The sign-in page brings them back to the panel.
    goto(&client, &app, "/admin").await;
    wait_for_path(&client, "/login").await;
    type_into(&client, "#username", "admin").await;
    type_into(&client, "#password", ADMIN_PW).await;
    click(&client, "section.login button[type=submit]").await;
    wait_for_path(&client, "/admin").await;
    goto(&client, &app, "/admin/backups").await;
    let rows = client
        .find_all(Locator::Css("#backup-table tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "the backup and the restore's safety backup");
    wait_for_text(&client, "#backup-table", "safety").await;
    client.close().await.unwrap();
}

#[tokio::test]
async fn procedure_2_scan_progress_reaches_100_and_history_shows_a_scans_problem() {
    let Some(driver) = Chromedriver::start().await else {
        return;
    };
    let app = spawn_app().await;
    // A large sparse file takes long enough to hash that the page sees the
    // scan on its way; a course folder not named in UTF-8 is one problem
    // found.
    let big = app
        .root
        .join("Programming/Rust Basics/04 Big/01 Lecture.mp4");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    std::fs::File::create(&big)
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    let odd = app
        .root
        .join("Programming")
        .join(std::ffi::OsStr::from_bytes(b"Notes \xff"));
    std::fs::create_dir(&odd).unwrap();
    std::fs::write(odd.join("x.txt"), "x").unwrap();
    let client = admin_session(&driver, &app).await;

    goto(&client, &app, "/admin/library").await;
    click(&client, "#scan-quick").await;
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    let mut seen = Vec::new();
    loop {
        // Read in one step: the page reloads itself when the scan ends.
        let now = client
            .execute(
                r#"const s = document.getElementById("scan-status");
                   const p = document.getElementById("scan-progress");
                   return { status: s ? s.textContent : "", value: p ? p.value : 0 };"#,
                vec![],
            )
            .await
            .unwrap_or_default();
        let status = now["status"].as_str().unwrap_or("").to_owned();
        let value = now["value"].as_f64().unwrap_or(0.0);
        if seen.last() != Some(&value) {
            seen.push(value);
        }
        if !status.is_empty() && status != "running" {
            assert_eq!(status, "completed", "progress seen: {seen:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the scan never ended: {seen:?}");
        tokio::time::sleep(POLL).await;
    }
    let between: Vec<&f64> = seen.iter().filter(|v| **v > 0.0 && **v < 100.0).collect();
    assert!(
        !between.is_empty(),
        "no progress between 0 and 100: {seen:?}"
    );
    assert_eq!(text_of(&client, "#scan-percent").await, "100 %");
    assert_eq!(text_of(&client, "#count-added").await, "1");
    assert_eq!(text_of(&client, "#count-errors").await, "0");
    let issues = text_of(&client, "#issue-table").await;
    assert!(issues.contains("must be valid UTF-8"), "{issues}");

    // The history lists it; its page tells the problem with its path.
    goto(&client, &app, "/admin/scans").await;
    let first = find(&client, "#scan-table tbody tr a").await;
    let link = first.attr("href").await.unwrap().unwrap();
    first.click().await.unwrap();
    wait_for_path(&client, &link).await;
    let issues = text_of(&client, "#issue-table").await;
    assert!(issues.contains("Notes"), "{issues}");
    client.close().await.unwrap();
}

#[tokio::test]
async fn procedure_3_cleanup_shows_its_warning_and_count_then_cleans_up() {
    let Some(driver) = Chromedriver::start().await else {
        return;
    };
    let app = spawn_app().await;
    let gone = "Programming/Rust Basics/01 Introduction/01 Welcome.md";
    std::fs::remove_file(app.root.join(gone)).unwrap();
    app.rescan().await;
    let client = admin_session(&driver, &app).await;

    goto(&client, &app, "/admin/library").await;
    click(&client, "#cleanup-link").await;
    wait_for_path(&client, "/admin/cleanup").await;
    let warning = text_of(&client, "div.warning").await;
    assert!(
        warning.contains("remove database entries for files that no longer exist"),
        "{warning}"
    );
    assert_eq!(text_of(&client, "#orphan-files").await, "1");
    let paths = text_of(&client, "ul.paths").await;
    assert!(paths.contains("01 Welcome.md"), "{paths}");

    click(&client, "#cleanup-confirm").await;
    click(&client, "#cleanup-run").await;
    let result = wait_for_text(&client, "#cleanup-result", "Cleaned up 1 orphaned files").await;
    assert!(result.contains('1'), "{result}");
    let safety = text_of(&client, "#safety-backup").await;
    assert!(!safety.is_empty());
    assert!(app.state.app.backups.folder.find(&safety).is_ok());
    let files = app.files().await;
    assert!(files.iter().all(|f| f.path != gone), "the record is gone");
    client.close().await.unwrap();
}

#[tokio::test]
async fn scenario_d_a_moved_library_gets_its_new_path_in_the_panel_and_keeps_its_courses() {
    let Some(driver) = Chromedriver::start().await else {
        return;
    };
    // The root comes from the setting, as on a real site, not from --root.
    let app = spawn_app_with(|options, _| options.root_override = None).await;
    let old = app.root.to_string_lossy().into_owned();
    app.store.set_setting(LIBRARY_ROOT, &old).await.unwrap();
    let before = app.store.courses(None).await.unwrap();
    let moved = app.dir.path().join("nas/new-home");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&app.root, &moved).unwrap();
    let client = admin_session(&driver, &app).await;

    // The dashboard shows the old root unreachable.
    goto(&client, &app, "/admin").await;
    wait_for_text(&client, "#status-library-root.bad", "Library root").await;

    goto(&client, &app, "/admin/library").await;
    type_into(&client, "#root_path", &moved.to_string_lossy()).await;
    click(&client, "#save-root").await;
    wait_for_text(&client, "p.notice", "root is saved").await;
    let shown = text_of(&client, "#effective-root").await;
    assert_eq!(shown, moved.to_string_lossy());

    click(&client, "#scan-quick").await;
    wait_for_text(&client, "#scan-status", "completed").await;
    assert_eq!(text_of(&client, "#count-removed").await, "0");
    assert_eq!(text_of(&client, "#count-added").await, "0");
    let after = app.store.courses(None).await.unwrap();
    let ids = |list: &[lectern_store::Course]| {
        list.iter()
            .map(|c| (c.id, c.name.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&after),
        ids(&before),
        "the same courses, with their ids"
    );
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_backup_is_downloaded_deleted_and_uploaded_again_with_a_progress_bar() {
    let Some(driver) = Chromedriver::start().await else {
        return;
    };
    let app = spawn_app().await;
    let client = admin_session(&driver, &app).await;
    goto(&client, &app, "/admin/backups").await;
    click(&client, "#create-backup").await;
    wait_for_text(&client, "p.notice", "was created").await;
    let id = newest_backup_id(&client).await;

    // The download link answers the signed-in browser with the archive.
    let href = attr_of(&client, &format!("#backup-{id} a.download"), "href").await;
    let cookie = client.get_named_cookie("lectern_session").await.unwrap();
    let reply = app
        .http
        .get(format!("{}{href}", app.base))
        .header("cookie", format!("lectern_session={}", cookie.value()))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let archive = reply.bytes().await.unwrap();
    let saved = app.dir.path().join("downloaded.tar");
    std::fs::write(&saved, &archive).unwrap();

    click(&client, &format!("#backup-{id} a.delete")).await;
    wait_for_path(&client, &format!("/admin/backups/{id}/delete")).await;
    click(&client, "#delete-confirm").await;
    click(&client, "#confirm-delete").await;
    wait_for_text(&client, "p.notice", "was deleted").await;
    assert!(client.find(Locator::Css("#backup-table")).await.is_err());

    let input = find(&client, "#upload-file").await;
    input.send_keys(&saved.to_string_lossy()).await.unwrap();
    click(&client, "#upload-button").await;
    wait_for_text(&client, "p.notice", "listed as backup").await;
    let row = text_of(&client, "#backup-table").await;
    assert!(row.contains("uploaded"), "{row}");
    client.close().await.unwrap();
}

#[tokio::test]
async fn scenario_c_a_user_deleted_in_the_panel_comes_back_with_a_restore() {
    let Some(driver) = Chromedriver::start().await else {
        return;
    };
    let app = spawn_app().await;
    let client = admin_session(&driver, &app).await;
    goto(&client, &app, "/admin/backups").await;
    type_into(&client, "#notes", "before the accident").await;
    click(&client, "#create-backup").await;
    wait_for_text(&client, "p.notice", "was created").await;
    let id = newest_backup_id(&client).await;

    goto(&client, &app, "/admin/users").await;
    click(&client, "#user-alice a").await;
    click(&client, "#delete-user-confirm").await;
    click(&client, "#delete-user").await;
    wait_for_text(&client, "p.notice", "Deleted").await;
    assert!(!user_exists(&app, "alice").await);

    goto(&client, &app, &format!("/admin/backups/{id}/restore")).await;
    click(&client, "#restore-understood").await;
    type_into(&client, "#typed_id", &id).await;
    click(&client, "#confirm-restore").await;
    wait_for_text(&client, "#restored", "finished").await;
    assert!(user_exists(&app, "alice").await, "alice is back");
    sign_in(&client, &app, "alice", ALICE_PW).await;
    wait_for_path(&client, "/").await;
    client.close().await.unwrap();
}

#[tokio::test]
async fn during_maintenance_every_page_says_so() {
    let Some(driver) = Chromedriver::start().await else {
        return;
    };
    let app = spawn_app().await;
    let client = admin_session(&driver, &app).await;
    let epoch = app
        .state
        .begin_maintenance("restoring backup 20260101T000000Z-manual-00000000")
        .await
        .unwrap();
    for path in ["/admin", "/admin/backups", "/", "/login"] {
        goto(&client, &app, path).await;
        let said = wait_for_text(&client, "main", "maintenance").await;
        assert!(said.contains("restoring backup"), "{path}: {said}");
    }
    app.state.end_maintenance(epoch).await.unwrap();
    goto(&client, &app, "/admin").await;
    wait_for_text(&client, "h1", "Overview").await;
    client.close().await.unwrap();
}
