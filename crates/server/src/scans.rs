//! The scan the server runs in the background: one at a time (the
//! operation lock decides), its progress readable by the status endpoint.

use lectern_core::progress::ScanProgress;
use lectern_core::ScanId;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct ScanSlot {
    current: Mutex<Option<(ScanId, Arc<ScanProgress>)>>,
}

impl ScanSlot {
    pub fn set(&self, id: ScanId, progress: Arc<ScanProgress>) {
        if let Ok(mut current) = self.current.lock() {
            *current = Some((id, progress));
        }
    }

    /// Clears the slot if it still holds scan `id`.
    pub fn clear(&self, id: ScanId) {
        if let Ok(mut current) = self.current.lock() {
            if current.as_ref().is_some_and(|(held, _)| *held == id) {
                *current = None;
            }
        }
    }

    pub fn current(&self) -> Option<(ScanId, Arc<ScanProgress>)> {
        self.current.lock().ok().and_then(|c| c.clone())
    }
}
