/// A database id as its own type: `id_type!(/// doc \n Name)`. Exported
/// for the store's own ids (users, groups, grants, tokens); the crate using
/// it needs `serde`. The API describes ids as `i64`.
#[macro_export]
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            ::serde::Serialize,
            ::serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

id_type!(
    /// A category (a folder at depth 1 under ROOT).
    CategoryId
);
id_type!(
    /// A course (a folder at depth 2 under ROOT).
    CourseId
);
id_type!(
    /// A file record; kept across moves so progress follows the file.
    FileId
);
id_type!(
    /// One run of the scanner, as kept in the scan history.
    ScanId
);
