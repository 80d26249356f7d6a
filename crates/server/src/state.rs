use crate::error::ApiError;
use crate::requests::Requests;
use ipnet::IpNet;
use lectern_app::audit::AuditListener;
use lectern_app::{Actor, App, BackupOptions, Events, LibraryOptions, SignInGuard};
use lectern_backup::Secrets;
use lectern_core::ScanId;
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
    /// `[metrics] token`: opens `/metrics` to other machines that present
    /// it; without it only loopback callers get the metrics.
    pub metrics_token: Option<String>,
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
            metrics_token: None,
        }
    }
}

impl ServerOptions {
    /// The library part, for an [`App`] built by the caller.
    pub fn library(&self) -> LibraryOptions {
        LibraryOptions {
            root_override: self.root_override.clone(),
            root_default: self.root_default.clone(),
            max_missing_share: self.max_missing_share,
        }
    }
}

/// Shared by every request. No global state: each test's server has its own.
#[derive(Clone)]
pub struct AppState {
    /// The use cases' context.
    pub app: App,
    pub store: Arc<dyn Store>,
    pub options: Arc<ServerOptions>,
    /// What the use cases announce (the app's own listeners); the audit
    /// log listens.
    pub events: Events,
    /// The sign-in limits and the password-hashing queue.
    pub sign_in: SignInGuard,
    /// This instance's requests in flight, which a restore drains.
    pub(crate) requests: Arc<Requests>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, options: ServerOptions) -> Self {
        let app = App::new(store.clone(), options.library(), options.backups.clone());
        Self::with_app(app, options)
    }

    /// Over an [`App`] built by the caller (its coordination and sign-in
    /// limits chosen).
    pub fn with_app(app: App, options: ServerOptions) -> Self {
        let events = app.events.clone();
        events.subscribe(Arc::new(AuditListener::new(app.store.clone())));
        app.listen();
        let sign_in = SignInGuard::with_limits(app.login_limits.clone());
        Self {
            store: app.store.clone(),
            app,
            options: Arc::new(options),
            events,
            sign_in,
            requests: Arc::new(Requests::default()),
        }
    }

    /// The library root for this request: override, saved setting, default.
    pub async fn library_root(&self) -> Result<Option<PathBuf>, lectern_store::StoreError> {
        self.app.library_root().await
    }

    /// A full scan in the background, as `started_by`; the first start of
    /// a new library uses it so that there is something to browse at once.
    pub async fn start_full_scan(&self, by: &Actor) -> Result<ScanId, ApiError> {
        Ok(lectern_app::scans::start_full(&self.app, by).await?)
    }

    /// Turns maintenance on (as a restore does) until [`end_maintenance`]
    /// with the epoch returned.
    ///
    /// [`end_maintenance`]: AppState::end_maintenance
    pub async fn begin_maintenance(&self, reason: &str) -> Result<u64, ApiError> {
        let coordination = &self.app.coordination;
        coordination
            .begin_maintenance(reason)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    pub async fn end_maintenance(&self, epoch: u64) -> Result<(), ApiError> {
        let coordination = &self.app.coordination;
        coordination
            .end_maintenance(epoch)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))
    }
}
