//! Throwaway PostgreSQL databases for tests. Each [`TestDb`] is a new,
//! uniquely named database on the server `LECTERN_TEST_POSTGRES` names
//! (by default the local one, `postgres://postgres@127.0.0.1:5432/postgres`),
//! dropped when the value is.
//!
//! Without a server, [`TestDb::create`] gives `None` and says why, so a
//! developer's machine without PostgreSQL can still run the rest; under CI
//! (`CI` set) a missing server fails the test instead.

use sqlx::{Connection, Executor, PgConnection};
use std::sync::atomic::{AtomicU32, Ordering};

/// The server tests use when `LECTERN_TEST_POSTGRES` is not set.
pub const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub struct TestDb {
    server: String,
    name: String,
    url: String,
}

fn server() -> String {
    std::env::var("LECTERN_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_SERVER.to_owned())
}

/// A name no other test, process or earlier run uses.
fn unique_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "lectern_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `url` with its database (the path) replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

impl TestDb {
    /// A new empty database, or `None` when no server answers and `CI` is
    /// unset (the reason is printed; the caller skips its test).
    pub async fn create() -> Option<TestDb> {
        let server = server();
        let mut conn = match PgConnection::connect(&server).await {
            Ok(conn) => conn,
            Err(e) if std::env::var_os("CI").is_none() => {
                eprintln!("skipped: no PostgreSQL at {server} ({e}); CI runs this test");
                return None;
            }
            Err(e) => panic!("PostgreSQL at {server} is needed under CI: {e}"),
        };
        let name = unique_name();
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
        let _ = conn.close().await;
        let url = with_database(&server, &name);
        Some(TestDb { server, name, url })
    }

    /// The database's URL, for `LECTERN_DATABASE_URL` or `lectern_store::open`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop may run inside a runtime: the drop gets a thread of its own.
        let (server, name) = (self.server.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&server).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let done = conn.execute(sql.as_str()).await;
                let _ = conn.close().await;
                done.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_in_a_url_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }

    #[test]
    fn names_are_unique_and_plain() {
        let (a, b) = (unique_name(), unique_name());
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    }
}
