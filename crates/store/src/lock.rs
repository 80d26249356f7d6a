//! The operation lock: one scan, cleanup, backup or restore at a time, across
//! processes (the CLI beside a running server) and, with a shared database,
//! across instances. It is a lease, renewed while its holder works, so a
//! holder that dies frees it; on the holder's own host, a dead pid frees it at
//! once, so a CLI killed with SIGKILL never blocks the next operation.

use crate::model::{LockInfo, LockOwner};
use crate::{now_ms, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

pub const LEASE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another operation is running: {0}")]
    Busy(LockInfo),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A held lock. Release it with [`LockHandle::release`]; dropping it also
/// frees it, in the background.
pub struct LockHandle {
    store: Arc<dyn Store>,
    /// `None` once released.
    token: Option<String>,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl LockHandle {
    pub async fn acquire(
        store: &Arc<dyn Store>,
        operation: &str,
        holder: &str,
    ) -> Result<LockHandle, LockError> {
        let me = this_process(holder);
        for _ in 0..3 {
            let current = store.read_lock().await?;
            let now = store.clock().await?;
            if let Some(held) = current.as_ref().filter(|l| is_held_at(l, now)) {
                return Err(LockError::Busy(held.clone()));
            }
            let new = LockInfo {
                operation: operation.to_owned(),
                owner: me.clone(),
                token: format!("{}-{}-{}", me.host, me.pid, now_nanos()),
                acquired_at: now,
                expires_at: now + LEASE.as_millis() as i64,
            };
            if store
                .swap_lock(current.as_ref().map(|l| l.token.as_str()), &new)
                .await?
            {
                let heartbeat = tokio::spawn(renew(store.clone(), new.token.clone()));
                return Ok(LockHandle {
                    store: store.clone(),
                    token: Some(new.token),
                    heartbeat,
                });
            }
        }
        match store.read_lock().await? {
            Some(held) => Err(LockError::Busy(held)),
            None => Err(StoreError::unavailable("the operation lock keeps changing hands").into()),
        }
    }

    pub async fn release(mut self) -> Result<(), StoreError> {
        self.heartbeat.abort();
        match self.token.take() {
            Some(token) => self.store.release_lock(&token).await,
            None => Ok(()),
        }
    }
}

impl Drop for LockHandle {
    fn drop(&mut self) {
        self.heartbeat.abort();
        let Some(token) = self.token.take() else {
            return;
        };
        let store = self.store.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = store.release_lock(&token).await;
            });
        }
    }
}

async fn renew(store: Arc<dyn Store>, token: String) {
    let mut every = tokio::time::interval(LEASE / 3);
    every.tick().await;
    loop {
        every.tick().await;
        let renewed = match store.clock().await {
            Ok(now) => {
                store
                    .renew_lock(&token, now + LEASE.as_millis() as i64)
                    .await
            }
            Err(e) => Err(e),
        };
        match renewed {
            Ok(true) => {}
            Ok(false) => {
                tracing::error!("the operation lock was taken over while still in use");
                return;
            }
            Err(e) => tracing::warn!("could not renew the operation lock: {e}"),
        }
    }
}

/// Whether the lock still belongs to a live holder, by this host's clock
/// (for showing it; taking it goes by the database's, [`is_held_at`]).
pub fn is_held(lock: &LockInfo) -> bool {
    is_held_at(lock, now_ms())
}

/// Whether the lock still belongs to a live holder at `now` (ms).
pub fn is_held_at(lock: &LockInfo, now: i64) -> bool {
    if lock.expires_at <= now {
        return false;
    }
    lock.owner.host != host_name() || process_alive(lock.owner.pid, lock.owner.pid_start)
}

pub fn this_process(holder: &str) -> LockOwner {
    let pid = std::process::id();
    LockOwner {
        holder: holder.to_owned(),
        host: host_name(),
        pid: i64::from(pid),
        pid_start: process_start(i64::from(pid)),
    }
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// This machine's name, as the lock records its holder's host;
/// `localhost` when it cannot be read.
pub fn host_name() -> String {
    hostname::get()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// The process's start time in clock ticks since boot (Linux), which tells a
/// live holder from a new process that reused its pid.
fn process_start(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    after_name.split_whitespace().nth(19)?.parse().ok()
}

fn process_alive(pid: i64, start: Option<i64>) -> bool {
    if !std::path::Path::new("/proc/self/stat").exists() {
        return true; // no way to tell here: trust the lease
    }
    match (process_start(pid), start) {
        (None, _) => false,
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_pid_is_not() {
        let me = this_process("test");
        assert!(process_alive(me.pid, me.pid_start));
        assert!(!process_alive(me.pid, me.pid_start.map(|s| s + 1)));
        assert!(!process_alive(i64::from(i32::MAX), None));
    }
}
