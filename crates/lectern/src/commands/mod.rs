//! One module per subcommand; this one opens what they share and maps
//! every failure to its exit status and error code in one place.

mod backup;
mod check;
mod cleanup;
mod demo;
mod history;
mod list;
mod scan;
mod serve;
mod user;

use crate::cli::{Cli, Command};
use crate::config::{Config, ConfigError};
use lectern_app::audit::AuditListener;
use lectern_app::coordination::{Coordination, Shared};
use lectern_app::{App, AppError, BackupOptions, Event, Events, LibraryOptions};
use lectern_backup::{BackupError, Secrets};
use lectern_scanner::ScanError;
use lectern_store::{settings, Store, StoreError};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Exit statuses scripts can rely on (docs/cli.md).
pub mod exit {
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const ABORTED: u8 = 3;
    pub const BUSY: u8 = 4;
    pub const UNFINISHED: u8 = 5;
}

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Backup(BackupError),
    /// The database file is damaged: what was found.
    #[error(
        "the database is damaged ({0}); Lectern will not use it. With the server stopped, \
         `lectern backup list` shows the backups and `lectern backup restore FILE` puts one \
         back (the damaged file is kept aside)"
    )]
    Damaged(String),
    /// Someone declined to go on; nothing changed.
    #[error("{0}")]
    Declined(String),
    #[error("{0}")]
    Conflict(String),
    /// Refused for what it holds (an archive that is not sound); `code`
    /// says why.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// This machine's disk or database failed: the error and its causes.
    #[error("{0}")]
    Internal(String),
}

/// The use cases' errors as the command line reports them.
impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(message) => Failure::Invalid(message),
            AppError::NotFound(message) => Failure::NotFound(message),
            AppError::Conflict(message) => Failure::Conflict(message),
            AppError::Busy(message) | AppError::Maintenance(message) => Failure::Busy(message),
            AppError::Damaged(problems) => Failure::Damaged(problems),
            AppError::Declined(message) => Failure::Declined(message),
            AppError::Unprocessable { code, message } => Failure::Refused { code, message },
            AppError::NoSpace(message) => Failure::Refused {
                code: "insufficient_storage",
                message,
            },
            e @ (AppError::BadCredentials
            | AppError::Forbidden
            | AppError::TooManyAttempts { .. }) => Failure::Invalid(e.to_string()),
            e @ AppError::Internal { .. } => Failure::Internal(e.chain()),
        }
    }
}

impl Failure {
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Config(_) => "bad_config",
            Failure::Store(_) => "database",
            Failure::Busy(_) => "locked",
            Failure::NotFound(_) => "not_found",
            Failure::Invalid(_) => "invalid",
            Failure::Io(_) => "io",
            Failure::Backup(e) => e.code(),
            Failure::Damaged(_) => "damaged",
            Failure::Declined(_) => "declined",
            Failure::Conflict(_) => "conflict",
            Failure::Refused { code, .. } => code,
            Failure::Internal(_) => "internal",
        }
    }

    pub fn exit_status(&self) -> u8 {
        match self {
            Failure::Config(_) | Failure::Invalid(_) => exit::USAGE,
            Failure::Busy(_) => exit::BUSY,
            Failure::Declined(_) => exit::ABORTED,
            Failure::Backup(
                BackupError::Invalid(_)
                | BackupError::BadSecrets(_)
                | BackupError::SecretMissing(..),
            ) => exit::USAGE,
            Failure::Refused {
                code: "bad_secrets" | "secret_missing",
                ..
            } => exit::USAGE,
            _ => exit::FAILURE,
        }
    }
}

impl From<BackupError> for Failure {
    fn from(e: BackupError) -> Self {
        match e {
            BackupError::DatabaseDamaged(problems) => Failure::Damaged(problems),
            other => Failure::Backup(other),
        }
    }
}

impl From<ScanError> for Failure {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::Busy(_) => Failure::Busy(e.to_string()),
            ScanError::UnknownCourse(_) => Failure::NotFound(e.to_string()),
            ScanError::NotACategory(_) => Failure::Invalid(e.to_string()),
            ScanError::Store(e) => Failure::Store(e),
        }
    }
}

impl Command {
    pub fn wants_json(&self) -> bool {
        match self {
            Command::Scan(a) => a.json,
            Command::Cleanup(a) | Command::List(a) | Command::Check(a) => a.json,
            Command::Demo(a) => a.json,
            Command::History(a) => a.json,
            Command::User(crate::cli::UserCommand::Add { json, .. })
            | Command::User(crate::cli::UserCommand::List { json }) => *json,
            Command::Backup(command) => command.wants_json(),
            Command::User(_) | Command::Serve(_) => false,
        }
    }
}

pub async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let config = Config::load(&cli.global)?;
    match cli.command {
        Command::Demo(args) => demo::run(args),
        // The backup commands open the database themselves, if at all:
        // they must work when it is too damaged to open.
        Command::Backup(command) => backup::run(config, command).await,
        // Like the backup commands: a damaged database is a finding.
        Command::Check(args) => check::run(config, cli.global.root, args).await,
        Command::Scan(args) => {
            scan::run(&Context::open(config, cli.global.root).await?, args).await
        }
        Command::Serve(args) => {
            serve::run(&Context::open(config, cli.global.root).await?, args).await
        }
        Command::User(command) => user::run(&Context::open(config, None).await?, command).await,
        Command::Cleanup(args) => cleanup::run(&Context::open(config, None).await?, args).await,
        Command::List(args) => list::run(&Context::open(config, None).await?, args).await,
        Command::History(args) => history::run(&Context::open(config, None).await?, args).await,
    }
}

/// What a command that works on the database needs.
pub struct Context {
    pub config: Config,
    pub store: Arc<dyn Store>,
    /// `--root` / `LECTERN_ROOT`: overrides the saved setting for this process.
    pub root_override: Option<PathBuf>,
    /// The use cases' listeners: the audit log, over `store`.
    events: Events,
    /// What this process shares with the other instances on the database.
    pub coordination: Arc<dyn Coordination>,
}

impl Context {
    async fn open(config: Config, root_override: Option<PathBuf>) -> Result<Context, Failure> {
        let store = open_sound(&config).await?;
        Context::over(config, store, root_override).await
    }

    /// Over a database the caller opened, its audit log listening.
    pub async fn over(
        config: Config,
        store: Arc<dyn Store>,
        root_override: Option<PathBuf>,
    ) -> Result<Self, Failure> {
        let events = Events::default();
        events.subscribe(Arc::new(AuditListener::new(store.clone())));
        let coordination = coordination(&config).await?;
        Ok(Context {
            config,
            store,
            root_override,
            events,
            coordination,
        })
    }

    /// The library root: `--root`/`LECTERN_ROOT`, else the saved setting,
    /// else `root` in lectern.toml; `None` when none is configured.
    pub async fn library_root(&self) -> Result<Option<PathBuf>, Failure> {
        let store = self.store.as_ref();
        let root = settings::library_root(
            store,
            self.root_override.as_ref(),
            self.config.root.as_ref(),
        );
        Ok(root.await?)
    }

    /// The use cases' context for this command: one instance, nobody
    /// else's requests to drain; what they announce reaches the audit log.
    pub fn app(&self, secrets: Secrets) -> App {
        app(
            &self.config,
            self.store.clone(),
            self.root_override.clone(),
            secrets,
        )
        .with_coordination(self.coordination.clone())
        .with_events(self.events.clone())
    }

    /// Who the CLI acts as, for the use cases.
    pub fn by(&self) -> lectern_app::Actor {
        by()
    }

    /// Tells the audit log that `action` on `target` failed with `failure`,
    /// as the server does for a request it refuses: the use cases announce
    /// only what they did. A command someone declined changed nothing and
    /// is not recorded.
    pub async fn refused(&self, action: &str, target: Option<String>, failure: &Failure) {
        if matches!(failure, Failure::Declined(_)) {
            return;
        }
        let event = Event::Refused {
            by: self.by(),
            action: action.to_owned(),
            target,
            status: None,
            code: Some(failure.code().to_owned()),
        };
        self.events.emit(event).await;
    }

    /// [`Context::refused`] for the failure in `result`, if any.
    pub async fn record_failure<T>(
        &self,
        action: &str,
        target: Option<String>,
        result: &Result<T, Failure>,
    ) {
        if let Err(failure) = result {
            self.refused(action, target, failure).await;
        }
    }
}

/// The use cases' context over `store`, from the configuration.
pub fn app(
    config: &Config,
    store: Arc<dyn Store>,
    root_override: Option<PathBuf>,
    secrets: Secrets,
) -> App {
    let library = LibraryOptions {
        root_override,
        root_default: config.root.clone(),
        max_missing_share: config.scan.max_missing_percent / 100.0,
    };
    App::new(store, library, backup_options(config, secrets))
        .with_coordination(config.coordination.in_process())
}

/// What this process shares with the other instances on its database: on
/// PostgreSQL the database's board (so that a restore from the command
/// line puts every server into maintenance, and a scan shows on them), on
/// the embedded database this process's memory.
pub async fn coordination(config: &Config) -> Result<Arc<dyn Coordination>, Failure> {
    let settings = &config.coordination;
    let Some(board) = lectern_store::open_board(&config.database_url()).await? else {
        return Ok(settings.in_process());
    };
    let shared = Arc::new(Shared::new(
        settings.instance_id()?,
        settings.lease(),
        board,
    ));
    tokio::spawn(shared.clone().follow());
    Ok(shared)
}

/// Where backups live and how they are sealed, from the configuration.
pub fn backup_options(config: &Config, secrets: Secrets) -> BackupOptions {
    BackupOptions {
        offsite: config.backup.offsite(),
        max_upload: config.backup.max_upload(),
        ..BackupOptions::in_data(&config.data, secrets)
    }
}

/// The person at the terminal, as the use cases name them.
pub fn by() -> lectern_app::Actor {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME"));
    // SAFETY: getuid cannot fail and touches no memory of ours.
    let uid = || format!("uid {}", unsafe { libc::getuid() });
    lectern_app::Actor::Cli(user.unwrap_or_else(|_| uid()))
}

/// Opens the database and refuses a damaged one (not a database, or
/// failing `PRAGMA quick_check`) with a pointer to the backup commands,
/// rather than failing later in the middle of some work.
pub async fn open_sound(config: &Config) -> Result<Arc<dyn Store>, Failure> {
    let store = open_unchecked(config).await?;
    let problems = store.quick_check().await.map_err(damaged)?;
    if !problems.is_empty() {
        store.close().await;
        return Err(Failure::Damaged(problems.join("; ")));
    }
    Ok(store)
}

/// Opens the database without the check [`open_sound`] runs, for a command
/// that checks what it reads itself (a backup checks its snapshot); a file
/// that is not a database is still refused.
pub async fn open_unchecked(config: &Config) -> Result<Arc<dyn Store>, Failure> {
    lectern_store::open_with(&config.database_url(), &config.database.postgres())
        .await
        .map_err(damaged)
}

fn damaged(e: StoreError) -> Failure {
    match e {
        StoreError::Damaged { message, .. } => Failure::Damaged(message),
        other => Failure::Store(other),
    }
}
