use super::{Context, Failure};
use crate::cli::ServeArgs;
use lectern_app::coordination::keep_alive;
use lectern_app::login_limits::{InProcessLimits, SharedLimits};
use lectern_app::{App, LoginLimits};
use lectern_backup::Secrets;
use lectern_server::{AppState, BackupOptions, ServerOptions};
use lectern_store::lock::is_held;
use lectern_store::{NewUser, Role};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub async fn run(ctx: &Context, args: ServeArgs) -> Result<ExitCode, Failure> {
    let root_default = match ctx.library_root().await? {
        Some(_) => ctx.config.root.clone(),
        None => Some(super::demo::default_library(&ctx.config)?),
    };
    recover_interrupted_scans(ctx).await?;
    bootstrap_admin(ctx).await?;
    let options = ServerOptions {
        root_override: ctx.root_override.clone(),
        root_default,
        session_ttl: Duration::from_secs(ctx.config.server.session_hours.max(1) * 3600),
        max_missing_share: ctx.config.scan.max_missing_percent / 100.0,
        backups: BackupOptions {
            offsite: ctx.config.backup.offsite(),
            max_upload: ctx.config.backup.max_upload(),
            ..BackupOptions::in_data(&ctx.config.data, Secrets::from_env()?)
        },
        trusted_proxies: ctx.config.server.trusted_proxies()?,
        metrics_token: ctx.config.metrics.token.clone(),
    };
    let addr = SocketAddr::new(
        args.bind.unwrap_or(ctx.config.server.bind),
        args.port.unwrap_or(ctx.config.server.port),
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::Io(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::Io(e.to_string()))?;
    // This instance as configured (`[coordination]`): its id and lease,
    // shared through the database when others may open it too.
    let coordination = ctx.coordination.clone();
    let (library, backups) = (options.library(), options.backups.clone());
    let health = ctx.config.health.options(&ctx.config.data)?;
    let mut watch = ctx.config.watch.options()?;
    let app = App::new(ctx.store.clone(), library, backups)
        .with_coordination(coordination.clone())
        .with_login_limits(login_limits(ctx).await?)
        .with_monitoring(health, ctx.config.alerts.options());
    let state = AppState::with_app(app, options);
    // A library scanned before may have changed while Lectern was
    // stopped: the watching starts with a scan of it all.
    watch.catch_up = !first_scan(ctx, &state).await?;
    tokio::spawn(lectern_app::schedule::run(state.app.clone()));
    state.app.spawn_monitoring();
    state.app.spawn_watching(watch);
    tokio::spawn(keep_alive(
        coordination,
        ctx.config.coordination.heartbeat(),
    ));
    // The last line on stdout: scripts (and the tests) wait for it.
    println!("Lectern is listening: sign in at http://{bound}/ (API under /api)");
    lectern_server::serve(listener, state, shutdown_signal())
        .await
        .map_err(|e| Failure::Io(format!("the server stopped: {e}")))?;
    ctx.store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// On PostgreSQL, sign-in attempts counted by every instance on the
/// database, so that being sent to another instance dodges nothing; on
/// the embedded database, in this process.
async fn login_limits(ctx: &Context) -> Result<Arc<dyn LoginLimits>, Failure> {
    let url = ctx.config.database_url();
    Ok(match lectern_store::open_login_tallies(&url).await? {
        Some(tallies) => Arc::new(SharedLimits::new(tallies)),
        None => Arc::new(InProcessLimits::default()),
    })
}

/// A scan still `running` in the history while nobody holds the lock died
/// with its process.
async fn recover_interrupted_scans(ctx: &Context) -> Result<(), Failure> {
    let held = ctx.store.read_lock().await?.is_some_and(|l| is_held(&l));
    if !held {
        ctx.store.interrupt_running_scans().await?;
    }
    Ok(())
}

/// A library that was never scanned is scanned at once, in the background,
/// so the first visit finds courses (the demo library, a new ROOT).
/// Answers whether it was such a library.
async fn first_scan(ctx: &Context, state: &AppState) -> Result<bool, Failure> {
    if !ctx.store.scans(1, 0).await?.is_empty() {
        return Ok(false);
    }
    match state
        .start_full_scan(&lectern_app::Actor::System("serve:first-start"))
        .await
    {
        Ok(id) => println!("Scanning the library for the first time (scan {id})"),
        Err(e) => eprintln!("lectern: the first scan did not start: {e}"),
    }
    Ok(true)
}

/// With no administrator, make one and show its password once; of
/// several instances starting on one empty database, only one does.
async fn bootstrap_admin(ctx: &Context) -> Result<(), Failure> {
    if ctx.store.count_admins().await? > 0 {
        return Ok(());
    }
    let password = lectern_app::passwords::new_password();
    let password_hash =
        lectern_app::passwords::hash_password(&password).map_err(|e| Failure::Io(e.to_string()))?;
    for name in ["admin", "lectern-admin"] {
        let new = NewUser {
            username: name.to_owned(),
            password_hash: password_hash.clone(),
            role: Role::Admin,
        };
        match ctx.store.create_user(&new).await {
            Ok(_) => {
                println!(
                    "Created the first administrator: username {name:?}, password {password:?}"
                );
                println!("This password is shown only once: sign in and keep it safe.");
                return Ok(());
            }
            // Another instance starting on the same empty database made
            // the first administrator a moment before: there is one.
            Err(lectern_store::StoreError::Conflict(_)) if ctx.store.count_admins().await? > 0 => {
                return Ok(())
            }
            Err(lectern_store::StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::Invalid(
        "could not create a first administrator: the usernames are taken".into(),
    ))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    eprintln!("lectern: shutting down; finishing requests in flight");
}
