//! An operation that changes the data (scan, cleanup, backup, upload,
//! restore): it holds the store's operation lock for as long as it runs,
//! and is published to the coordination with its current step.

use crate::context::App;
use crate::coordination::{Operation, Step};
use crate::error::AppError;
use lectern_backup::Progress;
use lectern_store::lock::{LockError, LockHandle};
use std::sync::Arc;

/// The lock and the published operation, ended together by [`Running::finish`].
pub struct Running {
    lock: LockHandle,
    app: App,
    step: Arc<Step>,
    id: String,
}

impl Running {
    /// Takes the lock for `kind` as `who`; [`AppError::Busy`] names the
    /// holder when another operation has it.
    pub async fn start(app: &App, kind: &str, who: &str) -> Result<Running, AppError> {
        let lock = LockHandle::acquire(&app.store, kind, who)
            .await
            .map_err(lock_error)?;
        let step = Step::new("starting");
        let operation = Operation::new(kind, who, step.clone(), None);
        let id = operation.id.clone();
        if let Err(e) = app.coordination.publish_operation(operation).await {
            tracing::warn!("cannot publish the {kind}: {e}");
        }
        Ok(Running {
            lock,
            app: app.clone(),
            step,
            id,
        })
    }

    /// Shows each step of the work as the operation's step, and passes it
    /// on to `also` (a progress bar on a terminal).
    pub fn progress(&self, also: Arc<dyn Progress>) -> Arc<dyn Progress> {
        Arc::new(Steps {
            step: self.step.clone(),
            also,
        })
    }

    pub async fn finish(self) {
        if let Err(e) = self.app.coordination.clear_operation(&self.id).await {
            tracing::warn!("cannot clear the finished operation: {e}");
        }
        if let Err(e) = self.lock.release().await {
            tracing::warn!("cannot release the operation lock: {e}");
        }
    }
}

pub(crate) fn lock_error(e: LockError) -> AppError {
    match e {
        LockError::Busy(_) => AppError::Busy(e.to_string()),
        LockError::Store(e) => e.into(),
    }
}

struct Steps {
    step: Arc<Step>,
    also: Arc<dyn Progress>,
}

impl Progress for Steps {
    fn step(&self, name: &str, total: Option<u64>) {
        self.step.set(name);
        self.also.step(name, total);
    }

    fn advance(&self, bytes: u64) {
        self.also.advance(bytes);
    }
}
