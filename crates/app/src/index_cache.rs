//! What is worked out from the library index alone (a course's files and
//! tree, the categories' course lists), kept and handed out again until
//! what it was built from changes. The store's generations say when: the
//! index's changes with every write to the index, a course's with every
//! write to that course's rows, each in the writing transaction, so an
//! entry is never served for an index it was not built from, and a scan
//! writing other courses leaves a course's entries in place. What depends on
//! the reader (their grants, their progress) is never kept here: it is read
//! for each request and applied to what is kept.

use crate::error::AppError;
use lectern_core::CourseId;
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

/// What an entry is built from: its generation is read before each use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The whole index (the categories' course lists).
    Index,
    /// One course's record and files.
    Course(CourseId),
}

impl Source {
    async fn generation(self, store: &dyn Store) -> Result<i64, AppError> {
        Ok(match self {
            Source::Index => store.index_generation().await?,
            Source::Course(id) => store.course_generation(id).await?,
        })
    }
}

type Entry = Arc<dyn Any + Send + Sync>;

#[derive(Default)]
pub struct IndexCache {
    /// Each entry with the generation of its source it was built at.
    kept: Mutex<HashMap<Key, (i64, Entry)>>,
}

impl IndexCache {
    /// The entry for `key` built from `source` as it is now: the one kept,
    /// or `build`'s answer, kept for the next caller when `source` did not
    /// change while it was built. An error is handed back, never kept.
    /// Answers the generation too, for [`derived`](Self::derived) values.
    pub async fn get_or_build<T, F, Fut>(
        &self,
        store: &dyn Store,
        key: Key,
        source: Source,
        build: F,
    ) -> Result<(i64, Arc<T>), AppError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, AppError>>,
    {
        let generation = source.generation(store).await?;
        self.get_or_build_at(store, key, source, generation, build)
            .await
    }

    /// [`get_or_build`](Self::get_or_build) with `source`'s generation as
    /// the caller read it (in the same query as what it read beside it).
    pub async fn get_or_build_at<T, F, Fut>(
        &self,
        store: &dyn Store,
        key: Key,
        source: Source,
        generation: i64,
        build: F,
    ) -> Result<(i64, Arc<T>), AppError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, AppError>>,
    {
        if let Some(value) = self.lookup(generation, key) {
            return Ok((generation, value));
        }
        let value = Arc::new(build().await?);
        // Built from reads after `generation` was read: kept only if no
        // write came in between, so no entry mixes two indexes.
        if source.generation(store).await? == generation {
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
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn lookup<T: Send + Sync + 'static>(&self, generation: i64, key: Key) -> Option<Arc<T>> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let (built_at, entry) = kept.get(&key)?;
        if *built_at != generation {
            return None;
        }
        entry.clone().downcast::<T>().ok()
    }

    fn keep(&self, generation: i64, key: Key, value: Entry) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= MAX_ENTRIES && !kept.contains_key(&key) {
            kept.clear();
        }
        // Generations are not ordered: an entry built just before a change
        // can replace a newer one, which the next request builds again.
        kept.insert(key, (generation, value));
    }
}
