//! `/metrics` (Prometheus text format): counters that the domain events
//! move (scans, backups), the HTTP requests the server reports, and gauges
//! read fresh at each scrape (the index, the lock, maintenance, the health
//! checks, the database's size). One registry per running Lectern: no
//! global state, so each test's server counts alone.

use crate::context::App;
use crate::events::{Event, Listener};
use async_trait::async_trait;
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::sync::Arc;

pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_seconds: HistogramVec,
    scans: IntCounterVec,
    scan_seconds: HistogramVec,
    scan_files: IntCounter,
    scan_bytes: IntCounter,
    backups_made: IntCounterVec,
    backup_failures: IntCounter,
    files: IntGaugeVec,
    backups: IntGauge,
    backup_last_success: Gauge,
    backup_last_size: IntGauge,
    lock_held: IntGauge,
    maintenance: IntGauge,
    health: IntGaugeVec,
    health_overall: IntGauge,
    database_size: IntGauge,
    alerts_firing: IntGauge,
    alerts_pending: IntGauge,
}

/// Seconds buckets from a millisecond to about a minute.
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
const SCAN_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0,
];

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("lectern".into()), None)?;
        let r = &registry;
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register(r, IntCounterVec::new(Opts::new(name, help), labels)?)
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            register(r, IntGaugeVec::new(Opts::new(name, help), labels)?)
        };
        let one = |name: &str, help: &str| register(r, IntGauge::new(name, help)?);
        let plain = |name: &str, help: &str| register(r, IntCounter::new(name, help)?);
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: &[f64]| {
            let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
            register(r, HistogramVec::new(opts, labels)?)
        };
        let last_success = register(
            r,
            Gauge::new(
                "backup_last_success_timestamp_seconds",
                "When the newest readable backup was taken (Unix time)",
            )?,
        )?;
        let info = register(
            r,
            GaugeVec::new(
                Opts::new("build_info", "This Lectern's version"),
                &["version"],
            )?,
        )?;
        info.with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1.0);
        Ok(Metrics {
            http_requests: counter(
                "http_requests_total",
                "HTTP requests answered, by route template",
                &["method", "route", "status"],
            )?,
            http_seconds: histogram(
                "http_request_duration_seconds",
                "Time to answer HTTP requests, by route template",
                &["method", "route"],
                HTTP_BUCKETS,
            )?,
            scans: counter("scans_total", "Scans finished, by status", &["status"])?,
            scan_seconds: histogram(
                "scan_duration_seconds",
                "How long finished scans took",
                &["status"],
                SCAN_BUCKETS,
            )?,
            scan_files: plain("scan_files_seen_total", "Files looked at by finished scans")?,
            scan_bytes: plain("scan_hashed_bytes_total", "Bytes hashed by finished scans")?,
            backups_made: counter("backups_created_total", "Backups made, by type", &["type"])?,
            backup_failures: plain("backup_failures_total", "Backups that failed")?,
            files: gauge("files", "Files in the index, by state", &["state"])?,
            backups: one("backups", "Archives in the backup folder")?,
            backup_last_success: last_success,
            backup_last_size: one(
                "backup_last_size_bytes",
                "Size of the newest readable backup",
            )?,
            lock_held: one(
                "operation_lock_held",
                "1 while a scan, backup or restore holds the operation lock",
            )?,
            maintenance: one(
                "maintenance",
                "1 while Lectern is in maintenance (a restore)",
            )?,
            health: gauge(
                "health_check_status",
                "Each health check: 0 pass, 1 warn, 2 fail",
                &["check"],
            )?,
            health_overall: one(
                "health_status",
                "The worst health check: 0 pass, 1 warn, 2 fail",
            )?,
            database_size: one("database_size_bytes", "Size of the database")?,
            alerts_firing: one("alerts_firing", "Alerts whose condition holds now")?,
            alerts_pending: one(
                "alert_deliveries_pending",
                "Alert notices not yet delivered (retried with backoff)",
            )?,
            registry,
        })
    }

    /// One HTTP request answered; `route` is its template (`/api/files/{id}`).
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        self.http_requests
            .with_label_values(&[method, route, &status])
            .inc();
        self.http_seconds
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// Everything in the text format, the gauges read fresh from `app`.
    pub async fn render(&self, app: &App) -> String {
        self.refresh(app).await;
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!("cannot write the metrics: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    async fn refresh(&self, app: &App) {
        let maintenance = app.coordination.maintenance().await.ok().flatten();
        self.maintenance.set(i64::from(maintenance.is_some()));
        if maintenance.is_none() {
            // During a restore the database is being replaced: the gauges
            // read from it keep their last values.
            self.refresh_from_store(app.store.as_ref()).await;
        }
        self.refresh_from_files(app);
        let report = match maintenance {
            // The checks read the database too: the last report stands.
            Some(_) => app.monitor.latest(),
            None => Some(crate::monitor::report(app).await),
        };
        if let Some(report) = report {
            for check in &report.checks {
                let code = i64::from(check.status.exit_code());
                self.health.with_label_values(&[&check.name]).set(code);
            }
            self.health_overall
                .set(i64::from(report.status.exit_code()));
        }
        let alerts = app.alerts.status();
        self.alerts_firing.set(alerts.firing.len() as i64);
        self.alerts_pending.set(alerts.outbox.len() as i64);
    }

    async fn refresh_from_store(&self, store: &dyn lectern_store::Store) {
        if let Ok(summary) = store.index_summary(0).await {
            self.files
                .with_label_values(&["present"])
                .set(summary.files_present as i64);
            self.files
                .with_label_values(&["missing"])
                .set(summary.files_missing as i64);
        }
        let held = store
            .read_lock()
            .await
            .ok()
            .flatten()
            .filter(lectern_store::lock::is_held);
        self.lock_held.set(i64::from(held.is_some()));
        if let Ok(bytes) = store.database_size().await {
            self.database_size.set(bytes as i64);
        }
    }

    fn refresh_from_files(&self, app: &App) {
        if let Ok(list) = app.backups.folder.list() {
            self.backups.set(list.len() as i64);
            // None left: 0, as before the first backup.
            let newest = crate::backups::newest_readable(&list);
            let at = newest.map_or(0, |b| b.created_at.unix_timestamp());
            self.backup_last_success.set(at as f64);
            self.backup_last_size
                .set(newest.map_or(0, |b| b.file_size as i64));
        }
    }
}

fn register<C>(registry: &Registry, collector: C) -> Result<C, prometheus::Error>
where
    C: prometheus::core::Collector + Clone + 'static,
{
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

/// Moves the counters on the events that finish work.
pub struct MetricsListener {
    pub metrics: Arc<Metrics>,
    pub store: Arc<dyn lectern_store::Store>,
}

#[async_trait]
impl Listener for MetricsListener {
    async fn on(&self, event: &Event) {
        let m = &self.metrics;
        match event {
            Event::ScanFinished { scan_id, status } => {
                m.scans.with_label_values(&[status.as_str()]).inc();
                if let Ok(Some(scan)) = self.store.scan(*scan_id).await {
                    let ms = scan.finished_at.unwrap_or(scan.started_at) - scan.started_at;
                    m.scan_seconds
                        .with_label_values(&[status.as_str()])
                        .observe(ms.max(0) as f64 / 1000.0);
                    let c = scan.counts;
                    let seen = c.added + c.updated + c.unchanged + c.moved + c.removed;
                    m.scan_files.inc_by(seen);
                    m.scan_bytes.inc_by(c.hashed_bytes);
                }
            }
            Event::BackupCreated { backup_type, .. } => {
                m.backups_made
                    .with_label_values(&[backup_type.as_str()])
                    .inc();
            }
            Event::BackupFailed { .. } => m.backup_failures.inc(),
            _ => {}
        }
    }
}
