//! Off-site copies to S3-compatible object storage, against a real S3
//! server the test starts (moto's server mode: `pip install "moto[server]"`):
//! real HTTP, signed requests and multipart uploads, read back through the
//! same client. Without moto the tests are skipped with a message, except
//! under CI, which installs it.

use lectern_backup::S3Target;
use object_store::ObjectStore;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// moto's S3 server in a child process, with the buckets it was given.
struct S3Server {
    child: Child,
    port: u16,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3Server {
    /// The server with `buckets` made, or `None` (after saying why) where
    /// moto is missing and `CI` is unset.
    fn start(buckets: &[&str]) -> Option<S3Server> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/s3_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(buckets)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let mut first = String::new();
        let read = BufReader::new(child.stdout.take().unwrap()).read_line(&mut first);
        match first.trim().parse() {
            Ok(port) if read.is_ok() => Some(S3Server { child, port }),
            _ => {
                let mut why = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut why);
                let _ = child.wait();
                let why = format!("the S3 server did not start: {}", why.trim());
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{why} (CI installs it: pip install \"moto[server]\")"
                );
                eprintln!("skipped: {why}; `pip install \"moto[server]\"` to run it");
                None
            }
        }
    }

    /// A target in `location` on this server, with the keys it takes.
    fn target(&self, location: &str) -> S3Target {
        S3Target {
            endpoint: Some(format!("http://127.0.0.1:{}", self.port)),
            access_key_id: Some("test-key".into()),
            secret_access_key: Some("test-secret".into()),
            ..S3Target::parse(location).unwrap()
        }
    }
}

/// `size` bytes that differ from part to part, so a part sent twice or
/// out of order shows.
fn content(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i / 4096 % 251) as u8).collect()
}

async fn stored(target: &S3Target, filename: &str) -> Vec<u8> {
    let store = target.store().unwrap();
    let got = store.get(&target.key(filename)).await.unwrap();
    got.bytes().await.unwrap().to_vec()
}

async fn keys(target: &S3Target) -> Vec<String> {
    use futures_util::TryStreamExt;
    let store = target.store().unwrap();
    let listed: Vec<_> = store.list(None).try_collect().await.unwrap();
    let mut keys: Vec<String> = listed.into_iter().map(|m| m.location.to_string()).collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn archives_go_up_whole_in_parts_and_read_back_byte_equal() {
    let Some(server) = S3Server::start(&["lectern-backups"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let target = server.target("s3://lectern-backups/site-a/nightly/");
    // One smaller than a part, one of three parts (16 MiB each, the last short).
    for (name, size) in [
        ("lectern-small.tar", 100_000),
        ("lectern-big.tar", 40 << 20),
    ] {
        let path = dir.path().join(name);
        let bytes = content(size);
        std::fs::write(&path, &bytes).unwrap();
        target.send(&path, name).await.unwrap();
        assert!(stored(&target, name).await == bytes, "{name} differs");
    }
    assert_eq!(
        keys(&target).await,
        [
            "site-a/nightly/lectern-big.tar",
            "site-a/nightly/lectern-small.tar"
        ]
    );
}

#[tokio::test]
async fn a_copy_that_cannot_be_made_says_where_and_leaves_nothing() {
    let Some(server) = S3Server::start(&["lectern-backups"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lectern-x.tar");
    std::fs::write(&path, content(1000)).unwrap();

    let missing = server.target("s3://no-such-bucket/x");
    let e = missing.send(&path, "lectern-x.tar").await.unwrap_err();
    let said = e.to_string();
    assert!(said.contains("s3://no-such-bucket/x"), "{said}");
    assert!(!said.contains("test-secret"), "the secret shows: {said}");

    // An archive that cannot be read sends nothing.
    let there = server.target("s3://lectern-backups");
    let e = there
        .send(&dir.path().join("gone.tar"), "gone.tar")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("cannot read the archive"), "{e}");
    assert!(keys(&there).await.is_empty(), "{:?}", keys(&there).await);
}
