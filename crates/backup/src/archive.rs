//! The archive file: an uncompressed tar with exactly two entries, in this
//! order: `manifest.json` (plain JSON) and the payload, the SQLite snapshot
//! compressed with zstd (`lectern.db.zst`) and then, when encrypted, wrapped
//! in age (`lectern.db.zst.age`). Standard tools open it:
//! `tar -xOf FILE manifest.json`, `tar -xOf FILE lectern.db.zst | zstd -d`.
//!
//! Reading trusts nothing: the layout is checked entry by entry, the payload
//! is hashed as it is decoded, and a database is unpacked only when its
//! declared size is within the [`Limits`] (the largest database, the
//! payload's size times a ratio, the free space): decoding then stops at
//! the first byte past that size, so a small file cannot expand without
//! bound.

use crate::manifest::{Encryption, Manifest};
use crate::secrets::Secrets;
use crate::stream::{HashingReader, HashingWriter};
use crate::{BackupError, Limits, Progress};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

pub const MANIFEST_NAME: &str = "manifest.json";
/// The largest manifest read; real ones are about a kilobyte.
const MAX_MANIFEST: u64 = 1 << 20;
const ZSTD_LEVEL: i32 = 3;
/// The largest zstd window a payload may ask the decoder for (128 MiB,
/// zstd's own default limit, stated so it cannot drift).
const ZSTD_WINDOW_LOG_MAX: u32 = 27;
const CHUNK: usize = 64 * 1024;
const COMPRESSION_THREADS: u32 = 2;

/// Sizes and SHA-256s of a payload just written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadFacts {
    pub size: u64,
    pub sha256: String,
    pub db_size: u64,
    pub db_sha256: String,
}

/// Tar's unit: headers and the padding after each entry's data.
const BLOCK: u64 = 512;
/// Room in the manifest for its row counts, on top of what a manifest with
/// none and the widest numbers takes (about 30 tables use under 2 KiB).
const ROW_COUNT_ROOM: usize = 4096;

/// The bytes kept for `manifest.json` in an archive being written, whose
/// payload facts and row counts are not known yet: `template` is the
/// manifest with everything else filled in.
pub fn manifest_room(template: &Manifest) -> u64 {
    let mut widest = template.clone();
    widest.schema_version = i64::MAX;
    widest.row_counts.clear();
    widest.payload.size = u64::MAX;
    widest.payload.db_size = u64::MAX;
    widest.payload.sha256 = "f".repeat(64);
    widest.payload.db_sha256 = "f".repeat(64);
    (widest.to_json().len() + ROW_COUNT_ROOM) as u64
}

/// Where the payload's bytes start in an archive whose manifest takes
/// `room` bytes: after its header, its padded data, and the payload's header.
fn payload_start(room: u64) -> u64 {
    BLOCK + room.div_ceil(BLOCK) * BLOCK + BLOCK
}

/// Starts the archive `dest` (a new file): compresses the snapshot `db`
/// straight into its payload entry, encrypting it when `encryptor` is
/// given, so the payload is written once. [`finish_archive`] then writes
/// the manifest into the `room` kept before it.
pub fn write_payload(
    db: &Path,
    dest: &Path,
    room: u64,
    encryptor: Option<age::Encryptor>,
    progress: &dyn Progress,
) -> Result<PayloadFacts, BackupError> {
    let failed = BackupError::io;
    let source = File::open(db).map_err(failed("cannot read the snapshot"))?;
    let total = source.metadata().map(|m| m.len()).ok();
    progress.step("compressing", total);
    let mut reader = HashingReader::new(BufReader::with_capacity(CHUNK, source), progress);
    let mut out = File::create_new(dest).map_err(failed("cannot create the archive"))?;
    out.seek(SeekFrom::Start(payload_start(room)))
        .map_err(failed("cannot write the archive"))?;
    let hashed = HashingWriter::new(BufWriter::with_capacity(CHUNK, out));
    let hashed = match encryptor {
        None => compress(&mut reader, hashed),
        Some(encryptor) => encryptor
            .wrap_output(hashed)
            .and_then(|stream| compress(&mut reader, stream))
            .and_then(|stream| stream.finish()),
    }
    .map_err(failed("cannot write the archive"))?;
    let (buffered, size, sha256) = hashed.finish();
    buffered
        .into_inner()
        .map_err(|e| failed("cannot write the archive")(e.into_error()))?;
    let (db_size, db_sha256) = reader.finish();
    Ok(PayloadFacts {
        size,
        sha256,
        db_size,
        db_sha256,
    })
}

fn compress<W: Write>(source: &mut impl Read, out: W) -> io::Result<W> {
    let mut encoder = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?;
    encoder.include_checksum(true)?;
    // zstd's own worker threads: the output is the same format, and the
    // cores the snapshot's check leaves idle are put to work.
    encoder.multithread(COMPRESSION_THREADS)?;
    io::copy(source, &mut encoder)?;
    encoder.finish()
}

/// Completes the archive [`write_payload`] started: the manifest (padded
/// with spaces to the `room` kept for it), both entries' headers and the
/// end of the tar; then syncs it to disk.
pub fn finish_archive(dest: &Path, manifest: &Manifest, room: u64) -> Result<(), BackupError> {
    let failed = BackupError::io("cannot write the archive");
    let mut json = manifest.to_json();
    let Some(padding) = (room as usize).checked_sub(json.len() + 1) else {
        return Err(BackupError::Invalid(format!(
            "the manifest takes {} bytes, over the {room} kept for it",
            json.len()
        )));
    };
    json.extend(std::iter::repeat_n(b' ', padding));
    json.push(b'\n');
    let mtime = u64::try_from(manifest.created_at.unix_timestamp()).unwrap_or(0);
    let result = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).open(dest)?;
        let start = payload_start(room);
        let end = start + manifest.payload.size;
        // The payload's padding to a whole block, then two zero blocks.
        let tail = end.div_ceil(BLOCK) * BLOCK - end + 2 * BLOCK;
        file.seek(SeekFrom::Start(end))?;
        file.write_all(&vec![0; tail as usize])?;
        file.seek(SeekFrom::Start(0))?;
        let mut head = Vec::with_capacity(start as usize);
        head.extend_from_slice(header(MANIFEST_NAME, room, mtime)?.as_bytes());
        head.extend_from_slice(&json);
        head.resize((start - BLOCK) as usize, 0);
        head.extend_from_slice(
            header(&manifest.payload.name, manifest.payload.size, mtime)?.as_bytes(),
        );
        file.write_all(&head)?;
        file.sync_all()
    })();
    result.map_err(failed)
}

fn header(name: &str, size: u64, mtime: u64) -> io::Result<tar::Header> {
    let mut header = tar::Header::new_ustar();
    header.set_path(name)?;
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    Ok(header)
}

/// An archive whose layout and manifest passed; its payload is unread.
#[derive(Debug, Clone)]
pub struct Layout {
    pub manifest: Manifest,
    /// Where the payload's bytes start in the file.
    payload_offset: u64,
}

/// Reads the manifest and checks the layout: exactly `manifest.json` then
/// the payload the manifest names, both plain files with plain names, all
/// there. Cheap: the payload is skipped, not read.
pub fn read_layout(path: &Path, latest_schema: i64) -> Result<Layout, BackupError> {
    let file =
        File::open(path).map_err(BackupError::io(format!("cannot open {}", path.display())))?;
    let file_size = file
        .metadata()
        .map_err(BackupError::io("cannot read the archive"))?
        .len();
    if file_size == 0 {
        return Err(BackupError::NotABackup("the file is empty".into()));
    }
    let mut archive = tar::Archive::new(file);
    let entries = archive
        .entries_with_seek()
        .map_err(BackupError::io("cannot read the archive"))?;
    // Raw: GNU long names and pax headers are entries of their own here,
    // and so refused, rather than silently renaming what follows.
    let mut entries = entries.raw(true);

    let mut first = match entries.next() {
        None => return Err(BackupError::NotABackup("it holds no files".into())),
        // A short start that begins like ours was cut; anything else is
        // just not an archive.
        Some(Err(e)) if is_short_block(&e) && starts_like_ours(path) => {
            return Err(BackupError::Truncated(
                "it ends inside its first header".into(),
            ))
        }
        // The tar crate's message may quote the file's bytes: not repeated.
        Some(Err(_)) => return Err(BackupError::NotABackup("it is not a tar archive".into())),
        Some(Ok(entry)) => entry,
    };
    let name = plain_name(&first)?;
    if name != crate::archive::MANIFEST_NAME {
        return Err(BackupError::NotABackup(format!(
            "its first entry is {name:?}, not {MANIFEST_NAME}"
        )));
    }
    if first.size() > MAX_MANIFEST {
        return Err(BackupError::BadManifest("it is larger than 1 MiB".into()));
    }
    let mut json = Vec::new();
    (&mut first)
        .take(MAX_MANIFEST)
        .read_to_end(&mut json)
        .map_err(|e| BackupError::Truncated(format!("the manifest cannot be read ({e})")))?;
    if (json.len() as u64) < first.size() {
        return Err(BackupError::Truncated("the manifest is cut short".into()));
    }
    drop(first);
    let manifest = Manifest::parse(&json, latest_schema)?;

    let second = match entries.next() {
        None => return Err(BackupError::Truncated("the payload is missing".into())),
        Some(Err(e)) => return Err(truncated_or_bad(e)),
        Some(Ok(entry)) => entry,
    };
    let name = plain_name(&second)?;
    if name != manifest.payload.name {
        return Err(BackupError::BadLayout(format!(
            "the second entry is {name:?}; the manifest names {:?}",
            manifest.payload.name
        )));
    }
    let payload_offset = second.raw_file_position();
    if second.size() != manifest.payload.size {
        return Err(BackupError::BadManifest(format!(
            "the payload is {} bytes; the manifest says {}",
            second.size(),
            manifest.payload.size
        )));
    }
    if payload_offset.saturating_add(second.size()) > file_size {
        return Err(BackupError::Truncated("the payload is cut short".into()));
    }
    drop(second);

    match entries.next() {
        None => Ok(Layout {
            manifest,
            payload_offset,
        }),
        Some(Ok(extra)) => Err(BackupError::BadLayout(format!(
            "it holds an extra entry {:?}",
            String::from_utf8_lossy(&extra.path_bytes())
        ))),
        Some(Err(e)) => Err(truncated_or_bad(e)),
    }
}

fn truncated_or_bad(e: io::Error) -> BackupError {
    match is_short_block(&e) {
        true => BackupError::Truncated("it ends inside an entry's header".into()),
        false => BackupError::BadLayout("it is not a well-formed tar archive".into()),
    }
}

fn starts_like_ours(path: &Path) -> bool {
    let mut start = [0u8; MANIFEST_NAME.len()];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut start))
        .is_ok_and(|()| start == MANIFEST_NAME.as_bytes())
}

/// The tar crate's error for a header cut short by the end of the file.
fn is_short_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::UnexpectedEof || e.to_string().contains("entire block")
}

/// An entry's name, when it is a regular file with a plain name: no
/// folders, no `..`, nothing absolute, no links or devices.
fn plain_name<R: Read>(entry: &tar::Entry<'_, R>) -> Result<String, BackupError> {
    let bytes = entry.path_bytes();
    let shown = String::from_utf8_lossy(&bytes).into_owned();
    let name = std::str::from_utf8(&bytes)
        .map_err(|_| BackupError::BadLayout(format!("the entry name {shown:?} is not UTF-8")))?;
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !name.chars().any(char::is_control);
    if !plain {
        return Err(BackupError::BadLayout(format!(
            "the entry name {shown:?} is not a plain file name"
        )));
    }
    let kind = entry.header().entry_type();
    if !(kind.is_file() || kind == tar::EntryType::Continuous) || kind.is_gnu_sparse() {
        return Err(BackupError::BadLayout(format!(
            "the entry {shown:?} is not a regular file ({kind:?})"
        )));
    }
    Ok(name.to_owned())
}

/// Decrypts and decompresses the payload into `dest` (a new file) in one
/// pass that also hashes it, stopping as soon as the output would exceed
/// the declared size; then checks both sizes and SHA-256s. A declared size
/// over the [`Limits`] is refused first, with nothing written. When
/// decoding fails, a payload that does not match its checksum is reported
/// as that (it is damaged), not as whatever the decoder tripped on; `dest`
/// then holds at most the declared size, for the caller to remove.
pub fn decode_payload(
    path: &Path,
    layout: &Layout,
    secrets: &Secrets,
    limits: &Limits,
    dest: &Path,
    progress: &dyn Progress,
) -> Result<(), BackupError> {
    let manifest = &layout.manifest;
    let declared = manifest.payload.db_size;
    within_limits(&manifest.payload, limits, dest)?;
    progress.step("decompressing", Some(manifest.payload.size));
    let mut compressed = HashingReader::new(open_payload(path, layout)?, progress);
    let identities = match secrets.identities(manifest.encryption) {
        Ok(identities) => identities,
        // A damaged archive is reported as damaged, whatever it lacks.
        Err(missing) => {
            payload_matches(compressed, &manifest.payload)?;
            return Err(missing);
        }
    };
    let decoded = decode_into(
        &mut compressed,
        manifest.encryption,
        &identities,
        declared,
        dest,
    );
    payload_matches(compressed, &manifest.payload)?;
    let (size, sha256) = decoded?;
    if size != declared {
        return Err(BackupError::Corrupt(format!(
            "the database is {size} bytes; the manifest says {declared}"
        )));
    }
    if sha256 != manifest.payload.db_sha256 {
        return Err(BackupError::ChecksumMismatch("database"));
    }
    Ok(())
}

/// Refuses, before anything is written, a payload whose declared database
/// is over one of the [`Limits`]; what is declared is then the least bound,
/// and [`decode_into`] stops at its first byte past it.
fn within_limits(
    payload: &crate::manifest::Payload,
    limits: &Limits,
    dest: &Path,
) -> Result<(), BackupError> {
    let declared = payload.db_size;
    if declared > limits.max_db_size {
        return Err(BackupError::TooLarge {
            size: declared,
            limit: limits.max_db_size,
        });
    }
    let allowed = limits.expansion_allowed(payload.size);
    if declared > allowed {
        return Err(BackupError::DecompressionBomb {
            limit: allowed,
            bound: format!(
                "its manifest declares {declared}, over {} times its {} compressed bytes",
                limits.max_ratio, payload.size
            ),
        });
    }
    let folder = dest.parent().unwrap_or(Path::new("."));
    let free = free_space(folder).map_err(BackupError::io(format!(
        "cannot read the free space of {}",
        folder.display()
    )))?;
    let available = free.saturating_sub(limits.reserve);
    if declared > available {
        return Err(BackupError::NoSpace {
            needed: declared,
            available,
            reserve: limits.reserve,
        });
    }
    Ok(())
}

/// The bytes an unprivileged process may still write on the file system
/// that holds `dir`.
#[cfg(unix)]
pub fn free_space(dir: &Path) -> io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "the path holds a NUL byte"))?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is NUL-terminated and outlives the call, and `stat`
    // is room for one statvfs, which the call fills when it returns 0.
    if unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: filled by the successful call above.
    let stat = unsafe { stat.assume_init() };
    // The fields' widths differ between platforms.
    #[allow(clippy::unnecessary_cast)]
    let (blocks, block_size) = (stat.f_bavail as u64, stat.f_frsize as u64);
    Ok(blocks.saturating_mul(block_size))
}

/// Elsewhere the free space is not asked: writing fails when it runs out.
#[cfg(not(unix))]
pub fn free_space(_dir: &Path) -> io::Result<u64> {
    Ok(u64::MAX)
}

/// Reads the rest of the payload through its hasher (what a decoder left
/// unread still counts) and checks its size and SHA-256.
fn payload_matches<R: Read>(
    mut compressed: HashingReader<'_, R>,
    payload: &crate::manifest::Payload,
) -> Result<(), BackupError> {
    io::copy(&mut compressed, &mut io::sink())
        .map_err(BackupError::io("cannot read the archive"))?;
    let (size, sha256) = compressed.finish();
    if size < payload.size {
        return Err(BackupError::Truncated("the payload is cut short".into()));
    }
    if sha256 != payload.sha256 {
        return Err(BackupError::ChecksumMismatch("payload"));
    }
    Ok(())
}

/// Decodes the payload read from `compressed` into `dest`; returns the
/// database's size and SHA-256.
fn decode_into(
    compressed: &mut impl Read,
    encryption: Encryption,
    identities: &[Box<dyn age::Identity>],
    declared: u64,
    dest: &Path,
) -> Result<(u64, String), BackupError> {
    let plain: Box<dyn Read + '_> = match encryption {
        Encryption::None => Box::new(compressed),
        Encryption::Passphrase | Encryption::Recipients => {
            let decryptor =
                age::Decryptor::new_buffered(BufReader::new(compressed)).map_err(decrypt_error)?;
            let identities = identities.iter().map(|i| i.as_ref());
            Box::new(decryptor.decrypt(identities).map_err(decrypt_error)?)
        }
    };
    let mut decoder =
        zstd::stream::read::Decoder::new(plain).map_err(|e| BackupError::Corrupt(e.to_string()))?;
    decoder
        .window_log_max(ZSTD_WINDOW_LOG_MAX)
        .map_err(|e| BackupError::Corrupt(e.to_string()))?;
    let out = File::create_new(dest).map_err(BackupError::io("cannot write the database"))?;
    let mut writer = HashingWriter::new(BufWriter::with_capacity(CHUNK, out));
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = decoder
            .read(&mut buf)
            .map_err(|e| BackupError::Corrupt(format!("it does not decompress ({e})")))?;
        if n == 0 {
            break;
        }
        // Checked before the bytes are written: the file never holds
        // more than the bound.
        if writer.count() + n as u64 > declared {
            return Err(BackupError::DecompressionBomb {
                limit: declared,
                bound: "the size its manifest declares".into(),
            });
        }
        writer
            .write_all(&buf[..n])
            .map_err(BackupError::io("cannot write the database"))?;
    }
    let (buffered, size, sha256) = writer.finish();
    buffered
        .into_inner()
        .map_err(|e| BackupError::io("cannot write the database")(e.into_error()))?;
    Ok((size, sha256))
}

fn open_payload(path: &Path, layout: &Layout) -> Result<BufReader<io::Take<File>>, BackupError> {
    let failed = BackupError::io("cannot read the archive");
    let mut file = File::open(path).map_err(failed)?;
    file.seek(SeekFrom::Start(layout.payload_offset))
        .map_err(BackupError::io("cannot read the archive"))?;
    Ok(BufReader::new(file.take(layout.manifest.payload.size)))
}

fn decrypt_error(e: age::DecryptError) -> BackupError {
    match e {
        age::DecryptError::DecryptionFailed
        | age::DecryptError::KeyDecryptionFailed
        | age::DecryptError::NoMatchingKeys => BackupError::WrongSecret,
        age::DecryptError::ExcessiveWork { .. } => BackupError::Corrupt(
            "its passphrase encryption asks for more work than Lectern allows".into(),
        ),
        other => BackupError::Corrupt(format!("it does not decrypt ({other})")),
    }
}
