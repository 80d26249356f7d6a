//! The board several instances share on PostgreSQL (`lectern_store::board`).

use lectern_store::board::{Board, PostedOperation};
use std::sync::Arc;

async fn board() -> Option<(Arc<dyn Board>, lectern_testdb::TestDb)> {
    let db = lectern_testdb::TestDb::create().await?;
    // The store makes the tables; the board uses them.
    let store = lectern_store::open(db.url()).await.unwrap();
    store.close().await;
    let board = lectern_store::open_board(db.url()).await.unwrap().unwrap();
    Some((board, db))
}

fn operation(id: &str, instance: &str) -> PostedOperation {
    PostedOperation {
        id: id.into(),
        instance: instance.into(),
        kind: "scan".into(),
        started_by: "user:admin".into(),
        started_at: 1,
        step: "hashing".into(),
        scan_id: Some(7),
        progress: Some("{}".into()),
        cancel: false,
    }
}

#[tokio::test]
async fn the_embedded_database_has_no_board() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    assert!(lectern_store::open_board(&url).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_are_alive_while_they_beat_and_gone_when_they_leave() {
    let Some((board, _db)) = board().await else {
        return;
    };
    board.beat("a").await.unwrap();
    board.beat("b").await.unwrap();
    assert_eq!(board.live(60_000).await.unwrap(), ["a", "b"]);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    board.beat("b").await.unwrap();
    assert_eq!(board.live(200).await.unwrap(), ["b"], "a's lease ran out");
    board.leave("b").await.unwrap();
    assert_eq!(board.live(60_000).await.unwrap(), ["a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_windows_count_up_and_drains_count_per_window() {
    let Some((board, _db)) = board().await else {
        return;
    };
    assert_eq!(board.maintenance().await.unwrap(), None);
    let first = board.begin_maintenance("restoring x", "a").await.unwrap();
    let window = board.maintenance().await.unwrap().unwrap();
    assert_eq!(
        (window.epoch, &*window.reason, &*window.by),
        (first, "restoring x", "a")
    );
    board.confirm_drained("b", first).await.unwrap();
    board.confirm_drained("b", first).await.unwrap();
    assert_eq!(board.drained(first).await.unwrap(), ["b"]);
    board.end_maintenance(first).await.unwrap();
    assert_eq!(board.maintenance().await.unwrap(), None);
    let second = board.begin_maintenance("again", "a").await.unwrap();
    assert!(second > first);
    assert!(
        board.drained(second).await.unwrap().is_empty(),
        "a new window"
    );
    board.end_maintenance(first).await.unwrap();
    assert!(
        board.maintenance().await.unwrap().is_some(),
        "an old epoch ends nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_operation_is_seen_stopped_from_elsewhere_and_gone_with_its_instance() {
    let Some((board, _db)) = board().await else {
        return;
    };
    board.beat("a").await.unwrap();
    assert!(!board.post_operation(&operation("op1", "a")).await.unwrap());
    let seen = board.operation(60_000).await.unwrap().unwrap();
    assert_eq!(seen, operation("op1", "a"));
    assert!(board.cancel_operation("op1").await.unwrap());
    assert!(!board.cancel_operation("other").await.unwrap());
    assert!(
        board.post_operation(&operation("op1", "a")).await.unwrap(),
        "asked to stop"
    );
    // A new operation starts with no request to stop.
    assert!(!board.post_operation(&operation("op2", "a")).await.unwrap());
    board.clear_operation("op1").await.unwrap();
    assert!(
        board.operation(60_000).await.unwrap().is_some(),
        "a newer one stays"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        board.operation(200).await.unwrap().is_none(),
        "its instance is gone"
    );
    board.clear_operation("op2").await.unwrap();
    assert!(board.operation(60_000).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_leads_each_scheduled_slot() {
    let Some((board, _db)) = board().await else {
        return;
    };
    let tries = (0..8).map(|n| {
        let board = board.clone();
        tokio::spawn(async move { board.try_lead("backup", 100, &format!("i{n}")).await })
    });
    let mut leaders = 0;
    for attempt in tries {
        leaders += usize::from(attempt.await.unwrap().unwrap());
    }
    assert_eq!(leaders, 1);
    assert!(
        board.try_lead("backup", 101, "i0").await.unwrap(),
        "the next slot"
    );
    assert!(
        board.try_lead("drill", 100, "i0").await.unwrap(),
        "another job"
    );
}
