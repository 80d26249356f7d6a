//! The authorisation matrix (SPEC §2, §4): every API route × {anonymous,
//! a user with no grant (bob), a user with a grant (alice, given
//! `Programming/Rust Basics`), an admin}, against a target alice is granted
//! and one she is not, gets the expected status; and nothing bob or alice
//! receives — listings and search included — names, locates or numbers a
//! course, category or file outside their grants.
//!
//! The rows are checked against the OpenAPI document, so a route added
//! without a row here fails.

mod common;

use common::*;
use lectern_app::passwords::hash_password;
use lectern_core::{CategoryId, CourseId};
use lectern_store::{
    Category, Course, FileRecord, FileRole, Grant, GrantId, GroupId, NewApiToken, NewUser, Role,
    UserId,
};
use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{redirect::Policy, Client, Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};

const BOB_PW: &str = "bob password";
const CAROL_PW: &str = "carol password";

/// The callers, in the order every row lists its expectations.
const WHO: [&str; 4] = ["anonymous", "bob", "alice", "admin"];
const ANON: usize = 0;
const BOB: usize = 1;
const ALICE: usize = 2;
const ADMIN: usize = 3;

type Expect = [&'static [u16]; 4];

/// Signed in, whoever you are.
fn signed_in(status: &'static [u16]) -> Expect {
    [&[401], status, status, status]
}
/// Something alice is granted: bob cannot see it, she and admins can.
const GRANTED: Expect = [&[401], &[404], &[200], &[200]];
/// Something outside alice's grants: only admins see it.
const HIDDEN: Expect = [&[401], &[404], &[404], &[200]];
/// An id that names nothing.
const MISSING: Expect = [&[401], &[404], &[404], &[404]];
/// Admins only; `status` is what an admin gets.
fn admin_only(status: &'static [u16]) -> Expect {
    [&[401], &[403], &[403], status]
}

struct Row {
    method: Method,
    /// The path as the OpenAPI document writes it.
    template: &'static str,
    path: String,
    /// Which target the ids name (for the failure report).
    target: &'static str,
    body: Option<Value>,
    expect: Expect,
    /// Signs in afresh for this request (it ends the session it uses).
    fresh_session: bool,
}

fn row(method: Method, template: &'static str, path: String, target: &'static str) -> Row {
    Row {
        method,
        template,
        path,
        target,
        body: None,
        expect: MISSING,
        fresh_session: false,
    }
}

impl Row {
    fn expect(mut self, expect: Expect) -> Self {
        self.expect = expect;
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn fresh_session(mut self) -> Self {
        self.fresh_session = true;
        self
    }
}

/// The library as the store has it.
struct Library {
    categories: Vec<Category>,
    courses: Vec<Course>,
    files: Vec<FileRecord>,
}

impl Library {
    async fn load(app: &TestApp) -> Library {
        Library {
            categories: app.store.categories().await.unwrap(),
            courses: app.store.courses(None).await.unwrap(),
            files: app.files().await,
        }
    }

    fn course(&self, path: &str) -> &Course {
        self.courses.iter().find(|c| c.path == path).unwrap()
    }

    fn category(&self, name: &str) -> CategoryId {
        self.categories.iter().find(|c| c.name == name).unwrap().id
    }

    fn file(&self, path: &str) -> &FileRecord {
        self.files.iter().find(|f| f.path == path).unwrap()
    }
}

/// Everything the matrix needs: the app, a token per caller, and the ids
/// it aims at. Admin rows that change things aim at scratch records made
/// here, so no row changes what a later row sees.
struct Fixture {
    app: TestApp,
    tokens: [Option<String>; 4],
    library: Library,
    granted_course: CourseId,
    hidden_course: CourseId,
    granted_category: CategoryId,
    hidden_category: CategoryId,
    granted_file: i64,
    hidden_file: i64,
    hidden_subtitle: i64,
    bob: UserId,
    carol: UserId,
    learners: GroupId,
    /// No members and no grants: renamed, given a member, then deleted.
    scratch: GroupId,
    /// Carol, and no grants: she is removed from it.
    scratch_members: GroupId,
    /// A grant and no members: given another, and one removed.
    scratch_grants: GroupId,
    scratch_grant: GrantId,
    scratch_token: i64,
}

async fn new_user(app: &TestApp, name: &str, password: &str) -> UserId {
    let new = NewUser {
        username: name.into(),
        password_hash: hash_password(password).unwrap(),
        role: Role::User,
    };
    app.store.create_user(&new).await.unwrap().id
}

async fn fixture() -> Fixture {
    let app = spawn_app().await;
    let granted_course = app.grant_alice("Programming/Rust Basics").await;
    let bob = new_user(&app, "bob", BOB_PW).await;
    let carol = new_user(&app, "carol", CAROL_PW).await;
    let library = Library::load(&app).await;
    let store = app.store.as_ref();

    let learners = store.groups().await.unwrap()[0].id;
    let scratch = store.create_group("scratch").await.unwrap();
    let scratch_members = store.create_group("scratch members").await.unwrap();
    store.add_member(scratch_members, carol).await.unwrap();
    let scratch_grants = store.create_group("scratch grants").await.unwrap();
    let design = library.category("Design");
    store
        .add_grant(scratch_grants, Grant::Category(design))
        .await
        .unwrap();
    let scratch_grant = store.group_grants(scratch_grants).await.unwrap()[0].id;
    let token = NewApiToken {
        name: "scratch".into(),
        user_id: carol,
        token_hash: "0".repeat(64),
        csrf_token: "1".repeat(64),
        expires_at: None,
    };
    let scratch_token = store.create_api_token(&token).await.unwrap().id.0;

    let tokens = [
        None,
        Some(app.token("bob", BOB_PW).await),
        Some(app.token("alice", ALICE_PW).await),
        Some(app.token("admin", ADMIN_PW).await),
    ];
    Fixture {
        granted_category: library.category("Programming"),
        hidden_category: design,
        hidden_course: library.course("Programming/Python for Data").id,
        granted_file: library
            .file("Programming/Rust Basics/01 Introduction/01 Welcome.md")
            .id
            .0,
        hidden_file: library
            .files
            .iter()
            .find(|f| {
                f.path
                    .to_string_lossy()
                    .starts_with("Programming/Python for Data/")
            })
            .unwrap()
            .id
            .0,
        hidden_subtitle: library
            .file("Languages/German A1/01 Greetings/01 Hallo.en.srt")
            .id
            .0,
        app,
        tokens,
        library,
        granted_course,
        bob,
        carol,
        learners,
        scratch,
        scratch_members,
        scratch_grants,
        scratch_grant,
        scratch_token,
    }
}

/// One row per route and target. Admin rows that change something come
/// after the rows that read the same records.
fn rows(f: &Fixture) -> Vec<Row> {
    use Method as M;
    let (gc, hc) = (f.granted_course.0, f.hidden_course.0);
    let (gk, hk) = (f.granted_category.0, f.hidden_category.0);
    let (gf, hf, hs) = (f.granted_file, f.hidden_file, f.hidden_subtitle);
    let none = 999_999;
    let progress = json!({ "completed": false, "position_seconds": 1.5 });
    vec![
        row(M::GET, "/api/openapi.json", "/api/openapi.json".into(), "-").expect([&[200]; 4]),
        row(
            M::POST,
            "/api/auth/login",
            "/api/auth/login".into(),
            "alice's own",
        )
        .body(json!({ "username": "alice", "password": ALICE_PW }))
        .expect([&[200]; 4]),
        row(
            M::POST,
            "/api/auth/login",
            "/api/auth/login".into(),
            "wrong password",
        )
        .body(json!({ "username": "alice", "password": "wrong" }))
        .expect([&[401]; 4]),
        row(M::GET, "/api/auth/me", "/api/auth/me".into(), "-").expect(signed_in(&[200])),
        row(M::GET, "/api/categories", "/api/categories".into(), "-").expect(signed_in(&[200])),
        row(
            M::GET,
            "/api/categories/{id}",
            format!("/api/categories/{gk}"),
            "granted",
        )
        .expect(GRANTED),
        row(
            M::GET,
            "/api/categories/{id}",
            format!("/api/categories/{hk}"),
            "hidden",
        )
        .expect(HIDDEN),
        row(
            M::GET,
            "/api/categories/{id}",
            format!("/api/categories/{none}"),
            "missing",
        ),
        row(
            M::GET,
            "/api/courses/{id}",
            format!("/api/courses/{gc}"),
            "granted",
        )
        .expect(GRANTED),
        row(
            M::GET,
            "/api/courses/{id}",
            format!("/api/courses/{hc}"),
            "hidden",
        )
        .expect(HIDDEN),
        row(
            M::GET,
            "/api/courses/{id}",
            format!("/api/courses/{none}"),
            "missing",
        ),
        row(
            M::GET,
            "/api/files/{id}",
            format!("/api/files/{gf}"),
            "granted",
        )
        .expect(GRANTED),
        row(
            M::GET,
            "/api/files/{id}",
            format!("/api/files/{hf}"),
            "hidden",
        )
        .expect(HIDDEN),
        row(
            M::GET,
            "/api/files/{id}",
            format!("/api/files/{none}"),
            "missing",
        ),
        row(
            M::GET,
            "/api/files/{id}/content",
            format!("/api/files/{gf}/content"),
            "granted",
        )
        .expect(GRANTED),
        row(
            M::GET,
            "/api/files/{id}/content",
            format!("/api/files/{hf}/content"),
            "hidden",
        )
        .expect(HIDDEN),
        row(
            M::GET,
            "/api/files/{id}/content",
            format!("/api/files/{none}/content"),
            "missing",
        ),
        row(
            M::HEAD,
            "/api/files/{id}/content",
            format!("/api/files/{gf}/content"),
            "granted",
        )
        .expect(GRANTED),
        row(
            M::HEAD,
            "/api/files/{id}/content",
            format!("/api/files/{hf}/content"),
            "hidden",
        )
        .expect(HIDDEN),
        row(
            M::HEAD,
            "/api/files/{id}/content",
            format!("/api/files/{none}/content"),
            "missing",
        ),
        // Rust Basics has no subtitles: its lesson is no subtitle file for anyone.
        row(
            M::GET,
            "/api/files/{id}/vtt",
            format!("/api/files/{gf}/vtt"),
            "granted, not subtitles",
        ),
        row(
            M::GET,
            "/api/files/{id}/vtt",
            format!("/api/files/{hs}/vtt"),
            "hidden subtitles",
        )
        .expect(HIDDEN),
        row(
            M::PUT,
            "/api/files/{id}/progress",
            format!("/api/files/{gf}/progress"),
            "granted",
        )
        .body(progress.clone())
        .expect(GRANTED),
        row(
            M::PUT,
            "/api/files/{id}/progress",
            format!("/api/files/{hf}/progress"),
            "hidden",
        )
        .body(progress.clone())
        .expect(HIDDEN),
        row(
            M::PUT,
            "/api/files/{id}/progress",
            format!("/api/files/{none}/progress"),
            "missing",
        )
        .body(progress),
        row(M::GET, "/api/search", "/api/search?q=rust".into(), "-").expect(signed_in(&[200])),
        row(
            M::GET,
            "/api/search",
            "/api/search?q=python".into(),
            "hidden words",
        )
        .expect(signed_in(&[200])),
        // Backups before the scanner rows: a scan started there holds the
        // operation lock for a moment, and these rows need it.
        row(
            M::GET,
            "/api/admin/backup/list",
            "/api/admin/backup/list".into(),
            "-",
        )
        .expect(admin_only(&[200])),
        row(
            M::POST,
            "/api/admin/backup/create",
            "/api/admin/backup/create".into(),
            "-",
        )
        .body(json!({ "notes": "made by the matrix" }))
        .expect(admin_only(&[201])),
        row(
            M::GET,
            "/api/admin/backup/download/{id}",
            "/api/admin/backup/download/latest".into(),
            "latest",
        )
        .expect(admin_only(&[200])),
        row(
            M::GET,
            "/api/admin/backup/download/{id}",
            "/api/admin/backup/download/missing".into(),
            "missing",
        )
        .expect(admin_only(&[404])),
        row(
            M::HEAD,
            "/api/admin/backup/download/{id}",
            "/api/admin/backup/download/latest".into(),
            "latest",
        )
        .expect(admin_only(&[200])),
        row(
            M::POST,
            "/api/admin/backup/upload",
            "/api/admin/backup/upload".into(),
            "not a backup",
        )
        .body(json!({ "not": "a backup" }))
        .expect(admin_only(&[422])),
        row(
            M::POST,
            "/api/admin/backup/restore/{id}",
            "/api/admin/backup/restore/missing".into(),
            "missing",
        )
        .body(json!({ "confirm": true }))
        .expect(admin_only(&[404])),
        row(
            M::DELETE,
            "/api/admin/backup/{id}",
            "/api/admin/backup/missing".into(),
            "missing",
        )
        .expect(admin_only(&[404])),
        row(
            M::GET,
            "/api/admin/backup/status",
            "/api/admin/backup/status".into(),
            "-",
        )
        .expect(admin_only(&[200])),
        row(
            M::GET,
            "/api/scanner/status",
            "/api/scanner/status".into(),
            "-",
        )
        .expect(admin_only(&[200])),
        row(
            M::GET,
            "/api/scanner/history",
            "/api/scanner/history".into(),
            "-",
        )
        .expect(admin_only(&[200])),
        row(
            M::GET,
            "/api/scanner/history/{scan_id}",
            "/api/scanner/history/1".into(),
            "the first scan",
        )
        .expect(admin_only(&[200])),
        row(
            M::GET,
            "/api/scanner/history/{scan_id}",
            format!("/api/scanner/history/{none}"),
            "missing",
        )
        .expect(admin_only(&[404])),
        // A scan may still hold the lock from the row before: 409 then.
        row(
            M::POST,
            "/api/scanner/scan",
            "/api/scanner/scan".into(),
            "-",
        )
        .expect(admin_only(&[202, 409])),
        row(
            M::POST,
            "/api/scanner/rescan/{course_id}",
            format!("/api/scanner/rescan/{gc}"),
            "granted",
        )
        .expect(admin_only(&[202, 409])),
        row(
            M::POST,
            "/api/scanner/rescan/{course_id}",
            format!("/api/scanner/rescan/{hc}"),
            "hidden",
        )
        .expect(admin_only(&[202, 409])),
        row(
            M::POST,
            "/api/scanner/rescan/{course_id}",
            format!("/api/scanner/rescan/{none}"),
            "missing",
        )
        .expect(admin_only(&[404, 409])),
        row(
            M::POST,
            "/api/scanner/abort",
            "/api/scanner/abort".into(),
            "-",
        )
        .expect(admin_only(&[200])),
        // Nothing is missing on disk, so a cleanup removes nothing.
        row(
            M::POST,
            "/api/scanner/cleanup",
            "/api/scanner/cleanup".into(),
            "-",
        )
        .expect(admin_only(&[200, 409])),
        row(M::GET, "/api/admin/users", "/api/admin/users".into(), "-").expect(admin_only(&[200])),
        row(
            M::POST,
            "/api/admin/users",
            "/api/admin/users".into(),
            "new user dave",
        )
        .body(json!({ "username": "dave", "password": "dave password", "role": "user" }))
        .expect(admin_only(&[201])),
        row(
            M::GET,
            "/api/admin/users/{id}",
            format!("/api/admin/users/{}", f.bob),
            "bob",
        )
        .expect(admin_only(&[200])),
        row(
            M::GET,
            "/api/admin/users/{id}",
            format!("/api/admin/users/{none}"),
            "missing",
        )
        .expect(admin_only(&[404])),
        row(
            M::PATCH,
            "/api/admin/users/{id}",
            format!("/api/admin/users/{}", f.carol),
            "carol",
        )
        .body(json!({ "disabled": false }))
        .expect(admin_only(&[200])),
        row(M::GET, "/api/admin/groups", "/api/admin/groups".into(), "-")
            .expect(admin_only(&[200])),
        row(
            M::POST,
            "/api/admin/groups",
            "/api/admin/groups".into(),
            "new group",
        )
        .body(json!({ "name": "made by the matrix" }))
        .expect(admin_only(&[201])),
        row(
            M::GET,
            "/api/admin/groups/{id}",
            format!("/api/admin/groups/{}", f.learners.0),
            "alice's group",
        )
        .expect(admin_only(&[200])),
        row(
            M::GET,
            "/api/admin/groups/{id}",
            format!("/api/admin/groups/{none}"),
            "missing",
        )
        .expect(admin_only(&[404])),
        row(
            M::PATCH,
            "/api/admin/groups/{id}",
            format!("/api/admin/groups/{}", f.scratch.0),
            "scratch",
        )
        .body(json!({ "name": "scratch renamed" }))
        .expect(admin_only(&[200])),
        row(
            M::GET,
            "/api/admin/groups/{id}/members",
            format!("/api/admin/groups/{}/members", f.learners.0),
            "alice's group",
        )
        .expect(admin_only(&[200])),
        row(
            M::POST,
            "/api/admin/groups/{id}/members",
            format!("/api/admin/groups/{}/members", f.scratch.0),
            "scratch",
        )
        .body(json!({ "user_id": f.carol }))
        .expect(admin_only(&[201])),
        row(
            M::DELETE,
            "/api/admin/groups/{id}/members/{user_id}",
            format!(
                "/api/admin/groups/{}/members/{}",
                f.scratch_members.0, f.carol
            ),
            "carol in scratch members",
        )
        .expect(admin_only(&[204])),
        row(
            M::GET,
            "/api/admin/groups/{id}/grants",
            format!("/api/admin/groups/{}/grants", f.learners.0),
            "alice's group",
        )
        .expect(admin_only(&[200])),
        row(
            M::POST,
            "/api/admin/groups/{id}/grants",
            format!("/api/admin/groups/{}/grants", f.scratch_grants.0),
            "scratch grants",
        )
        .body(json!({ "course_id": hc }))
        .expect(admin_only(&[201])),
        row(
            M::DELETE,
            "/api/admin/groups/{id}/grants/{grant_id}",
            format!(
                "/api/admin/groups/{}/grants/{}",
                f.scratch_grants.0, f.scratch_grant.0
            ),
            "scratch grants",
        )
        .expect(admin_only(&[204])),
        row(M::GET, "/api/admin/tokens", "/api/admin/tokens".into(), "-")
            .expect(admin_only(&[200])),
        row(
            M::POST,
            "/api/admin/tokens",
            "/api/admin/tokens".into(),
            "new token",
        )
        .body(json!({ "name": "made by the matrix", "expires_in_days": 1 }))
        .expect(admin_only(&[201])),
        row(
            M::DELETE,
            "/api/admin/tokens/{id}",
            format!("/api/admin/tokens/{}", f.scratch_token),
            "carol's token",
        )
        .expect(admin_only(&[204])),
        row(
            M::DELETE,
            "/api/admin/tokens/{id}",
            format!("/api/admin/tokens/{none}"),
            "missing",
        )
        .expect(admin_only(&[404])),
        row(
            M::GET,
            "/api/admin/settings",
            "/api/admin/settings".into(),
            "-",
        )
        .expect(admin_only(&[200])),
        // Closed is the default: saving it changes nothing.
        row(
            M::PUT,
            "/api/admin/settings",
            "/api/admin/settings".into(),
            "library closed",
        )
        .body(json!({ "library_open": false }))
        .expect(admin_only(&[200])),
        row(
            M::DELETE,
            "/api/admin/groups/{id}",
            format!("/api/admin/groups/{}", f.scratch.0),
            "scratch",
        )
        .expect(admin_only(&[204])),
        row(
            M::DELETE,
            "/api/admin/users/{id}",
            format!("/api/admin/users/{}", f.carol),
            "carol",
        )
        .expect(admin_only(&[204])),
        row(
            M::DELETE,
            "/api/admin/users/{id}",
            format!("/api/admin/users/{none}"),
            "missing",
        )
        .expect(admin_only(&[404])),
        row(M::GET, "/api/admin/audit", "/api/admin/audit".into(), "-").expect(admin_only(&[200])),
        // Anyone gets the summary (503 when a check fails); admins the detail.
        row(M::GET, "/api/health", "/api/health".into(), "-").expect([&[200, 503]; 4]),
        row(M::GET, "/api/admin/alerts", "/api/admin/alerts".into(), "-")
            .expect(admin_only(&[200])),
        row(
            M::POST,
            "/api/admin/alerts/test",
            "/api/admin/alerts/test".into(),
            "no targets configured",
        )
        .expect(admin_only(&[400])),
        row(
            M::POST,
            "/api/auth/logout",
            "/api/auth/logout".into(),
            "a session of its own",
        )
        .fresh_session()
        .expect(signed_in(&[204])),
    ]
}

/// What `who` must never receive: the names, paths and ids of the
/// categories, courses and files outside their grants, and the text of
/// those files.
struct Hidden {
    who: &'static str,
    strings: BTreeSet<String>,
    categories: HashSet<i64>,
    courses: HashSet<i64>,
    files: HashSet<i64>,
    texts: Vec<String>,
}

impl Hidden {
    fn new(f: &Fixture, who: &'static str, visible: &[CourseId]) -> Hidden {
        let lib = &f.library;
        let seen = |c: &Course| visible.contains(&c.id);
        let mut shown = BTreeSet::new();
        let mut hidden = Hidden {
            who,
            strings: BTreeSet::new(),
            categories: HashSet::new(),
            courses: HashSet::new(),
            files: HashSet::new(),
            texts: Vec::new(),
        };
        for category in &lib.categories {
            let open = lib
                .courses
                .iter()
                .any(|c| c.category_id == category.id && seen(c));
            if open {
                shown.insert(category.name.clone());
            } else {
                hidden.categories.insert(category.id.0);
                hidden.strings.insert(category.name.clone());
            }
        }
        for course in &lib.courses {
            let names = [
                course.name.clone(),
                course.path.to_string_lossy().into_owned(),
            ];
            if seen(course) {
                shown.extend(names);
            } else {
                hidden.courses.insert(course.id.0);
                hidden.strings.extend(names);
            }
        }
        for file in &lib.files {
            let inside = file.path_in_course();
            let mut names = vec![
                file.name.clone(),
                file.path.to_string_lossy().into_owned(),
                inside.to_string(),
            ];
            // The folders it sits in, as a course's tree shows them.
            let folders: Vec<&str> = inside.split('/').collect();
            names.extend(folders[..folders.len() - 1].iter().map(|s| s.to_string()));
            if visible.contains(&file.course_id) {
                shown.extend(names);
                continue;
            }
            hidden.files.insert(file.id.0);
            hidden.strings.extend(names);
            let bytes = std::fs::read(file.path.to_path(&f.app.root)).unwrap();
            if let Ok(text) = String::from_utf8(bytes) {
                if text.trim().len() >= 20 {
                    hidden.texts.push(text);
                }
            }
        }
        // A name that is also the name of something visible says nothing.
        hidden
            .strings
            .retain(|s| !shown.contains(s) && s.len() >= 3);
        hidden
    }

    /// Every leak in a body received for `context`.
    fn leaks(&self, context: &str, raw: &[u8]) -> Vec<String> {
        let mut found = Vec::new();
        let text = String::from_utf8_lossy(raw);
        for hidden_text in &self.texts {
            if text.contains(hidden_text.as_str()) {
                found.push(format!(
                    "{}: {context}: the text of a hidden file",
                    self.who
                ));
            }
        }
        if let Ok(json) = serde_json::from_slice::<Value>(raw) {
            self.walk(context, &json, None, &mut found);
        }
        found
    }

    fn walk(&self, context: &str, value: &Value, key: Option<&str>, found: &mut Vec<String>) {
        let mut leak = |what: String| found.push(format!("{}: {context}: {what}", self.who));
        match value {
            Value::String(s) => {
                for h in self.strings.iter().filter(|h| mentions(s, h)) {
                    leak(format!("{key:?} = {s:?} names hidden {h:?}"));
                }
            }
            Value::Number(n) => {
                let id = n.as_i64().unwrap_or(-1);
                let hidden = match key {
                    Some("course_id") => self.courses.contains(&id),
                    Some("category_id") => self.categories.contains(&id),
                    Some("file_id" | "cover_file_id") => self.files.contains(&id),
                    _ => false,
                };
                if hidden {
                    leak(format!("{key:?} = {id} is hidden"));
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.walk(context, item, key, found);
                }
            }
            Value::Object(map) => {
                if let Some(id) = map.get("id").and_then(Value::as_i64) {
                    let hidden = match object_kind(map) {
                        Some("course") => self.courses.contains(&id),
                        Some("category") => self.categories.contains(&id),
                        Some("file") => self.files.contains(&id),
                        _ => false,
                    };
                    if hidden {
                        found.push(format!(
                            "{}: {context}: a hidden {} id {id}",
                            self.who,
                            object_kind(map).unwrap_or_default()
                        ));
                    }
                }
                for (k, v) in map {
                    // The search answer repeats the words asked for.
                    if k == "query" {
                        continue;
                    }
                    if k != "id" {
                        self.walk(context, v, Some(k), found);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Whether `text` holds `name` as a whole: not as part of a longer word or
/// number (`01 Welcome.md` does not mention a folder `1 Welcome`).
fn mentions(text: &str, name: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !word(before) && !word(after)
    })
}

/// What an object with an `id` is, from the fields the API gives each kind.
fn object_kind(map: &serde_json::Map<String, Value>) -> Option<&'static str> {
    match map.get("kind").and_then(Value::as_str) {
        Some("course") => return Some("course"),
        Some("file") => return Some("file"),
        _ => {}
    }
    if map.contains_key("sha256") || (map.contains_key("lang") && map.len() == 2) {
        Some("file")
    } else if map.contains_key("course_count") || map.contains_key("courses") {
        Some("category")
    } else if map.contains_key("category_id") && !map.contains_key("group_id") {
        Some("course")
    } else {
        None
    }
}

struct Answer {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Answer {
    let mut request = app.req(method, path, token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.bytes().await.unwrap().to_vec();
    Answer {
        status,
        content_type,
        body,
    }
}

const PASSWORDS: [(&str, &str); 4] = [
    ("", ""),
    ("bob", BOB_PW),
    ("alice", ALICE_PW),
    ("admin", ADMIN_PW),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_each_kind_of_caller_as_expected_and_leaks_nothing() {
    let f = fixture().await;
    let hidden_from = [
        None,
        Some(Hidden::new(&f, "bob", &[])),
        Some(Hidden::new(&f, "alice", &[f.granted_course])),
        None,
    ];
    let mut wrong = Vec::new();
    let mut leaks = Vec::new();
    let actions = audited_actions(&f.app).await;
    let mut last_entry = newest_entry(&f).await.0;
    for row in rows(&f) {
        for who in [ANON, BOB, ALICE, ADMIN] {
            let token = match (row.fresh_session, who) {
                (true, who) if who != ANON => {
                    let (user, password) = PASSWORDS[who];
                    Some(f.app.token(user, password).await)
                }
                _ => f.tokens[who].clone(),
            };
            let answer = send(
                &f.app,
                row.method.clone(),
                &row.path,
                token.as_deref(),
                row.body.as_ref(),
            )
            .await;
            let context = format!("{} {} ({})", row.method, row.path, row.target);
            let status = answer.status.as_u16();
            if !row.expect[who].contains(&status) {
                wrong.push(format!(
                    "{context} as {}: {status}, expected {:?}: {}",
                    WHO[who],
                    row.expect[who],
                    String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)])
                ));
            }
            // Every refusal is the envelope, never a file's bytes (HEAD
            // sends the envelope's headers and no body at all).
            // The health check's 503 is its own format, not an error.
            if status >= 400 && row.template == "/api/health" {
                let report: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
                assert_eq!(report["status"], "fail", "{context}");
                assert!(
                    answer.content_type.starts_with("application/health+json"),
                    "{context}"
                );
            } else if status >= 400 {
                let envelope: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
                let head = row.method == Method::HEAD && answer.body.is_empty();
                if !head && envelope["error"]["code"].as_str().is_none() {
                    wrong.push(format!(
                        "{context} as {}: {status} without the envelope",
                        WHO[who]
                    ));
                }
                assert!(
                    answer.content_type.starts_with("application/json"),
                    "{context}"
                );
            }
            if let Some(hidden) = &hidden_from[who] {
                leaks.extend(hidden.leaks(&context, &answer.body));
            }
            if who == ADMIN && changes_admin_state(&row.method, row.template) {
                let key = (row.method.to_string(), row.template.to_owned());
                let (id, entry) = newest_entry(&f).await;
                match actions.get(&key) {
                    None => wrong.push(format!("{context}: no x-audit-action documented")),
                    Some(_) if id <= last_entry => {
                        wrong.push(format!("{context}: answered {status} with no audit entry"))
                    }
                    Some(action)
                        if entry["action"] != *action || entry["actor"] != "user:admin" =>
                    {
                        wrong.push(format!("{context}: audited as {entry}, not {action}"))
                    }
                    Some(_) => {}
                }
                last_entry = id;
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "unexpected answers:\n{}",
        wrong.join("\n")
    );
    assert!(leaks.is_empty(), "leaks:\n{}", leaks.join("\n"));
}

/// Requests that may change something under the admin and scanner areas,
/// each of which the audit log records, whatever its answer.
fn changes_admin_state(method: &Method, template: &str) -> bool {
    let area = template.starts_with("/api/admin/") || template.starts_with("/api/scanner/");
    area && !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Each documented operation's `x-audit-action`, by method and template.
async fn audited_actions(app: &TestApp) -> std::collections::HashMap<(String, String), String> {
    let answer = send(app, Method::GET, "/api/openapi.json", None, None).await;
    let doc: Value = serde_json::from_slice(&answer.body).unwrap();
    let mut actions = std::collections::HashMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if let Some(action) = operation["x-audit-action"].as_str() {
                actions.insert((method.to_uppercase(), path.clone()), action.to_owned());
            }
        }
    }
    actions
}

/// The id and body of the newest audit entry (0 when there is none).
async fn newest_entry(f: &Fixture) -> (i64, Value) {
    let admin = f.tokens[ADMIN].as_deref();
    let answer = send(&f.app, Method::GET, "/api/admin/audit?limit=1", admin, None).await;
    let page: Value = serde_json::from_slice(&answer.body).unwrap();
    let entry = page["entries"][0].clone();
    (entry["id"].as_i64().unwrap_or(0), entry)
}

/// The leak check finds what it looks for: what an admin receives about
/// a hidden course is full of what alice must not see.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leak_check_catches_names_paths_and_ids() {
    let f = fixture().await;
    let alice = Hidden::new(&f, "alice", &[f.granted_course]);
    let admin = f.tokens[ADMIN].as_deref();
    for path in [
        format!("/api/courses/{}", f.hidden_course.0),
        format!("/api/files/{}", f.hidden_file),
        format!("/api/categories/{}", f.hidden_category.0),
        "/api/search?q=colour".to_owned(),
    ] {
        let answer = send(&f.app, Method::GET, &path, admin, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert!(!alice.leaks(&path, &answer.body).is_empty(), "{path}");
    }
    let course = f.library.course("Programming/Python for Data");
    for body in [
        json!({ "name": course.name }),
        json!({ "note": format!("see {}", course.path.display()) }),
        json!({ "course_id": course.id }),
        json!([{ "id": course.id, "category_id": course.category_id, "name": "x" }]),
        json!({ "id": f.hidden_file, "lang": "en" }),
    ] {
        let raw = serde_json::to_vec(&body).unwrap();
        assert!(!alice.leaks("made up", &raw).is_empty(), "{body}");
    }
    // What she may see is no leak.
    let granted = json!({ "id": f.granted_course.0, "category_id": f.granted_category.0,
                          "name": "Rust Basics", "path": "01 Introduction/01 Welcome.md" });
    let raw = serde_json::to_vec(&granted).unwrap();
    assert_eq!(alice.leaks("granted", &raw), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_matrix_covers_every_documented_operation() {
    let f = fixture().await;
    let answer = send(&f.app, Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(answer.status, StatusCode::OK);
    let doc: Value = serde_json::from_slice(&answer.body).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let covered: BTreeSet<(String, String)> = rows(&f)
        .iter()
        .map(|r| (r.method.to_string(), r.template.to_owned()))
        .collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    let extra: Vec<_> = covered.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "operations without a matrix row: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "rows for undocumented operations: {extra:?}"
    );
    // Each row's path is its template with ids filled in.
    for row in rows(&f) {
        let path = row.path.split('?').next().unwrap();
        let pattern: Vec<&str> = row.template.split('/').collect();
        let actual: Vec<&str> = path.split('/').collect();
        assert_eq!(pattern.len(), actual.len(), "{}", row.path);
        for (p, a) in pattern.iter().zip(&actual) {
            assert!(
                p.starts_with('{') || p == a,
                "{} does not fit {}",
                row.path,
                row.template
            );
        }
    }
}

/// Words from the names, folders and descriptions of the courses alice is
/// not granted.
const HIDDEN_WORDS: &[&str] = &[
    "python",
    "data",
    "pandas",
    "sales",
    "colour",
    "color",
    "hue",
    "palettes",
    "harmony",
    "typography",
    "type scale",
    "kerning",
    "german",
    "hallo",
    "spanish",
    "hola",
    "greetings",
    "food",
    "cheat sheet",
    "design",
    "languages",
    "a1",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_nothing_outside_the_callers_grants() {
    let f = fixture().await;
    let checks = [
        (BOB, Hidden::new(&f, "bob", &[])),
        (ALICE, Hidden::new(&f, "alice", &[f.granted_course])),
    ];
    // The words do find things, for an admin.
    let admin = f.tokens[ADMIN].as_deref().unwrap();
    let mut found_by_admin = 0;
    for word in HIDDEN_WORDS {
        let (status, body) = f.app.get(&format!("/api/search?q={word}"), admin).await;
        assert_eq!(status, StatusCode::OK, "{word}");
        found_by_admin += body["results"].as_array().unwrap().len();
    }
    assert!(found_by_admin > HIDDEN_WORDS.len(), "{found_by_admin}");

    let mut leaks = Vec::new();
    for (who, hidden) in &checks {
        let token = f.tokens[*who].as_deref().unwrap();
        for word in HIDDEN_WORDS {
            let path = format!("/api/search?q={word}&limit=100");
            let answer = send(&f.app, Method::GET, &path, Some(token), None).await;
            assert_eq!(answer.status, StatusCode::OK, "{path}");
            leaks.extend(hidden.leaks(&path, &answer.body));
            let body: Value = serde_json::from_slice(&answer.body).unwrap();
            for hit in body["results"].as_array().unwrap() {
                assert_eq!(
                    (*who, hit["course_id"].as_i64()),
                    (ALICE, Some(f.granted_course.0)),
                    "{} found {hit} for {word}",
                    WHO[*who]
                );
            }
        }
    }
    assert!(leaks.is_empty(), "leaks:\n{}", leaks.join("\n"));

    // What alice may see, she finds; bob finds nothing at all.
    let alice = f.tokens[ALICE].as_deref().unwrap();
    let (_, body) = f.app.get("/api/search?q=rust", alice).await;
    assert!(!body["results"].as_array().unwrap().is_empty(), "{body}");
    let bob = f.tokens[BOB].as_deref().unwrap();
    let (_, body) = f.app.get("/api/search?q=rust", bob).await;
    assert_eq!(body["results"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_show_only_what_is_granted() {
    let f = fixture().await;
    let bob = f.tokens[BOB].as_deref().unwrap();
    let alice = f.tokens[ALICE].as_deref().unwrap();
    let (_, body) = f.app.get("/api/categories", bob).await;
    assert_eq!(body, json!([]));
    let (_, body) = f.app.get("/api/categories", alice).await;
    assert_eq!(
        body,
        json!([{ "id": f.granted_category.0, "name": "Programming", "course_count": 1 }])
    );
    let (_, body) = f
        .app
        .get(&format!("/api/categories/{}", f.granted_category.0), alice)
        .await;
    let ids: Vec<i64> = body["courses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [f.granted_course.0], "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_byte_of_a_hidden_file_reaches_a_user_without_its_grant() {
    let f = fixture().await;
    let hidden: Vec<&FileRecord> = f
        .library
        .files
        .iter()
        .filter(|file| file.course_id != f.granted_course)
        .collect();
    assert!(hidden.iter().any(|file| file.role == FileRole::Subtitle));
    for who in [BOB, ALICE] {
        let token = f.tokens[who].as_deref();
        for file in &hidden {
            for (method, route) in [
                (Method::GET, "content"),
                (Method::HEAD, "content"),
                (Method::GET, "vtt"),
            ] {
                let path = format!("/api/files/{}/{route}", file.id);
                let answer = send(&f.app, method.clone(), &path, token, None).await;
                assert_eq!(
                    answer.status,
                    StatusCode::NOT_FOUND,
                    "{method} {path} as {}",
                    WHO[who]
                );
                if method == Method::HEAD {
                    assert!(answer.body.is_empty());
                    continue;
                }
                // The envelope and nothing else.
                let body: Value = serde_json::from_slice(&answer.body).unwrap();
                assert_envelope(&body, "not_found");
                assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
                assert_eq!(body["error"].as_object().unwrap().len(), 2, "{body}");
            }
        }
    }
    // The granted file's bytes do reach alice: the refusals above are not
    // refusals of everything.
    let answer = send(
        &f.app,
        Method::GET,
        &format!("/api/files/{}/content", f.granted_file),
        f.tokens[ALICE].as_deref(),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let granted = f
        .library
        .files
        .iter()
        .find(|x| x.id.0 == f.granted_file)
        .unwrap();
    assert_eq!(
        answer.body,
        std::fs::read(granted.path.to_path(&f.app.root)).unwrap()
    );
}

/// A browser: keeps cookies, does not follow redirects.
fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn signed_in_browser(app: &TestApp, user: &str, password: &str) -> Client {
    let client = browser();
    let response = client
        .post(format!("{}/login", app.base))
        .form(&[("username", user), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{user} signs in");
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_send_anonymous_to_sign_in_and_hide_what_is_not_granted() {
    let f = fixture().await;
    let app = &f.app;
    let clients = [
        browser(),
        signed_in_browser(app, "bob", BOB_PW).await,
        signed_in_browser(app, "alice", ALICE_PW).await,
        signed_in_browser(app, "admin", ADMIN_PW).await,
    ];
    let (gc, hc) = (f.granted_course.0, f.hidden_course.0);
    let (gk, hk) = (f.granted_category.0, f.hidden_category.0);
    let (gf, hf) = (f.granted_file, f.hidden_file);
    // Anonymous: 303 to the sign-in page. Then bob, alice, admin.
    const SIGN_IN: u16 = 303;
    let pages: Vec<(String, [u16; 4])> = vec![
        ("/".into(), [SIGN_IN, 200, 200, 200]),
        (format!("/categories/{gk}"), [SIGN_IN, 404, 200, 200]),
        (format!("/categories/{hk}"), [SIGN_IN, 404, 404, 200]),
        (format!("/courses/{gc}"), [SIGN_IN, 404, 200, 200]),
        (format!("/courses/{hc}"), [SIGN_IN, 404, 404, 200]),
        (format!("/files/{gf}"), [SIGN_IN, 404, 200, 200]),
        (format!("/files/{hf}"), [SIGN_IN, 404, 404, 200]),
        ("/search?q=python".into(), [SIGN_IN, 200, 200, 200]),
        ("/search?q=rust".into(), [SIGN_IN, 200, 200, 200]),
    ];
    let hidden = [
        None,
        Some(Hidden::new(&f, "bob", &[])),
        Some(Hidden::new(&f, "alice", &[f.granted_course])),
        None,
    ];
    let mut wrong = Vec::new();
    for (path, expected) in &pages {
        for who in [ANON, BOB, ALICE, ADMIN] {
            let response = clients[who]
                .get(format!("{}{path}", app.base))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            if status != expected[who] {
                wrong.push(format!(
                    "{path} as {}: {status}, expected {}",
                    WHO[who], expected[who]
                ));
            }
            if who == ANON {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .map(|v| v.to_str().unwrap().to_owned());
                assert!(
                    location.as_deref().is_some_and(|l| l.starts_with("/login")),
                    "{path}: {location:?}"
                );
            }
            let html = response.text().await.unwrap();
            if let Some(hidden) = &hidden[who] {
                let names: Vec<&String> = hidden
                    .strings
                    .iter()
                    .filter(|name| mentions(&html, name))
                    .collect();
                if !names.is_empty() {
                    wrong.push(format!("{path} as {} shows hidden {names:?}", WHO[who]));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
