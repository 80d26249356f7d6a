//! Account management for admins (SPEC §2, §4): users, groups and their
//! grants, API tokens, and the run-time settings. Every handler takes
//! [`crate::auth::Admin`] before its path and body, so an anonymous caller
//! gets 401 and a user 403 whatever they send.

pub mod audit;
pub mod backups;
pub mod groups;
pub mod settings;
pub mod tokens;
pub mod users;

use crate::error::ApiError;

/// A name people type and read (of a user, group or token): surrounding
/// spaces are dropped, then it must be 1 to `max` characters with no
/// control characters.
pub fn clean_name(raw: &str, what: &str, max: usize) -> Result<String, ApiError> {
    let name = raw.trim();
    let length = name.chars().count();
    if length == 0 || length > max || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "a {what} is 1 to {max} characters, with no control characters"
        )));
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
