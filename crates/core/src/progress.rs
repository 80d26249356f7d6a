//! Live progress of a running scan, written by the scanner and read by
//! whoever shows it (the CLI's progress bar, the HTTP status endpoint).
//! Atomics rather than messages so that readers poll at their own pace and a
//! slow reader never holds the scan back.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Starting,
    Walking,
    Hashing,
    Writing,
    Done,
}

const PHASES: [Phase; 5] = [
    Phase::Starting,
    Phase::Walking,
    Phase::Hashing,
    Phase::Writing,
    Phase::Done,
];

#[derive(Debug, Default)]
pub struct ScanProgress {
    phase: AtomicU8,
    files_seen: AtomicU64,
    bytes_to_hash: AtomicU64,
    bytes_hashed: AtomicU64,
    cancel: AtomicBool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProgressSnapshot {
    pub phase: Phase,
    pub files_seen: u64,
    pub bytes_hashed: u64,
    pub bytes_to_hash: u64,
    pub percent: f64,
}

impl ScanProgress {
    pub fn set_phase(&self, phase: Phase) {
        let index = PHASES.iter().position(|p| *p == phase).unwrap_or(0);
        self.phase.store(index as u8, Relaxed);
    }

    pub fn saw_files(&self, n: u64) {
        self.files_seen.fetch_add(n, Relaxed);
    }

    pub fn will_hash(&self, bytes: u64) {
        self.bytes_to_hash.store(bytes, Relaxed);
    }

    pub fn hashed(&self, bytes: u64) {
        self.bytes_hashed.fetch_add(bytes, Relaxed);
    }

    /// Progress as another instance saw it: a copy that shows the same.
    pub fn from_snapshot(seen: &ProgressSnapshot) -> ScanProgress {
        let progress = ScanProgress::default();
        progress.set_phase(seen.phase);
        progress.saw_files(seen.files_seen);
        progress.will_hash(seen.bytes_to_hash);
        progress.hashed(seen.bytes_hashed);
        progress
    }

    /// Asks the scan to stop at its next check; batches already committed stay.
    pub fn cancel(&self) {
        self.cancel.store(true, Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Relaxed)
    }

    pub fn snapshot(&self) -> ProgressSnapshot {
        let phase = PHASES[usize::from(self.phase.load(Relaxed)).min(PHASES.len() - 1)];
        let bytes_hashed = self.bytes_hashed.load(Relaxed);
        let bytes_to_hash = self.bytes_to_hash.load(Relaxed);
        ProgressSnapshot {
            phase,
            files_seen: self.files_seen.load(Relaxed),
            bytes_hashed,
            bytes_to_hash,
            percent: percent(phase, bytes_hashed, bytes_to_hash),
        }
    }
}

/// Hashing is what takes time, so the percentage follows the bytes to hash;
/// walking counts as the first 5 % and the final write as the last.
fn percent(phase: Phase, hashed: u64, total: u64) -> f64 {
    match phase {
        Phase::Starting | Phase::Walking => 0.0,
        Phase::Hashing if total == 0 => 5.0,
        Phase::Hashing => 5.0 + 90.0 * (hashed.min(total) as f64 / total as f64),
        Phase::Writing => 95.0,
        Phase::Done => 100.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_follows_hashed_bytes() {
        let p = ScanProgress::default();
        p.set_phase(Phase::Hashing);
        p.will_hash(200);
        p.hashed(100);
        let s = p.snapshot();
        assert_eq!(s.phase, Phase::Hashing);
        assert!((s.percent - 50.0).abs() < 0.01, "{}", s.percent);
        p.set_phase(Phase::Done);
        assert_eq!(p.snapshot().percent, 100.0);
    }

    #[test]
    fn cancel_is_seen() {
        let p = ScanProgress::default();
        assert!(!p.is_cancelled());
        p.cancel();
        assert!(p.is_cancelled());
    }
}
