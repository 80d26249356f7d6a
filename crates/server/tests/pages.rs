//! The web pages over real HTTP: sign-in with the cookie, CSRF on every
//! change, what each person sees, and that library content never runs as
//! Lectern's own page.

mod common;

use common::forms::*;
use common::*;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::{redirect::Policy, Client, Response, StatusCode};

async fn complete(app: &TestApp, signed: &Signed, file: i64, csrf: &str) -> Response {
    signed
        .client
        .post(format!("{}/files/{file}/complete", app.base))
        .form(&[("csrf", csrf), ("completed", "true")])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_visitors_are_sent_to_sign_in_and_come_back_after() {
    let app = spawn_app().await;
    let client = browser();
    let response = client.get(format!("{}/", app.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/login");
    let response = client
        .get(format!("{}/courses/1?x=2", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()[LOCATION],
        "/login?next=%2Fcourses%2F1%3Fx%3D2"
    );

    let (status, login) = page(&app, &client, "/login?next=%2Fcourses%2F1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        login.contains(r#"name="next" value="&#x2f;courses&#x2f;1""#),
        "{login}"
    );

    let form = [
        ("username", "admin"),
        ("password", ADMIN_PW),
        ("next", "/courses/1"),
    ];
    let response = post_login(&app, &client, &form).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/courses/1");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in ["lectern_session=", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(
            cookie.contains(attribute),
            "{attribute} missing in {cookie}"
        );
    }
    let (status, course) = page(&app, &client, "/courses/1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        course.contains("aria-label=\"Course contents\""),
        "{course}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_never_redirects_to_another_site() {
    let app = spawn_app().await;
    for next in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let client = browser();
        let form = [
            ("username", "admin"),
            ("password", ADMIN_PW),
            ("next", next),
        ];
        let response = post_login(&app, &client, &form).await;
        assert_eq!(response.headers()[LOCATION], "/", "next={next}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_shows_the_form_again_and_sets_no_cookie() {
    let app = spawn_app().await;
    let client = browser();
    let form = [("username", "alice"), ("password", "nope")];
    let response = post_login(&app, &client, &form).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(SET_COOKIE).is_none());
    let body = response.text().await.unwrap();
    assert!(body.contains("wrong username or password"), "{body}");
    assert!(body.contains(r#"value="alice""#), "the username is kept");

    let response = client
        .post(format!("{}/login", app.base))
        .body("\u{0}garbage=%%%")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_form_posted_from_another_site_is_refused() {
    let app = spawn_app().await;
    let response = browser()
        .post(format!("{}/login", app.base))
        .header(ORIGIN, "https://evil.example")
        .form(&[("username", "admin"), ("password", ADMIN_PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get(SET_COOKIE).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_through_the_cookie_needs_the_csrf_token() {
    let app = spawn_app().await;
    let signed = sign_in(&app, "admin", ADMIN_PW).await;
    let lesson = app.file_named("01 Welcome.md").await.id.0;
    let admin = app.store.user_login("admin").await.unwrap().unwrap().0;
    let done = || async {
        let progress = app
            .store
            .course_progress(admin.id, app.file_named("01 Welcome.md").await.course_id);
        progress.await.unwrap().iter().any(|p| p.completed)
    };

    for bad in ["", "0000", &"a".repeat(64)] {
        let response = complete(&app, &signed, lesson, bad).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "csrf {bad:?}");
    }
    let foreign = signed
        .client
        .post(format!("{}/files/{lesson}/complete", app.base))
        .header(ORIGIN, "https://evil.example")
        .form(&[("csrf", signed.csrf.as_str()), ("completed", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert!(!done().await, "nothing was saved by refused requests");

    // The API through the cookie: the token goes in a header.
    let url = format!("{}/api/files/{lesson}/progress", app.base);
    let body = serde_json::json!({ "position_seconds": 3.0 });
    let without = signed.client.put(&url).json(&body).send().await.unwrap();
    assert_eq!(without.status(), StatusCode::FORBIDDEN);
    let with = signed
        .client
        .put(&url)
        .header("x-csrf-token", &signed.csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status(), StatusCode::OK);

    let response = complete(&app, &signed, lesson, &signed.csrf).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], format!("/files/{lesson}"));
    assert!(done().await);
}

/// The course's tree is rendered once and kept; each reader still sees
/// their own lessons done, the open lesson marked, and a lesson added by a
/// scan at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kept_course_tree_shows_each_readers_own_progress_and_follows_a_scan() {
    let app = spawn_app().await;
    let welcome = app.file_named("01 Welcome.md").await;
    let course = welcome.course_id.0;
    let course_path = welcome.path.prefix(2).unwrap();
    app.grant_alice(&course_path.to_string_lossy()).await;
    let admin = sign_in(&app, "admin", ADMIN_PW).await;
    let alice = sign_in(&app, "alice", ALICE_PW).await;
    let item = |id: i64| format!(r#"<a href="/files/{id}""#);
    let done_item = |html: &str, id: i64| {
        let at = html.find(&item(id)).expect("the lesson is listed");
        let li = html[..at].rfind("<li").unwrap();
        html[li..at].contains(" done")
    };
    let lesson = welcome.id.0;
    for signed in [&admin, &alice] {
        let (_, html) = signed.get(&app, &format!("/courses/{course}")).await;
        assert!(!done_item(&html, lesson), "nobody has done it yet");
    }
    let response = complete(&app, &alice, lesson, &alice.csrf).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, hers) = alice.get(&app, &format!("/courses/{course}")).await;
    let (_, his) = admin.get(&app, &format!("/courses/{course}")).await;
    assert!(done_item(&hers, lesson), "alice sees her lesson done");
    assert!(!done_item(&his, lesson), "the admin does not: it is hers");

    let (_, open) = alice.get(&app, &format!("/files/{lesson}")).await;
    let marked = format!(r#"<a href="/files/{lesson}" aria-current="page""#);
    assert!(open.contains(&marked), "the open lesson is marked: {open}");
    assert!(done_item(&open, lesson));
    assert_eq!(open.matches("aria-current=\"page\"").count(), 1);

    let folder = course_path.to_path(&app.root);
    std::fs::write(folder.join("99 Added later.md"), "# New\n").unwrap();
    app.rescan().await;
    let added = app.file_named("99 Added later.md").await.id.0;
    let (_, hers) = alice.get(&app, &format!("/courses/{course}")).await;
    assert!(hers.contains(&item(added)), "the scan's lesson is listed");
    assert!(done_item(&hers, lesson) && !done_item(&hers, added));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_token_in_the_cookie_is_not_a_session() {
    let app = spawn_app().await;
    let token = app.token("admin", ADMIN_PW).await;
    let response = browser()
        .get(format!("{}/", app.base))
        .header("cookie", format!("lectern_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "a Bearer token skips CSRF, so the cookie must not take it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_see_only_their_courses_and_a_hidden_one_is_a_plain_404() {
    let app = spawn_app().await;
    let granted = app.grant_alice("Programming/Rust Basics").await;
    let signed = sign_in(&app, "alice", ALICE_PW).await;
    let (_, home) = page(&app, &signed.client, "/").await;
    assert!(home.contains("Rust Basics"));
    for hidden in ["Typography", "German A1", "Python for Data", "Design"] {
        assert!(!home.contains(hidden), "{hidden} leaked into {home}");
    }
    let (status, _) = page(&app, &signed.client, &format!("/courses/{}", granted.0)).await;
    assert_eq!(status, StatusCode::OK);

    let other = app.file_named("01 Anatomy of a Letter.md").await;
    let hidden_course = app.store.course(other.course_id).await.unwrap().unwrap();
    for path in [
        format!("/courses/{}", other.course_id.0),
        format!("/files/{}", other.id.0),
        format!("/categories/{}", hidden_course.category_id.0),
        "/courses/999999".to_owned(),
    ] {
        let (status, body) = page(&app, &signed.client, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            !body.contains("Typography") && !body.contains("Anatomy"),
            "{body}"
        );
    }
    let response = complete(&app, &signed, other.id.0, &signed.csrf).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let bob = lectern_store::NewUser {
        username: "bob".into(),
        password_hash: lectern_app::passwords::hash_password("bob password").unwrap(),
        role: lectern_store::Role::User,
    };
    app.store.create_user(&bob).await.unwrap();
    let bob = sign_in(&app, "bob", "bob password").await;
    let (_, home) = page(&app, &bob.client, "/").await;
    assert!(
        home.contains("No course has been shared with you yet"),
        "{home}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_security_headers() {
    let app = spawn_app().await;
    let signed = sign_in(&app, "admin", ADMIN_PW).await;
    let lesson = app.file_named("01 Welcome.md").await.id.0;
    for path in ["/login", "/", &format!("/files/{lesson}"), "/no/such/page"] {
        let response = signed
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        let headers = response.headers();
        let csp = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'self'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_markup_never_runs_in_lectern_pages() {
    let app = spawn_app().await;
    let folder = app.root.join("Programming/Rust Basics/01 Introduction");
    std::fs::write(
        folder.join("03 Hostile.md"),
        "# Hostile\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n\
         [click](javascript:alert(3)) [next](02%20Why%20Rust.txt)\n",
    )
    .unwrap();
    std::fs::write(
        folder.join("04 Tags.txt"),
        "<b>bold</b> & <script>x</script>",
    )
    .unwrap();
    app.rescan().await;
    let signed = sign_in(&app, "admin", ADMIN_PW).await;

    let hostile = app.file_named("03 Hostile.md").await.id.0;
    let (status, html) = page(&app, &signed.client, &format!("/files/{hostile}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Hostile</h1>"), "{html}");
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only Lectern's own script: {html}"
    );
    assert!(
        !html.contains("onerror") && !html.contains("javascript:"),
        "{html}"
    );
    let why = app.file_named("02 Why Rust.txt").await.id.0;
    assert!(
        html.contains(&format!(r#"href="/files/{why}""#)),
        "relative links reach the lesson: {html}"
    );

    let tags = app.file_named("04 Tags.txt").await.id.0;
    let (_, html) = page(&app, &signed.client, &format!("/files/{tags}")).await;
    assert!(
        html.contains("&lt;b&gt;bold&lt;&#x2f;b&gt; &amp; &lt;script&gt;"),
        "{html}"
    );

    let report = app.file_named("01 Report Preview.html").await.id.0;
    let (_, html) = page(&app, &signed.client, &format!("/files/{report}")).await;
    assert!(
        !html.contains("<iframe"),
        "library HTML is not framed: {html}"
    );
    assert!(html.contains("not opened inside Lectern"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subtitles_arrive_as_webvtt_for_the_media_they_belong_to() {
    let app = spawn_app().await;
    let token = app.token("admin", ADMIN_PW).await;
    let files = app.files().await;
    let subtitle = files
        .iter()
        .find(|f| f.name.ends_with(".en.srt"))
        .expect("the demo has English subtitles");
    let response = app
        .req(
            reqwest::Method::GET,
            &format!("/api/files/{}/vtt", subtitle.id.0),
            Some(&token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/vtt; charset=utf-8"
    );
    let vtt = response.text().await.unwrap();
    assert!(vtt.starts_with("WEBVTT\n\n"), "{vtt}");
    assert!(
        vtt.contains(" --> ") && !vtt.lines().any(|l| l.contains("-->") && l.contains(',')),
        "{vtt}"
    );

    let not_subtitle = app.file_named("01 Welcome.md").await.id.0;
    let (status, _) = app
        .get(&format!("/api/files/{not_subtitle}/vtt"), &token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let media = files
        .iter()
        .find(|f| Some(&f.path) == subtitle.subtitle_for.as_ref())
        .unwrap();
    let signed = sign_in(&app, "admin", ADMIN_PW).await;
    let (_, html) = page(&app, &signed.client, &format!("/files/{}", media.id.0)).await;
    assert!(
        html.contains(&format!(
            r#"src="/api/files/{}/vtt" srclang="en" label="English""#,
            subtitle.id.0
        )),
        "{html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_ends_the_session() {
    let app = spawn_app().await;
    let client = browser();
    let form = [("username", "admin"), ("password", ADMIN_PW)];
    let response = post_login(&app, &client, &form).await;
    let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    // A client without a cookie jar, so the old cookie can be replayed.
    let plain = Client::builder().redirect(Policy::none()).build().unwrap();
    let get_home = || {
        plain
            .get(format!("{}/", app.base))
            .header("cookie", &cookie)
            .send()
    };
    let home = get_home().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    let csrf = csrf_of(&home.text().await.unwrap());

    let logout = |csrf: String| {
        plain
            .post(format!("{}/logout", app.base))
            .header("cookie", &cookie)
            .form(&[("csrf", csrf)])
            .send()
    };
    let refused = logout("wrong".into()).await.unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "a forged sign-out is refused"
    );
    assert_eq!(get_home().await.unwrap().status(), StatusCode::OK);

    let out = logout(csrf).await.unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(out.headers()[LOCATION], "/login");
    let cleared = out.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cleared.starts_with("lectern_session=;"), "{cleared}");
    let replayed = get_home().await.unwrap();
    assert_eq!(
        replayed.status(),
        StatusCode::SEE_OTHER,
        "the old cookie is dead"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_box_finds_only_what_the_person_may_see() {
    let app = spawn_app().await;
    app.grant_alice("Programming/Rust Basics").await;
    let signed = sign_in(&app, "alice", ALICE_PW).await;
    // "welcome" names lessons in several courses; alice sees one of them.
    let (status, html) = page(&app, &signed.client, "/search?q=welcome").await;
    assert_eq!(status, StatusCode::OK);
    let welcome = app
        .files()
        .await
        .into_iter()
        .find(|f| f.path == "Programming/Rust Basics/01 Introduction/01 Welcome.md")
        .unwrap();
    assert!(
        html.contains(&format!(r#"href="/files/{}""#, welcome.id.0)),
        "{html}"
    );
    for hidden in ["Python for Data", "Typography", "German"] {
        assert!(!html.contains(hidden), "{hidden} leaked: {html}");
    }
    let (status, html) = page(
        &app,
        &signed.client,
        &format!("/search?q={}", "x".repeat(300)),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a bad query is a message on the page"
    );
    assert!(html.contains("role=\"alert\""), "{html}");
    let (status, html) = page(&app, &signed.client, "/search?q=%22%2A%3ANEAR%28").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Nothing matches"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_address_that_names_nothing_is_an_html_404() {
    let app = spawn_app().await;
    let signed = sign_in(&app, "admin", ADMIN_PW).await;
    for path in [
        "/courses/abc",
        "/files/-1",
        "/files/99999999999999999999",
        "/nowhere",
    ] {
        let response = signed
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
}
