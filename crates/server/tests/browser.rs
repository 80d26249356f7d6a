//! The web pages in a real browser: headless Chromium driven through
//! chromedriver (WebDriver) against a real server on port 0.
//!
//! Without Chromium or chromedriver the tests say why and pass, except
//! under CI (`CI` set), where a missing browser is a failure.

mod common;
use common::browser::*;
use common::*;

use fantoccini::cookies::Cookie;
use fantoccini::{Client, Locator};
use lectern_core::FileId;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Instant;

/// The course page's progress: the `<progress>` value and the text beside it.
async fn course_progress(client: &Client) -> (f64, String) {
    let value = attr_of(client, "#course-progress", "value").await;
    let value = value.parse().unwrap_or_else(|_| panic!("progress {value}"));
    (value, text_of(client, "#course-percent").await)
}

fn session_cookie(cookie: &Cookie<'_>) -> String {
    format!("{}={}", cookie.name(), cookie.value())
}

async fn me_with_cookie(app: &TestApp, cookie: &str) -> StatusCode {
    let url = format!("{}/api/auth/me", app.base);
    let reply = app.http.get(url).header("cookie", cookie).send().await;
    reply.unwrap().status()
}

#[tokio::test]
async fn learner_signs_in_reads_lessons_completes_one_and_signs_out() {
    let Some(driver) = Chromedriver::start().await else {
        return;
    };
    let app = spawn_app().await;
    let course = app.grant_alice("Programming/Rust Basics").await;
    let client = driver.session().await;

    // Signed out, the library sends you to the sign-in form; a wrong
    // password shows the form again with the reason and sets no cookie.
    client.goto(&format!("{}/", app.base)).await.unwrap();
    wait_for_path(&client, "/login").await;
    sign_in(&client, &app, "alice", "not her password").await;
    let error = text_of(&client, "section.login p.error").await;
    assert!(!error.is_empty());
    assert!(client.get_named_cookie("lectern_session").await.is_err());

    sign_in(&client, &app, "alice", ALICE_PW).await;
    wait_for_path(&client, "/").await;
    let cookie = client.get_named_cookie("lectern_session").await.unwrap();
    assert_eq!(
        cookie.http_only(),
        Some(true),
        "the session cookie is HttpOnly"
    );
    let script_sees = client.execute("return document.cookie", vec![]).await;
    assert!(!script_sees.unwrap().to_string().contains("lectern_session"));
    let cookie = session_cookie(&cookie);
    assert_eq!(me_with_cookie(&app, &cookie).await, StatusCode::OK);

    // Home: alice sees only her course, as a card with its progress.
    let cards = client.find_all(Locator::Css("li.card")).await.unwrap();
    assert_eq!(cards.len(), 1);
    let card_text = cards[0].text().await.unwrap();
    assert!(card_text.contains("Rust Basics"), "{card_text}");
    assert!(card_text.contains("0 of "), "{card_text}");
    let card_link = format!("li.card a[href='/courses/{course}']");
    find(&client, &card_link).await.click().await.unwrap();
    wait_for_path(&client, &format!("/courses/{course}")).await;
    let (before, before_text) = course_progress(&client).await;
    assert_eq!(before, 0.0, "{before_text}");

    reads_markdown_lesson(&client, &app).await;
    let pdf = reads_pdf_lesson(&client, &app).await;

    // Marking the PDF complete shows it done and moves the course on.
    find(&client, "#complete").await.click().await.unwrap();
    let note = text_of(&client, "#completed-note").await;
    assert!(note.contains("Completed"), "{note}");
    wait_for_path(&client, &format!("/files/{pdf}")).await;
    let done = format!("nav.sidebar li.done a[href='/files/{pdf}']");
    find(&client, &done).await;
    find(&client, "nav.sidebar h2 a")
        .await
        .click()
        .await
        .unwrap();
    wait_for_path(&client, &format!("/courses/{course}")).await;
    let (after, after_text) = course_progress(&client).await;
    assert!(after > before, "{before_text} → {after_text}");
    assert!(after_text.contains("1 of "), "{after_text}");

    // Signing out ends the session on the server, not just in the browser.
    find(&client, "#logout").await.click().await.unwrap();
    wait_for_path(&client, "/login").await;
    client.goto(&format!("{}/", app.base)).await.unwrap();
    wait_for_path(&client, "/login").await;
    assert!(client.get_named_cookie("lectern_session").await.is_err());
    let me = me_with_cookie(&app, &cookie).await;
    assert_eq!(me, StatusCode::UNAUTHORIZED);

    client.close().await.unwrap();
}

/// Opens the Welcome lesson from the sidebar: its markdown arrives as
/// elements, not as raw `#` and `**`.
async fn reads_markdown_lesson(client: &Client, app: &TestApp) {
    let welcome = file_at(app, "Programming/Rust Basics/01 Introduction/01 Welcome.md").await;
    let link = format!("nav.sidebar a[href='/files/{welcome}']");
    find(client, &link).await.click().await.unwrap();
    wait_for_path(client, &format!("/files/{welcome}")).await;
    assert_eq!(text_of(client, "div.markdown h1").await, "Welcome");
    assert_eq!(text_of(client, "div.markdown h2").await, "Before you start");
    assert_eq!(text_of(client, "div.markdown strong").await, "Rust Basics");
    let items = client.find_all(Locator::Css("div.markdown ol li")).await;
    assert_eq!(items.unwrap().len(), 3);
    let shown = text_of(client, "div.markdown").await;
    assert!(!shown.contains('#') && !shown.contains("**"), "{shown}");
}

/// Opens the PDF lesson: the frame shows the content URL, which answers
/// the signed-in browser with the PDF and a stranger with 401.
async fn reads_pdf_lesson(client: &Client, app: &TestApp) -> FileId {
    let path = "Programming/Rust Basics/03 Ownership/01 Ownership in One Page.pdf";
    let pdf = file_at(app, path).await;
    let link = format!("nav.sidebar a[href='/files/{pdf}']");
    find(client, &link).await.click().await.unwrap();
    wait_for_path(client, &format!("/files/{pdf}")).await;
    let src = attr_of(client, "iframe.pdf", "src").await;
    assert_eq!(src, format!("/api/files/{pdf}/content"));
    let reply = page_fetch(client, &src, json!({})).await;
    assert_eq!(reply["status"], 200, "{reply}");
    let kind = reply["type"].as_str().unwrap();
    assert!(kind.starts_with("application/pdf"), "{reply}");
    assert!(reply["text"].as_str().unwrap().starts_with("%PDF-"));
    let stranger = app.http.get(format!("{}{src}", app.base)).send().await;
    assert_eq!(stranger.unwrap().status(), StatusCode::UNAUTHORIZED);
    pdf
}

#[tokio::test]
async fn media_lesson_has_subtitles_and_resumes_where_it_was_left() {
    let Some(driver) = Chromedriver::start().await else {
        return;
    };
    let app = spawn_app().await;
    app.grant_alice("Languages/German A1").await;
    let client = driver.session().await;
    sign_in(&client, &app, "alice", ALICE_PW).await;
    wait_for_path(&client, "/").await;

    let wav = file_at(&app, "Languages/German A1/01 Greetings/01 Hallo.wav").await;
    client
        .goto(&format!("{}/files/{wav}", app.base))
        .await
        .unwrap();
    let media = find(&client, "#media").await;
    assert_eq!(media.tag_name().await.unwrap(), "video");
    assert_eq!(resume_of(&client).await, 0.0);
    subtitles_are_webvtt(&client).await;

    // Without the page's CSRF token the cookie alone may not save anything.
    let url = format!("/api/files/{wav}/progress");
    let body = json!({ "position_seconds": 2.5 }).to_string();
    let bare =
        json!({ "method": "PUT", "headers": { "content-type": "application/json" }, "body": body });
    let refused = page_fetch(&client, &url, bare).await;
    assert_eq!(refused["status"], 403, "{refused}");
    let envelope: Value = serde_json::from_str(refused["text"].as_str().unwrap()).unwrap();
    assert_envelope(&envelope, "csrf_rejected");

    let token = attr_of(&client, "meta[name='csrf-token']", "content").await;
    let headers = json!({ "content-type": "application/json", "x-csrf-token": token });
    let signed = json!({ "method": "PUT", "headers": headers, "body": body });
    let saved = page_fetch(&client, &url, signed).await;
    assert_eq!(saved["status"], 200, "{saved}");

    client.refresh().await.unwrap();
    find(&client, "#media").await;
    assert_eq!(resume_of(&client).await, 2.5);
    plays_from(&client, 2.5).await;
    client.close().await.unwrap();
}

async fn resume_of(client: &Client) -> f64 {
    let resume = attr_of(client, "#media", "data-resume").await;
    resume
        .parse()
        .unwrap_or_else(|_| panic!("data-resume {resume}"))
}

/// Both subtitle tracks are there, each answering WebVTT in its language.
async fn subtitles_are_webvtt(client: &Client) {
    let tracks = client.find_all(Locator::Css("#media track")).await.unwrap();
    assert_eq!(tracks.len(), 2);
    let mut seen = Vec::new();
    for track in tracks {
        let lang = track.attr("srclang").await.unwrap().unwrap();
        let src = track.attr("src").await.unwrap().unwrap();
        let reply = page_fetch(client, &src, json!({})).await;
        assert_eq!(reply["status"], 200, "{src}: {reply}");
        assert!(reply["type"].as_str().unwrap().starts_with("text/vtt"));
        let text = reply["text"].as_str().unwrap();
        assert!(text.starts_with("WEBVTT"), "{text}");
        let first_line = if lang == "de" { "Hallo!" } else { "Hello!" };
        assert!(text.contains(first_line), "{lang}: {text}");
        seen.push(lang);
    }
    seen.sort();
    assert_eq!(seen, ["de", "en"]);
}

/// Once the browser has the media's metadata, the page's script has moved
/// the playhead to the saved position.
async fn plays_from(client: &Client, position: f64) {
    let script = r#"
        const m = document.getElementById("media");
        return { ready: m.readyState, time: m.currentTime, error: m.error && m.error.code };
    "#;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let state = client.execute(script, vec![]).await.unwrap();
        if state["ready"].as_u64().unwrap_or(0) >= 1 && state["time"] == json!(position) {
            return;
        }
        assert!(
            state["error"].is_null(),
            "the browser could not load the media: {state}"
        );
        assert!(
            Instant::now() < deadline,
            "the media did not resume at {position}: {state}"
        );
        tokio::time::sleep(POLL).await;
    }
}
