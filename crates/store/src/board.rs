//! What several Lectern instances on one shared database tell each other:
//! who is alive, maintenance and its drain confirmations, the operation
//! running now, and who runs each scheduled job. The application layer's
//! shared coordination (`lectern_app::coordination::Shared`) is built on a
//! [`Board`]; a database only one machine opens (the embedded SQLite) has
//! none, and keeps all of it in the process.
//!
//! The sign-in attempts every instance counts are kept beside it, through
//! [`LoginTallies`] (`lectern_app::login_limits::SharedLimits`): the store
//! keeps the rows and the database's clock, the application layer decides
//! what they mean.

use crate::Result;
use async_trait::async_trait;

/// The operation running now, as another instance sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PostedOperation {
    pub id: String,
    /// The instance running it.
    pub instance: String,
    pub kind: String,
    pub started_by: String,
    pub started_at: i64,
    pub step: String,
    pub scan_id: Option<i64>,
    /// A scan's progress as JSON (`lectern_core::progress::ProgressSnapshot`).
    pub progress: Option<String>,
    /// Another instance asked it to stop.
    pub cancel: bool,
}

/// A maintenance window as every instance sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub epoch: u64,
    pub reason: String,
    pub by: String,
}

#[async_trait]
pub trait Board: Send + Sync {
    /// `instance` is alive now (by the database's clock).
    async fn beat(&self, instance: &str) -> Result<()>;
    /// The instances whose last beat is younger than `lease_ms`.
    async fn live(&self, lease_ms: i64) -> Result<Vec<String>>;
    /// Forgets `instance` (it stopped cleanly).
    async fn leave(&self, instance: &str) -> Result<()>;

    /// Opens a new window; its epoch.
    async fn begin_maintenance(&self, reason: &str, by: &str) -> Result<u64>;
    /// Closes window `epoch` (a newer one stays open).
    async fn end_maintenance(&self, epoch: u64) -> Result<()>;
    async fn maintenance(&self) -> Result<Option<Window>>;
    async fn confirm_drained(&self, instance: &str, epoch: u64) -> Result<()>;
    async fn drained(&self, epoch: u64) -> Result<Vec<String>>;

    /// Posts (or updates) the running operation; the cancel flag stays as
    /// it is. Returns whether someone asked it to stop.
    async fn post_operation(&self, operation: &PostedOperation) -> Result<bool>;
    /// Operation `id` ended (a newer one is left alone).
    async fn clear_operation(&self, id: &str) -> Result<()>;
    /// The running operation, unless the instance running it is gone (no
    /// beat for `lease_ms`): it died with its process.
    async fn operation(&self, lease_ms: i64) -> Result<Option<PostedOperation>>;
    /// Asks operation `id` to stop; false when it is not running.
    async fn cancel_operation(&self, id: &str) -> Result<bool>;

    /// True for exactly one caller per (`job`, `slot`).
    async fn try_lead(&self, job: &str, slot: i64, instance: &str) -> Result<bool>;
}

/// One key's sign-in tally, as the application layer left it. The store
/// keeps it without reading its meaning: what counts, and when a key is
/// refused, is decided by `lectern_app::login_limits`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tally {
    pub level: f64,
    /// When it was last touched: microseconds since the Unix epoch, by the
    /// database's clock (as are the other two).
    pub at: i64,
    pub until: Option<i64>,
    /// From when it holds nothing any more: a full table forgets such
    /// rows first.
    pub idle_from: i64,
}

/// Where a tally is kept: its kind (one per rule, each bounded on its
/// own) and its key within that kind, as bytes (a username may hold any
/// character, NUL too).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TallyKey {
    pub kind: String,
    pub key: Vec<u8>,
}

/// What [`LoginTallies::update`] runs between reading and writing: given
/// the database's clock now (microseconds since the Unix epoch) and the
/// tallies of the keys in their order (`None`: none kept), it leaves each
/// as it is to be kept (`None` forgets it).
pub type Decide<'a> = dyn FnMut(i64, &mut [Option<Tally>]) + Send + 'a;

/// Sign-in tallies shared by every instance on the database.
#[async_trait]
pub trait LoginTallies: Send + Sync {
    /// Reads the tallies of `keys` and the database's clock, lets `decide`
    /// change them, and keeps the result, while no other caller on any
    /// instance can touch those keys: checking and counting are one step
    /// everywhere. A kind that grows past `max_rows` then forgets its idle
    /// rows, and if that is not enough its least recently touched, down to
    /// nine tenths of `max_rows`, so that a storm of made-up usernames
    /// cannot grow the table without bound.
    async fn update(
        &self,
        keys: &[TallyKey],
        max_rows: usize,
        decide: &mut Decide<'_>,
    ) -> Result<()>;
}
