//! When an alert is sent: once when its condition starts, again at most
//! every repeat interval while it lasts, and once more when it clears.
//! Pure bookkeeping over what is firing; the sending is elsewhere.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A condition that holds now, as the checks found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Active {
    /// `warn` or `fail`.
    pub severity: String,
    /// What was found, in words.
    pub summary: String,
}

/// An alert that fired and has not cleared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firing {
    /// When its condition started (ms since the epoch).
    pub since: i64,
    /// When it was last announced (the first notice or a reminder).
    pub last_sent: i64,
    pub severity: String,
    pub summary: String,
}

/// What to tell about one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// The condition started.
    Firing,
    /// It still holds after the repeat interval.
    Reminder,
    /// It cleared.
    Resolved,
    /// An admin asked for a test message.
    Test,
}

impl Notice {
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Firing => "firing",
            Notice::Reminder => "reminder",
            Notice::Resolved => "resolved",
            Notice::Test => "test",
        }
    }
}

/// One notice to send, with the alert as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub condition: String,
    pub notice: Notice,
    pub firing: Firing,
}

/// Moves `firing` to what `active` says holds at `now`, returning the
/// notices due, in the conditions' order. A condition that holds and was
/// not firing starts; one firing for `repeat` since its last notice is
/// reminded of (never, when `repeat` is `None`); one firing that no longer
/// holds is resolved. A change of summary or severity alone sends nothing.
pub fn step(
    firing: &mut BTreeMap<String, Firing>,
    active: &BTreeMap<String, Active>,
    now: i64,
    repeat: Option<i64>,
) -> Vec<Due> {
    let mut due = Vec::new();
    let cleared: Vec<String> = firing
        .keys()
        .filter(|name| !active.contains_key(*name))
        .cloned()
        .collect();
    for condition in cleared {
        if let Some(was) = firing.remove(&condition) {
            due.push(Due {
                condition,
                notice: Notice::Resolved,
                firing: was,
            });
        }
    }
    for (condition, found) in active {
        let notice = match firing.get_mut(condition) {
            None => {
                let started = Firing {
                    since: now,
                    last_sent: now,
                    severity: found.severity.clone(),
                    summary: found.summary.clone(),
                };
                firing.insert(condition.clone(), started);
                Notice::Firing
            }
            Some(was) => {
                was.severity.clone_from(&found.severity);
                was.summary.clone_from(&found.summary);
                match repeat {
                    Some(every) if now - was.last_sent >= every => {
                        was.last_sent = now;
                        Notice::Reminder
                    }
                    _ => continue,
                }
            }
        };
        due.push(Due {
            condition: condition.clone(),
            notice,
            firing: firing[condition].clone(),
        });
    }
    due.sort_by(|a, b| a.condition.cmp(&b.condition));
    due
}

/// How long to wait before the next attempt to deliver, after `failures`
/// failed ones: `first`, doubling each time, never more than `most`.
pub fn backoff(failures: u32, first: i64, most: i64) -> i64 {
    let doublings = failures.saturating_sub(1).min(30);
    first.saturating_mul(1 << doublings).min(most).max(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active(names: &[&str]) -> BTreeMap<String, Active> {
        names
            .iter()
            .map(|n| {
                let found = Active {
                    severity: "warn".into(),
                    summary: format!("{n} holds"),
                };
                ((*n).to_owned(), found)
            })
            .collect()
    }

    fn notices(due: &[Due]) -> Vec<(&str, Notice)> {
        due.iter()
            .map(|d| (d.condition.as_str(), d.notice))
            .collect()
    }

    #[test]
    fn a_condition_fires_once_while_it_lasts_and_resolves_once() {
        let mut firing = BTreeMap::new();
        let on = active(&["backup_failed"]);
        let first = step(&mut firing, &on, 1_000, None);
        assert_eq!(notices(&first), [("backup_failed", Notice::Firing)]);
        for now in [2_000, 3_000, 1_000_000] {
            assert!(step(&mut firing, &on, now, None).is_empty());
        }
        let cleared = step(&mut firing, &BTreeMap::new(), 1_000_001, None);
        assert_eq!(notices(&cleared), [("backup_failed", Notice::Resolved)]);
        assert_eq!(cleared[0].firing.since, 1_000);
        assert!(firing.is_empty());
        assert!(step(&mut firing, &BTreeMap::new(), 1_000_002, None).is_empty());
    }

    #[test]
    fn a_lasting_condition_is_reminded_of_at_the_repeat_interval_only() {
        let mut firing = BTreeMap::new();
        let on = active(&["disk_low"]);
        step(&mut firing, &on, 0, Some(100));
        assert!(step(&mut firing, &on, 99, Some(100)).is_empty());
        let again = step(&mut firing, &on, 100, Some(100));
        assert_eq!(notices(&again), [("disk_low", Notice::Reminder)]);
        assert_eq!(again[0].firing.since, 0, "the episode keeps its start");
        assert!(step(&mut firing, &on, 150, Some(100)).is_empty());
        assert_eq!(step(&mut firing, &on, 200, Some(100)).len(), 1);
    }

    #[test]
    fn conditions_come_and_go_independently() {
        let mut firing = BTreeMap::new();
        step(&mut firing, &active(&["a", "b"]), 0, None);
        let due = step(&mut firing, &active(&["b", "c"]), 1, None);
        assert_eq!(
            notices(&due),
            [("a", Notice::Resolved), ("c", Notice::Firing)]
        );
    }

    #[test]
    fn a_new_summary_updates_the_alert_without_a_notice() {
        let mut firing = BTreeMap::new();
        step(&mut firing, &active(&["a"]), 0, None);
        let mut worse = active(&["a"]);
        worse.get_mut("a").unwrap().summary = "worse".into();
        assert!(step(&mut firing, &worse, 1, None).is_empty());
        assert_eq!(firing["a"].summary, "worse");
    }

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        let waits: Vec<i64> = (0..8).map(|n| backoff(n, 10, 200)).collect();
        assert_eq!(waits, [10, 10, 20, 40, 80, 160, 200, 200]);
        assert_eq!(backoff(u32::MAX, 10, 200), 200);
    }
}
