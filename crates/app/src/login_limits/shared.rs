//! [`LoginLimits`] shared by every instance on one PostgreSQL database:
//! the same rules as [`InProcessLimits`] (the same pure [`check`] and
//! [`succeed`]), over tallies the store keeps ([`LoginTallies`]), timed by
//! the database's clock. Each check reads, decides and writes while the
//! store holds the attempt's keys, so two instances racing cannot both let
//! a burst through.

use super::{
    check, judged_by, succeed, Attempt, InProcessLimits, Judged, LoginLimits, Rule, Tally, ACCOUNT,
    ADDRESS, MAX_ENTRIES, PAIR,
};
use async_trait::async_trait;
use lectern_store::board::{self, LoginTallies, TallyKey};
use lectern_store::StoreError;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The kinds the store keeps tallies under, one per rule, in the rules'
/// order (pair, address, account).
const KINDS: [&str; 3] = ["pair", "address", "account"];

pub struct SharedLimits {
    tallies: Arc<dyn LoginTallies>,
    rules: [Rule; 3],
    max_entries: usize,
    /// This instance's own count, for while the database cannot be asked.
    fallback: InProcessLimits,
}

impl SharedLimits {
    /// The standard rules ([`PAIR`], [`ADDRESS`], [`ACCOUNT`]), each kind
    /// kept to [`MAX_ENTRIES`] rows.
    pub fn new(tallies: Arc<dyn LoginTallies>) -> Self {
        Self::with_rules(tallies, [PAIR, ADDRESS, ACCOUNT], MAX_ENTRIES)
    }

    /// As [`InProcessLimits::new`]: rules for pair, address and account,
    /// and how many keys each keeps.
    pub fn with_rules(
        tallies: Arc<dyn LoginTallies>,
        rules: [Rule; 3],
        max_entries: usize,
    ) -> Self {
        Self {
            tallies,
            rules,
            max_entries: max_entries.max(1),
            fallback: InProcessLimits::new(rules, max_entries),
        }
    }

    /// Runs `decide` over the tallies `attempt` is judged by, as kept in
    /// the database, at the database's time now, and keeps what it leaves.
    async fn judge<R: Send>(
        &self,
        attempt: &Attempt,
        decide: impl FnOnce(&mut [Judged<Duration>], Duration) -> R + Send,
    ) -> Result<R, StoreError> {
        let keys = &keys(attempt)[..judged_by(attempt)];
        let rules = &self.rules[..keys.len()];
        let mut decide = Some(decide);
        let mut decided = None;
        let mut step = |now: i64, kept: &mut [Option<board::Tally>]| {
            let now = moment(now);
            let mut tallies: Vec<Judged<Duration>> = rules
                .iter()
                .zip(kept.iter())
                .map(|(rule, stored)| (*rule, stored.map(|t| tally(&t))))
                .collect();
            if let Some(decide) = decide.take() {
                decided = Some(decide(&mut tallies, now));
            }
            for (slot, (rule, tally)) in kept.iter_mut().zip(&tallies) {
                *slot = tally.map(|t| stored(&t, rule));
            }
        };
        self.tallies
            .update(keys, self.max_entries, &mut step)
            .await?;
        decided.ok_or_else(|| StoreError::other("the sign-in tallies were not read"))
    }
}

/// Where `attempt`'s tallies are kept, pair, address and account. The
/// pair's key is the address, a space (no address holds one) and the
/// account; IPv6 addresses count by their /64 as in this process.
fn keys(attempt: &Attempt) -> [TallyKey; 3] {
    let pair = format!("{} {}", attempt.address, attempt.account);
    let address = super::address_key(attempt.address).to_string();
    let account = attempt.account.clone();
    let [pair_kind, address_kind, account_kind] = KINDS;
    [
        key(pair_kind, pair),
        key(address_kind, address),
        key(account_kind, account),
    ]
}

fn key(kind: &str, key: String) -> TallyKey {
    TallyKey {
        kind: kind.to_owned(),
        key: key.into_bytes(),
    }
}

/// The database's microseconds since the Unix epoch as the rules' time
/// (a clock before 1970 reads as 1970: it only makes waits longer).
fn moment(micros: i64) -> Duration {
    Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

fn micros(moment: Duration) -> i64 {
    i64::try_from(moment.as_micros()).unwrap_or(i64::MAX)
}

fn tally(stored: &board::Tally) -> Tally<Duration> {
    Tally {
        level: stored.level,
        at: moment(stored.at),
        until: stored.until.map(moment),
    }
}

/// `tally` as the store keeps it, with when it will hold nothing (for the
/// store's pruning; the rules never read it back).
fn stored(tally: &Tally<Duration>, rule: &Rule) -> board::Tally {
    board::Tally {
        level: tally.level,
        at: micros(tally.at),
        until: tally.until.map(micros),
        idle_from: micros(tally.idle_from(rule)),
    }
}

#[async_trait]
impl LoginLimits for SharedLimits {
    async fn check(&self, attempt: &Attempt) -> Result<(), Duration> {
        match self.judge(attempt, check).await {
            Ok(decided) => decided,
            Err(e) => {
                // Serving is safer than refusing every sign-in on a
                // hiccup of the database (as `maintenance::gate` treats a
                // coordination error): the attempt is judged by this
                // instance's own count meanwhile, so the limits hold as if
                // it ran alone, and a flood that takes every connection of
                // the tallies does not switch them off.
                tracing::warn!("cannot read the shared sign-in limits: {e}");
                self.fallback.check_at(attempt, Instant::now())
            }
        }
    }

    async fn record_failure(&self, _attempt: &Attempt) {
        // Counted when checked, as in this process.
    }

    async fn record_success(&self, attempt: &Attempt) {
        if let Err(e) = self.judge(attempt, succeed).await {
            tracing::warn!("cannot take back a sign-in attempt from the shared limits: {e}");
        }
        // The check may have been counted here, while the database could
        // not be asked; taking back what was not counted changes nothing.
        self.fallback.success_at(attempt, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lectern_store::board::Decide;

    /// Tallies whose database cannot be reached.
    struct Unreachable;

    #[async_trait]
    impl LoginTallies for Unreachable {
        async fn update(
            &self,
            _: &[TallyKey],
            _: usize,
            _: &mut Decide<'_>,
        ) -> lectern_store::Result<()> {
            Err(StoreError::other("connection refused"))
        }
    }

    fn attempt(name: &str) -> Attempt {
        Attempt::new(name, "192.0.2.1".parse().unwrap(), false)
    }

    #[tokio::test]
    async fn without_the_database_an_instance_still_counts_on_its_own() {
        let limits = SharedLimits::new(Arc::new(Unreachable));
        let alice = attempt("alice");
        for i in 0..PAIR.burst {
            assert_eq!(limits.check(&alice).await, Ok(()), "attempt {i}");
            limits.record_failure(&alice).await;
        }
        assert_eq!(limits.check(&alice).await, Err(PAIR.lock));
        assert_eq!(limits.check(&attempt("bob")).await, Ok(()));
    }

    #[test]
    fn keys_name_the_pair_the_addresss_64_and_the_account() {
        let who = Attempt::new("Alice", "2001:db8:1:2:aaaa::1".parse().unwrap(), false);
        let keys = keys(&who).map(|k| (k.kind, String::from_utf8(k.key).unwrap()));
        assert_eq!(
            keys,
            [
                ("pair".into(), "2001:db8:1:2:aaaa::1 alice".into()),
                ("address".into(), "2001:db8:1:2::".into()),
                ("account".into(), "alice".into()),
            ]
        );
    }

    #[test]
    fn a_tally_goes_to_the_store_and_back_unchanged() {
        let kept = Tally {
            level: 3.25,
            at: Duration::from_micros(1_700_000_000_123_456),
            until: Some(Duration::from_micros(1_700_000_060_123_456)),
        };
        let stored = stored(&kept, &PAIR);
        assert_eq!(tally(&stored), kept);
        // 3.25 minutes to drain, the lock over before that.
        assert_eq!(stored.idle_from - stored.at, 195_000_000);
    }
}
