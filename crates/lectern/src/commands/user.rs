use super::{Context, Failure};
use crate::cli::UserCommand;
use crate::output;
use lectern_app::users::{self, AccountChanges, NewAccount};
use lectern_app::AppError;
use lectern_backup::Secrets;
use lectern_store::{Role, User};
use std::io::Read;
use std::process::ExitCode;

/// Every change reaches the audit log under the API's action names: the
/// use cases announce what they did, and a refusal is recorded here with
/// the name it was asked for. Listing changes nothing and is not recorded.
pub async fn run(ctx: &Context, command: UserCommand) -> Result<ExitCode, Failure> {
    let (action, name) = match &command {
        UserCommand::List { json } => return list(ctx, *json).await,
        UserCommand::Add { name, .. } => ("user.create", name),
        UserCommand::Passwd { name }
        | UserCommand::Disable { name }
        | UserCommand::Enable { name } => ("user.update", name),
    };
    let target = format!("username={name}");
    let result = change(ctx, command).await;
    ctx.record_failure(action, Some(target), &result).await;
    result
}

async fn change(ctx: &Context, command: UserCommand) -> Result<ExitCode, Failure> {
    match command {
        UserCommand::Add {
            name, admin, json, ..
        } => add(ctx, name, admin, json).await,
        UserCommand::List { json } => list(ctx, json).await,
        UserCommand::Passwd { name } => passwd(ctx, &name).await,
        UserCommand::Disable { name } => set_disabled(ctx, &name, true).await,
        UserCommand::Enable { name } => set_disabled(ctx, &name, false).await,
    }
}

async fn passwd(ctx: &Context, name: &str) -> Result<ExitCode, Failure> {
    let user = find(ctx, name).await?;
    let changes = AccountChanges {
        password: Some(read_password()?),
        ..AccountChanges::default()
    };
    users::update(&app(ctx), &ctx.by(), user.id, changes).await?;
    println!("password of {name} changed; their sessions are ended");
    Ok(ExitCode::SUCCESS)
}

async fn add(ctx: &Context, name: String, admin: bool, json: bool) -> Result<ExitCode, Failure> {
    // Spaces around a name are a typing slip here, not something to trim.
    if name.trim() != name {
        return Err(Failure::Invalid(
            "a username has no surrounding spaces".into(),
        ));
    }
    let role = if admin { Role::Admin } else { Role::User };
    let new = NewAccount {
        username: name,
        password: read_password()?,
        role,
    };
    let user = users::create(&app(ctx), &ctx.by(), new)
        .await
        .map_err(|e| match e {
            // A taken name is the caller's to change, as a bad one is.
            AppError::Conflict(m) => Failure::Invalid(m),
            other => other.into(),
        })?;
    if json {
        output::json(&user);
    } else {
        println!("created {} {} (id {})", user.role, user.username, user.id);
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(ctx: &Context, json: bool) -> Result<ExitCode, Failure> {
    let users = users::list(&app(ctx), &ctx.by()).await?;
    if json {
        output::json(&users);
    } else {
        for u in users {
            let disabled = if u.disabled { " (disabled)" } else { "" };
            println!("{} {} {}{disabled}", u.id, u.username, u.role);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn set_disabled(ctx: &Context, name: &str, disabled: bool) -> Result<ExitCode, Failure> {
    let user = find(ctx, name).await?;
    let changes = AccountChanges {
        disabled: Some(disabled),
        ..AccountChanges::default()
    };
    users::update(&app(ctx), &ctx.by(), user.id, changes).await?;
    println!(
        "{name} is {}",
        if disabled {
            "disabled; their sessions are ended"
        } else {
            "enabled"
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// The account use cases over this command's database; they need no
/// backup secrets.
fn app(ctx: &Context) -> lectern_app::App {
    ctx.app(Secrets::none())
}

async fn find(ctx: &Context, name: &str) -> Result<User, Failure> {
    match ctx.store.user_login(name).await? {
        Some((user, _)) => Ok(user),
        None => Err(Failure::NotFound(format!("there is no user {name:?}"))),
    }
}

/// The password is read from stdin; one trailing newline (LF or CRLF) is
/// dropped, everything else is kept.
fn read_password() -> Result<String, Failure> {
    let mut input = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut input)
        .map_err(|e| Failure::Invalid(format!("cannot read the password from stdin: {e}")))?;
    let password = input
        .strip_suffix('\n')
        .map(|p| p.strip_suffix('\r').unwrap_or(p))
        .unwrap_or(&input);
    if password.is_empty() {
        return Err(Failure::Invalid(
            "the password (read from stdin) is empty".into(),
        ));
    }
    Ok(password.to_owned())
}
