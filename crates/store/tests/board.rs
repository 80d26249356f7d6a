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

// --- sign-in tallies ------------------------------------------------------

use lectern_store::board::{LoginTallies, Tally, TallyKey};

/// Two "instances": each opens the tallies on a pool of its own.
async fn tallies() -> Option<([Arc<dyn LoginTallies>; 2], lectern_testdb::TestDb)> {
    let db = lectern_testdb::TestDb::create().await?;
    let open = || async { lectern_store::open_login_tallies(db.url()).await };
    let first = open().await.unwrap().unwrap();
    let second = open().await.unwrap().unwrap();
    Some(([first, second], db))
}

fn key(kind: &str, key: &[u8]) -> TallyKey {
    TallyKey {
        kind: kind.into(),
        key: key.to_vec(),
    }
}

fn tally(level: f64, at: i64) -> Tally {
    Tally {
        level,
        at,
        until: None,
        idle_from: at + 60_000_000,
    }
}

/// What `keys` hold now, and the database's clock, without changing them.
async fn peek(tallies: &dyn LoginTallies, keys: &[TallyKey]) -> (i64, Vec<Option<Tally>>) {
    let mut seen = (0, Vec::new());
    tallies
        .update(keys, 1000, &mut |now, kept| seen = (now, kept.to_vec()))
        .await
        .unwrap();
    seen
}

/// Sets `keys` to what `make` gives for the clock now.
async fn put(
    tallies: &dyn LoginTallies,
    keys: &[TallyKey],
    make: impl Fn(i64) -> Option<Tally> + Sync,
) {
    put_within(tallies, keys, 1000, make).await;
}

async fn put_within(
    tallies: &dyn LoginTallies,
    keys: &[TallyKey],
    max_rows: usize,
    make: impl Fn(i64) -> Option<Tally> + Sync,
) {
    let mut set = |now, kept: &mut [Option<Tally>]| kept.fill(make(now));
    tallies.update(keys, max_rows, &mut set).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_database_keeps_no_tallies() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    assert!(lectern_store::open_login_tallies(&url)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tallies_are_kept_per_kind_and_exact_key_seen_by_every_instance_and_forgotten() {
    let Some(([a, b], _db)) = tallies().await else {
        return;
    };
    // Any bytes: a NUL, a byte that is no UTF-8.
    let odd = b"192.0.2.1 al\0ice\xff";
    // The first key, and the same under another kind.
    let keys = [key("pair", odd), key("account", odd)];
    let first = &keys[..1];
    assert_eq!(peek(&*a, &keys).await.1, [None, None]);
    let kept = Tally {
        level: 2.5,
        at: 1_000_001,
        until: Some(2_000_002),
        idle_from: 3_000_003,
    };
    put(&*a, first, |_| Some(kept)).await;
    assert_eq!(peek(&*b, &keys).await.1, [Some(kept), None]);
    assert_eq!(
        peek(&*b, &[key("pair", b"192.0.2.1 al\0ice")]).await.1,
        [None],
        "another key"
    );
    put(&*b, first, |_| None).await;
    assert_eq!(peek(&*a, &keys).await.1, [None, None], "forgotten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_is_the_databases_in_microseconds_and_moves_on() {
    let Some(([a, b], _db)) = tallies().await else {
        return;
    };
    let keys = [key("pair", b"k")];
    let (first, _) = peek(&*a, &keys).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (second, _) = peek(&*b, &keys).await;
    assert!(second - first >= 20_000, "{first} then {second}");
    let wall = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros(),
    )
    .unwrap();
    // The test's database runs on this machine: its clock agrees.
    assert!((wall - second).abs() < 60_000_000, "{wall} and {second}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_of_one_key_from_two_instances_follow_one_another() {
    let Some((instances, _db)) = tallies().await else {
        return;
    };
    // Each adds one, from nothing: a read that another's write overtook
    // would lose a count (or fail on the new row's key).
    let keys = vec![key("pair", b"alice"), key("account", b"alice")];
    let adds = (0..40).map(|n| {
        let tallies = instances[n % 2].clone();
        let keys = keys.clone();
        tokio::spawn(async move {
            let mut add = |now, kept: &mut [Option<Tally>]| {
                for slot in kept.iter_mut() {
                    let level = slot.map_or(0.0, |t| t.level);
                    *slot = Some(tally(level + 1.0, now));
                }
            };
            tallies.update(&keys, 1000, &mut add).await
        })
    });
    for add in adds.collect::<Vec<_>>() {
        add.await.unwrap().unwrap();
    }
    let (_, kept) = peek(&*instances[0], &keys).await;
    let levels: Vec<f64> = kept.iter().map(|t| t.map_or(0.0, |t| t.level)).collect();
    assert_eq!(levels, [40.0, 40.0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_kind_forgets_idle_rows_first_then_the_least_recently_touched() {
    let Some(([a, _], _db)) = tallies().await else {
        return;
    };
    let cap = 20;
    let name = |i: usize| key("account", format!("u{i}").as_bytes());
    // u0..u4 idle already; u5..u19 busy, touched in that order.
    for i in 0..cap {
        put_within(&*a, &[name(i)], cap, |now| {
            let at = now - 1_000_000 + i as i64;
            let idle_from = if i < 5 { now - 1 } else { now + 60_000_000 };
            Some(Tally {
                idle_from,
                ..tally(1.0, at)
            })
        })
        .await;
    }
    // Another kind does not count against this one.
    put_within(&*a, &[key("pair", b"u0")], cap, |now| Some(tally(1.0, now))).await;
    let all: Vec<TallyKey> = (0..cap).map(name).collect();
    assert!(peek(&*a, &all).await.1.iter().all(Option::is_some));

    // One more: the idle ones go, the busy stay.
    put_within(&*a, &[name(cap)], cap, |now| Some(tally(1.0, now))).await;
    let kept = peek(&*a, &all).await.1;
    let gone: Vec<usize> = (0..cap).filter(|&i| kept[i].is_none()).collect();
    assert_eq!(gone, [0, 1, 2, 3, 4]);

    // Full again with none idle: the least recently touched go, down to
    // nine tenths (18 of 20).
    for i in cap + 1..cap + 6 {
        put_within(&*a, &[name(i)], cap, |now| Some(tally(1.0, now))).await;
    }
    let everyone: Vec<TallyKey> = (0..cap + 6).map(name).collect();
    let kept = peek(&*a, &everyone).await.1;
    let left: Vec<usize> = (0..cap + 6).filter(|&i| kept[i].is_some()).collect();
    assert_eq!(left.len(), 18, "{left:?}");
    assert_eq!(left[0], 8, "u5..u7 were touched longest ago: {left:?}");
    let other_kind = peek(&*a, &[key("pair", b"u0")]).await.1;
    assert!(other_kind[0].is_some(), "the other kind kept its row");
}
