//! The web pages in a real browser: headless Chromium driven through
//! chromedriver (WebDriver) against a real server on port 0.
//!
//! Without Chromium or chromedriver the tests say why and pass, except
//! under CI (`CI` set), where a missing browser is a failure.

mod common;
use common::*;

use fantoccini::cookies::Cookie;
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use lectern_core::FileId;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM_FLAGS: [&str; 7] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];
/// How long any one thing in the browser may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(50);

/// A chromedriver we started, with the browser profile it uses. Dropping it
/// ends chromedriver and its browsers, also when the test panics.
struct Chromedriver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

impl Chromedriver {
    /// None when the browser is missing outside CI (the reason is printed).
    async fn start() -> Option<Chromedriver> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|p| !Path::new(p).exists())
            .collect();
        if !missing.is_empty() {
            let reason = format!("browser test needs {}", missing.join(" and "));
            assert!(std::env::var_os("CI").is_none(), "{reason} (CI is set)");
            eprintln!("skipped: {reason}; install the Debian packages chromium chromium-driver");
            return None;
        }
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so Drop can end the browsers with it.
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let mut driver = Chromedriver {
            child,
            port,
            profile: tempfile::tempdir().unwrap(),
        };
        driver.wait_ready().await;
        Some(driver)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Polls WebDriver's /status until it says ready, or fails at the deadline.
    async fn wait_ready(&mut self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("chromedriver exited before it was ready: {status}");
            }
            let reply = http.get(format!("{}/status", self.url())).send().await;
            if let Ok(reply) = reply {
                let body: Value = reply.json().await.unwrap_or(Value::Null);
                if body["value"]["ready"] == true {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver never became ready");
            tokio::time::sleep(POLL).await;
        }
    }

    /// A new headless Chromium session.
    async fn session(&self) -> Client {
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", self.profile.path().display()));
        args.push("--window-size=1280,900".into());
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        let options = json!({ "binary": CHROMIUM, "args": args });
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url())
            .await
            .expect("chromedriver opens a Chromium session");
        let timeouts = TimeoutConfiguration::new(Some(PATIENCE), Some(PATIENCE), None);
        client.update_timeouts(timeouts).await.unwrap();
        client
    }

    /// Asks chromedriver to quit its sessions and exit (closing the
    /// browsers it started), without the async runtime Drop cannot use.
    fn shutdown(&self) {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request = format!(
            "GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.port
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            let _ = stream.read_to_end(&mut Vec::new());
        }
    }

    fn exited_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return true;
            }
            std::thread::sleep(POLL);
        }
        false
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        self.shutdown();
        if !self.exited_within(Duration::from_secs(5)) {
            let _ = self.child.kill();
        }
        // Whatever chromedriver left in its group (a stuck browser) goes too.
        // SAFETY: kill(2) with our own child's process group id; no memory is touched.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago, for chromedriver to listen on.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Polls until the browser is at `path` (query ignored).
async fn wait_for_path(client: &Client, path: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let url = client.current_url().await.unwrap();
        if url.path() == path {
            return;
        }
        assert!(Instant::now() < deadline, "expected {path}, still at {url}");
        tokio::time::sleep(POLL).await;
    }
}

async fn find(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
}

async fn text_of(client: &Client, css: &str) -> String {
    find(client, css).await.text().await.unwrap()
}

async fn attr_of(client: &Client, css: &str, name: &str) -> String {
    let element = find(client, css).await;
    let value = element.attr(name).await.unwrap();
    value.unwrap_or_else(|| panic!("{css} has no {name} attribute"))
}

/// `fetch` from the page itself, so the browser's cookie (and whatever
/// headers `init` adds) go with it. Returns status, content type and text.
async fn page_fetch(client: &Client, url: &str, init: Value) -> Value {
    let script = r#"
        const [url, init] = arguments;
        return fetch(url, Object.assign({ credentials: "same-origin" }, init))
            .then(async (r) => ({
                status: r.status,
                type: r.headers.get("content-type") || "",
                text: (await r.text()).slice(0, 4000),
            }));
    "#;
    client
        .execute(script, vec![json!(url), init])
        .await
        .unwrap_or_else(|e| panic!("fetch {url} from the page: {e}"))
}

/// The file's id, looked up by its path from the library root.
async fn file_at(app: &TestApp, path: &str) -> FileId {
    let files = app.files().await;
    let file = files.iter().find(|f| f.path == path);
    file.unwrap_or_else(|| panic!("the demo has no {path}")).id
}

/// Signs in through the form, the way a person does.
async fn sign_in(client: &Client, app: &TestApp, user: &str, password: &str) {
    client.goto(&format!("{}/login", app.base)).await.unwrap();
    find(client, "#username")
        .await
        .send_keys(user)
        .await
        .unwrap();
    find(client, "#password")
        .await
        .send_keys(password)
        .await
        .unwrap();
    find(client, "section.login button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
}

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
