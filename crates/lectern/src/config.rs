//! Configuration in layers: built-in defaults, then `lectern.toml`, then
//! `LECTERN_*` environment variables, then command-line flags.

use crate::cli::GlobalArgs;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use lectern_app::coordination::{self, Coordination, InProcess, InstanceId};
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
    pub scan: ScanConfig,
    pub server: ServerConfig,
    #[serde(default)]
    pub backup: BackupConfig,
    #[serde(default)]
    pub coordination: CoordinationConfig,
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
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            Seconds(u64),
            Text(String),
        }
        match Given::deserialize(deserializer)? {
            Given::Seconds(s) => Ok(Span(Duration::from_secs(s))),
            Given::Text(text) => humantime::parse_duration(text.trim())
                .map(Span)
                .map_err(|e| {
                    serde::de::Error::custom(format!(
                        "{text:?} is not a duration (like 45s, 2m or 1m 30s): {e}"
                    ))
                }),
        }
    }
}

/// Off-site copies of new backups and the upload limit (`[backup]` in
/// lectern.toml, or `LECTERN_BACKUP__MIRROR`, `LECTERN_BACKUP__AFTER_COMMAND`,
/// `LECTERN_BACKUP__MAX_UPLOAD_GIB`). Never settings in the database: a
/// command is code.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BackupConfig {
    /// A folder every new archive is copied to (a mounted NAS).
    pub mirror: Option<PathBuf>,
    /// Run with `sh -c` after each backup; `$1` is the archive's path.
    pub after_command: Option<String>,
    /// The largest archive `POST /api/admin/backups/upload` takes, in GiB
    /// (default 16).
    pub max_upload_gib: Option<u64>,
}

impl BackupConfig {
    pub const DEFAULT_MAX_UPLOAD_GIB: u64 = 16;

    pub fn offsite(&self) -> lectern_backup::Offsite {
        lectern_backup::Offsite {
            mirror: self.mirror.clone(),
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
            .map_err(Box::new)?;
        let share = config.scan.max_missing_percent;
        if !(0.0..=100.0).contains(&share) {
            return Err(ConfigError::BadShare(share));
        }
        if config.backup.max_upload_gib == Some(0) {
            return Err(ConfigError::BadUploadLimit);
        }
        config.server.trusted_proxies()?;
        config.coordination.check()?;
        Ok(config)
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data.join("lectern.db").display()),
        }
    }
}
