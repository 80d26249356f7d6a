use crate::backups::{BackupOptions, JobSlot};
use crate::error::ApiError;
use crate::maintenance::Maintenance;
use crate::scans::ScanSlot;
use ipnet::IpNet;
use lectern_app::audit::AuditListener;
use lectern_app::{Events, SignInGuard};
use lectern_backup::Secrets;
use lectern_core::ScanId;
use lectern_scanner::{ScanOptions, ScanScope};
use lectern_store::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What the server is started with (from the configuration layers).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `--root` / `LECTERN_ROOT`: wins over the saved setting.
    pub root_override: Option<PathBuf>,
    /// The root used when none is saved (lectern.toml, or the demo library).
    pub root_default: Option<PathBuf>,
    pub session_ttl: Duration,
    pub max_missing_share: f64,
    pub backups: BackupOptions,
    /// Proxies whose `X-Forwarded-For` names the client (addresses or
    /// CIDR ranges); none by default, when the peer is the client.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            root_override: None,
            root_default: None,
            session_ttl: Duration::from_secs(7 * 24 * 3600),
            max_missing_share: 0.5,
            backups: BackupOptions::in_data(Path::new("data"), Secrets::none()),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Shared by every request. No global state: each test's server has its own.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub options: Arc<ServerOptions>,
    /// What the use cases announce; the audit log listens.
    pub events: Events,
    /// The sign-in limits and the password-hashing queue.
    pub sign_in: SignInGuard,
    pub(crate) scan: Arc<ScanSlot>,
    pub(crate) maintenance: Arc<Maintenance>,
    pub(crate) backup_jobs: Arc<JobSlot>,
}

impl AppState {
    /// The library root for this request: override, saved setting, default.
    pub async fn library_root(&self) -> Result<Option<PathBuf>, lectern_store::StoreError> {
        let options = &self.options;
        let store = self.store.as_ref();
        lectern_store::settings::library_root(
            store,
            options.root_override.as_ref(),
            options.root_default.as_ref(),
        )
        .await
    }

    /// The maintenance switch a restore turns on (SPEC §3).
    pub fn maintenance(&self) -> &Arc<Maintenance> {
        &self.maintenance
    }

    /// A full scan in the background, as `started_by`; the first start of
    /// a new library uses it so that there is something to browse at once.
    pub async fn start_full_scan(&self, started_by: &str) -> Result<ScanId, ApiError> {
        let options = ScanOptions {
            scope: ScanScope::All,
            verify: false,
            force: false,
            started_by: started_by.to_owned(),
        };
        crate::api::scanner::start_scan(self, options).await
    }

    pub fn new(store: Arc<dyn Store>, options: ServerOptions) -> Self {
        let events = Events::default();
        events.subscribe(Arc::new(AuditListener::new(store.clone())));
        Self {
            store,
            options: Arc::new(options),
            events,
            sign_in: SignInGuard::default(),
            scan: Arc::new(ScanSlot::default()),
            maintenance: Arc::new(Maintenance::default()),
            backup_jobs: Arc::new(JobSlot::default()),
        }
    }
}
