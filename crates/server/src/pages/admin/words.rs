//! How the panel says quantities and times: sizes in binary units, times
//! in UTC with how long ago, durations in the largest whole units.

use lectern_store::now_ms;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

const WHEN: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day] [hour]:[minute] UTC");

/// `1.5 GiB`, `312 KiB`, `17 bytes`.
pub fn size(bytes: u64) -> String {
    lectern_core::quantity::bytes(bytes)
}

/// `2026-12-02 14:36 UTC` for a time in ms since the epoch.
pub fn when_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(when)
        .unwrap_or_default()
}

pub fn when(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(WHEN)
        .unwrap_or_default()
}

/// `3 h ago`, `just now`, `in 5 min`.
pub fn ago_ms(ms: i64) -> String {
    let seconds = (now_ms() - ms) / 1000;
    match seconds {
        s if s < 0 => format!("in {}", duration(-s)),
        s if s < 60 => "just now".into(),
        s => format!("{} ago", duration(s)),
    }
}

pub fn ago(at: OffsetDateTime) -> String {
    let ms = (at.unix_timestamp_nanos() / 1_000_000) as i64;
    ago_ms(ms)
}

/// `45 s`, `12 min`, `5 h`, `3 days`.
pub fn duration(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_as_a_person_says_them() {
        assert_eq!(size(17), "17 bytes");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(300 * 1024 * 1024), "300 MiB");
        assert_eq!(size(5 * 1024 * 1024 * 1024), "5.0 GiB");
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(125), "2 min");
        assert_eq!(duration(5 * 3600), "5 h");
        assert_eq!(duration(3 * 86_400), "3 days");
        assert_eq!(when_ms(0), "1970-01-01 00:00 UTC");
    }
}
