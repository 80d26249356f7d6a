//! How many sign-in attempts may be made, and by whom. The rules, kept
//! apart so that no stranger can lock an account's owner out:
//!
//! - per account and address: tight (10 in a row, then about one a
//!   minute). A learner's typos lock out only that learner, at that address.
//! - per address: ten times looser, for a proxy or a school's NAT where
//!   everyone shares one address.
//! - per account, from anywhere: a back-off that doubles with each further
//!   failure, against a guess spread over many addresses.
//!
//! The last two never refuse an account at one of its *known-good*
//! addresses (where it signed in successfully lately) and do not count its
//! attempts there: a correct password from such an address is refused only
//! when that very address has been failing for that very account.
//!
//! Every attempt is counted when it is checked, before the password is
//! looked at, so attempts sent in parallel see each other; a success takes
//! its count back.
//!
//! The rules are one pure piece of code over an attempt's tallies and the
//! time now ([`check`] and [`succeed`]); [`InProcessLimits`] keeps the
//! tallies in this process, [`SharedLimits`] in the database that several
//! instances share, so that an instance behind the same load balancer
//! refuses what another would.

mod shared;

pub use shared::SharedLimits;

use async_trait::async_trait;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One sign-in attempt, as the limits see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The username as tried, lowercased (usernames are case-insensitive)
    /// and cut to [`MAX_KEY_CHARS`].
    pub account: String,
    pub address: IpAddr,
    /// The account signed in from this address lately.
    pub known_good: bool,
}

/// The longest username the limits keep: a hostile name cannot fill memory.
pub const MAX_KEY_CHARS: usize = 64;

impl Attempt {
    pub fn new(username: &str, address: IpAddr, known_good: bool) -> Self {
        Self {
            account: username
                .to_lowercase()
                .chars()
                .take(MAX_KEY_CHARS)
                .collect(),
            address,
            known_good,
        }
    }
}

/// The limits of one Lectern. This process keeps them in memory
/// ([`InProcessLimits`]); several instances behind one PostgreSQL database
/// share one kept there ([`SharedLimits`]).
#[async_trait]
pub trait LoginLimits: Send + Sync {
    /// Refuses the attempt (`Err(retry_after)`), or lets it go on and
    /// counts it at once as a failure.
    async fn check(&self, attempt: &Attempt) -> Result<(), Duration>;
    /// The password was wrong (or the account cannot sign in): the count
    /// made by `check` stands.
    async fn record_failure(&self, attempt: &Attempt);
    /// The password was right: the count made by `check` is taken back,
    /// and the account's failures at this address are forgotten.
    async fn record_success(&self, attempt: &Attempt);
}

/// How one kind of key is limited: `burst` attempts at once, then one for
/// every `per` that passes; an attempt beyond that is refused and locks
/// the key for `lock`, after which one try is let through. With `backoff`
/// the lock doubles with each attempt let through beyond the burst (up to
/// `max_lock`).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub burst: u32,
    pub per: Duration,
    pub lock: Duration,
    pub backoff: bool,
    pub max_lock: Duration,
}

/// Per account and address.
pub const PAIR: Rule = Rule {
    burst: 10,
    per: Duration::from_secs(60),
    lock: Duration::from_secs(60),
    backoff: false,
    max_lock: Duration::from_secs(60),
};

/// Per address (IPv6: per /64, what one customer is given).
pub const ADDRESS: Rule = Rule {
    burst: 100,
    per: Duration::from_secs(6),
    lock: Duration::from_secs(60),
    backoff: false,
    max_lock: Duration::from_secs(60),
};

/// Per account, from addresses that are not known-good. One failure is
/// forgiven per hour, so the back-off really grows (up to an hour).
pub const ACCOUNT: Rule = Rule {
    burst: 20,
    per: Duration::from_secs(3600),
    lock: Duration::from_secs(60),
    backoff: true,
    max_lock: Duration::from_secs(3600),
};

/// The most keys one rule keeps; past it the least recently touched go.
pub const MAX_ENTRIES: usize = 10_000;

/// The in-process limits: three bounded tables, one per rule.
pub struct InProcessLimits {
    pair: Table<(String, IpAddr)>,
    address: Table<IpAddr>,
    account: Table<String>,
}

impl Default for InProcessLimits {
    fn default() -> Self {
        Self::new([PAIR, ADDRESS, ACCOUNT], MAX_ENTRIES)
    }
}

impl InProcessLimits {
    /// Rules for pair, address and account, and the cap of each table.
    pub fn new([pair, address, account]: [Rule; 3], max_entries: usize) -> Self {
        Self {
            pair: Table::new(pair, max_entries),
            address: Table::new(address, max_entries),
            account: Table::new(account, max_entries),
        }
    }

    /// Keys held now, over all tables (for tests and health).
    pub fn len(&self) -> usize {
        self.pair.len() + self.address.len() + self.account.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// As [`LoginLimits::check`], at a given time.
    pub fn check_at(&self, attempt: &Attempt, now: Instant) -> Result<(), Duration> {
        self.judge(attempt, now, |tallies| check(tallies, now))
    }

    /// As [`LoginLimits::record_success`], at a given time.
    pub fn success_at(&self, attempt: &Attempt, now: Instant) {
        self.judge(attempt, now, |tallies| succeed(tallies, now));
    }

    /// Runs `decide` over the tallies `attempt` is judged by (see
    /// [`judged_by`]) and keeps what it leaves, every table locked
    /// throughout (always in one order) so that no other check comes in
    /// between.
    fn judge<R>(
        &self,
        attempt: &Attempt,
        now: Instant,
        decide: impl FnOnce(&mut [Judged<Instant>]) -> R,
    ) -> R {
        let (pair_key, address_key) = (pair_key(attempt), address_key(attempt.address));
        let mut pair = self.pair.lock();
        let mut address = self.address.lock();
        let mut account = self.account.lock();
        let mut tallies = [
            (self.pair.rule, pair.get(&pair_key).copied()),
            (self.address.rule, address.get(&address_key).copied()),
            (self.account.rule, account.get(&attempt.account).copied()),
        ];
        let decided = decide(&mut tallies[..judged_by(attempt)]);
        let [(_, p), (_, a), (_, c)] = tallies;
        self.pair.keep(&mut pair, pair_key, p, now);
        if !attempt.known_good {
            self.address.keep(&mut address, address_key, a, now);
            let account_key = attempt.account.clone();
            self.account.keep(&mut account, account_key, c, now);
        }
        decided
    }
}

#[async_trait]
impl LoginLimits for InProcessLimits {
    async fn check(&self, attempt: &Attempt) -> Result<(), Duration> {
        self.check_at(attempt, Instant::now())
    }

    async fn record_failure(&self, _attempt: &Attempt) {
        // Counted when checked: an attempt whose request went away while
        // its password was hashed still counts.
    }

    async fn record_success(&self, attempt: &Attempt) {
        self.success_at(attempt, Instant::now());
    }
}

fn pair_key(attempt: &Attempt) -> (String, IpAddr) {
    (attempt.account.clone(), attempt.address)
}

/// An IPv6 address by its /64: one customer of a provider gets a whole
/// /64, and must not get 2^64 budgets.
fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

/// How many of an attempt's tallies it is judged by: the pair's alone
/// at a known-good address, else also the address's and the account's
/// (in the order of [`InProcessLimits::new`]'s rules).
fn judged_by(attempt: &Attempt) -> usize {
    if attempt.known_good {
        1
    } else {
        3
    }
}

/// A point in time the rules count from: this process's [`Instant`], or,
/// for limits shared through the database, the database clock's time
/// since the Unix epoch (a [`Duration`]). The rules need no more than
/// these two steps, so one copy of them serves both.
trait Moment: Copy + Ord {
    /// How long after `earlier` this is; zero when it is not after.
    fn since(self, earlier: Self) -> Duration;
    /// `span` later.
    fn plus(self, span: Duration) -> Self;
}

impl Moment for Instant {
    fn since(self, earlier: Self) -> Duration {
        self.saturating_duration_since(earlier)
    }

    fn plus(self, span: Duration) -> Self {
        self + span
    }
}

impl Moment for Duration {
    fn since(self, earlier: Self) -> Duration {
        self.saturating_sub(earlier)
    }

    fn plus(self, span: Duration) -> Self {
        self.saturating_add(span)
    }
}

/// What is known of one key: how full its bucket is (drained by the
/// rule's `per`), when that was, and until when it is refused.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tally<T> {
    level: f64,
    at: T,
    until: Option<T>,
}

impl<T: Moment> Tally<T> {
    fn fresh(now: T) -> Self {
        Tally {
            level: 0.0,
            at: now,
            until: None,
        }
    }

    fn drained(mut self, rule: &Rule, now: T) -> Self {
        let elapsed = now.since(self.at).as_secs_f64();
        self.level = (self.level - elapsed / rule.per.as_secs_f64()).max(0.0);
        self.at = now;
        self
    }

    fn idle(&self, rule: &Rule, now: T) -> bool {
        let drained = self.drained(rule, now);
        drained.level <= 0.0 && self.until.is_none_or(|until| until <= now)
    }

    /// From when it is [`idle`](Tally::idle): its bucket drained and its
    /// lock over. (A table kept elsewhere forgets such keys first.)
    fn idle_from(&self, rule: &Rule) -> T {
        let seconds = rule.per.as_secs_f64() * self.level.max(0.0);
        let drain = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
        let drained = self.at.plus(drain);
        self.until.map_or(drained, |until| until.max(drained))
    }
}

/// One tally an attempt is judged by, beside its rule (`None`: nothing
/// is known of the key).
type Judged<T> = (Rule, Option<Tally<T>>);

/// The rules for one attempt, over its tallies (the pair's first): refused
/// with the longest wait any of them gives, or counted under every one.
/// Each is asked, so each that is full is locked, as if checked alone. A
/// refused attempt is not counted: it costs no hashing.
fn check<T: Moment>(tallies: &mut [Judged<T>], now: T) -> Result<(), Duration> {
    let mut wait = None;
    for (rule, tally) in tallies.iter_mut() {
        wait = wait.max(refusal(rule, tally, now));
    }
    if let Some(wait) = wait {
        return Err(wait);
    }
    for (rule, tally) in tallies.iter_mut() {
        count(rule, tally, now);
    }
    Ok(())
}

/// The attempt's password was right: the pair's tally (the first) is
/// forgotten, the others take their count back.
fn succeed<T: Moment>(tallies: &mut [Judged<T>], now: T) {
    let Some(((_, pair), others)) = tallies.split_first_mut() else {
        return;
    };
    *pair = None;
    for (rule, tally) in others {
        take_back(rule, tally, now);
    }
}

/// How long the key is refused now, if it is. A key whose bucket is full
/// is locked from now; once a lock has passed, one try is let through
/// whatever the level, and the next lock of a back-off rule is longer.
fn refusal<T: Moment>(rule: &Rule, tally: &mut Option<Tally<T>>, now: T) -> Option<Duration> {
    let tally = tally.as_mut()?;
    *tally = tally.drained(rule, now);
    match tally.until {
        Some(until) if until > now => return Some(until.since(now)),
        Some(_) => return None,
        None => {}
    }
    let burst = f64::from(rule.burst);
    if tally.level + 1.0 <= burst + 1e-9 {
        return None;
    }
    // Rounded: the bucket has drained a little since the last try.
    let beyond = if rule.backoff {
        (tally.level - burst).round().clamp(0.0, 30.0) as u32
    } else {
        0
    };
    let lock = rule.lock.saturating_mul(1 << beyond).min(rule.max_lock);
    tally.until = Some(now.plus(lock));
    Some(lock)
}

/// Counts one attempt that was let through.
fn count<T: Moment>(rule: &Rule, tally: &mut Option<Tally<T>>, now: T) {
    let mut counted = tally.unwrap_or(Tally::fresh(now)).drained(rule, now);
    counted.level += 1.0;
    counted.until = None;
    *tally = Some(counted);
}

/// Takes one counted attempt back: it turned out right.
fn take_back<T: Moment>(rule: &Rule, tally: &mut Option<Tally<T>>, now: T) {
    if let Some(tally) = tally {
        *tally = tally.drained(rule, now);
        tally.level = (tally.level - 1.0).max(0.0);
        if tally.level + 1.0 <= f64::from(rule.burst) + 1e-9 {
            tally.until = None;
        }
    }
}

/// One rule's tallies in this process, at most `max_entries` of them.
struct Table<K> {
    rule: Rule,
    max_entries: usize,
    tallies: Mutex<HashMap<K, Tally<Instant>>>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new(rule: Rule, max_entries: usize) -> Self {
        Self {
            rule,
            max_entries: max_entries.max(1),
            tallies: Mutex::new(HashMap::new()),
        }
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    /// The tallies, even after a panic elsewhere: they are plain numbers,
    /// never left half-changed.
    fn lock(&self) -> MutexGuard<'_, HashMap<K, Tally<Instant>>> {
        self.tallies.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `tally` for `key` in `tallies` (this table's, locked), making
    /// room for a new key first; `None` forgets the key.
    fn keep(
        &self,
        tallies: &mut HashMap<K, Tally<Instant>>,
        key: K,
        tally: Option<Tally<Instant>>,
        now: Instant,
    ) {
        let Some(tally) = tally else {
            tallies.remove(&key);
            return;
        };
        if !tallies.contains_key(&key) && tallies.len() >= self.max_entries {
            self.evict(tallies, now);
        }
        tallies.insert(key, tally);
    }

    /// Makes room: first every key that holds nothing any more, then, if
    /// that is not a tenth of the table, the least recently touched keys
    /// up to a tenth, so that eviction runs once per many new keys.
    fn evict(&self, tallies: &mut HashMap<K, Tally<Instant>>, now: Instant) {
        let rule = self.rule;
        tallies.retain(|_, tally| !tally.idle(&rule, now));
        let room = (self.max_entries / 10).max(1);
        let target = self.max_entries.saturating_sub(room);
        if tallies.len() <= target {
            return;
        }
        let mut ages: Vec<Instant> = tallies.values().map(|t| t.at).collect();
        let cut_index = tallies.len() - target - 1;
        let (_, cut, _) = ages.select_nth_unstable(cut_index);
        let cut = *cut;
        tallies.retain(|_, tally| tally.at > cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn attempt(name: &str, address: &str) -> Attempt {
        Attempt::new(name, ip(address), false)
    }

    fn known(name: &str, address: &str) -> Attempt {
        Attempt::new(name, ip(address), true)
    }

    /// `n` attempts that all fail, every one let through.
    fn fail(limits: &InProcessLimits, who: &Attempt, n: u32, now: Instant) {
        for i in 0..n {
            assert_eq!(limits.check_at(who, now), Ok(()), "attempt {i} of {who:?}");
        }
    }

    #[test]
    fn ten_failures_lock_that_account_at_that_address_with_a_retry_after() {
        let limits = InProcessLimits::default();
        let now = Instant::now();
        let alice = attempt("alice", "192.0.2.1");
        fail(&limits, &alice, 10, now);
        let wait = limits.check_at(&alice, now).unwrap_err();
        assert_eq!(wait, PAIR.lock);
        let later = now + Duration::from_secs(30);
        assert_eq!(limits.check_at(&alice, later), Err(Duration::from_secs(30)));
        let after = now + PAIR.lock;
        assert_eq!(
            limits.check_at(&alice, after),
            Ok(()),
            "one more, a minute on"
        );
    }

    #[test]
    fn ten_failures_a_little_apart_lock_all_the_same() {
        let limits = InProcessLimits::default();
        let start = Instant::now();
        let alice = attempt("alice", "192.0.2.1");
        for i in 0..10 {
            let now = start + Duration::from_millis(300 * i);
            assert_eq!(limits.check_at(&alice, now), Ok(()), "attempt {i}");
        }
        let now = start + Duration::from_secs(3);
        assert_eq!(limits.check_at(&alice, now), Err(PAIR.lock));
    }

    #[test]
    fn a_learners_typos_do_not_lock_out_the_admin_at_the_same_address() {
        let limits = InProcessLimits::default();
        let now = Instant::now();
        let school = "192.0.2.1";
        fail(&limits, &attempt("learner", school), 10, now);
        assert!(limits.check_at(&attempt("learner", school), now).is_err());
        assert_eq!(limits.check_at(&attempt("admin", school), now), Ok(()));
        assert_eq!(limits.check_at(&known("admin", school), now), Ok(()));
    }

    #[test]
    fn failures_for_admin_from_one_address_do_not_refuse_admin_from_another() {
        let limits = InProcessLimits::default();
        let now = Instant::now();
        fail(&limits, &attempt("admin", "203.0.113.9"), 10, now);
        assert!(limits
            .check_at(&attempt("admin", "203.0.113.9"), now)
            .is_err());
        assert_eq!(limits.check_at(&attempt("admin", "192.0.2.1"), now), Ok(()));
        assert_eq!(limits.check_at(&known("admin", "192.0.2.2"), now), Ok(()));
    }

    #[test]
    fn the_address_limit_is_ten_times_looser_and_spares_known_good_pairs() {
        let limits = InProcessLimits::default();
        let now = Instant::now();
        let nat = "192.0.2.1";
        for i in 0..ADDRESS.burst {
            let who = attempt(&format!("learner{i}"), nat);
            assert_eq!(limits.check_at(&who, now), Ok(()), "learner{i}");
        }
        let stranger = attempt("newcomer", nat);
        assert_eq!(limits.check_at(&stranger, now), Err(ADDRESS.lock));
        assert_eq!(
            limits.check_at(&known("admin", nat), now),
            Ok(()),
            "the admin signed in from here before"
        );
    }

    #[test]
    fn a_guess_spread_over_many_addresses_backs_off_but_never_refuses_known_good_ones() {
        let limits = InProcessLimits::default();
        let mut now = Instant::now();
        for i in 0..ACCOUNT.burst {
            let who = attempt("admin", &format!("198.51.100.{i}"));
            assert_eq!(limits.check_at(&who, now), Ok(()));
        }
        let elsewhere = attempt("admin", "203.0.113.1");
        let mut locks = Vec::new();
        for _ in 0..4 {
            let wait = limits.check_at(&elsewhere, now).unwrap_err();
            locks.push(wait.as_secs());
            now += wait;
            assert_eq!(
                limits.check_at(&elsewhere, now),
                Ok(()),
                "one try after the lock"
            );
        }
        assert_eq!(locks, [60, 120, 240, 480], "each failure beyond doubles it");
        assert_eq!(limits.check_at(&known("admin", "192.0.2.7"), now), Ok(()));
        assert!(limits.check_at(&attempt("bob", "203.0.113.1"), now).is_ok());
    }

    #[test]
    fn attempts_are_counted_when_checked_so_a_parallel_burst_gets_only_ten_through() {
        let limits = InProcessLimits::default();
        let now = Instant::now();
        let alice = attempt("alice", "192.0.2.1");
        // Nothing is recorded between the checks: as when 300 requests
        // arrive before the first password check ends.
        let passed = (0..300)
            .filter(|_| limits.check_at(&alice, now).is_ok())
            .count();
        assert_eq!(passed, PAIR.burst as usize);
    }

    #[test]
    fn a_success_forgets_the_pairs_failures_and_takes_its_own_count_back() {
        let limits = InProcessLimits::default();
        let now = Instant::now();
        let alice = attempt("alice", "192.0.2.1");
        fail(&limits, &alice, 9, now);
        assert_eq!(limits.check_at(&alice, now), Ok(()));
        limits.success_at(&alice, now);
        fail(&limits, &alice, 10, now);
        // The address and the account kept only the failures.
        let mut others = 0;
        while limits
            .check_at(&attempt(&format!("x{others}"), "192.0.2.1"), now)
            .is_ok()
        {
            others += 1;
        }
        assert_eq!(others, ADDRESS.burst - 19);
    }

    #[test]
    fn usernames_count_case_insensitively_and_ipv6_addresses_by_their_64() {
        assert_eq!(attempt("Alice", "192.0.2.1"), attempt("alice", "192.0.2.1"));
        let long = "x".repeat(10_000);
        assert_eq!(attempt(&long, "192.0.2.1").account.len(), MAX_KEY_CHARS);
        assert_eq!(
            address_key(ip("2001:db8:1:2:aaaa::1")),
            address_key(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            address_key(ip("2001:db8:1:2::1")),
            address_key(ip("2001:db8:1:3::1"))
        );
    }

    #[test]
    fn the_tables_never_hold_more_than_their_cap_and_evict_the_oldest() {
        let cap = 100;
        let limits = InProcessLimits::new([PAIR, ADDRESS, ACCOUNT], cap);
        let start = Instant::now();
        let alice = attempt("alice", "192.0.2.1");
        fail(&limits, &alice, 10, start + Duration::from_secs(59));
        for i in 0..10_000u32 {
            let [a, b, c, d] = i.to_be_bytes();
            let address = IpAddr::from([10, b ^ a, c, d]);
            let now = start + Duration::from_millis(u64::from(i % 50));
            let _ = limits.check_at(&Attempt::new(&format!("u{i}"), address, false), now);
            assert!(limits.len() <= 3 * cap, "{} keys after {i}", limits.len());
        }
        let now = start + Duration::from_secs(59);
        assert!(
            limits.check_at(&alice, now).is_err(),
            "the most recently active key stays"
        );
    }
}
