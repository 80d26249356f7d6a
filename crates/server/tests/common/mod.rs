//! The shared harness of the server tests: `spawn_app()` starts a real
//! server on port 0 with its own database and a scanned demo library. The
//! database is a new SQLite file, or with `LECTERN_TEST_BACKEND=postgres`
//! a new database on the local PostgreSQL server (`.ci/run` runs the suite
//! both ways).
#![allow(dead_code)] // each test file uses its own part

pub mod browser;
pub mod forms;

use lectern_app::passwords::hash_password;
use lectern_core::CourseId;
use lectern_scanner::{ScanOptions, ScanScope, Scanner};
use lectern_server::{AppState, ServerOptions};
use lectern_store::{FileRecord, Grant, NewUser, Role, Store};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

pub struct TestApp {
    pub base: String,
    /// The running server's state, shared: tests may flip its switches.
    pub state: AppState,
    pub store: Arc<dyn Store>,
    pub root: PathBuf,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub stop: tokio::sync::oneshot::Sender<()>,
    /// The PostgreSQL database, dropped with the app.
    pub postgres: Option<lectern_testdb::TestDb>,
}

/// Whether this run's tests use PostgreSQL (`LECTERN_TEST_BACKEND`).
pub fn on_postgres() -> bool {
    std::env::var("LECTERN_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// A new database of this run's backend under `dir`: its URL, and the
/// PostgreSQL database to keep until the test ends.
pub async fn new_database(dir: &std::path::Path) -> (String, Option<lectern_testdb::TestDb>) {
    if !on_postgres() {
        return (
            format!("sqlite://{}", dir.join("lectern.db").display()),
            None,
        );
    }
    let db = lectern_testdb::TestDb::create()
        .await
        .expect("LECTERN_TEST_BACKEND=postgres needs a PostgreSQL server");
    (db.url().to_owned(), Some(db))
}

pub const ADMIN_PW: &str = "admin password";
pub const ALICE_PW: &str = "alice password";

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_, _| {}).await
}

/// As [`spawn_app`], with the options changed first (`dir` is the data folder).
pub async fn spawn_app_with(
    configure: impl FnOnce(&mut ServerOptions, &std::path::Path),
) -> TestApp {
    spawn_app_over(configure, |app| app).await
}

/// As [`spawn_app_with`], with the use cases' context changed too (its
/// monitoring, say) before the server takes it.
pub async fn spawn_app_over(
    configure: impl FnOnce(&mut ServerOptions, &std::path::Path),
    build: impl FnOnce(lectern_app::App) -> lectern_app::App,
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lib");
    lectern_demo::write_demo(&root).unwrap();
    let (url, postgres) = new_database(dir.path()).await;
    let store = lectern_store::open(&url).await.unwrap();
    let options = ScanOptions {
        scope: ScanScope::All,
        verify: false,
        force: false,
        started_by: "test".into(),
        watched: false,
    };
    let report = Scanner::new(store.clone(), root.clone())
        .start(options)
        .await
        .unwrap()
        .run()
        .await;
    assert_eq!(report.counts.errors, 0);
    for (name, pw, role) in [
        ("admin", ADMIN_PW, Role::Admin),
        ("alice", ALICE_PW, Role::User),
    ] {
        let new = NewUser {
            username: name.into(),
            password_hash: hash_password(pw).unwrap(),
            role,
        };
        store.create_user(&new).await.unwrap();
    }
    let mut options = ServerOptions {
        root_override: Some(root.clone()),
        backups: lectern_server::BackupOptions::in_data(
            dir.path(),
            lectern_backup::Secrets::none(),
        ),
        ..ServerOptions::default()
    };
    configure(&mut options, dir.path());
    let app = lectern_app::App::new(store.clone(), options.library(), options.backups.clone());
    let state = AppState::with_app(build(app), options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(lectern_server::serve(listener, state.clone(), async move {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        state,
        store,
        root,
        http: reqwest::Client::new(),
        dir,
        stop,
        postgres,
    }
}

impl TestApp {
    pub async fn login(&self, user: &str, password: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/api/auth/login", self.base))
            .json(&json!({ "username": user, "password": password }))
            .send()
            .await
            .unwrap()
    }

    pub async fn token(&self, user: &str, password: &str) -> String {
        let response = self.login(user, password).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn req(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        call(self, Method::GET, path, Some(token), None).await
    }

    /// A full scan of the library, as after a change on disk.
    pub async fn rescan(&self) {
        let options = ScanOptions {
            scope: ScanScope::All,
            verify: false,
            force: false,
            started_by: "test".into(),
            watched: false,
        };
        let scanner = Scanner::new(self.store.clone(), self.root.clone());
        let report = scanner.start(options).await.unwrap().run().await;
        assert_eq!(report.counts.errors, 0);
    }

    pub async fn files(&self) -> Vec<FileRecord> {
        self.store.all_files().await.unwrap()
    }

    pub async fn file_named(&self, name: &str) -> FileRecord {
        self.files()
            .await
            .into_iter()
            .find(|f| f.name == name)
            .unwrap()
    }

    /// Gives alice (through a group) the course at `course_path` only.
    pub async fn grant_alice(&self, course_path: &str) -> CourseId {
        let path = lectern_core::LibraryPath::parse(course_path).unwrap();
        let course = self.store.course_by_path(&path).await.unwrap().unwrap();
        let alice = self.store.user_login("alice").await.unwrap().unwrap().0;
        let group = self.store.create_group("learners").await.unwrap();
        self.store.add_member(group, alice.id).await.unwrap();
        self.store
            .add_grant(group, Grant::Course(course.id))
            .await
            .unwrap();
        course.id
    }
}

/// A request with a Bearer token (or none) and an optional JSON body: its
/// status and its JSON answer (`Null` when it has none).
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.req(method, path, token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub fn assert_envelope(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}
