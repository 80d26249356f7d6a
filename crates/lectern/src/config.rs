//! Configuration in layers: built-in defaults, then `lectern.toml`, then
//! `LECTERN_*` environment variables, then command-line flags.

use crate::cli::GlobalArgs;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
        Ok(config)
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data.join("lectern.db").display()),
        }
    }
}
