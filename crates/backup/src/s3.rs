//! Off-site copies to S3-compatible object storage (AWS S3, MinIO, Garage,
//! Ceph, Backblaze B2, Wasabi, …) through `object_store`. An archive goes
//! up as a multipart upload, which the store shows only once it is
//! complete, and its size is read back before the copy counts as made.

use crate::BackupError;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{ObjectStore, WriteMultipart};
use std::path::Path;
use tokio::io::AsyncReadExt;

/// Each part of an upload (S3 wants at least 5 MiB for all but the last).
const PART: usize = 16 << 20;
/// Parts on their way at once: a few, so a long upload uses the link
/// without holding much of the archive in memory.
const PARTS_AT_ONCE: usize = 2;

/// A bucket, and a folder in it, that gets a copy of every new archive.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Target {
    pub bucket: String,
    /// Inside the bucket, without slashes at either end; may be empty.
    pub prefix: String,
    /// The service's address, for anything but AWS itself
    /// (`https://s3.example.org`, `http://127.0.0.1:9000`).
    pub endpoint: Option<String>,
    pub region: String,
    /// Both keys, or neither: then the standard `AWS_*` variables (and an
    /// instance's role on AWS) are used.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

/// Never the secret key, even in a debug log.
impl std::fmt::Debug for S3Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Target")
            .field("url", &self.url())
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl S3Target {
    pub const DEFAULT_REGION: &'static str = "us-east-1";

    /// A target from its `s3://BUCKET[/PREFIX]` address, in the default
    /// region, with no endpoint and no keys of its own.
    pub fn parse(url: &str) -> Result<S3Target, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{url:?} is not an s3://BUCKET/PREFIX address"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
        if !(3..=63).contains(&bucket.len()) || !bucket.chars().all(allowed) {
            return Err(format!(
                "{bucket:?} is not a bucket name (3 to 63 lowercase letters, digits, '-' and '.')"
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|part| part == "." || part == "..") {
            return Err(format!(
                "the folder {prefix:?} in the bucket has a . or .. in it"
            ));
        }
        Ok(S3Target {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            endpoint: None,
            region: Self::DEFAULT_REGION.to_owned(),
            access_key_id: None,
            secret_access_key: None,
        })
    }

    /// `s3://BUCKET/PREFIX`, as the configuration gave it.
    pub fn url(&self) -> String {
        match self.prefix.as_str() {
            "" => format!("s3://{}", self.bucket),
            prefix => format!("s3://{}/{prefix}", self.bucket),
        }
    }

    /// Where an archive named `filename` goes in the bucket.
    pub fn key(&self, filename: &str) -> Key {
        match self.prefix.as_str() {
            "" => Key::from(filename),
            prefix => Key::from(format!("{prefix}/{filename}")),
        }
    }

    /// The client for this bucket.
    pub fn store(&self) -> Result<AmazonS3, BackupError> {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&self.bucket)
            .with_region(&self.region);
        if let Some(endpoint) = &self.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let (Some(id), Some(secret)) = (&self.access_key_id, &self.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
        }
        builder.build().map_err(|e| self.failed(e))
    }

    /// Uploads the archive at `archive` as `filename`, then checks that
    /// the bucket holds all of it.
    pub async fn send(&self, archive: &Path, filename: &str) -> Result<(), BackupError> {
        let store = self.store()?;
        let key = self.key(filename);
        let size = upload(&store, &key, archive)
            .await
            .map_err(|e| self.failed(e))?;
        let stored = store.head(&key).await.map_err(|e| self.failed(e))?;
        if stored.size != size {
            return Err(BackupError::Offsite(format!(
                "{} holds {} bytes of {filename}, not its {size}",
                self.url(),
                stored.size
            )));
        }
        Ok(())
    }

    fn failed(&self, e: impl std::fmt::Display) -> BackupError {
        BackupError::Offsite(format!("cannot copy the backup to {}: {e}", self.url()))
    }
}

/// Sends the file in parts; on any failure the upload is abandoned, so no
/// partial object is left behind. Answers how many bytes went.
async fn upload(store: &AmazonS3, key: &Key, archive: &Path) -> Result<u64, UploadError> {
    let mut file = tokio::fs::File::open(archive).await?;
    let mut parts = WriteMultipart::new_with_chunk_size(store.put_multipart(key).await?, PART);
    let mut sent = 0u64;
    let result = async {
        loop {
            let mut part = Vec::with_capacity(PART);
            (&mut file).take(PART as u64).read_to_end(&mut part).await?;
            if part.is_empty() {
                return Ok(());
            }
            sent += part.len() as u64;
            parts.wait_for_capacity(PARTS_AT_ONCE).await?;
            parts.put(part.into());
        }
    }
    .await;
    match result {
        Ok(()) => {
            parts.finish().await?;
            Ok(sent)
        }
        Err(e) => {
            let _ = parts.abort().await;
            Err(e)
        }
    }
}

/// Reading the archive, or talking to the store.
#[derive(Debug, thiserror::Error)]
enum UploadError {
    #[error("cannot read the archive: {0}")]
    Read(#[from] std::io::Error),
    #[error("{0}")]
    Store(#[from] object_store::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_names_a_bucket_and_a_folder_in_it() {
        let t = S3Target::parse("s3://lectern-backups/site-a/nightly/").unwrap();
        assert_eq!(
            (t.bucket.as_str(), t.prefix.as_str()),
            ("lectern-backups", "site-a/nightly")
        );
        assert_eq!(t.url(), "s3://lectern-backups/site-a/nightly");
        assert_eq!(
            t.key("lectern-x.tar").as_ref(),
            "site-a/nightly/lectern-x.tar"
        );
        let bare = S3Target::parse("s3://bkp").unwrap();
        assert_eq!(
            (bare.url(), bare.key("a.tar").to_string()),
            ("s3://bkp".into(), "a.tar".into())
        );
        for bad in [
            "https://bkp/x",
            "s3://",
            "s3://ab",
            "s3://Upper",
            "s3://bkp/../x",
            "bkp",
        ] {
            assert!(S3Target::parse(bad).is_err(), "{bad} was taken");
        }
    }

    #[test]
    fn the_secret_key_never_shows_in_debug_output() {
        let mut t = S3Target::parse("s3://bkp").unwrap();
        t.access_key_id = Some("AKIDEXAMPLE".into());
        t.secret_access_key = Some("wJalrXUtnFEMI".into());
        let shown = format!("{t:?}");
        assert!(
            shown.contains("AKIDEXAMPLE") && !shown.contains("wJalrXUtnFEMI"),
            "{shown}"
        );
    }
}
