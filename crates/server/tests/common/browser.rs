//! Headless Chromium for the page tests: chromedriver (WebDriver) started
//! on a free port, one browser profile per driver, and the steps a person
//! takes (sign in, find, read, fetch from the page).
//!
//! Without Chromium or chromedriver, [`Chromedriver::start`] says why and
//! returns `None`, except under CI (`CI` set), where a missing browser is a
//! failure.

use super::TestApp;
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use lectern_core::FileId;
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
pub const PATIENCE: Duration = Duration::from_secs(20);
pub const POLL: Duration = Duration::from_millis(50);

/// A chromedriver we started, with the browser profile it uses. Dropping it
/// ends chromedriver and its browsers, also when the test panics.
pub struct Chromedriver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

impl Chromedriver {
    /// None when the browser is missing outside CI (the reason is printed).
    pub async fn start() -> Option<Chromedriver> {
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
    pub async fn session(&self) -> Client {
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
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Polls until the browser is at `path` (query ignored).
pub async fn wait_for_path(client: &Client, path: &str) {
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

pub async fn find(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
}

pub async fn text_of(client: &Client, css: &str) -> String {
    find(client, css).await.text().await.unwrap()
}

pub async fn attr_of(client: &Client, css: &str, name: &str) -> String {
    let element = find(client, css).await;
    let value = element.attr(name).await.unwrap();
    value.unwrap_or_else(|| panic!("{css} has no {name} attribute"))
}

/// `fetch` from the page itself, so the browser's cookie (and whatever
/// headers `init` adds) go with it. Returns status, content type and text.
pub async fn page_fetch(client: &Client, url: &str, init: Value) -> Value {
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
pub async fn file_at(app: &TestApp, path: &str) -> FileId {
    let files = app.files().await;
    let file = files.iter().find(|f| f.path == path);
    file.unwrap_or_else(|| panic!("the demo has no {path}")).id
}

/// Signs in through the form, the way a person does.
pub async fn sign_in(client: &Client, app: &TestApp, user: &str, password: &str) {
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
