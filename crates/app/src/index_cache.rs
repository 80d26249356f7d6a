//! What is worked out from the library index alone (a course's files and
//! tree, the categories' course lists), kept and handed out again until the
//! index changes. The store's index generation says when: it changes in
//! the same transaction as every write to the index, so an entry is never
//! served for an index it was not built from. What depends on the reader
//! (their grants, their progress) is never kept here: it is read for each
//! request and applied to what is kept.

use crate::error::AppError;
use lectern_store::Store;
use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

/// Entries kept at most; past it the cache starts again empty (a library's
/// courses fit many times over; this only bounds a flood of odd ids).
const MAX_ENTRIES: usize = 16_384;

/// What an entry is, and of which course or category (0 when of none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub kind: &'static str,
    pub id: i64,
}

type Entry = Arc<dyn Any + Send + Sync>;

#[derive(Default)]
pub struct IndexCache {
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    generation: Option<i64>,
    entries: HashMap<Key, Entry>,
}

impl IndexCache {
    /// The entry for `key` built from the index as it is now: the one kept,
    /// or `build`'s answer, kept for the next caller when the index did not
    /// change while it was built. An error is handed back, never kept.
    /// Answers the generation too, for [`derived`](Self::derived) values.
    pub async fn get_or_build<T, F, Fut>(
        &self,
        store: &dyn Store,
        key: Key,
        build: F,
    ) -> Result<(i64, Arc<T>), AppError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, AppError>>,
    {
        let generation = store.index_generation().await?;
        if let Some(value) = self.lookup(generation, key) {
            return Ok((generation, value));
        }
        let value = Arc::new(build().await?);
        // Built from reads after `generation` was read: kept only if no
        // write came in between, so no entry mixes two indexes.
        if store.index_generation().await? == generation {
            self.keep(generation, key, value.clone());
        }
        Ok((generation, value))
    }

    /// What `build` works out from an entry read at `generation` (a front
    /// end's rendering of a course's tree), kept beside it under `key`.
    /// `build` reads nothing more from the store, so no check is needed.
    pub fn derived<T, E>(
        &self,
        generation: i64,
        key: Key,
        build: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
    {
        if let Some(value) = self.lookup(generation, key) {
            return Ok(value);
        }
        let value = Arc::new(build()?);
        self.keep(generation, key, value.clone());
        Ok(value)
    }

    /// Forgets every entry (after the whole database was replaced).
    pub fn clear(&self) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        *kept = Kept::default();
    }

    fn lookup<T: Send + Sync + 'static>(&self, generation: i64, key: Key) -> Option<Arc<T>> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.generation != Some(generation) {
            return None;
        }
        kept.entries.get(&key)?.clone().downcast::<T>().ok()
    }

    fn keep(&self, generation: i64, key: Key, value: Entry) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        // Generations are not ordered: an entry built just before a change
        // can push out newer ones, which the next request builds again.
        if kept.generation != Some(generation) || kept.entries.len() >= MAX_ENTRIES {
            *kept = Kept {
                generation: Some(generation),
                entries: HashMap::new(),
            };
        }
        kept.entries.insert(key, value);
    }
}
