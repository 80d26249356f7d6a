//! Configuration in layers: built-in defaults, then `lectern.toml`, then
//! `LECTERN_*` environment variables, then command-line flags.

use crate::cli::GlobalArgs;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use lectern_app::alerts::{AlertOptions, Smtp, Target, Webhook};
use lectern_app::coordination::{self, Coordination, InProcess, InstanceId};
use lectern_app::health::Thresholds;
use lectern_app::monitor::HealthOptions;
use lectern_app::watch::{WatchMode, WatchOptions};
use lectern_backup::S3Target;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Data folder: the embedded database and `backups/`.
    pub data: PathBuf,
    /// Library root used when no other is saved or given.
    pub root: Option<PathBuf>,
    pub database_url: Option<String>,
    #[serde(default)]
    pub database: DatabaseConfig,
    pub scan: ScanConfig,
    pub server: ServerConfig,
    #[serde(default)]
    pub backup: BackupConfig,
    #[serde(default)]
    pub coordination: CoordinationConfig,
    #[serde(default)]
    pub health: HealthConfig,
    #[serde(default)]
    pub alerts: AlertsConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub watch: WatchConfig,
}

/// How often the health checks run and what they judge by (`[health]` in
/// lectern.toml, or `LECTERN_HEALTH__INTERVAL`, …). An admin's thresholds
/// saved in the panel win over these.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HealthConfig {
    /// Between two runs of the checks; default 60 s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Span>,
    /// The newest backup older than this warns (default 24 h)…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_warn_after: Option<Span>,
    /// …and older than this fails (default 72 h).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_fail_after: Option<Span>,
    /// Any scan error warns; more than this many fail (default 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_errors_fail_above: Option<u64>,
    /// Free disk below this share warns (default 10)…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_warn_below_percent: Option<f64>,
    /// …and below this share fails (default 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_fail_below_percent: Option<f64>,
    /// The database grown by more than this share (default 50)…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growth_warn_percent: Option<f64>,
    /// …over this long (default 7 days) warns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growth_window: Option<Span>,
}

impl HealthConfig {
    pub fn thresholds(&self) -> Result<Thresholds, ConfigError> {
        let d = Thresholds::default();
        let secs = |given: Option<Span>, default: u64| given.map_or(default, |s| s.0.as_secs());
        let t = Thresholds {
            backup_warn_after_secs: secs(self.backup_warn_after, d.backup_warn_after_secs),
            backup_fail_after_secs: secs(self.backup_fail_after, d.backup_fail_after_secs),
            scan_errors_fail_above: self
                .scan_errors_fail_above
                .unwrap_or(d.scan_errors_fail_above),
            disk_warn_below_percent: self
                .disk_warn_below_percent
                .unwrap_or(d.disk_warn_below_percent),
            disk_fail_below_percent: self
                .disk_fail_below_percent
                .unwrap_or(d.disk_fail_below_percent),
            growth_warn_percent: self.growth_warn_percent.unwrap_or(d.growth_warn_percent),
            growth_window_secs: secs(self.growth_window, d.growth_window_secs),
        };
        t.check()
            .map_err(|why| ConfigError::BadMonitoring(format!("[health]: {why}")))?;
        Ok(t)
    }

    /// The checks' options over the data folder `data`.
    pub fn options(&self, data: &Path) -> Result<HealthOptions, ConfigError> {
        let mut options = HealthOptions::in_data(data);
        options.thresholds = self.thresholds()?;
        if let Some(interval) = self.interval {
            options.interval = interval.0;
        }
        Ok(options)
    }

    fn check(&self) -> Result<(), ConfigError> {
        self.thresholds()?;
        if self
            .interval
            .is_some_and(|i| i.0 < Duration::from_millis(100))
        {
            return Err(ConfigError::BadMonitoring(
                "health.interval must be at least 100ms".into(),
            ));
        }
        Ok(())
    }
}

/// Where alerts go (`[alerts]`, `[alerts.smtp]` and `[[alerts.webhooks]]`
/// in lectern.toml, or `LECTERN_ALERTS__SMTP__HOST`, …). Secrets: never
/// settings in the database, never shown.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct AlertsConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp: Option<Smtp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<Webhook>,
    /// A lasting condition is reminded of this often (default 4 h; `0`:
    /// never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Span>,
    /// The first wait after a failed delivery (default 30 s), doubling…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_first: Option<Span>,
    /// …up to this (default 1 h).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_most: Option<Span>,
    /// One delivery attempt gives up after this (default 15 s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Span>,
    /// How messages name this Lectern; default the host name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The address people reach Lectern at, for a link to the health page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

impl std::fmt::Debug for AlertsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let targets: Vec<String> = self.targets().iter().map(Target::label).collect();
        f.debug_struct("AlertsConfig")
            .field("targets", &targets)
            .field("repeat", &self.repeat)
            .finish_non_exhaustive()
    }
}

impl AlertsConfig {
    pub fn targets(&self) -> Vec<Target> {
        let mail = self.smtp.iter().cloned().map(Target::Smtp);
        let hooks = self.webhooks.iter().cloned().map(Target::Webhook);
        mail.chain(hooks).collect()
    }

    pub fn options(&self) -> AlertOptions {
        let d = AlertOptions::default();
        let or = |given: Option<Span>, default: Duration| given.map_or(default, |s| s.0);
        AlertOptions {
            targets: self.targets(),
            repeat: match self.repeat {
                Some(Span(d)) if d.is_zero() => None,
                Some(Span(d)) => Some(d),
                None => d.repeat,
            },
            retry_first: or(self.retry_first, d.retry_first),
            retry_most: or(self.retry_most, d.retry_most),
            timeout: or(self.timeout, d.timeout),
            site: self.site.clone().unwrap_or(d.site),
            public_url: self.public_url.clone(),
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        let bad = |why: String| Err(ConfigError::BadMonitoring(why));
        let targets = self.targets();
        let mut labels = std::collections::BTreeSet::new();
        for target in &targets {
            if let Err(why) = target.check() {
                return bad(why);
            }
            if !labels.insert(target.label()) {
                return bad(format!(
                    "two alert targets are both {}: give each webhook its own name",
                    target.label()
                ));
            }
        }
        let options = self.options();
        if options.retry_first.is_zero() || options.retry_first > options.retry_most {
            return bad("alerts.retry_first must be more than 0 and at most retry_most".into());
        }
        if options.timeout.is_zero() {
            return bad("alerts.timeout must be more than 0".into());
        }
        Ok(())
    }
}

/// Who may read `/metrics` (`[metrics]`, or `LECTERN_METRICS__TOKEN`).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct MetricsConfig {
    /// A bearer token that opens `/metrics` to other machines; without
    /// it only loopback callers get the metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = self.token.as_ref().map(|_| "(set)");
        f.debug_struct("MetricsConfig")
            .field("token", &token)
            .finish()
    }
}

impl MetricsConfig {
    pub const MIN_TOKEN: usize = 16;

    fn check(&self) -> Result<(), ConfigError> {
        match &self.token {
            Some(token) if token.trim().len() < Self::MIN_TOKEN => {
                Err(ConfigError::BadMonitoring(format!(
                    "metrics.token must be at least {} characters",
                    Self::MIN_TOKEN
                )))
            }
            _ => Ok(()),
        }
    }
}

/// Who this instance is among the others and how long it counts as alive
/// without a heartbeat (`[coordination]` in lectern.toml, or
/// `LECTERN_COORDINATION__INSTANCE_ID`, `…__LEASE`, `…__HEARTBEAT`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CoordinationConfig {
    /// This instance's name among the others; default `HOST-PID`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// How long an instance counts as alive after its last heartbeat;
    /// default 30 s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease: Option<Span>,
    /// How often this instance sends its heartbeat, shorter than the
    /// lease; default a third of the lease.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<Span>,
}

impl CoordinationConfig {
    /// The shortest lease taken.
    pub const MIN_LEASE: Duration = Duration::from_secs(1);

    pub fn instance_id(&self) -> Result<InstanceId, ConfigError> {
        match &self.instance_id {
            Some(id) => InstanceId::parse(id).map_err(|e| {
                ConfigError::BadCoordination(format!("coordination.instance_id: {e}"))
            }),
            None => Ok(InstanceId::of_this_process()),
        }
    }

    pub fn lease(&self) -> Duration {
        self.lease.map_or(coordination::DEFAULT_LEASE, |l| l.0)
    }

    pub fn heartbeat(&self) -> Duration {
        self.heartbeat
            .map_or_else(|| coordination::default_heartbeat(self.lease()), |h| h.0)
    }

    /// This instance's coordination, in this process's memory. The id was
    /// checked by [`Config::load`]; one that does not parse (a `Config`
    /// made in code) is `HOST-PID`.
    pub fn in_process(&self) -> Arc<dyn Coordination> {
        let id = self
            .instance_id()
            .unwrap_or_else(|_| InstanceId::of_this_process());
        Arc::new(InProcess::new(id, self.lease()))
    }

    fn check(&self) -> Result<(), ConfigError> {
        self.instance_id()?;
        let (lease, heartbeat) = (self.lease(), self.heartbeat());
        if lease < Self::MIN_LEASE {
            return Err(ConfigError::BadCoordination(format!(
                "coordination.lease must be at least 1s, not {}",
                Span(lease)
            )));
        }
        if heartbeat.is_zero() || heartbeat >= lease {
            return Err(ConfigError::BadCoordination(format!(
                "coordination.heartbeat must be more than 0s and shorter than the lease ({}), not {}",
                Span(lease),
                Span(heartbeat)
            )));
        }
        Ok(())
    }
}

/// Watching the library (`[watch]`, or `LECTERN_WATCH__MODE` and so on).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// `auto` (events, or polling on network file systems), `events`,
    /// `poll` or `off`.
    pub mode: Option<String>,
    /// How long the library must be still before changes are scanned.
    pub quiet: Option<Span>,
    /// How often a polled library is looked at.
    pub poll_interval: Option<Span>,
    /// A full scan this often; `0` or `"off"`: never.
    pub full_scan_every: Option<Every>,
    /// Changes waiting to be read before the watcher scans everything
    /// instead.
    pub queue: Option<usize>,
}

impl WatchConfig {
    pub fn options(&self) -> Result<WatchOptions, ConfigError> {
        let d = WatchOptions::default();
        let bad = |why: String| ConfigError::BadWatch(why);
        let mode = match &self.mode {
            Some(mode) => mode.parse::<WatchMode>().map_err(|_| {
                bad(format!(
                    "watch.mode must be auto, events, poll or off, not {mode:?}"
                ))
            })?,
            None => d.mode,
        };
        Ok(WatchOptions {
            mode,
            quiet: self.quiet.map_or(d.quiet, |s| s.0),
            poll_interval: self.poll_interval.map_or(d.poll_interval, |s| s.0),
            full_scan_every: match self.full_scan_every {
                Some(Every::Off) => None,
                Some(Every::Span(Span(d))) if d.is_zero() => None,
                Some(Every::Span(Span(d))) => Some(d),
                None => d.full_scan_every,
            },
            queue: self.queue.unwrap_or(d.queue),
            ..d
        })
    }

    fn check(&self) -> Result<(), ConfigError> {
        let options = self.options()?;
        let bad = |why: &str| Err(ConfigError::BadWatch(why.to_owned()));
        if options.quiet < Duration::from_millis(50) || options.quiet > Duration::from_secs(3600) {
            return bad("watch.quiet must be between 50ms and 1h");
        }
        if options.poll_interval < Duration::from_secs(1) {
            return bad("watch.poll_interval must be at least 1s");
        }
        if options
            .full_scan_every
            .is_some_and(|d| d < Duration::from_secs(1))
        {
            return bad("watch.full_scan_every must be at least 1s, or off");
        }
        if options.queue == 0 {
            return bad("watch.queue must be at least 1");
        }
        Ok(())
    }
}

/// A length of time, or `"off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    Off,
    Span(Span),
}

impl Serialize for Every {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Every::Off => serializer.serialize_str("off"),
            Every::Span(span) => span.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Every {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Given::deserialize(deserializer)? {
            Given::Text(text) if text.trim().eq_ignore_ascii_case("off") => Ok(Every::Off),
            given => given.span().map(Every::Span),
        }
    }
}

/// A length of time as the configuration gives it, before it is read.
#[derive(Deserialize)]
#[serde(untagged)]
enum Given {
    Seconds(u64),
    Text(String),
}

impl Given {
    fn span<E: serde::de::Error>(self) -> Result<Span, E> {
        match self {
            Given::Seconds(s) => Ok(Span(Duration::from_secs(s))),
            Given::Text(text) => humantime::parse_duration(text.trim())
                .map(Span)
                .map_err(|e| {
                    E::custom(format!(
                        "{text:?} is not a duration (like 45s, 2m or 1m 30s): {e}"
                    ))
                }),
        }
    }
}

/// A length of time in the configuration: whole seconds (`45`), or a
/// duration with units (`"45s"`, `"2m"`, `"1m 30s"`, `"500ms"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        humantime::format_duration(self.0).fmt(f)
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Given::deserialize(deserializer)?.span()
    }
}

/// Limits of the connections to a PostgreSQL server (`[database]` in
/// lectern.toml, or `LECTERN_DATABASE__MAX_CONNECTIONS`,
/// `LECTERN_DATABASE__STATEMENT_TIMEOUT`). The embedded database has none
/// to set. TLS is the URL's: `?sslmode=require` (or `verify-full`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DatabaseConfig {
    /// Connections this instance keeps at most (default 10). Every
    /// instance's together must stay under the server's `max_connections`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// Longest one statement may run before the server cancels it
    /// (default 60 s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_timeout: Option<Span>,
}

impl DatabaseConfig {
    fn check(&self) -> Result<(), ConfigError> {
        match self.max_connections {
            Some(n) if !(2..=1000).contains(&n) => Err(ConfigError::BadDatabase(format!(
                "database.max_connections must be between 2 and 1000, not {n}"
            ))),
            _ => Ok(()),
        }
    }

    pub fn postgres(&self) -> lectern_store::PgOptions {
        let defaults = lectern_store::PgOptions::default();
        lectern_store::PgOptions {
            max_connections: self.max_connections.unwrap_or(defaults.max_connections),
            statement_timeout: self
                .statement_timeout
                .map_or(defaults.statement_timeout, |s| s.0),
            ..defaults
        }
    }
}

/// Off-site copies of new backups and the upload limit (`[backup]` and
/// `[backup.s3]` in lectern.toml, or `LECTERN_BACKUP__MIRROR`,
/// `LECTERN_BACKUP__S3__LOCATION`, `LECTERN_BACKUP__AFTER_COMMAND`,
/// `LECTERN_BACKUP__MAX_UPLOAD_GIB`, …). Never settings in the database: a
/// command is code, and a key is a secret.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BackupConfig {
    /// A folder every new archive is copied to (a mounted NAS).
    pub mirror: Option<PathBuf>,
    /// A bucket of S3-compatible object storage every new archive is
    /// uploaded to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Config>,
    /// Run with `sh -c` after each backup; `$1` is the archive's path.
    pub after_command: Option<String>,
    /// The largest archive `POST /api/admin/backups/upload` takes, in GiB
    /// (default 16).
    pub max_upload_gib: Option<u64>,
}

/// `[backup.s3]`, checked as it is read: an S3-compatible bucket. The
/// keys may come from the standard `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY` variables instead (both set here, or neither).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "S3Fields", into = "S3Fields")]
pub struct S3Config(S3Target);

/// `[backup.s3]` as written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct S3Fields {
    /// `s3://BUCKET` or `s3://BUCKET/FOLDER`.
    location: String,
    /// The service's address, for anything but AWS itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_access_key: Option<String>,
}

impl TryFrom<S3Fields> for S3Config {
    type Error = String;
    fn try_from(f: S3Fields) -> Result<Self, String> {
        if f.access_key_id.is_some() != f.secret_access_key.is_some() {
            return Err(
                "access_key_id and secret_access_key go together: set both, or neither".into(),
            );
        }
        if let Some(endpoint) = &f.endpoint {
            if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
                return Err(format!(
                    "the endpoint {endpoint:?} is not an http:// or https:// address"
                ));
            }
        }
        Ok(S3Config(S3Target {
            endpoint: f.endpoint,
            region: f
                .region
                .unwrap_or_else(|| S3Target::DEFAULT_REGION.to_owned()),
            access_key_id: f.access_key_id,
            secret_access_key: f.secret_access_key,
            ..S3Target::parse(&f.location)?
        }))
    }
}

impl From<S3Config> for S3Fields {
    fn from(S3Config(t): S3Config) -> S3Fields {
        S3Fields {
            location: t.url(),
            endpoint: t.endpoint,
            region: Some(t.region),
            access_key_id: t.access_key_id,
            secret_access_key: t.secret_access_key,
        }
    }
}

impl BackupConfig {
    pub const DEFAULT_MAX_UPLOAD_GIB: u64 = 16;

    pub fn offsite(&self) -> lectern_backup::Offsite {
        lectern_backup::Offsite {
            mirror: self.mirror.clone(),
            s3: self.s3.as_ref().map(|S3Config(target)| target.clone()),
            after_command: self.after_command.clone(),
        }
    }

    /// The upload limit in bytes.
    pub fn max_upload(&self) -> u64 {
        let gib = self.max_upload_gib.unwrap_or(Self::DEFAULT_MAX_UPLOAD_GIB);
        gib.saturating_mul(1 << 30)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerConfig {
    pub port: u16,
    pub bind: std::net::IpAddr,
    /// How long a sign-in lasts, in hours.
    pub session_hours: u64,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For`
    /// names the client; none by default.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

impl ServerConfig {
    /// The trusted proxies, checked.
    pub fn trusted_proxies(&self) -> Result<Vec<lectern_server::IpNet>, ConfigError> {
        lectern_server::parse_trusted_proxies(&self.trusted_proxies).map_err(ConfigError::BadProxy)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanConfig {
    /// The safety guard: a scan that would mark more than this share of the
    /// known files missing stops unless forced.
    pub max_missing_percent: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data: PathBuf::from("data"),
            root: None,
            database_url: None,
            database: DatabaseConfig::default(),
            scan: ScanConfig {
                max_missing_percent: 50.0,
            },
            server: ServerConfig {
                port: 8000,
                bind: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                session_hours: 24 * 7,
                trusted_proxies: Vec::new(),
            },
            backup: BackupConfig::default(),
            coordination: CoordinationConfig::default(),
            health: HealthConfig::default(),
            alerts: AlertsConfig::default(),
            metrics: MetricsConfig::default(),
            watch: WatchConfig::default(),
        }
    }
}

#[derive(Debug, Serialize)]
struct FlagLayer<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    root: Option<&'a Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("scan.max_missing_percent must be between 0 and 100, not {0}")]
    BadShare(f64),
    #[error("backup.max_upload_gib must be at least 1")]
    BadUploadLimit,
    #[error("server.trusted_proxies: {0}")]
    BadProxy(String),
    #[error("{0}")]
    BadCoordination(String),
    #[error("{0}")]
    BadMonitoring(String),
    #[error("{0}")]
    BadWatch(String),
    #[error("{0}")]
    BadDatabase(String),
    /// figment's message would quote the value, which is a secret here.
    #[error("invalid configuration: {0} does not have the right form (its value is a secret and is not shown)")]
    BadSecret(String),
}

/// The configuration's error, unless it is about a secret (a password, a
/// token, a webhook's URL), whose value it would print.
fn redacted(error: figment::Error) -> ConfigError {
    const SECRETS: [&str; 5] = ["password", "token", "webhooks", "url", "secret_access_key"];
    let secret = error
        .clone()
        .into_iter()
        .find(|e| e.path.iter().any(|key| SECRETS.contains(&key.as_str())));
    match secret {
        Some(e) => ConfigError::BadSecret(e.path.join(".")),
        None => ConfigError::Invalid(Box::new(error)),
    }
}

impl Config {
    pub fn load(flags: &GlobalArgs) -> Result<Config, ConfigError> {
        let file = match &flags.config {
            Some(path) if !path.is_file() => return Err(ConfigError::MissingFile(path.clone())),
            Some(path) => path.clone(),
            None => PathBuf::from("lectern.toml"),
        };
        let layers = FlagLayer {
            data: flags.data.as_deref(),
            root: flags.root.as_deref(),
            database_url: flags.database_url.as_deref(),
        };
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("LECTERN_").ignore(&["config"]).split("__"))
            .merge(Serialized::defaults(layers))
            .extract()
            .map_err(redacted)?;
        let share = config.scan.max_missing_percent;
        if !(0.0..=100.0).contains(&share) {
            return Err(ConfigError::BadShare(share));
        }
        if config.backup.max_upload_gib == Some(0) {
            return Err(ConfigError::BadUploadLimit);
        }
        config.server.trusted_proxies()?;
        config.coordination.check()?;
        config.health.check()?;
        config.alerts.check()?;
        config.metrics.check()?;
        config.watch.check()?;
        config.database.check()?;
        Ok(config)
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data.join("lectern.db").display()),
        }
    }
}
