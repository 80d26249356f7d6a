//! Names people type and read: of users, groups and tokens.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {what} is 1 to {max} characters, with no control characters")]
pub struct NameError {
    pub what: &'static str,
    pub max: usize,
}

/// Surrounding spaces dropped, then 1 to `max` characters with no control
/// characters.
pub fn clean_name(raw: &str, what: &'static str, max: usize) -> Result<String, NameError> {
    let name = raw.trim();
    let length = name.chars().count();
    if length == 0 || length > max || name.chars().any(char::is_control) {
        return Err(NameError { what, max });
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(clean_name("  staff ", "group name", 5).unwrap(), "staff");
        assert_eq!(clean_name("ünïcø", "group name", 5).unwrap(), "ünïcø");
        for bad in ["", "   ", "sixsix", "a\u{0}b", "a\nb", "\u{7f}"] {
            assert!(clean_name(bad, "group name", 5).is_err(), "{bad:?}");
        }
    }
}
