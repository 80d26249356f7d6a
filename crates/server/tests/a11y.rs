//! Accessibility: axe-core (from the npm registry, `npm ci` in
//! `crates/server/tests/a11y`) run in headless Chromium on every admin page
//! and the client pages, at desktop width and at 375 px. No serious or
//! critical violation may remain.
//!
//! Without Chromium or axe-core installed the test says why and passes,
//! except under CI (`CI` set), where either missing is a failure.

mod common;
use common::browser::*;
use common::*;

use fantoccini::Client;
use serde_json::{json, Value};
use std::path::PathBuf;

fn axe_source() -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/a11y/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(e) => {
            let reason = format!("the accessibility test needs {} ({e})", path.display());
            assert!(std::env::var_os("CI").is_none(), "{reason} (CI is set)");
            eprintln!("skipped: {reason}; run `npm ci --prefix crates/server/tests/a11y`");
            None
        }
    }
}

/// The serious and critical violations axe finds on the page shown now.
async fn violations(client: &Client, axe: &str) -> Vec<Value> {
    client
        .execute(axe, vec![])
        .await
        .expect("axe-core loads into the page");
    let script = r#"
        const done = arguments[arguments.length - 1];
        axe.run(document, { resultTypes: ["violations"] })
          .then((r) => done(r.violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                           nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }))))
          .catch((e) => done([{ id: "axe-failed", help: String(e) }]));
    "#;
    let found = client
        .execute_async(script, vec![])
        .await
        .expect("axe runs");
    found.as_array().cloned().unwrap_or_default()
}

async fn check(
    client: &Client,
    app: &TestApp,
    axe: &str,
    paths: &[String],
    found: &mut Vec<Value>,
) {
    for width in [1280, 375] {
        client.set_window_size(width, 900).await.unwrap();
        for path in paths {
            client.goto(&format!("{}{path}", app.base)).await.unwrap();
            for v in violations(client, axe).await {
                found.push(json!({ "page": path, "width": width, "violation": v }));
            }
        }
    }
}

#[tokio::test]
async fn admin_and_client_pages_have_no_serious_accessibility_violations() {
    let Some(axe) = axe_source() else {
        return;
    };
    let Some(driver) = Chromedriver::start().await else {
        return;
    };
    let app = spawn_app().await;
    let course = app.grant_alice("Programming/Rust Basics").await;
    let lesson = file_at(
        &app,
        "Programming/Rust Basics/01 Introduction/01 Welcome.md",
    )
    .await;
    let pdf = file_at(
        &app,
        "Programming/Rust Basics/03 Ownership/01 Ownership in One Page.pdf",
    )
    .await;
    let client = driver.session().await;
    let mut found = Vec::new();

    client.goto(&format!("{}/login", app.base)).await.unwrap();
    check(&client, &app, &axe, &["/login".into()], &mut found).await;

    sign_in(&client, &app, "admin", ADMIN_PW).await;
    wait_for_path(&client, "/").await;
    // Something on every admin page: a backup, a group, a token, a scan.
    let backup = lectern_app::backups::create(
        &app.state.app,
        &lectern_app::Actor::Cli("test".into()),
        lectern_backup::BackupType::Manual,
        Some("for the check".into()),
        std::sync::Arc::new(lectern_backup::Quiet),
    )
    .await
    .unwrap()
    .record
    .id;
    let category = app.store.categories().await.unwrap()[0].id;
    let admin_pages: Vec<String> = [
        "/admin",
        "/admin/library",
        "/admin/scans",
        "/admin/scans/1",
        "/admin/cleanup",
        "/admin/backups",
        "/admin/users",
        "/admin/users/2",
        "/admin/groups",
        "/admin/groups/1",
        "/admin/tokens",
        "/admin/audit",
        "/admin/health",
        "/account",
    ]
    .into_iter()
    .map(String::from)
    .chain([
        format!("/admin/backups/{backup}/restore"),
        format!("/admin/backups/{backup}/delete"),
        "/".into(),
        format!("/categories/{category}"),
        format!("/courses/{course}"),
        format!("/files/{lesson}"),
        format!("/files/{pdf}"),
        "/search?q=rust".into(),
    ])
    .collect();
    check(&client, &app, &axe, &admin_pages, &mut found).await;
    assert!(
        found.is_empty(),
        "{}",
        serde_json::to_string_pretty(&found).unwrap()
    );
    client.close().await.unwrap();
}
