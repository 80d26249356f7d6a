//! A large upload through the admin panel in a real browser: the file
//! streams (the server's peak memory stays bounded), the page's bar moves
//! through intermediate values, and an upload that is no backup is refused
//! in words. Alone in its test binary, so that the process's peak memory
//! is this server's alone.

mod common;
use common::browser::*;
use common::*;

use fantoccini::{Client, Locator};
use std::time::Instant;

async fn click(client: &Client, css: &str) {
    find(client, css).await.click().await.unwrap();
}

/// Reads the upload bar's value until the page leaves the form; every
/// distinct value seen.
async fn upload_progress_until_done(client: &Client) -> Vec<f64> {
    let deadline = Instant::now() + std::time::Duration::from_secs(300);
    let mut seen: Vec<f64> = Vec::new();
    loop {
        let state = client
            .execute(
                r#"const bar = document.getElementById("upload-progress");
                   const error = document.getElementById("upload-error");
                   return { value: bar ? bar.value : -1, failed: error ? !error.hidden : false };"#,
                vec![],
            )
            .await
            .unwrap();
        let value = state["value"].as_f64().unwrap_or(-1.0);
        if value >= 0.0 && seen.last() != Some(&value) {
            seen.push(value);
        }
        if state["failed"] == true || value < 0.0 {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "the upload never ended: {seen:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test]
async fn a_large_upload_streams_with_a_moving_bar_and_is_refused_in_words() {
    let Some(driver) = Chromedriver::start().await else {
        return;
    };
    let app = spawn_app().await;
    let client = driver.session().await;
    sign_in(&client, &app, "admin", ADMIN_PW).await;
    wait_for_path(&client, "/").await;
    client
        .goto(&format!("{}/admin/backups", app.base))
        .await
        .unwrap();
    // 3 GiB that is no archive: sent whole, then judged by its content.
    let fake = app.dir.path().join("not-a-backup.tar");
    std::fs::File::create(&fake)
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    let before = peak_memory_kib();
    find(&client, "#upload-file")
        .await
        .send_keys(&fake.to_string_lossy())
        .await
        .unwrap();
    click(&client, "#upload-button").await;
    let seen = upload_progress_until_done(&client).await;
    let between = seen.iter().filter(|v| **v > 0.0 && **v < 100.0).count();
    assert!(between >= 2, "the bar moved through: {seen:?}");
    let said = text_of(&client, "#upload-error").await;
    assert!(
        said.contains("not a Lectern backup") || said.contains("archive"),
        "{said}"
    );
    assert!(
        client.find(Locator::Css("#backup-table")).await.is_err(),
        "nothing was listed"
    );
    // The peak of this whole process, the server and the test's own setup.
    let peak = peak_memory_kib();
    assert!(
        peak < 250 * 1024,
        "the process's peak memory reached {peak} KiB"
    );
    eprintln!(
        "3 GiB upload: peak memory {} MiB before it, {} MiB after; the bar took {} values",
        before / 1024,
        peak / 1024,
        seen.len()
    );
    client.close().await.unwrap();
}

/// This process's peak resident memory (the server runs in it), in KiB.
fn peak_memory_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
