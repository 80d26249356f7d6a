//! The health checks' verdicts and the rules that turn a reading into one,
//! with no I/O: the checks read the disk and the database, these decide.

use serde::{Deserialize, Serialize};

/// A check's verdict, in the health-check response format's words.
/// Ordered by how bad it is, so the worst of several is their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }

    /// The monitoring-plugin convention: 0 all pass, 1 some warn, 2 any fails.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Pass => 0,
            Status::Warn => 1,
            Status::Fail => 2,
        }
    }

    /// The worst of `statuses`; `Pass` when there are none.
    pub fn worst(statuses: impl IntoIterator<Item = Status>) -> Status {
        statuses.into_iter().max().unwrap_or(Status::Pass)
    }
}

/// The newest backup's age against the limits: warn past `warn_after`,
/// fail past `fail_after` (all in the same unit).
pub fn by_age(age: i64, warn_after: i64, fail_after: i64) -> Status {
    if age > fail_after {
        Status::Fail
    } else if age > warn_after {
        Status::Warn
    } else {
        Status::Pass
    }
}

/// Free space as a percentage of the filesystem against the limits:
/// fail below `fail_below`, warn below `warn_below`.
pub fn by_free_share(free_percent: f64, warn_below: f64, fail_below: f64) -> Status {
    if free_percent < fail_below {
        Status::Fail
    } else if free_percent < warn_below {
        Status::Warn
    } else {
        Status::Pass
    }
}

/// Errors in the last scan: any warn, more than `fail_above` fail.
pub fn by_scan_errors(errors: u64, fail_above: u64) -> Status {
    match errors {
        0 => Status::Pass,
        n if n > fail_above => Status::Fail,
        _ => Status::Warn,
    }
}

/// How much the database grew over the window, in percent of its size
/// then; `None` when there was nothing to compare with.
pub fn growth_percent(then: u64, now: u64) -> Option<f64> {
    (then > 0).then(|| (now as f64 - then as f64) * 100.0 / then as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_status_wins() {
        assert_eq!(Status::worst([]), Status::Pass);
        assert_eq!(Status::worst([Status::Pass, Status::Warn]), Status::Warn);
        assert_eq!(
            Status::worst([Status::Fail, Status::Warn, Status::Pass]),
            Status::Fail
        );
        let codes: Vec<u8> = [Status::Pass, Status::Warn, Status::Fail]
            .map(Status::exit_code)
            .into();
        assert_eq!(codes, [0, 1, 2]);
    }

    #[test]
    fn thresholds_are_strict_at_their_edges() {
        assert_eq!(by_age(24, 24, 72), Status::Pass);
        assert_eq!(by_age(25, 24, 72), Status::Warn);
        assert_eq!(by_age(73, 24, 72), Status::Fail);
        assert_eq!(by_free_share(10.0, 10.0, 5.0), Status::Pass);
        assert_eq!(by_free_share(9.9, 10.0, 5.0), Status::Warn);
        assert_eq!(by_free_share(4.9, 10.0, 5.0), Status::Fail);
        assert_eq!(by_scan_errors(0, 10), Status::Pass);
        assert_eq!(by_scan_errors(10, 10), Status::Warn);
        assert_eq!(by_scan_errors(11, 10), Status::Fail);
    }

    #[test]
    fn growth_is_relative_to_the_size_then() {
        assert_eq!(growth_percent(0, 10), None);
        assert_eq!(growth_percent(100, 150), Some(50.0));
        assert_eq!(growth_percent(100, 80), Some(-20.0));
    }
}
