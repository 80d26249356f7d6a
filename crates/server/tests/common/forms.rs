//! A client that uses the pages as a browser does without running their
//! scripts: it keeps the session cookie, does not follow redirects (tests
//! look at them) and reads the CSRF token off a page.

use super::TestApp;
use reqwest::{redirect::Policy, Client, Response, StatusCode};

/// A browser-like client: keeps cookies, does not follow redirects (the
/// tests look at them).
pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

pub struct Signed {
    pub client: Client,
    pub csrf: String,
}

pub async fn post_login(app: &TestApp, client: &Client, form: &[(&str, &str)]) -> Response {
    client
        .post(format!("{}/login", app.base))
        .form(form)
        .send()
        .await
        .unwrap()
}

pub async fn sign_in(app: &TestApp, user: &str, password: &str) -> Signed {
    let client = browser();
    let response = post_login(app, &client, &[("username", user), ("password", password)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let home = page(app, &client, "/").await;
    Signed {
        csrf: csrf_of(&home.1),
        client,
    }
}

pub async fn page(app: &TestApp, client: &Client, path: &str) -> (StatusCode, String) {
    let response = client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

pub fn csrf_of(html: &str) -> String {
    let start = html
        .find(r#"name="csrf-token" content=""#)
        .expect("a csrf meta tag")
        + 27;
    html[start..start + 64].to_owned()
}

impl Signed {
    /// Posts a form from the panel with this session's CSRF token.
    pub async fn post(&self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> Response {
        let mut fields = vec![("csrf", self.csrf.as_str())];
        fields.extend_from_slice(form);
        self.client
            .post(format!("{}{path}", app.base))
            .form(&fields)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, app: &TestApp, path: &str) -> (StatusCode, String) {
        page(app, &self.client, path).await
    }
}
