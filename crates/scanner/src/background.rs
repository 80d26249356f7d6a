//! Where a scan's heavy work runs: on threads of its own at a lower
//! scheduling priority. A scan takes every core it is given and has no
//! deadline; a page served meanwhile has one, so it must not queue behind
//! the walk, the plan or the hashing.

use lectern_store::StoreError;

/// The nice value of a scan's threads (0 is normal, 19 the lowest).
#[cfg(target_os = "linux")]
const SCAN_NICE: libc::c_int = 10;

/// Runs `work` on a new thread named `name` at the scan's priority, which
/// threads it starts (the walker's, for one) inherit.
pub async fn run<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(format!("lectern-{name}"))
        .spawn(move || {
            yield_to_others();
            let _ = tx.send(work());
        })
        .map_err(|e| StoreError::other(format!("cannot start the scan's {name} thread: {e}")))?;
    rx.await
        .map_err(|_| StoreError::other(format!("the scan's {name} stopped")))
}

/// Lowers the calling thread's priority (its nice value; on Linux a
/// thread's own, and inherited by the threads it starts). Failing to is
/// harmless: the work runs at normal priority.
pub fn yield_to_others() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's own id.
    unsafe {
        let thread = libc::gettid() as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, thread, SCAN_NICE);
    }
}
