//! `/api/health`, `/healthz`, `/readyz` and `/metrics` over real HTTP: who
//! sees what, the answers' forms, the stored report, the metrics parsed by
//! a Prometheus text-format parser and moving with the work, and the
//! health settings' refusals.

mod common;

use common::*;
use openmetrics_parser::{PrometheusType, PrometheusValue, Sample};
use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A server whose disk thresholds are 0, so that a nearly full disk on
/// the test machine decides nothing here but where a test raises them.
async fn spawn() -> TestApp {
    spawn_app_over(
        |_, _| {},
        |app| {
            let mut health = (*app.health).clone();
            health.thresholds.disk_warn_below_percent = 0.0;
            health.thresholds.disk_fail_below_percent = 0.0;
            app.with_monitoring(health, Default::default())
        },
    )
    .await
}

async fn health(app: &TestApp, token: Option<&str>) -> (StatusCode, String, Value) {
    let response = app
        .req(Method::GET, "/api/health", token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let kind = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    (status, kind, response.json().await.unwrap())
}

#[tokio::test]
async fn anonymous_callers_get_the_status_and_admins_every_check() {
    let app = spawn().await;
    let (status, kind, body) = health(&app, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(kind, "application/health+json");
    assert_eq!(body["status"], "warn", "no backup yet: {body}");
    assert_eq!(
        body.as_object().unwrap().len(),
        1,
        "only the status: {body}"
    );

    let alice = app.token("alice", ALICE_PW).await;
    let (_, _, body) = health(&app, Some(&alice)).await;
    assert!(body.get("checks").is_none(), "a learner sees no detail");

    let admin = app.token("admin", ADMIN_PW).await;
    let (_, _, body) = health(&app, Some(&admin)).await;
    let checks = body["checks"].as_object().unwrap();
    let names: Vec<&str> = checks.keys().map(String::as_str).collect();
    for name in lectern_app::health::CHECKS {
        assert!(names.contains(name), "{name} is reported: {names:?}");
    }
    let age = &checks["backup:age"][0];
    assert_eq!(age["status"], "warn");
    assert!(
        age["output"].as_str().unwrap().contains("no backup"),
        "{age}"
    );
    let time = age["time"].as_str().unwrap();
    assert!(
        time.ends_with('Z') && time.contains('T'),
        "RFC 3339: {time}"
    );
    let database = &checks["database:reachable"][0];
    assert_eq!(database["status"], "pass");
    assert_eq!(database["observedUnit"], "ms");
}

#[tokio::test]
async fn two_reads_with_no_run_between_them_are_equal() {
    let app = spawn().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let (_, _, first) = health(&app, Some(&admin)).await;
    let (_, _, second) = health(&app, Some(&admin)).await;
    assert_eq!(first, second, "the stored report, not a new run");
}

#[tokio::test]
async fn a_failing_check_answers_503_and_names_itself() {
    let app = spawn().await;
    let admin = app.token("admin", ADMIN_PW).await;
    std::fs::rename(&app.root, app.dir.path().join("elsewhere")).unwrap();
    lectern_app::monitor::check_now(&app.state.app).await;
    let (status, _, body) = health(&app, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, json!({ "status": "fail" }));
    let (_, _, body) = health(&app, Some(&admin)).await;
    let root = &body["checks"]["library:root"][0];
    assert_eq!(root["status"], "fail", "{root}");
    assert!(
        root["output"].as_str().unwrap().contains("cannot be read"),
        "{root}"
    );
}

#[tokio::test]
async fn thresholds_saved_by_an_admin_judge_the_next_run() {
    let app = spawn().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let mut thresholds = serde_json::to_value(lectern_app::health::Thresholds::default()).unwrap();
    // Above any real free share, so this cannot pass by luck.
    thresholds["disk_warn_below_percent"] = json!(100.0);
    thresholds["disk_fail_below_percent"] = json!(100.0);
    let body = json!({ "health": { "thresholds": thresholds, "alerts_off": ["disk_low"] } });
    let (status, saved) = call(
        &app,
        Method::PUT,
        "/api/admin/settings",
        Some(&admin),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["health"]["alerts_off"], json!(["disk_low"]));
    let (status, _, report) = health(&app, Some(&admin)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        report["checks"]["disk:data"][0]["status"], "fail",
        "{report}"
    );
    let firing = app.state.app.alerts.status().firing;
    assert!(
        firing.iter().all(|(c, _)| c.name != "disk_low"),
        "the disk alert is switched off: {firing:?}"
    );
    assert!(firing.iter().any(|(c, _)| c.name == "backup_missing"));
}

#[tokio::test]
async fn health_settings_that_do_not_fit_are_refused_and_nothing_is_saved() {
    let app = spawn().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let mut backwards = serde_json::to_value(lectern_app::health::Thresholds::default()).unwrap();
    backwards["backup_warn_after_secs"] = json!(100);
    backwards["backup_fail_after_secs"] = json!(10);
    let cases = [
        json!({ "health": { "thresholds": backwards } }),
        json!({ "health": { "alerts_off": ["no_such_alert"] } }),
        json!({ "health": { "thresholds": { "disk_warn_below_percent": 250.0 } } }),
        json!({ "health": { "thresholds": { "what": 1 } } }),
        json!({ "health": "off" }),
        json!({ "health": { "thresholds": { "growth_window_secs": -1 } } }),
    ];
    for body in cases {
        let (status, answer) = call(
            &app,
            Method::PUT,
            "/api/admin/settings",
            Some(&admin),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {answer}");
        assert_envelope(&answer, "bad_request");
    }
    let (_, settings) = app.get("/api/admin/settings", &admin).await;
    assert_eq!(
        settings["health"],
        json!({ "thresholds": null, "alerts_off": [] })
    );
}

#[tokio::test]
async fn liveness_and_readiness_answer_in_plain_text() {
    let app = spawn().await;
    let live = app.req(Method::GET, "/healthz", None).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let ready = app.req(Method::GET, "/readyz", None).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.text().await.unwrap(), "ready\n");

    let epoch = app.state.begin_maintenance("a test restore").await.unwrap();
    let ready = app.req(Method::GET, "/readyz", None).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(ready.text().await.unwrap().contains("a test restore"));
    let live = app.req(Method::GET, "/healthz", None).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK, "alive during maintenance");
    let metrics = app.req(Method::GET, "/metrics", None).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let scrape = parse(&metrics.text().await.unwrap());
    assert_eq!(gauge(&scrape, "lectern_maintenance", &[]), 1.0);
    app.state.end_maintenance(epoch).await.unwrap();
    let ready = app.req(Method::GET, "/readyz", None).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}

type Scrape = openmetrics_parser::MetricsExposition<PrometheusType, PrometheusValue>;

fn parse(text: &str) -> Scrape {
    openmetrics_parser::prometheus::parse_prometheus(text).expect("the Prometheus text format")
}

/// The sample of family `name` with `labels`, if any.
fn sample<'a>(
    scrape: &'a Scrape,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<&'a Sample<PrometheusValue>> {
    scrape.families.get(name)?.iter_samples().find(|s| {
        let set = s.get_labelset().ok();
        labels
            .iter()
            .all(|(k, v)| set.as_ref().and_then(|set| set.get_label_value(k)) == Some(*v))
    })
}

/// The value of the sample `name` with `labels`; panics when absent.
fn gauge(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found =
        sample(scrape, name, labels).unwrap_or_else(|| panic!("no sample {name} {labels:?}"));
    match &found.value {
        PrometheusValue::Counter(c) => c.value.as_f64(),
        PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => n.as_f64(),
        other => panic!("{name} is not a single value: {other:?}"),
    }
}

async fn scrape(app: &TestApp) -> Scrape {
    let response = app.req(Method::GET, "/metrics", None).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    parse(&response.text().await.unwrap())
}

async fn scan_and_wait(app: &TestApp, admin: &str) {
    let (status, body) = call(app, Method::POST, "/api/scanner/scan", Some(admin), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    loop {
        let (_, status) = app.get("/api/scanner/status", admin).await;
        if status["running"] == false {
            return;
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn metrics_are_named_as_documented_and_move_with_scans_and_backups() {
    let app = spawn().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let before = scrape(&app).await;
    for name in [
        "lectern_files",
        "lectern_backups",
        "lectern_backup_last_success_timestamp_seconds",
        "lectern_backup_last_size_bytes",
        "lectern_backup_failures_total",
        "lectern_scan_files_seen_total",
        "lectern_scan_hashed_bytes_total",
        "lectern_operation_lock_held",
        "lectern_maintenance",
        "lectern_health_status",
        "lectern_database_size_bytes",
        "lectern_alerts_firing",
        "lectern_alert_deliveries_pending",
        "lectern_build_info",
    ] {
        assert!(before.families.contains_key(name), "{name} is served");
    }
    assert!(gauge(&before, "lectern_files", &[("state", "present")]) > 0.0);
    assert_eq!(gauge(&before, "lectern_backups", &[]), 0.0);
    assert!(gauge(&before, "lectern_database_size_bytes", &[]) > 0.0);
    assert_eq!(
        gauge(
            &before,
            "lectern_health_check_status",
            &[("check", "backup:age")]
        ),
        1.0,
        "warn: no backup yet"
    );

    scan_and_wait(&app, &admin).await;
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/admin/backup/create",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, file) = app.get("/api/categories", &admin).await;
    assert!(file.is_array());

    let after = scrape(&app).await;
    assert_eq!(
        gauge(&after, "lectern_scans_total", &[("status", "completed")]),
        1.0
    );
    let seen = gauge(&after, "lectern_scan_files_seen_total", &[]);
    assert_eq!(
        seen,
        gauge(&before, "lectern_files", &[("state", "present")])
    );
    assert_eq!(gauge(&after, "lectern_backups", &[]), 1.0);
    assert_eq!(
        gauge(
            &after,
            "lectern_backups_created_total",
            &[("type", "manual")]
        ),
        1.0
    );
    assert!(gauge(&after, "lectern_backup_last_size_bytes", &[]) > 0.0);
    let taken = gauge(&after, "lectern_backup_last_success_timestamp_seconds", &[]);
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
    assert!((now - taken).abs() < 120.0, "taken just now: {taken}");

    // Requests are counted by their route template, never the raw path.
    let timed = sample(
        &after,
        "lectern_http_request_duration_seconds",
        &[("route", "/api/categories")],
    )
    .expect("the categories route is timed");
    assert!(matches!(timed.value, PrometheusValue::Histogram(_)));
    let (_, course) = app.get("/api/courses/1", &admin).await;
    assert!(course.is_object());
    let routes = scrape(&app).await;
    assert_eq!(
        gauge(
            &routes,
            "lectern_http_requests_total",
            &[
                ("route", "/api/courses/{id}"),
                ("status", "200"),
                ("method", "GET")
            ]
        ),
        1.0
    );
    let raw = routes
        .families
        .values()
        .flat_map(|f| f.iter_samples())
        .any(|s| {
            s.get_labelset()
                .ok()
                .and_then(|set| set.get_label_value("route").map(|r| r == "/api/courses/1"))
                .unwrap_or(false)
        });
    assert!(!raw, "no series for a raw path");
}

#[tokio::test]
async fn metrics_answer_loopback_callers_and_token_holders_only() {
    let app = spawn().await;
    // A loopback peer forwarding for someone it does not vouch for: a
    // reverse proxy nobody configured, whose client may be anywhere.
    let forwarded = app
        .req(Method::GET, "/metrics", None)
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status(), StatusCode::FORBIDDEN);

    let token = "a-long-enough-metrics-token";
    let app = spawn_app_with(|o, _| o.metrics_token = Some(token.into())).await;
    let refused = app
        .req(Method::GET, "/metrics", Some("wrong-token"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let opened = app
        .req(Method::GET, "/metrics", Some(token))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), StatusCode::OK);
    let plain = app.req(Method::GET, "/metrics", None).send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::OK, "loopback needs no token");
}

#[tokio::test]
async fn a_test_alert_without_targets_is_refused_in_words() {
    let app = spawn().await;
    let admin = app.token("admin", ADMIN_PW).await;
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/admin/alerts/test",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no alert target"),
        "{body}"
    );
    let (status, alerts) = app.get("/api/admin/alerts", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(alerts["targets"], json!([]));
    assert!(alerts["firing"].is_array() && alerts["sent"].is_array());
}
