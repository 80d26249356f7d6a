use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use lectern_demo::{write_demo, DemoError};

/// Every file under `root`, by `/`-separated relative path.
fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    collect(root, root, &mut files);
    files
}

fn collect(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let relative = path.strip_prefix(root).unwrap();
            let parts: Vec<_> = relative.iter().map(|p| p.to_str().unwrap()).collect();
            files.insert(parts.join("/"), fs::read(&path).unwrap());
        }
    }
}

fn subfolders(dir: &Path) -> Vec<PathBuf> {
    let mut folders: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    folders
}

fn fresh_demo() -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("library");
    write_demo(&root).unwrap();
    (temp, root)
}

#[test]
fn summary_matches_disk() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("nested/parents/library");
    let summary = write_demo(&root).unwrap();
    let files = read_tree(&root);
    let courses: Vec<_> = subfolders(&root)
        .iter()
        .flat_map(|c| subfolders(c))
        .collect();

    assert_eq!(summary.root, root);
    assert_eq!(summary.files, files.len());
    assert_eq!(
        summary.bytes,
        files.values().map(|b| b.len() as u64).sum::<u64>()
    );
    assert_eq!(summary.categories, subfolders(&root).len());
    assert_eq!(summary.courses, courses.len());
    assert!(
        summary.categories >= 3 && summary.courses >= 6,
        "{summary:?}"
    );
    assert!(summary.bytes < 4_000_000, "{summary:?}");
    for course in &courses {
        assert!(course.join("README.md").is_file(), "{course:?}");
        assert!(course.join("cover.png").is_file(), "{course:?}");
    }
    // Only the library itself is left in the parent: no partial folder.
    assert_eq!(fs::read_dir(root.parent().unwrap()).unwrap().count(), 1);
}

#[test]
fn every_kind_of_material_is_present() {
    let (_temp, root) = fresh_demo();
    let files = read_tree(&root);
    for ext in [
        ".md", ".txt", ".py", ".rs", ".pdf", ".png", ".wav", ".en.srt", ".de.srt", ".csv", ".html",
    ] {
        assert!(files.keys().any(|p| p.ends_with(ext)), "no {ext} file");
    }
    let ignore = files
        .iter()
        .find(|(p, _)| p.ends_with("/.lecternignore"))
        .expect(".lecternignore");
    assert!(String::from_utf8_lossy(ignore.1)
        .lines()
        .any(|l| l == "drafts/"));
    let course = ignore.0.trim_end_matches(".lecternignore");
    assert!(files
        .keys()
        .any(|p| p.starts_with(&format!("{course}drafts/"))));
    assert!(files
        .keys()
        .any(|p| p.rsplit('/').next().unwrap() == ".notes.txt"));
    let sections: Vec<_> = files.keys().flat_map(|p| p.split('/').nth(2)).collect();
    assert!(sections.contains(&"2 Basics") && sections.contains(&"10 Advanced"));
}

#[test]
fn pngs_decode_and_covers_are_640_by_360() {
    let (_temp, root) = fresh_demo();
    for (path, bytes) in read_tree(&root).iter().filter(|(p, _)| p.ends_with(".png")) {
        let reader = png::Decoder::new(bytes.as_slice()).read_info().unwrap();
        let (width, height) = (reader.info().width, reader.info().height);
        assert!(width > 0 && height > 0, "{path}");
        if path.ends_with("/cover.png") {
            assert_eq!((width, height), (640, 360), "{path}");
        }
    }
}

#[test]
fn pdfs_have_correct_xref_offsets() {
    let (_temp, root) = fresh_demo();
    let files = read_tree(&root);
    let pdfs: Vec<_> = files.iter().filter(|(p, _)| p.ends_with(".pdf")).collect();
    assert!(!pdfs.is_empty());
    for (path, pdf) in pdfs {
        assert!(pdf.starts_with(b"%PDF-"), "{path}");
        assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"), "{path}");
        check_xref(pdf);
    }
}

fn check_xref(pdf: &[u8]) {
    let text = String::from_utf8_lossy(pdf);
    let tail = &text[text.rfind("startxref\n").unwrap() + 10..];
    let xref_at: usize = tail.lines().next().unwrap().parse().unwrap();
    let mut lines = pdf[xref_at..].split(|&b| b == b'\n');
    assert_eq!(lines.next().unwrap(), b"xref");
    let header = String::from_utf8(lines.next().unwrap().to_vec()).unwrap();
    let count: usize = header.strip_prefix("0 ").unwrap().parse().unwrap();
    assert!(count > 3);
    let table_at = xref_at + 5 + header.len() + 1;
    for n in 1..count {
        let entry = &pdf[table_at + 20 * n..table_at + 20 * (n + 1)];
        assert_eq!(&entry[10..], b" 00000 n \n");
        let offset: usize = std::str::from_utf8(&entry[..10]).unwrap().parse().unwrap();
        assert!(
            pdf[offset..].starts_with(format!("{n} 0 obj").as_bytes()),
            "object {n}"
        );
    }
}

/// Checks the header and returns the duration in milliseconds.
fn check_wav(wav: &[u8]) -> u64 {
    let u16_at = |at: usize| u16::from_le_bytes([wav[at], wav[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes(wav[at..at + 4].try_into().unwrap());
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(u32_at(4) as usize, wav.len() - 8);
    assert_eq!(&wav[8..16], b"WAVEfmt ");
    assert_eq!((u32_at(16), u16_at(20), u16_at(22)), (16, 1, 1));
    let rate = u32_at(24);
    assert!((8_000..=16_000).contains(&rate));
    assert_eq!((u32_at(28), u16_at(32), u16_at(34)), (rate * 2, 2, 16));
    assert_eq!(&wav[36..40], b"data");
    let data_len = u32_at(40) as usize;
    assert_eq!(data_len, wav.len() - 44);
    assert!(wav[44..].iter().any(|&b| b != 0), "silent");
    let ms = (data_len / 2) as u64 * 1000 / u64::from(rate);
    assert!((2_000..=15_000).contains(&ms), "{ms} ms");
    ms
}

fn parse_srt_time(time: &str) -> u64 {
    let (hms, millis) = time.split_once(',').unwrap();
    let parts: Vec<u64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
    assert_eq!(parts.len(), 3);
    ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * 1000 + millis.parse::<u64>().unwrap()
}

fn check_srt(srt: &str, duration_ms: u64) {
    let mut previous_end = 0;
    let blocks: Vec<_> = srt.trim_end().split("\n\n").collect();
    assert!(blocks.len() >= 2);
    for (index, block) in blocks.iter().enumerate() {
        let lines: Vec<_> = block.lines().collect();
        assert_eq!(lines[0], (index + 1).to_string());
        let (start, end) = lines[1].split_once(" --> ").unwrap();
        let (start, end) = (parse_srt_time(start), parse_srt_time(end));
        assert!(previous_end <= start && start < end && end <= duration_ms);
        assert!(lines.len() > 2 && lines[2..].iter().all(|l| !l.trim().is_empty()));
        previous_end = end;
    }
}

#[test]
fn audio_and_subtitles_agree() {
    let (_temp, root) = fresh_demo();
    let files = read_tree(&root);
    let mut subtitles = 0;
    for (path, bytes) in files.iter().filter(|(p, _)| p.ends_with(".srt")) {
        let stem = path.rsplitn(3, '.').nth(2).unwrap();
        let wav = files
            .get(&format!("{stem}.wav"))
            .expect("audio beside subtitles");
        check_srt(std::str::from_utf8(bytes).unwrap(), check_wav(wav));
        subtitles += 1;
    }
    assert!(subtitles >= 2);
}

#[test]
fn output_is_deterministic() {
    let (_one, first) = fresh_demo();
    let (_two, second) = fresh_demo();
    assert_eq!(read_tree(&first), read_tree(&second));
}

#[test]
fn existing_empty_folder_is_filled() {
    let temp = tempfile::tempdir().unwrap();
    let summary = write_demo(temp.path()).unwrap();
    assert_eq!(summary.files, read_tree(temp.path()).len());
}

#[test]
fn non_empty_folder_is_refused_and_untouched() {
    let temp = tempfile::tempdir().unwrap();
    let dest = temp.path().join("mine");
    fs::create_dir(&dest).unwrap();
    fs::write(dest.join("notes.txt"), "keep me").unwrap();
    let err = write_demo(&dest).unwrap_err();
    assert!(
        matches!(&err, DemoError::NotEmpty(path) if path == &dest),
        "{err}"
    );
    assert!(err.to_string().contains("mine"));
    assert_eq!(read_tree(&dest).len(), 1);
    assert_eq!(fs::read(dest.join("notes.txt")).unwrap(), b"keep me");
    assert_eq!(fs::read_dir(temp.path()).unwrap().count(), 1);
}

#[test]
fn existing_file_is_refused_and_untouched() {
    let temp = tempfile::tempdir().unwrap();
    let dest = temp.path().join("library");
    fs::write(&dest, "not a folder").unwrap();
    let err = write_demo(&dest).unwrap_err();
    assert!(matches!(err, DemoError::NotEmpty(_)), "{err}");
    assert_eq!(fs::read(&dest).unwrap(), b"not a folder");
    assert_eq!(fs::read_dir(temp.path()).unwrap().count(), 1);
}
