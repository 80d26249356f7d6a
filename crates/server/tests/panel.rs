//! The admin panel over real HTTP, without a browser: who may see it, the
//! refusals a person must read in words (never JSON, never a blank page),
//! and the checks its handlers make on the server whatever a page's script
//! did: CSRF, the restore's box and typed id, a held lock, a doubtful root.

mod common;

use common::forms::*;
use common::*;
use lectern_store::{NewUser, Role};
use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::StatusCode;

const PAGES: [&str; 12] = [
    "/admin",
    "/admin/library",
    "/admin/scans",
    "/admin/cleanup",
    "/admin/backups",
    "/admin/users",
    "/admin/groups",
    "/admin/tokens",
    "/admin/audit",
    "/admin/health",
    "/admin/audit?actor=user%3Aadmin&action=backup&from=2020-01-01&to=2999-12-31",
    "/account",
];

#[tokio::test]
async fn every_panel_page_answers_an_admin_with_html() {
    let app = spawn_app().await;
    let admin = sign_in(&app, "admin", ADMIN_PW).await;
    let backup = admin.post(&app, "/admin/backups", &[("notes", "n")]).await;
    assert_eq!(backup.status(), StatusCode::SEE_OTHER);
    let group = admin.post(&app, "/admin/groups", &[("name", "crew")]).await;
    let group_page = group.headers()[LOCATION].to_str().unwrap().to_owned();
    let id = lectern_app::backups::list(&app.state.app).unwrap()[0]
        .id
        .clone();
    let mut pages: Vec<String> = PAGES.iter().map(|p| p.to_string()).collect();
    pages.extend([
        "/admin/scans/1".into(),
        "/admin/users/1".into(),
        format!("/admin/backups/{id}/restore"),
        format!("/admin/backups/{id}/delete"),
        group_page.split('?').next().unwrap().to_owned(),
    ]);
    for path in pages {
        let (status, body) = admin.get(&app, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(body.contains("<h1>"), "{path} has a heading");
    }
}

#[tokio::test]
async fn strangers_are_sent_to_sign_in_and_come_back_and_learners_are_refused() {
    let app = spawn_app().await;
    let stranger = browser();
    let answer = stranger
        .get(format!("{}/admin/backups", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let to = answer.headers()[LOCATION].to_str().unwrap();
    assert_eq!(to, "/login?next=%2Fadmin%2Fbackups");

    let alice = sign_in(&app, "alice", ALICE_PW).await;
    for path in PAGES.iter().filter(|p| p.starts_with("/admin")) {
        let (status, body) = alice.get(&app, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(body.contains("Not allowed"), "{path}: a page, not JSON");
    }
    let tried = alice.post(&app, "/admin/backups", &[("notes", "x")]).await;
    assert_eq!(tried.status(), StatusCode::FORBIDDEN);
    assert!(lectern_app::backups::list(&app.state.app)
        .unwrap()
        .is_empty());
    // Everyone signed in has an account page; learners get no admin link.
    let (status, body) = alice.get(&app, "/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("id=\"admin-link\""));
}

#[tokio::test]
async fn a_form_without_the_sessions_csrf_token_changes_nothing() {
    let app = spawn_app().await;
    let admin = sign_in(&app, "admin", ADMIN_PW).await;
    for (path, form) in [
        ("/admin/backups", vec![("notes", "x")]),
        (
            "/admin/users",
            vec![
                ("username", "eve"),
                ("password", "password1"),
                ("role", "admin"),
            ],
        ),
        ("/admin/scans", vec![("mode", "quick")]),
    ] {
        let mut forged = vec![("csrf", "0".repeat(64))];
        forged.extend(form.iter().map(|(k, v)| (*k, v.to_string())));
        let answer = admin
            .client
            .post(format!("{}{path}", app.base))
            .form(&forged)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert!(lectern_app::backups::list(&app.state.app)
        .unwrap()
        .is_empty());
    assert!(app.store.user_login("eve").await.unwrap().is_none());
    assert_eq!(
        app.store.scans(10, 0).await.unwrap().len(),
        1,
        "only the harness's scan"
    );
}

/// A user made after the backup: gone once it is restored.
async fn add_latecomer(app: &TestApp) {
    let late = NewUser {
        username: "latecomer".into(),
        password_hash: lectern_app::passwords::hash_password("x").unwrap(),
        role: Role::User,
    };
    app.store.create_user(&late).await.unwrap();
}

#[tokio::test]
async fn a_restore_posted_without_the_box_or_with_a_wrong_id_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = sign_in(&app, "admin", ADMIN_PW).await;
    admin.post(&app, "/admin/backups", &[]).await;
    let id = lectern_app::backups::list(&app.state.app).unwrap()[0]
        .id
        .clone();
    add_latecomer(&app).await;
    let path = format!("/admin/backups/{id}/restore");
    let wrong = format!("{id}0");
    for (form, said) in [
        (vec![("typed_id", id.as_str())], "tick the box"),
        (
            vec![("understood", "yes"), ("typed_id", wrong.as_str())],
            "not this backup",
        ),
        (
            vec![("understood", "yes"), ("typed_id", "")],
            "not this backup",
        ),
    ] {
        let answer = admin.post(&app, &path, &form).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{form:?}");
        let kind = answer.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
        assert!(kind.starts_with("text/html"), "{kind}");
        let body = answer.text().await.unwrap();
        assert!(body.contains(said), "{form:?}: {body}");
        assert!(app.store.user_login("latecomer").await.unwrap().is_some());
    }
    // The admin's session still holds: nothing was restored.
    assert_eq!(admin.get(&app, "/admin").await.0, StatusCode::OK);
    let query = lectern_store::AuditQuery {
        action: Some("backup.restore".into()),
        ..Default::default()
    };
    let entries = app.store.audit(&query).await.unwrap().entries;
    assert_eq!(entries.len(), 3, "each refusal is in the audit log");
    assert!(entries.iter().all(|e| e.status == Some(400)));

    let done = admin
        .post(&app, &path, &[("understood", "yes"), ("typed_id", &id)])
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let to = done.headers()[LOCATION].to_str().unwrap();
    assert!(
        to.starts_with(&format!("/login?restored={id}&safety=")),
        "{to}"
    );
    assert!(app.store.user_login("latecomer").await.unwrap().is_none());
    assert_eq!(
        admin.get(&app, "/admin").await.0,
        StatusCode::SEE_OTHER,
        "signed out"
    );
}

#[tokio::test]
async fn a_held_lock_is_said_in_words_on_the_page() {
    let app = spawn_app().await;
    let admin = sign_in(&app, "admin", ADMIN_PW).await;
    let held = lectern_app::operation::Running::start(&app.state.app, "backup", "cli:night-job")
        .await
        .unwrap();
    for (path, form) in [
        ("/admin/backups", vec![]),
        ("/admin/scans", vec![("mode", "quick")]),
    ] {
        let answer = admin.post(&app, path, &form).await;
        assert_eq!(answer.status(), StatusCode::CONFLICT, "{path}");
        let body = answer.text().await.unwrap();
        assert!(
            body.contains("cli:night-job"),
            "{path} names the holder: {body}"
        );
        assert!(!body.trim_start().starts_with('{'), "not JSON");
    }
    let (_, dashboard) = admin.get(&app, "/admin").await;
    assert!(dashboard.contains("backup by cli:night-job"), "{dashboard}");
    held.finish().await;
}

#[tokio::test]
async fn a_root_that_looks_unmounted_is_shown_with_counts_before_it_is_saved() {
    let app = spawn_app().await;
    let admin = sign_in(&app, "admin", ADMIN_PW).await;
    let empty = app.dir.path().join("empty-mount");
    std::fs::create_dir(&empty).unwrap();
    let empty = empty.to_string_lossy().into_owned();

    let answer = admin
        .post(&app, "/admin/library/root", &[("root_path", &empty)])
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let body = answer.text().await.unwrap();
    assert!(body.contains("is empty"), "{body}");
    assert!(
        body.contains("are not in"),
        "the missing share is said: {body}"
    );
    assert!(body.contains("id=\"accept_warnings\""));
    let saved = || async { app.store.setting("library_root").await.unwrap() };
    assert_eq!(saved().await, None, "not saved without accepting");

    for bad in ["relative/path", "/no/such/folder"] {
        let answer = admin
            .post(&app, "/admin/library/root", &[("root_path", bad)])
            .await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body = answer.text().await.unwrap();
        assert!(body.contains("id=\"root-error\""), "{bad}: {body}");
    }
    assert_eq!(saved().await, None);

    let accepted = [("root_path", empty.as_str()), ("accept_warnings", "yes")];
    let answer = admin.post(&app, "/admin/library/root", &accepted).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(saved().await, Some(empty));
}

#[tokio::test]
async fn the_last_admin_cannot_be_removed_and_the_page_says_why() {
    let app = spawn_app().await;
    let admin = sign_in(&app, "admin", ADMIN_PW).await;
    let me = app.store.user_login("admin").await.unwrap().unwrap().0.id;
    let path = format!("/admin/users/{me}");
    let answer = admin
        .post(&app, &path, &[("change", "role"), ("role", "user")])
        .await;
    assert_eq!(answer.status(), StatusCode::CONFLICT);
    let body = answer.text().await.unwrap();
    assert!(
        body.contains("always keeps one enabled administrator"),
        "{body}"
    );
    let delete = admin
        .post(&app, &format!("{path}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(delete.status(), StatusCode::CONFLICT);
    let unconfirmed = admin.post(&app, "/admin/users/2/delete", &[]).await;
    assert_eq!(unconfirmed.status(), StatusCode::BAD_REQUEST);
    assert!(app.store.user_login("alice").await.unwrap().is_some());
}

#[tokio::test]
async fn a_tokens_secret_is_shown_once_with_the_cron_line() {
    let app = spawn_app().await;
    let admin = sign_in(&app, "admin", ADMIN_PW).await;
    let answer = admin
        .post(
            &app,
            "/admin/tokens",
            &[("name", "nightly"), ("owner", "1"), ("expires_in_days", "")],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let body = answer.text().await.unwrap();
    let marker = "id=\"token-secret\" class=\"secret\" readonly value=\"";
    let start = body.find(marker).unwrap() + marker.len();
    let secret: String = body[start..].chars().take_while(|c| *c != '"').collect();
    assert!(secret.len() >= 32, "{secret}");
    assert!(body.contains("/api/admin/backup/create -H \"Authorization: Bearer $ADMIN_TOKEN\""));
    // It works, and is never shown again.
    let (status, _) = app.get("/api/admin/backup/list", &secret).await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = admin.get(&app, "/admin/tokens").await;
    assert!(list.contains("nightly") && !list.contains(&secret));
    // Revoking asks for its box too; then the token stops working.
    let id = app.store.api_tokens().await.unwrap()[0].id;
    let path = format!("/admin/tokens/{id}/delete");
    let unticked = admin.post(&app, &path, &[]).await;
    assert_eq!(unticked.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.get("/api/admin/backup/list", &secret).await.0,
        StatusCode::OK
    );
    let revoked = admin.post(&app, &path, &[("confirm", "yes")]).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    let (status, _) = app.get("/api/admin/backup/list", &secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_learner_changes_their_own_password_with_the_current_one() {
    let app = spawn_app().await;
    let alice = sign_in(&app, "alice", ALICE_PW).await;
    let new = "a brand new password";
    let wrong = alice
        .post(
            &app,
            "/account/password",
            &[("current", "guess"), ("new", new), ("repeat", new)],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("current password is not right"));
    let differ = alice
        .post(
            &app,
            "/account/password",
            &[("current", ALICE_PW), ("new", new), ("repeat", "other one")],
        )
        .await;
    assert_eq!(differ.status(), StatusCode::BAD_REQUEST);

    let done = alice
        .post(
            &app,
            "/account/password",
            &[("current", ALICE_PW), ("new", new), ("repeat", new)],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(done.headers()[LOCATION], "/login?changed=password");
    assert_eq!(
        alice.get(&app, "/").await.0,
        StatusCode::SEE_OTHER,
        "signed out"
    );
    assert_eq!(
        app.login("alice", ALICE_PW).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.login("alice", new).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn cleanup_runs_only_once_its_box_is_ticked() {
    let app = spawn_app().await;
    std::fs::remove_file(
        app.root
            .join("Programming/Rust Basics/01 Introduction/01 Welcome.md"),
    )
    .unwrap();
    app.rescan().await;
    let admin = sign_in(&app, "admin", ADMIN_PW).await;
    let answer = admin.post(&app, "/admin/cleanup", &[]).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert!(answer
        .text()
        .await
        .unwrap()
        .contains("id=\"cleanup-error\""));
    let missing = app
        .files()
        .await
        .iter()
        .filter(|f| f.state == lectern_store::FileState::Missing)
        .count();
    assert_eq!(missing, 1, "nothing purged");
    let answer = admin
        .post(&app, "/admin/cleanup", &[("confirm", "yes")])
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer
        .text()
        .await
        .unwrap()
        .contains("Cleaned up 1 orphaned files"));
}

#[tokio::test]
async fn during_maintenance_the_backup_status_answers_without_a_session() {
    let app = spawn_app().await;
    let url = format!("{}/api/admin/backup/status", app.base);
    let stranger = app.http.get(&url).send().await.unwrap();
    assert_eq!(
        stranger.status(),
        StatusCode::UNAUTHORIZED,
        "not outside maintenance"
    );

    let alice = app.token("alice", ALICE_PW).await;
    let epoch = app
        .state
        .begin_maintenance("restoring backup X")
        .await
        .unwrap();
    let stranger = app.http.get(&url).send().await.unwrap();
    assert_eq!(stranger.status(), StatusCode::OK);
    let report: serde_json::Value = stranger.json().await.unwrap();
    assert_eq!(report["maintenance"], true);
    assert_eq!(report["maintenance_reason"], "restoring backup X");
    for private in [
        "lock",
        "last_backup",
        "next_scheduled",
        "last_failure",
        "last_drill",
    ] {
        assert!(
            report[private].is_null(),
            "{private} stays private: {report}"
        );
    }
    // A signed-in learner is still refused: only a missing session is let in.
    let (status, _) = app.get("/api/admin/backup/status", &alice).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.state.end_maintenance(epoch).await.unwrap();
}

#[tokio::test]
async fn an_upload_form_without_its_csrf_part_stores_nothing() {
    let app = spawn_app().await;
    let admin = sign_in(&app, "admin", ADMIN_PW).await;
    let made = lectern_app::backups::create(
        &app.state.app,
        &lectern_app::Actor::Cli("test".into()),
        lectern_backup::BackupType::Manual,
        None,
        std::sync::Arc::new(lectern_backup::Quiet),
    )
    .await
    .unwrap();
    let archive = std::fs::read(&made.record.file_path).unwrap();
    let url = format!("{}/admin/backups/upload", app.base);
    let part = |bytes: Vec<u8>| reqwest::multipart::Part::bytes(bytes).file_name("b.tar");
    for csrf in [None, Some("0".repeat(64))] {
        let mut form = reqwest::multipart::Form::new();
        if let Some(csrf) = csrf.clone() {
            form = form.text("csrf", csrf);
        }
        let form = form.part("file", part(archive.clone()));
        let answer = admin
            .client
            .post(&url)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "csrf {csrf:?}");
    }
    assert_eq!(lectern_app::backups::list(&app.state.app).unwrap().len(), 1);

    let form = reqwest::multipart::Form::new()
        .text("csrf", admin.csrf.clone())
        .part("file", part(archive));
    let answer = admin
        .client
        .post(&url)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let to = answer.headers()[LOCATION].to_str().unwrap();
    assert!(to.starts_with("/admin/backups?done=uploaded"), "{to}");
    assert_eq!(lectern_app::backups::list(&app.state.app).unwrap().len(), 2);
}

#[tokio::test]
async fn guessing_the_current_password_is_limited_like_signing_in() {
    let app = spawn_app().await;
    let alice = sign_in(&app, "alice", ALICE_PW).await;
    let new = "a brand new password";
    let mut statuses = Vec::new();
    for n in 0..40 {
        let guess = format!("guess number {n}");
        let form = [("current", guess.as_str()), ("new", new), ("repeat", new)];
        let answer = alice.post(&app, "/account/password", &form).await;
        let status = answer.status();
        statuses.push(status.as_u16());
        if status == StatusCode::TOO_MANY_REQUESTS {
            let body = answer.text().await.unwrap();
            assert!(body.contains("too many"), "said in words: {body}");
            break;
        }
        assert_eq!(status, StatusCode::BAD_REQUEST, "guess {n}");
    }
    assert_eq!(
        statuses.last(),
        Some(&429),
        "the guesses were stopped: {statuses:?}"
    );
    // Even the right password waits now; nothing changed.
    let right = [("current", ALICE_PW), ("new", new), ("repeat", new)];
    let answer = alice.post(&app, "/account/password", &right).await;
    assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        alice.get(&app, "/").await.0,
        StatusCode::OK,
        "still signed in"
    );
}

/// The fields the health page's settings form posts, as it shows them.
fn health_form<'a>(overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("backup_warn_hours", "24"),
        ("backup_fail_hours", "72"),
        ("scan_errors_fail_above", "10"),
        ("disk_warn_below_percent", "10"),
        ("disk_fail_below_percent", "5"),
        ("growth_warn_percent", "50"),
        ("growth_window_days", "7"),
        ("alert_backup_failed", "on"),
    ];
    for (name, value) in overrides {
        form.retain(|(n, _)| n != name);
        form.push((name, value));
    }
    form
}

#[tokio::test]
async fn the_health_page_saves_thresholds_and_switches_and_refuses_nonsense_in_words() {
    let app = spawn_app().await;
    let admin = sign_in(&app, "admin", ADMIN_PW).await;
    let saved = || lectern_app::monitor::saved_settings(&app.state.app);

    let refused = [
        (
            health_form(&[("backup_warn_hours", "soon")]),
            "give a number",
        ),
        (
            health_form(&[("backup_warn_hours", "100")]),
            "at most the one that fails",
        ),
        (
            health_form(&[("disk_fail_below_percent", "50")]),
            "percentages",
        ),
    ];
    for (form, said) in refused {
        let answer = admin.post(&app, "/admin/health/settings", &form).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{form:?}");
        let body = answer.text().await.unwrap();
        assert!(body.contains(said), "{said}: {body}");
        assert_eq!(saved().await, Default::default(), "nothing is saved");
    }

    // The configuration's values with one alert on: only the switches are
    // saved, so later changes to lectern.toml still apply.
    let answer = admin
        .post(&app, "/admin/health/settings", &health_form(&[]))
        .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let settings = saved().await;
    assert_eq!(settings.thresholds, None);
    assert_eq!(
        settings.alerts_off.len(),
        lectern_app::alerts::CONDITIONS.len() - 1
    );
    assert!(!settings.alerts_off.contains("backup_failed"));

    let answer = admin
        .post(
            &app,
            "/admin/health/settings",
            &health_form(&[("backup_warn_hours", "0.5")]),
        )
        .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let thresholds = saved().await.thresholds.expect("saved thresholds");
    assert_eq!(thresholds.backup_warn_after_secs, 1800);
    let (_, page) = admin.get(&app, "/admin/health?done=settings").await;
    assert!(page.contains("saved here"), "{page}");
    assert!(page.contains(r#"value="0.5""#), "the saved value is shown");

    let answer = admin
        .post(
            &app,
            "/admin/health/settings",
            &health_form(&[("reset", "on")]),
        )
        .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        saved().await.thresholds,
        None,
        "back to the configuration's"
    );

    // No target configured: the test alert is refused in words.
    let answer = admin.post(&app, "/admin/health/test", &[]).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let body = answer.text().await.unwrap();
    assert!(body.contains("no alert target is configured"), "{body}");
    let query = lectern_store::AuditQuery {
        action: Some("alerts.test".into()),
        ..Default::default()
    };
    let entries = app.store.audit(&query).await.unwrap().entries;
    assert_eq!(entries.len(), 1, "the refusal is in the audit log");
}

#[tokio::test]
async fn the_dashboard_lists_the_running_instances_and_the_database() {
    let app = spawn_app().await;
    let admin = sign_in(&app, "admin", ADMIN_PW).await;
    let coordination = app.state.app.coordination.clone();
    coordination.heartbeat().await.unwrap();
    let (_, dashboard) = admin.get(&app, "/admin").await;
    let me = coordination.instance().as_str().to_owned();
    assert!(dashboard.contains("Instances"), "{dashboard}");
    assert!(
        dashboard.contains(&format!("{me} (this one)")),
        "{dashboard}"
    );
    let database = match common::on_postgres() {
        true => "1 instance on PostgreSQL",
        false => "1 instance on the embedded SQLite database",
    };
    assert!(dashboard.contains(database), "{dashboard}");
}
