//! Sign-in limits shared by two instances on one PostgreSQL database:
//! what one counts, the other refuses, with the waits and take-backs of
//! the in-process limits. Skipped without PostgreSQL (CI runs them).

use lectern_app::login_limits::{Attempt, InProcessLimits, SharedLimits, ADDRESS, PAIR};
use lectern_app::LoginLimits;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Two instances' limits on one new database, each with its own
/// connections (as two `lectern serve` processes have).
async fn two_instances() -> Option<([Arc<SharedLimits>; 2], lectern_testdb::TestDb)> {
    let db = lectern_testdb::TestDb::create().await?;
    let open = || async {
        let tallies = lectern_store::open_login_tallies(db.url()).await;
        Arc::new(SharedLimits::new(tallies.unwrap().unwrap()))
    };
    let first = open().await;
    let second = open().await;
    Some(([first, second], db))
}

fn attempt(name: &str, address: &str) -> Attempt {
    let address: IpAddr = address.parse().unwrap();
    Attempt::new(name, address, false)
}

/// Checks that are let through and then fail, as a wrong password does.
async fn fail(limits: &dyn LoginLimits, who: &Attempt, n: u32) {
    for i in 0..n {
        assert_eq!(limits.check(who).await, Ok(()), "attempt {i} of {who:?}");
        limits.record_failure(who).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_on_one_instance_refuse_the_next_attempt_on_the_other_with_the_same_wait() {
    let Some(([one, other], _db)) = two_instances().await else {
        return;
    };
    let alice = attempt("alice", "192.0.2.1");
    fail(&*one, &alice, PAIR.burst).await;

    // The same ten failures in this process, for the wait it gives.
    let alone = InProcessLimits::default();
    let now = Instant::now();
    for _ in 0..PAIR.burst {
        alone.check_at(&alice, now).unwrap();
    }
    let expected = alone.check_at(&alice, now);
    assert_eq!(expected, Err(PAIR.lock));
    assert_eq!(other.check(&alice).await, expected, "refused elsewhere");

    // Locked for everyone until the lock has passed.
    let wait = one.check(&alice).await.unwrap_err();
    assert!(
        wait <= PAIR.lock && wait > PAIR.lock - Duration::from_secs(5),
        "{wait:?}"
    );
    // Only that account at that address.
    assert_eq!(other.check(&attempt("bob", "192.0.2.1")).await, Ok(()));
    assert_eq!(other.check(&attempt("alice", "192.0.2.2")).await, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_on_one_instance_takes_its_count_back_for_both() {
    let Some(([one, other], _db)) = two_instances().await else {
        return;
    };
    // As the in-process test of the same name: nine failures, a success
    // (elsewhere), ten more failures all let through.
    let alice = attempt("alice", "192.0.2.1");
    fail(&*one, &alice, 9).await;
    assert_eq!(other.check(&alice).await, Ok(()));
    other.record_success(&alice).await;
    fail(&*one, &alice, 10).await;
    assert!(other.check(&alice).await.is_err(), "ten more lock it again");
    // The address kept the nineteen failures only, on both instances.
    let mut others = 0;
    loop {
        let instance = [&one, &other][others % 2];
        let who = attempt(&format!("x{others}"), "192.0.2.1");
        if instance.check(&who).await.is_err() {
            break;
        }
        others += 1;
    }
    assert_eq!(others, (ADDRESS.burst - 19) as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallel_burst_over_both_instances_gets_only_ten_through() {
    let Some((instances, _db)) = two_instances().await else {
        return;
    };
    // Nothing recorded between the checks, half of them on each instance.
    let checks: Vec<_> = (0..40)
        .map(|n| {
            let limits = instances[n % 2].clone();
            tokio::spawn(async move { limits.check(&attempt("alice", "192.0.2.1")).await })
        })
        .collect();
    let mut passed = 0;
    for check in checks {
        passed += usize::from(check.await.unwrap().is_ok());
    }
    assert_eq!(passed, PAIR.burst as usize);
}
