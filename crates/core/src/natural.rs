use std::cmp::Ordering;

/// Orders names the way people read them: `2 Setup` before `10 Advanced`,
/// case-insensitively. Names equal but for case fall back to a byte order so
/// that sorting is total and stable across runs.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    natord::compare_ignore_case(a, b).then_with(|| a.cmp(b))
}

/// Orders `/`-separated paths folder by folder, each name naturally, so a
/// section's files stay together and `2 Basics/` comes before `10 Advanced/`.
pub fn natural_path_cmp(a: &str, b: &str) -> Ordering {
    let mut left = a.split('/');
    let mut right = b.split('/');
    loop {
        match (left.next(), right.next()) {
            (Some(x), Some(y)) => match natural_cmp(x, y) {
                Ordering::Equal => continue,
                other => return other,
            },
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (None, None) => return Ordering::Equal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        v.sort_by(|a, b| natural_cmp(a, b));
        v
    }

    #[test]
    fn numbers_sort_by_value() {
        assert_eq!(
            sorted(&["10 Advanced", "2 Setup", "1 Intro"]),
            ["1 Intro", "2 Setup", "10 Advanced"]
        );
    }

    #[test]
    fn paths_sort_folder_by_folder() {
        let mut v = vec![
            "C/10 Advanced/a.md",
            "C/2 Basics/b.md",
            "C/2 Basics-x.md",
            "C/2 Basics/10.md",
        ];
        v.sort_by(|a, b| natural_path_cmp(a, b));
        assert_eq!(
            v,
            [
                "C/2 Basics/10.md",
                "C/2 Basics/b.md",
                "C/2 Basics-x.md",
                "C/10 Advanced/a.md"
            ]
        );
    }

    #[test]
    fn case_does_not_decide_order() {
        assert_eq!(
            sorted(&["beta", "Alpha", "alpha2"]),
            ["Alpha", "alpha2", "beta"]
        );
    }

    #[test]
    fn names_equal_but_for_case_still_have_a_fixed_order() {
        assert_eq!(sorted(&["readme", "README"]), sorted(&["README", "readme"]));
    }
}
