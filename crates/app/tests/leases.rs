//! Leases that run out: an operation whose instance died is taken over
//! once its lease has passed, and not before. Short leases, so that it
//! all happens on one machine in well under a second.

use lectern_app::coordination::{InProcess, InstanceId};
use lectern_app::operation::Running;
use lectern_app::{App, AppError, BackupOptions, LibraryOptions};
use lectern_backup::Secrets;
use lectern_store::{LockInfo, Store};
use std::sync::Arc;
use std::time::Duration;

async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    (lectern_store::open(&url).await.unwrap(), dir)
}

#[tokio::test]
async fn the_operation_of_an_instance_that_died_is_taken_over_when_its_lease_runs_out() {
    let (store, dir) = store().await;
    let me = InProcess::new(InstanceId::new("web-2"), Duration::from_millis(300));
    let app = App::new(
        store.clone(),
        LibraryOptions::default(),
        BackupOptions::in_data(dir.path(), Secrets::none()),
    )
    .with_coordination(Arc::new(me));

    // web-1 (its own host) took the lock for a backup with a short lease,
    // then died: nobody renews it.
    let mut owner = lectern_store::lock::this_process("system:scheduler");
    owner.host = "web-1.example".into();
    let now = lectern_store::now_ms();
    let lease_ms = 300;
    let dead = LockInfo {
        operation: "backup".into(),
        owner,
        token: "web-1-backup".into(),
        acquired_at: now,
        expires_at: now + lease_ms,
    };
    assert!(store.swap_lock(None, &dead).await.unwrap());

    // Within its lease it still counts as running.
    match Running::start(&app, "scan", "user:admin").await {
        Err(AppError::Busy(held)) => assert!(held.contains("backup"), "{held}"),
        Err(e) => panic!("not busy but {e}"),
        Ok(_) => panic!("taken over while its lease runs"),
    }

    tokio::time::sleep(Duration::from_millis(lease_ms as u64 + 100)).await;
    let running = Running::start(&app, "scan", "user:admin")
        .await
        .expect("taken over once the lease ran out");
    let lock = store.read_lock().await.unwrap().expect("held");
    assert_eq!(lock.operation, "scan");
    assert_ne!(lock.token, "web-1-backup");
    let shown = app
        .coordination
        .operation()
        .await
        .unwrap()
        .expect("published");
    assert_eq!(
        (shown.kind.as_str(), shown.started_by.as_str()),
        ("scan", "user:admin")
    );
    assert_eq!(app.coordination.instance().as_str(), "web-2");

    running.finish().await;
    assert!(store.read_lock().await.unwrap().is_none());
    assert!(app.coordination.operation().await.unwrap().is_none());
    store.close().await;
}
