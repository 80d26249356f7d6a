//! Quantities as a person reads them, the same in the panel, the health
//! checks and the command line.

/// `1.5 GiB`, `312 KiB`, `17 bytes`: binary units, one decimal under 10.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match value < 10.0 {
        true => format!("{value:.1} {}", UNITS[unit]),
        false => format!("{value:.0} {}", UNITS[unit]),
    }
}

/// A length of time as a person says it: its two largest units
/// (`7 days`, `1 day 3 h`, `36 min`, `45 s`).
pub fn span(secs: u64) -> String {
    const UNITS: [(u64, &str, &str); 4] = [
        (86_400, " day", " days"),
        (3600, " h", " h"),
        (60, " min", " min"),
        (1, " s", " s"),
    ];
    let mut left = secs;
    let mut parts = Vec::new();
    for (size, one, many) in UNITS {
        let n = left / size;
        if n > 0 && parts.len() < 2 {
            parts.push(format!("{n}{}", if n == 1 { one } else { many }));
            left -= n * size;
        } else if !parts.is_empty() {
            break;
        }
    }
    match parts.is_empty() {
        true => "0 s".into(),
        false => parts.join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(bytes(17), "17 bytes");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(312 * 1024), "312 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
    }

    #[test]
    fn spans_read_as_their_two_largest_units() {
        assert_eq!(span(0), "0 s");
        assert_eq!(span(45), "45 s");
        assert_eq!(span(7 * 86_400), "7 days");
        assert_eq!(span(86_400 + 3 * 3600 + 59), "1 day 3 h");
        assert_eq!(span(36 * 60 + 5), "36 min 5 s");
        assert_eq!(span(3600 + 5), "1 h");
    }
}
