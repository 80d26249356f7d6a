//! What every use case works with: the store, the coordination of the
//! instances, the event listeners, and the options they run under. Each
//! front end builds one [`App`] and hands it to the use cases.

use crate::alerts::{AlertListener, AlertOptions, Alerts};
use crate::coordination::{Coordination, InProcess};
use crate::events::Events;
use crate::index_cache::IndexCache;
use crate::login_limits::{InProcessLimits, LoginLimits};
use crate::metrics::{Metrics, MetricsListener};
use crate::monitor::{HealthOptions, Monitor, MonitorListener};
use crate::watch::{WatchOptions, Watching};
use lectern_backup::{BackupFolder, Limits, Offsite, Secrets};
use lectern_store::{Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where backups live and how they are sealed, from the configuration.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    pub folder: BackupFolder,
    /// From `LECTERN_BACKUP_*` only, never from the database.
    pub secrets: Secrets,
    pub limits: Limits,
    /// The largest upload taken, in bytes.
    pub max_upload: u64,
    /// Where new archives are copied (configuration only).
    pub offsite: Offsite,
}

impl BackupOptions {
    pub fn in_data(data: &Path, secrets: Secrets) -> Self {
        Self {
            folder: BackupFolder::in_data(data),
            secrets,
            limits: Limits::default(),
            max_upload: 16 << 30,
            offsite: Offsite::default(),
        }
    }
}

/// Where the library is and how scans treat it.
#[derive(Debug, Clone)]
pub struct LibraryOptions {
    /// `--root` / `LECTERN_ROOT`: wins over the saved setting.
    pub root_override: Option<PathBuf>,
    /// The root used when none is saved (lectern.toml, or the demo library).
    pub root_default: Option<PathBuf>,
    /// The safety guard: a scan that would mark more than this share of
    /// the known files missing stops instead.
    pub max_missing_share: f64,
}

impl Default for LibraryOptions {
    fn default() -> Self {
        LibraryOptions {
            root_override: None,
            root_default: None,
            max_missing_share: 0.5,
        }
    }
}

#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub coordination: Arc<dyn Coordination>,
    pub events: Events,
    pub library: Arc<LibraryOptions>,
    pub backups: Arc<BackupOptions>,
    /// How the health checks run, and their last report.
    pub health: Arc<HealthOptions>,
    pub monitor: Arc<Monitor>,
    pub alerts: Arc<Alerts>,
    pub metrics: Arc<Metrics>,
    /// What the watcher of the library is doing ([`App::spawn_watching`]).
    pub watching: Arc<Watching>,
    /// What browsing works out from the index alone, until it changes.
    pub index_cache: Arc<IndexCache>,
    /// How many sign-in attempts may be made: this process's count, or
    /// one shared by the instances on the database
    /// ([`App::with_login_limits`]).
    pub login_limits: Arc<dyn LoginLimits>,
}

impl App {
    /// One instance on its own: coordination in this process's memory.
    /// Its health state sits beside the backup folder (in the data
    /// folder); alerts are kept in memory and sent nowhere until
    /// [`App::with_monitoring`].
    pub fn new(store: Arc<dyn Store>, library: LibraryOptions, backups: BackupOptions) -> Self {
        let data = backups
            .folder
            .dir()
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_owned);
        App {
            store,
            coordination: Arc::new(InProcess::default()),
            events: Events::default(),
            library: Arc::new(library),
            backups: Arc::new(backups),
            health: Arc::new(HealthOptions::in_data(&data)),
            monitor: Arc::new(Monitor::default()),
            alerts: Arc::new(Alerts::new(AlertOptions::default(), None)),
            metrics: Arc::new(Metrics::new().expect("the metrics' names are distinct")),
            watching: Arc::new(Watching::default()),
            index_cache: Arc::new(IndexCache::default()),
            login_limits: Arc::new(InProcessLimits::default()),
        }
    }

    /// With the checks run as `health` says, and alerts sent to `alerts`'
    /// targets, their state kept in the health state folder.
    pub fn with_monitoring(mut self, health: HealthOptions, alerts: AlertOptions) -> Self {
        let file = health.alerts_file();
        self.health = Arc::new(health);
        self.alerts = Arc::new(Alerts::new(alerts, Some(file)));
        self
    }

    /// Subscribes the health checks, the alerts and the metrics to what
    /// the use cases announce (a running server does; the command line,
    /// which sends nothing, does not).
    pub fn listen(&self) {
        let events = &self.events;
        events.subscribe(Arc::new(MonitorListener(self.monitor.clone())));
        events.subscribe(Arc::new(AlertListener(self.alerts.clone())));
        events.subscribe(Arc::new(MetricsListener {
            metrics: self.metrics.clone(),
            store: self.store.clone(),
        }));
    }

    /// The background work of a running server: the checks at their
    /// interval and the alerts' delivery.
    pub fn spawn_monitoring(&self) {
        // A restore this instance was running ended with its process.
        let words = "Lectern restarted: the restore it was running ended with the process";
        self.alerts.clear("restore", words.into());
        tokio::spawn(crate::monitor::run(self.clone()));
        tokio::spawn(self.alerts.clone().run());
    }

    /// Watches the library root as `options` say, and runs the periodic
    /// full scan (a running server does; the command line does not).
    pub fn spawn_watching(&self, options: WatchOptions) {
        tokio::spawn(crate::watch::run(self.clone(), options));
    }

    /// With `root` as the library root when none is set or saved.
    pub fn with_library_root(mut self, root: PathBuf) -> Self {
        let mut library = (*self.library).clone();
        library.root_default = Some(root);
        self.library = Arc::new(library);
        self
    }

    /// Over listeners the caller subscribed (the command line's audit log).
    pub fn with_events(mut self, events: Events) -> Self {
        self.events = events;
        self
    }

    pub fn with_coordination(mut self, coordination: Arc<dyn Coordination>) -> Self {
        self.coordination = coordination;
        self
    }

    /// With sign-in attempts counted by `limits` (on a shared database,
    /// [`crate::login_limits::SharedLimits`], so that every instance
    /// counts them together).
    pub fn with_login_limits(mut self, limits: Arc<dyn LoginLimits>) -> Self {
        self.login_limits = limits;
        self
    }

    /// Signs in under `guard`'s limits: see [`crate::sign_in()`].
    pub async fn sign_in(
        &self,
        guard: &crate::SignInGuard,
        request: crate::SignIn,
    ) -> Result<crate::SignedIn, crate::AppError> {
        crate::sign_in(self.store.as_ref(), guard, &self.events, request).await
    }

    /// The library root: the override, the saved setting, the default.
    pub async fn library_root(&self) -> Result<Option<PathBuf>, StoreError> {
        lectern_store::settings::library_root(
            self.store.as_ref(),
            self.library.root_override.as_ref(),
            self.library.root_default.as_ref(),
        )
        .await
    }
}
