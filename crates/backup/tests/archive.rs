//! Backup archives against a real SQLite store: round trips with each kind
//! of encryption, and every hostile archive refused with its own error and
//! nothing left behind.

use lectern_backup::*;
use lectern_store::lock::LockHandle;
use lectern_store::{NewAuditEntry, NewSession, NewUser, Role, SessionKind, Store};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Site {
    dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    folder: BackupFolder,
}

impl Site {
    async fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("lectern.db").display());
        let store = lectern_store::open(&url).await.unwrap();
        let folder = BackupFolder::in_data(dir.path());
        let site = Site { dir, store, folder };
        site.add_user("alice").await;
        site.store.set_setting("site_name", "Before").await.unwrap();
        site
    }

    async fn add_user(&self, name: &str) {
        let user = NewUser {
            username: name.to_owned(),
            password_hash: "not-a-real-hash".to_owned(),
            role: Role::Admin,
        };
        self.store.create_user(&user).await.unwrap();
    }

    async fn usernames(&self) -> Vec<String> {
        let users = self.store.users().await.unwrap();
        users.into_iter().map(|u| u.username).collect()
    }

    async fn backup(&self, secrets: &Secrets) -> BackupRecord {
        let new = NewBackup {
            backup_type: BackupType::Manual,
            created_by: "test:runner".into(),
            notes: Some("before the term".into()),
        };
        create(
            self.store.as_ref(),
            &self.folder,
            &new,
            secrets,
            Arc::new(Quiet),
        )
        .await
        .unwrap()
    }

    async fn verify(&self, archive: &Path, secrets: &Secrets) -> Result<Verified, BackupError> {
        self.verify_within(archive, secrets, Limits::default())
            .await
    }

    async fn verify_within(
        &self,
        archive: &Path,
        secrets: &Secrets,
        limits: Limits,
    ) -> Result<Verified, BackupError> {
        verify(archive, &self.folder, secrets, limits, Arc::new(Quiet)).await
    }

    /// Verifying `archive` fails with `code`, and leaves no work file.
    async fn assert_refused(&self, archive: &Path, code: &str) -> BackupError {
        let err = self.verify(archive, &Secrets::none()).await.unwrap_err();
        assert_eq!(err.code(), code, "{err}");
        assert!(err.is_bad_archive(), "{err} blames the archive");
        self.assert_no_work_files();
        err
    }

    fn assert_no_work_files(&self) {
        let left: Vec<_> = std::fs::read_dir(self.folder.work_dir())
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "work files left behind: {left:?}");
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn passphrase(p: &str) -> Secrets {
    Secrets::none().with_passphrase(p).unwrap()
}

/// The manifest and payload bytes of an archive, read with the tar crate
/// as any tool would.
fn entries(archive: &Path) -> Vec<(String, Vec<u8>)> {
    let mut tar = tar::Archive::new(std::fs::File::open(archive).unwrap());
    let mut out = Vec::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        out.push((name, data));
    }
    out
}

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

/// One tar entry, written raw so that any name or type can be forged.
struct Entry<'a> {
    name: &'a [u8],
    kind: tar::EntryType,
    data: &'a [u8],
}

fn file<'a>(name: &'a str, data: &'a [u8]) -> Entry<'a> {
    Entry {
        name: name.as_bytes(),
        kind: tar::EntryType::Regular,
        data,
    }
}

fn write_tar(path: &Path, entries: &[Entry<'_>]) {
    let mut builder = tar::Builder::new(std::fs::File::create(path).unwrap());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        let name = &mut header.as_gnu_mut().unwrap().name;
        name[..entry.name.len()].copy_from_slice(entry.name);
        header.set_size(entry.data.len() as u64);
        header.set_entry_type(entry.kind);
        header.set_mode(0o600);
        header.set_cksum();
        builder.append(&header, entry.data).unwrap();
    }
    builder.into_inner().unwrap().flush().unwrap();
}

/// An archive around `db` (SQLite bytes), with the real manifest of
/// `model` changed by `edit` after the checksums are filled in.
fn forge(path: &Path, model: &Path, db: &[u8], edit: impl FnOnce(&mut Value)) {
    let payload = zstd(db);
    forge_payload(path, model, &payload, db.len() as u64, &sha256(db), edit);
}

fn forge_payload(
    path: &Path,
    model: &Path,
    payload: &[u8],
    db_size: u64,
    db_sha256: &str,
    edit: impl FnOnce(&mut Value),
) {
    let mut manifest: Value = serde_json::from_slice(&entries(model)[0].1).unwrap();
    manifest["payload"] = serde_json::json!({
        "name": "lectern.db.zst", "size": payload.len(), "sha256": sha256(payload),
        "db_size": db_size, "db_sha256": db_sha256,
    });
    manifest["encryption"] = "none".into();
    edit(&mut manifest);
    let json = serde_json::to_vec(&manifest).unwrap();
    write_tar(
        path,
        &[
            file("manifest.json", &json),
            file("lectern.db.zst", payload),
        ],
    );
}

/// A plain SQLite snapshot of the site, changed by `sql`.
async fn snapshot_with(site: &Site, sql: &str) -> Vec<u8> {
    let path = site.path("forged.db");
    let _ = std::fs::remove_file(&path);
    site.store.snapshot(&path).await.unwrap();
    if !sql.is_empty() {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    }
    std::fs::read(&path).unwrap()
}

#[tokio::test]
async fn a_plain_archive_lists_verifies_and_restores_what_was_backed_up() {
    let site = Site::new().await;
    let record = site.backup(&Secrets::none()).await;
    assert_eq!(record.status, BackupStatus::Completed);
    assert_eq!(record.backup_type, BackupType::Manual);
    assert_eq!(record.created_by.as_deref(), Some("test:runner"));
    assert_eq!(record.notes.as_deref(), Some("before the term"));
    assert!(!record.encrypted);
    assert!(record.file_path.is_absolute());
    assert_eq!(
        record.filename,
        format!("lectern-{}.tar", record.id),
        "the id is the file name without its frame"
    );
    assert_eq!(site.folder.list().unwrap(), vec![record.clone()]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&record.file_path), 0o600);
        assert_eq!(mode(site.folder.dir()), 0o700);
    }

    // What standard tools see: the manifest first, then the zstd payload.
    let parts = entries(&record.file_path);
    let names: Vec<&str> = parts.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(names, ["manifest.json", "lectern.db.zst"]);
    let manifest: Value = serde_json::from_slice(&parts[0].1).unwrap();
    assert_eq!(manifest["format"], "lectern-backup");
    assert_eq!(manifest["format_version"], 1);
    assert_eq!(manifest["row_counts"]["users"], 1);
    assert_eq!(manifest["encryption"], "none");
    let db = zstd::decode_all(parts[1].1.as_slice()).unwrap();
    assert!(db.starts_with(b"SQLite format 3\0"));

    let verified = site
        .verify(&record.file_path, &Secrets::none())
        .await
        .unwrap();
    assert_eq!(
        verified.manifest.schema_version,
        lectern_store::snapshot::latest_schema_version()
    );
    site.assert_no_work_files();

    // Changes after the backup are undone by the restore.
    site.add_user("bob").await;
    site.store.set_setting("site_name", "After").await.unwrap();
    let prepared = prepare_restore(
        &record.file_path,
        &site.folder,
        &Secrets::none(),
        Limits::default(),
        Arc::new(Quiet),
    )
    .await
    .unwrap();
    site.store
        .replace_with_snapshot(prepared.database(), prepared.keep_audit_after())
        .await
        .unwrap();
    drop(prepared);
    assert_eq!(site.usernames().await, ["alice"]);
    assert_eq!(
        site.store.setting("site_name").await.unwrap().as_deref(),
        Some("Before")
    );
    assert!(site.store.quick_check().await.unwrap().is_empty());
    site.assert_no_work_files();
}

#[tokio::test]
async fn a_restore_ends_sessions_keeps_the_lock_and_later_audit_entries() {
    let site = Site::new().await;
    let alice = site.store.users().await.unwrap()[0].id;
    let session = |hash: &str| NewSession {
        token_hash: hash.to_owned(),
        user_id: alice,
        kind: SessionKind::Web,
        csrf_token: "csrf".into(),
        expires_at: i64::MAX,
    };
    site.store
        .create_session(&session("in-backup"))
        .await
        .unwrap();
    site.store
        .record_audit(&NewAuditEntry::now("user:alice", "before.backup"))
        .await
        .unwrap();
    let record = site.backup(&Secrets::none()).await;
    site.store.create_session(&session("after")).await.unwrap();
    site.store
        .record_audit(&NewAuditEntry::now("user:alice", "after.backup"))
        .await
        .unwrap();

    let lock = LockHandle::acquire(&site.store, "restore", "test")
        .await
        .unwrap();
    let prepared = prepare_restore(
        &record.file_path,
        &site.folder,
        &Secrets::none(),
        Limits::default(),
        Arc::new(Quiet),
    )
    .await
    .unwrap();
    site.store
        .replace_with_snapshot(prepared.database(), prepared.keep_audit_after())
        .await
        .unwrap();

    for hash in ["in-backup", "after"] {
        assert!(site.store.session(hash).await.unwrap().is_none(), "{hash}");
    }
    let held = site.store.read_lock().await.unwrap().expect("lock kept");
    assert_eq!(held.operation, "restore");
    lock.release().await.unwrap();
    assert!(
        site.store.read_lock().await.unwrap().is_none(),
        "the restore's own lock token still works after the swap"
    );
    let audit = site
        .store
        .audit(&lectern_store::AuditQuery::default())
        .await
        .unwrap();
    let actions: Vec<&str> = audit.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["after.backup", "before.backup"]);
}

#[tokio::test]
async fn a_passphrase_archive_needs_the_passphrase() {
    let site = Site::new().await;
    let record = site.backup(&passphrase("correct horse")).await;
    assert!(record.encrypted);
    let parts = entries(&record.file_path);
    assert_eq!(parts[1].0, "lectern.db.zst.age");
    let manifest = String::from_utf8(parts[0].1.clone()).unwrap();
    assert!(manifest.contains("\"passphrase\""));
    assert!(
        !manifest.contains("correct horse"),
        "no secret in the manifest"
    );

    site.verify(&record.file_path, &passphrase("correct horse"))
        .await
        .unwrap();
    let wrong = site
        .verify(&record.file_path, &passphrase("wrong horse"))
        .await
        .unwrap_err();
    assert!(matches!(wrong, BackupError::WrongSecret), "{wrong}");
    let none = site
        .verify(&record.file_path, &Secrets::none())
        .await
        .unwrap_err();
    assert!(matches!(none, BackupError::SecretMissing(..)), "{none}");
    site.assert_no_work_files();
}

#[tokio::test]
async fn a_recipient_archive_opens_with_the_matching_identity_only() {
    let site = Site::new().await;
    let key = age::x25519::Identity::generate();
    let public = key.to_public().to_string();
    let to_key = Secrets::none().with_recipients([public.as_str()]).unwrap();
    assert_eq!(to_key.encryption(), Encryption::Recipients);
    let record = site.backup(&to_key).await;
    assert!(record.encrypted);

    use age::secrecy::ExposeSecret;
    let identity_file = format!("# test key\n{}\n", key.to_string().expose_secret());
    let holder = Secrets::none().with_identities(&identity_file).unwrap();
    let verified = site.verify(&record.file_path, &holder).await.unwrap();
    assert_eq!(verified.manifest.encryption, Encryption::Recipients);

    let stranger = age::x25519::Identity::generate();
    let other = Secrets::none()
        .with_identities(stranger.to_string().expose_secret())
        .unwrap();
    let wrong = site.verify(&record.file_path, &other).await.unwrap_err();
    assert!(matches!(wrong, BackupError::WrongSecret), "{wrong}");
}

#[test]
fn secrets_come_from_the_environment_or_files_and_never_show() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pass");
    std::fs::write(&file, "from a file\n").unwrap();
    let vars = |pairs: Vec<(&'static str, String)>| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        }
    };
    let from_file = Secrets::from_vars(vars(vec![(
        "LECTERN_BACKUP_PASSPHRASE_FILE",
        file.display().to_string(),
    )]))
    .unwrap();
    assert_eq!(from_file.encryption(), Encryption::Passphrase);
    assert!(!format!("{from_file:?}").contains("from a file"));

    let both = Secrets::from_vars(vars(vec![
        ("LECTERN_BACKUP_PASSPHRASE", "x".into()),
        ("LECTERN_BACKUP_PASSPHRASE_FILE", file.display().to_string()),
    ]))
    .unwrap_err();
    assert_eq!(both.code(), "bad_secrets");

    let secret_key = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";
    let pasted = Secrets::from_vars(vars(vec![("LECTERN_BACKUP_RECIPIENTS", secret_key.into())]))
        .unwrap_err();
    assert!(
        !pasted.to_string().contains("AGE-SECRET"),
        "a mistaken secret key is not echoed: {pasted}"
    );
    assert_eq!(
        Secrets::from_vars(|_| None).unwrap().encryption(),
        Encryption::None
    );
}

#[tokio::test]
async fn the_folder_lists_what_is_there_and_nothing_half_written() {
    let site = Site::new().await;
    let record = site.backup(&Secrets::none()).await;
    let dir = site.folder.dir().to_owned();

    // Copied in by hand: listed, from its own manifest.
    let copied = ArchiveName::new(time::OffsetDateTime::now_utc(), BackupType::Manual);
    std::fs::copy(&record.file_path, dir.join(copied.file_name())).unwrap();
    // Not archives: a half-written file, a stray note, a link.
    std::fs::write(dir.join(format!("{}.tmp", copied.file_name())), b"half").unwrap();
    std::fs::write(dir.join("README.txt"), b"notes").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        &record.file_path,
        dir.join(ArchiveName::new(time::OffsetDateTime::now_utc(), BackupType::Safety).file_name()),
    )
    .unwrap();
    // Damaged, under an archive's name: listed as unreadable.
    let damaged = ArchiveName::new(time::OffsetDateTime::now_utc(), BackupType::Scheduled);
    std::fs::write(dir.join(damaged.file_name()), b"not a tar at all").unwrap();

    let list = site.folder.list().unwrap();
    let ids: Vec<&str> = list.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(list.len(), 3, "{ids:?}");
    let unreadable = site.folder.find(&damaged.id()).unwrap();
    assert_eq!(unreadable.status, BackupStatus::Unreadable);
    assert!(unreadable.reason.unwrap().contains("not a Lectern backup"));
    let copy = site.folder.find(&copied.id()).unwrap();
    assert_eq!(copy.status, BackupStatus::Completed);
    assert_eq!(copy.created_at, record.created_at, "from the manifest");

    // Deleted by hand: gone from the list.
    std::fs::remove_file(&record.file_path).unwrap();
    assert!(site
        .folder
        .list()
        .unwrap()
        .iter()
        .all(|r| r.id != record.id));
    assert!(matches!(
        site.folder.find(&record.id),
        Err(BackupError::NotFound(_))
    ));
    for hostile in ["../lectern.db", "", "20260101T000000Z-manual-../../x"] {
        assert!(matches!(
            site.folder.find(hostile),
            Err(BackupError::NotFound(_))
        ));
    }
    site.folder.delete(&copied.id()).unwrap();
    assert_eq!(site.folder.list().unwrap().len(), 1);
}

#[tokio::test]
async fn truncated_archives_are_refused_at_every_cut() {
    let site = Site::new().await;
    let record = site.backup(&Secrets::none()).await;
    let bytes = std::fs::read(&record.file_path).unwrap();
    let parts = entries(&record.file_path);
    let payload_header = 512 + parts[0].1.len().div_ceil(512) * 512;
    let payload_end = payload_header + 512 + parts[1].1.len();
    let cut = site.path("cut.tar");
    // Inside the manifest's header, inside the manifest, inside the
    // payload's header, inside the payload, one byte before its end.
    for (at, reason) in [
        (100, "first header"),
        (700, "manifest is cut short"),
        (payload_header + 100, "entry's header"),
        (
            payload_header + (payload_end - payload_header) / 2,
            "payload is cut short",
        ),
        (payload_end - 1, "payload is cut short"),
    ] {
        std::fs::write(&cut, &bytes[..at]).unwrap();
        let err = site.assert_refused(&cut, "truncated").await;
        assert!(err.to_string().contains(reason), "cut at {at}: {err}");
    }
}

#[tokio::test]
async fn a_flipped_byte_in_the_payload_fails_its_checksum() {
    let site = Site::new().await;
    let record = site.backup(&Secrets::none()).await;
    let mut bytes = std::fs::read(&record.file_path).unwrap();
    let middle = bytes.len() - 3000;
    bytes[middle] ^= 0x40;
    let flipped = site.path("flipped.tar");
    std::fs::write(&flipped, bytes).unwrap();
    let err = site.assert_refused(&flipped, "checksum_mismatch").await;
    assert!(err.to_string().contains("payload"), "{err}");
}

#[tokio::test]
async fn a_damaged_encrypted_archive_is_damaged_even_without_its_secret() {
    let site = Site::new().await;
    let record = site.backup(&passphrase("correct horse")).await;
    let mut bytes = std::fs::read(&record.file_path).unwrap();
    let middle = bytes.len() - 3000;
    bytes[middle] ^= 0x40;
    let flipped = site.path("flipped.tar");
    std::fs::write(&flipped, bytes).unwrap();
    // No passphrase configured here: the damage is still what is reported.
    site.assert_refused(&flipped, "checksum_mismatch").await;
    let sound = site
        .verify(&record.file_path, &Secrets::none())
        .await
        .unwrap_err();
    assert_eq!(sound.code(), "secret_missing", "{sound}");
}

#[tokio::test]
async fn entries_beyond_the_two_and_unsafe_entries_are_refused() {
    let site = Site::new().await;
    let record = site.backup(&Secrets::none()).await;
    let parts = entries(&record.file_path);
    let (manifest, payload) = (&parts[0].1, &parts[1].1);
    let forged = site.path("forged.tar");

    write_tar(
        &forged,
        &[
            file("manifest.json", manifest),
            file("lectern.db.zst", payload),
            file("extra.sh", b"#!/bin/sh\n"),
        ],
    );
    site.assert_refused(&forged, "bad_layout").await;

    write_tar(
        &forged,
        &[file("../x", manifest), file("lectern.db.zst", payload)],
    );
    site.assert_refused(&forged, "bad_layout").await;

    write_tar(
        &forged,
        &[
            file("manifest.json", manifest),
            file("/etc/passwd", payload),
        ],
    );
    site.assert_refused(&forged, "bad_layout").await;

    let link = Entry {
        name: b"lectern.db.zst",
        kind: tar::EntryType::Symlink,
        data: b"",
    };
    write_tar(&forged, &[file("manifest.json", manifest), link]);
    site.assert_refused(&forged, "bad_layout").await;

    write_tar(&forged, &[file("manifest.json", manifest)]);
    site.assert_refused(&forged, "truncated").await;
}

#[tokio::test]
async fn foreign_empty_and_future_files_are_refused() {
    let site = Site::new().await;
    let record = site.backup(&Secrets::none()).await;
    let model = record.file_path.clone();
    let path = site.path("odd.tar");

    std::fs::write(&path, b"").unwrap();
    site.assert_refused(&path, "not_a_backup").await;
    std::fs::write(&path, vec![0x5a; 4096]).unwrap();
    site.assert_refused(&path, "not_a_backup").await;
    write_tar(&path, &[file("photo.jpg", b"\xff\xd8\xff")]);
    site.assert_refused(&path, "not_a_backup").await;
    write_tar(
        &path,
        &[file("manifest.json", br#"{"format":"something-else"}"#)],
    );
    site.assert_refused(&path, "not_a_backup").await;

    let db = snapshot_with(&site, "").await;
    forge(&path, &model, &db, |m| m["format_version"] = 99.into());
    let err = site.assert_refused(&path, "newer_format").await;
    assert!(err.to_string().contains("upgrade Lectern"), "{err}");
    forge(&path, &model, &db, |m| m["schema_version"] = 99.into());
    site.assert_refused(&path, "newer_schema").await;
    forge(&path, &model, &db, |m| m["id"] = "not hex".into());
    site.assert_refused(&path, "bad_manifest").await;

    // The forger's archive itself is sound: only the edits above fail.
    forge(&path, &model, &db, |_| {});
    site.verify(&path, &Secrets::none()).await.unwrap();
}

#[tokio::test]
async fn a_database_with_objects_lectern_does_not_make_is_refused() {
    let site = Site::new().await;
    let record = site.backup(&Secrets::none()).await;
    let path = site.path("evil.tar");
    for sql in [
        "CREATE TABLE extra (x)",
        "CREATE TRIGGER wipe AFTER INSERT ON sessions BEGIN DELETE FROM users; END",
        "CREATE VIEW peek AS SELECT * FROM users",
        "DROP INDEX sessions_user",
        // Same name, other body: an altered trigger is as foreign as a new one.
        "DROP TRIGGER course_search_delete;
         CREATE TRIGGER course_search_delete AFTER DELETE ON courses BEGIN DELETE FROM users; END",
    ] {
        let db = snapshot_with(&site, sql).await;
        forge(&path, &record.file_path, &db, |_| {});
        let err = site.assert_refused(&path, "bad_database").await;
        assert!(err.to_string().contains("schema"), "{sql}: {err}");
    }
    let db = snapshot_with(&site, "DELETE FROM _sqlx_migrations WHERE version = 2").await;
    forge(&path, &record.file_path, &db, |_| {});
    site.assert_refused(&path, "bad_database").await;
    let not_sqlite = b"this is no database".repeat(100);
    forge(&path, &record.file_path, &not_sqlite, |_| {});
    site.assert_refused(&path, "bad_database").await;
}

#[tokio::test]
async fn a_decompression_bomb_stops_at_the_declared_size() {
    let site = Site::new().await;
    let record = site.backup(&Secrets::none()).await;
    let path = site.path("bomb.tar");
    // 256 MiB of zeros compress to a few kilobytes.
    let zeros = vec![0u8; 256 << 20];
    let payload = zstd(&zeros);
    drop(zeros);
    assert!(payload.len() < 100_000);
    let declared = 1 << 20;
    forge_payload(
        &path,
        &record.file_path,
        &payload,
        declared,
        &"0".repeat(64),
        |_| {},
    );
    let started = std::time::Instant::now();
    let err = site.assert_refused(&path, "decompression_bomb").await;
    assert!(err.to_string().contains(&declared.to_string()), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "stopped early, not after expanding it all"
    );

    // A manifest that declares more than the limit is refused unread.
    let small = Limits {
        max_db_size: 1000,
        ..Limits::default()
    };
    let err = site
        .verify_within(&record.file_path, &Secrets::none(), small)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "too_large", "{err}");
}

/// A zstd stream of `size` zeros, made without holding them.
fn zstd_zeros(size: u64) -> Vec<u8> {
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    std::io::copy(
        &mut std::io::Read::take(std::io::repeat(0), size),
        &mut encoder,
    )
    .unwrap();
    encoder.finish().unwrap()
}

/// A payload of about `len` bytes that expands to gigabytes of zeros:
/// frames of 128 MiB of zeros, one after another, as zstd allows.
fn bomb_payload(len: usize) -> Vec<u8> {
    let frame = zstd_zeros(128 << 20);
    frame.repeat(len.div_ceil(frame.len()))
}

/// Reads `archive` as a restore would and unpacks its database into a
/// fresh folder: the error, and how many bytes the database file holds
/// afterwards (`None` when it was never created).
fn unpack_into_fresh_folder(archive: &Path, limits: &Limits) -> (BackupError, Option<u64>) {
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("lectern.db");
    let latest = lectern_store::snapshot::latest_schema_version();
    let layout = archive::read_layout(archive, latest).unwrap();
    let secrets = Secrets::none();
    let err = archive::decode_payload(archive, &layout, &secrets, limits, &dest, &Quiet)
        .expect_err("the payload is refused");
    let written = std::fs::metadata(&dest).ok().map(|m| m.len());
    (err, written)
}

#[tokio::test]
async fn a_huge_declared_database_from_a_small_payload_is_refused_before_anything_is_written() {
    let site = Site::new().await;
    let record = site.backup(&Secrets::none()).await;
    let path = site.path("bomb.tar");
    // 150 KB that really expands to gigabytes, declared as a 20 GiB
    // database (under the 64 GiB limit) with a payload checksum that fits.
    let payload = bomb_payload(150_000);
    assert!(payload.len() < 200_000, "{}", payload.len());
    forge_payload(
        &path,
        &record.file_path,
        &payload,
        20 << 30,
        &"0".repeat(64),
        |_| {},
    );

    let limits = Limits::default();
    let (err, written) = unpack_into_fresh_folder(&path, &limits);
    let allowed = limits.expansion_allowed(payload.len() as u64);
    assert!(
        matches!(err, BackupError::DecompressionBomb { limit, .. } if limit == allowed),
        "{err}"
    );
    assert_eq!(written, None, "refused before the database file was made");
    let err = site.assert_refused(&path, "decompression_bomb").await;
    assert!(err.to_string().contains("100 times"), "{err}");
}

#[tokio::test]
async fn a_payload_that_expands_past_its_declared_size_stops_at_the_first_byte_over() {
    let site = Site::new().await;
    let record = site.backup(&Secrets::none()).await;
    let path = site.path("liar.tar");
    // Declared 8 MiB, within every limit; the payload goes on for
    // gigabytes.
    let declared: u64 = 8 << 20;
    let payload = bomb_payload(100_000);
    forge_payload(
        &path,
        &record.file_path,
        &payload,
        declared,
        &"0".repeat(64),
        |_| {},
    );
    let started = std::time::Instant::now();
    let (err, written) = unpack_into_fresh_folder(&path, &Limits::default());
    assert!(
        matches!(err, BackupError::DecompressionBomb { limit, .. } if limit == declared),
        "{err}"
    );
    let written = written.expect("decoding started");
    assert!(written <= declared, "{written} bytes written");
    // It went right up to the bound (less than one read short of it).
    assert!(written > declared - (64 << 10), "{written} bytes written");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "stopped at the bound, not after expanding it all"
    );
    site.assert_refused(&path, "decompression_bomb").await;
}

#[tokio::test]
async fn the_ratio_bound_refuses_an_honest_looking_declared_size() {
    let site = Site::new().await;
    let record = site.backup(&Secrets::none()).await;
    let path = site.path("zeros.tar");
    // 96 MiB of zeros, declared exactly, with the right checksums: only
    // the ratio (about 30,000 times) gives it away.
    let size: u64 = 96 << 20;
    let payload = zstd_zeros(size);
    let mut hasher = Sha256::new();
    let mebibyte = vec![0u8; 1 << 20];
    for _ in 0..(size >> 20) {
        hasher.update(&mebibyte);
    }
    let db_sha256 = hex::encode(hasher.finalize());
    forge_payload(&path, &record.file_path, &payload, size, &db_sha256, |_| {});

    let limits = Limits::default();
    assert!(size < limits.max_db_size);
    let (err, written) = unpack_into_fresh_folder(&path, &limits);
    assert_eq!(err.code(), "decompression_bomb", "{err}");
    assert_eq!(written, None, "refused before the database file was made");
    site.assert_refused(&path, "decompression_bomb").await;

    // Allowed a ratio that high, the same archive unpacks in full and is
    // refused only for what it holds: zeros are no database.
    let lenient = Limits {
        max_ratio: 1_000_000,
        ..limits
    };
    let err = site
        .verify_within(&path, &Secrets::none(), lenient)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "bad_database", "{err}");
    site.assert_no_work_files();
}

#[tokio::test]
async fn an_archive_larger_than_the_free_space_is_refused_before_unpacking() {
    let site = Site::new().await;
    let record = site.backup(&Secrets::none()).await;
    let free = archive::free_space(site.folder.work_dir()).unwrap();
    assert!(free > 0);
    // A reserve above what the file system has free leaves no room at all.
    let cramped = Limits {
        reserve: free + (1 << 30),
        ..Limits::default()
    };
    let err = site
        .verify_within(&record.file_path, &Secrets::none(), cramped)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BackupError::NoSpace { available: 0, .. }),
        "{err}"
    );
    assert_eq!(err.code(), "insufficient_storage");
    assert!(!err.is_bad_archive(), "the server's disk, not the archive");
    assert!(err.to_string().contains("free space"), "{err}");
    site.assert_no_work_files();
    let (err, written) = unpack_into_fresh_folder(&record.file_path, &cramped);
    assert_eq!(err.code(), "insufficient_storage", "{err}");
    assert_eq!(written, None, "nothing was written");

    // The same archive, with the usual reserve, verifies.
    site.verify_within(&record.file_path, &Secrets::none(), Limits::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_damaged_database_inside_a_sound_archive_is_refused() {
    let site = Site::new().await;
    let record = site.backup(&Secrets::none()).await;
    let mut db = snapshot_with(&site, "").await;
    // Page 2 onwards: overwrite a b-tree page with noise.
    let page = 4096;
    for b in &mut db[page * 2..page * 2 + 512] {
        *b = 0xa5;
    }
    let path = site.path("damaged.tar");
    forge(&path, &record.file_path, &db, |_| {});
    site.assert_refused(&path, "bad_database").await;
}

#[tokio::test]
async fn notes_are_checked_and_uploads_are_not_created() {
    let site = Site::new().await;
    let too_long = NewBackup {
        backup_type: BackupType::Manual,
        created_by: "test".into(),
        notes: Some("x".repeat(MAX_NOTES + 1)),
    };
    let err = create(
        site.store.as_ref(),
        &site.folder,
        &too_long,
        &Secrets::none(),
        Arc::new(Quiet),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "invalid");
    let upload = NewBackup {
        backup_type: BackupType::Uploaded,
        notes: None,
        ..too_long
    };
    let err = create(
        site.store.as_ref(),
        &site.folder,
        &upload,
        &Secrets::none(),
        Arc::new(Quiet),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "invalid");
    assert!(site.folder.list().unwrap().is_empty());
    site.assert_no_work_files();
}

#[tokio::test]
async fn an_import_gets_a_name_of_its_own_and_a_bad_one_is_not_kept() {
    let site = Site::new().await;
    let record = site.backup(&Secrets::none()).await;
    site.folder.ensure().unwrap();
    let upload = site.folder.work_dir().join("upload-1");
    std::fs::copy(&record.file_path, &upload).unwrap();
    let imported = import(
        &upload,
        &site.folder,
        &Secrets::none(),
        Limits::default(),
        Arc::new(Quiet),
    )
    .await
    .unwrap();
    assert_eq!(imported.backup_type, BackupType::Uploaded);
    assert_ne!(imported.id, record.id);
    assert_eq!(site.folder.list().unwrap().len(), 2);
    assert!(!upload.exists());

    std::fs::write(&upload, b"garbage").unwrap();
    let err = import(
        &upload,
        &site.folder,
        &Secrets::none(),
        Limits::default(),
        Arc::new(Quiet),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "not_a_backup");
    assert_eq!(site.folder.list().unwrap().len(), 2);
}

#[tokio::test]
async fn an_archive_from_an_older_schema_is_migrated_on_restore() {
    let site = Site::new().await;
    let record = site.backup(&Secrets::none()).await;
    // The database as Lectern had it before the audit log (schema 4), with
    // progress as migration 2 made it (its very text: the schema check
    // compares it).
    let accounts = include_str!("../../store/migrations/sqlite/0002_accounts.sql");
    let start = accounts.find("CREATE TABLE progress (").unwrap();
    let index = "CREATE INDEX progress_file ON progress (file_id);";
    let end = accounts.find(index).unwrap() + index.len();
    // Schema 4 still kept the file search in step with triggers (0008
    // dropped them) and had no index or course generations (0009, 0010).
    let search = include_str!("../../store/migrations/sqlite/0003_search.sql");
    let triggers = &search[search.find("CREATE TRIGGER file_search_insert").unwrap()
        ..search.find("CREATE TRIGGER file_search_delete").unwrap()];
    // Nor had 0011 rewritten the CHECK on a file's role.
    let role_check = "PRAGMA writable_schema = ON;
        UPDATE sqlite_schema SET sql = replace(sql,
            'role = ''material'' OR role = ''description'' OR role = ''cover'' OR role = ''subtitle''',
            'role IN (''material'', ''description'', ''cover'', ''subtitle'')')
        WHERE type = 'table' AND name = 'files';
        PRAGMA writable_schema = RESET;";
    let sql = format!(
        "DROP TABLE known_addresses; DROP TABLE audit_log; DROP TABLE progress; {}
         DROP TABLE index_generation; ALTER TABLE courses DROP COLUMN generation; {triggers}
         {role_check} DELETE FROM _sqlx_migrations WHERE version >= 5",
        &accounts[start..end]
    );
    let old = snapshot_with(&site, &sql).await;
    let path = site.path("old.tar");
    forge(&path, &record.file_path, &old, |m| {
        m["schema_version"] = 4.into();
        let counts = m["row_counts"].as_object_mut().unwrap();
        counts.remove("audit_log");
        counts.remove("known_addresses");
        counts.remove("index_generation");
    });
    let prepared = prepare_restore(
        &path,
        &site.folder,
        &Secrets::none(),
        Limits::default(),
        Arc::new(Quiet),
    )
    .await
    .unwrap();
    assert_eq!(prepared.manifest().schema_version, 4);
    assert_eq!(
        prepared.migrated_to,
        lectern_store::snapshot::latest_schema_version()
    );
    site.add_user("bob").await;
    site.store
        .replace_with_snapshot(prepared.database(), prepared.keep_audit_after())
        .await
        .unwrap();
    assert_eq!(site.usernames().await, ["alice"]);
    let entry = NewAuditEntry::now("test", "after.restore");
    site.store.record_audit(&entry).await.unwrap();
}
