//! Which scheduled backups to keep: grandfather-father-son, with the
//! meaning of restic's `forget --keep-daily/--keep-weekly/--keep-monthly`.
//! For each rule, walking from the newest backup back, the newest backup of
//! each of the last N days (ISO weeks, months) that have one is kept; a
//! backup any rule keeps stays. Manual, uploaded and safety backups are
//! never considered here: they stay until someone deletes them.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            daily: 7,
            weekly: 4,
            monthly: 12,
        }
    }
}

/// The period a backup falls in, for one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Period {
    Day(i32, u16),
    Week(i32, u8),
    Month(i32, u8),
}

type PeriodOf = fn(OffsetDateTime) -> Period;

impl Retention {
    /// The ids to delete, from `(id, created_at)` of scheduled backups in
    /// any order.
    pub fn expired<'a>(&self, backups: &[(&'a str, OffsetDateTime)]) -> Vec<&'a str> {
        let mut newest_first = backups.to_vec();
        newest_first.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(a.0)));
        let rules: [(u32, PeriodOf); 3] = [
            (self.daily, |t| Period::Day(t.year(), t.ordinal())),
            (self.weekly, |t| {
                let (year, week, _) = t.to_iso_week_date();
                Period::Week(year, week)
            }),
            (self.monthly, |t| Period::Month(t.year(), t.month() as u8)),
        ];
        let mut kept = HashSet::new();
        for (count, period_of) in rules {
            keep_one_per_period(&newest_first, count, period_of, &mut kept);
        }
        newest_first
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !kept.contains(id))
            .collect()
    }
}

fn keep_one_per_period<'a>(
    newest_first: &[(&'a str, OffsetDateTime)],
    count: u32,
    period_of: PeriodOf,
    kept: &mut HashSet<&'a str>,
) {
    let mut last = None;
    let mut taken = 0;
    for (id, at) in newest_first {
        if taken == count {
            return;
        }
        let period = period_of(*at);
        if last != Some(period) {
            kept.insert(*id);
            last = Some(period);
            taken += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::Duration;

    /// One backup a day at 02:00 for `days` days up to 2026-11-25.
    fn daily_for(days: i64) -> Vec<(String, OffsetDateTime)> {
        let last = datetime!(2026-11-25 02:00 UTC);
        (0..days)
            .map(|d| {
                let at = last - Duration::days(d);
                (at.date().to_string(), at)
            })
            .collect()
    }

    fn kept(policy: Retention, backups: &[(String, OffsetDateTime)]) -> Vec<String> {
        let refs: Vec<(&str, OffsetDateTime)> =
            backups.iter().map(|(id, at)| (id.as_str(), *at)).collect();
        let expired = policy.expired(&refs);
        let mut kept: Vec<String> = backups
            .iter()
            .map(|(id, _)| id.clone())
            .filter(|id| !expired.contains(&id.as_str()))
            .collect();
        kept.sort();
        kept
    }

    #[test]
    fn a_year_of_dailies_keeps_seven_days_four_weeks_and_twelve_months() {
        let kept = kept(Retention::default(), &daily_for(400));
        // 7 dailies (11-19..11-25); weeks: the newest of the 4 newest ISO
        // weeks (Sundays 11-22, 11-15, 11-08 and 11-25 itself, already
        // kept); months: the newest day of each of the last 12 months.
        let expected = [
            "2025-12-31",
            "2026-01-31",
            "2026-02-28",
            "2026-03-31",
            "2026-04-30",
            "2026-05-31",
            "2026-06-30",
            "2026-07-31",
            "2026-08-31",
            "2026-09-30",
            "2026-10-31",
            "2026-11-08",
            "2026-11-15",
            "2026-11-19",
            "2026-11-20",
            "2026-11-21",
            "2026-11-22",
            "2026-11-23",
            "2026-11-24",
            "2026-11-25",
        ];
        assert_eq!(kept, expected);
    }

    #[test]
    fn several_backups_a_day_keep_the_newest_of_the_day() {
        let day = datetime!(2026-11-25 00:00 UTC);
        let backups: Vec<(String, OffsetDateTime)> = [1, 9, 17]
            .iter()
            .map(|h| (format!("h{h}"), day + Duration::hours(*h)))
            .collect();
        let policy = Retention {
            daily: 1,
            weekly: 0,
            monthly: 0,
        };
        assert_eq!(kept(policy, &backups), ["h17"]);
    }

    #[test]
    fn nothing_to_keep_means_everything_expires_and_nothing_means_nothing() {
        let none = Retention {
            daily: 0,
            weekly: 0,
            monthly: 0,
        };
        assert!(kept(none, &daily_for(3)).is_empty());
        assert!(Retention::default().expired(&[]).is_empty());
    }
}
