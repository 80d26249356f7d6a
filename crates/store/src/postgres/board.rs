//! The [`Board`] on PostgreSQL (migration 0002), and the sign-in tallies
//! beside it (migration 0003): rows every instance reads and writes, timed
//! by the database's clock.

use super::Tx;
use crate::board::{Board, Decide, LoginTallies, PostedOperation, Tally, TallyKey, Window};
use crate::rows::Columns;
use crate::Result;
use async_trait::async_trait;
use sqlx::postgres::{PgPool, PgRow};

pub struct PgBoard {
    pool: PgPool,
}

impl PgBoard {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn posted(row: &PgRow) -> Result<PostedOperation> {
    Ok(PostedOperation {
        id: row.text("id")?.to_owned(),
        instance: row.text("instance")?.to_owned(),
        kind: row.text("kind")?.to_owned(),
        started_by: row.text("started_by")?.to_owned(),
        started_at: row.int("started_at")?,
        step: row.text("step")?.to_owned(),
        scan_id: row.int_or_null("scan_id")?,
        progress: row.text_or_null("progress")?.map(str::to_owned),
        cancel: row.flag("cancel")?,
    })
}

#[async_trait]
impl Board for PgBoard {
    async fn beat(&self, instance: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO instances (id, last_seen) VALUES ($1, clock_timestamp())
             ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen",
        )
        .bind(instance)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn live(&self, lease_ms: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM instances
             WHERE last_seen > clock_timestamp() - make_interval(secs => $1::float8 / 1000)
             ORDER BY id",
        )
        .bind(lease_ms)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn leave(&self, instance: &str) -> Result<()> {
        sqlx::query("DELETE FROM instances WHERE id = $1")
            .bind(instance)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn begin_maintenance(&self, reason: &str, by: &str) -> Result<u64> {
        let epoch: i64 = sqlx::query_scalar(
            "UPDATE maintenance SET epoch = epoch + 1, active = true, reason = $1,
                 by_instance = $2
             WHERE id = 1 RETURNING epoch",
        )
        .bind(reason)
        .bind(by)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(epoch).unwrap_or(0))
    }

    async fn end_maintenance(&self, epoch: u64) -> Result<()> {
        let epoch = i64::try_from(epoch).unwrap_or(i64::MAX);
        sqlx::query("UPDATE maintenance SET active = false WHERE id = 1 AND epoch = $1")
            .bind(epoch)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM drained WHERE epoch <= $1")
            .bind(epoch)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn maintenance(&self) -> Result<Option<Window>> {
        let row = sqlx::query("SELECT epoch, reason, by_instance FROM maintenance WHERE active")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(Window {
                epoch: u64::try_from(row.int("epoch")?).unwrap_or(0),
                reason: row.text_or_null("reason")?.unwrap_or_default().to_owned(),
                by: row
                    .text_or_null("by_instance")?
                    .unwrap_or_default()
                    .to_owned(),
            })
        })
        .transpose()
    }

    async fn confirm_drained(&self, instance: &str, epoch: u64) -> Result<()> {
        sqlx::query("INSERT INTO drained (epoch, instance) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(i64::try_from(epoch).unwrap_or(i64::MAX))
            .bind(instance)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn drained(&self, epoch: u64) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT instance FROM drained WHERE epoch = $1 ORDER BY instance")
                .bind(i64::try_from(epoch).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn post_operation(&self, o: &PostedOperation) -> Result<bool> {
        // A new operation starts with no cancel request; the same one keeps
        // the request it has.
        let cancel: bool = sqlx::query_scalar(
            "INSERT INTO running_operation
                 (slot, id, instance, kind, started_by, started_at, step, scan_id, progress)
             VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (slot) DO UPDATE SET
                 id = excluded.id, instance = excluded.instance, kind = excluded.kind,
                 started_by = excluded.started_by, started_at = excluded.started_at,
                 step = excluded.step, scan_id = excluded.scan_id,
                 progress = excluded.progress,
                 cancel = running_operation.cancel AND running_operation.id = excluded.id
             RETURNING cancel",
        )
        .bind(&o.id)
        .bind(&o.instance)
        .bind(&o.kind)
        .bind(&o.started_by)
        .bind(o.started_at)
        .bind(&o.step)
        .bind(o.scan_id)
        .bind(&o.progress)
        .fetch_one(&self.pool)
        .await?;
        Ok(cancel)
    }

    async fn clear_operation(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM running_operation WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn operation(&self, lease_ms: i64) -> Result<Option<PostedOperation>> {
        let row = sqlx::query(
            "SELECT o.* FROM running_operation o JOIN instances i ON i.id = o.instance
             WHERE i.last_seen > clock_timestamp() - make_interval(secs => $1::float8 / 1000)",
        )
        .bind(lease_ms)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(posted).transpose()
    }

    async fn cancel_operation(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE running_operation SET cancel = true WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn try_lead(&self, job: &str, slot: i64, instance: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO job_leads (job, slot, instance) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(job)
        .bind(slot)
        .bind(instance)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            // Old slots tell nothing any more.
            sqlx::query("DELETE FROM job_leads WHERE job = $1 AND slot < $2 - 86400")
                .bind(job)
                .bind(slot)
                .execute(&self.pool)
                .await?;
        }
        Ok(done.rows_affected() == 1)
    }
}

/// The first of the two 32-bit keys of every tally's advisory lock ("ltal"
/// in ASCII). Two-key advisory locks are a key space apart from the
/// store's one-key write lock, so the two never meet.
const TALLY_LOCKS: i32 = 0x6c74_616c;

/// The database's clock now, in microseconds since the Unix epoch.
const NOW_US: &str = "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint";

/// The second key of `key`'s advisory lock: a hash (FNV-1a) that is the
/// same in every build, so that instances built apart take the same lock.
/// Two keys that share it only wait for each other a moment.
fn lock_of(key: &TallyKey) -> i32 {
    let bytes = key.kind.bytes().chain([0]).chain(key.key.iter().copied());
    let hash = bytes.fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    i32::from_be_bytes(hash.to_be_bytes())
}

/// Takes the advisory locks of `keys` until `tx` ends, in one order
/// everywhere, so that two callers sharing keys never wait on each other
/// in a circle. A row lock would not do: a key seen for the first time
/// has no row to lock yet.
async fn lock_keys(tx: &mut Tx, keys: &[TallyKey]) -> Result<()> {
    let mut locks: Vec<i32> = keys.iter().map(lock_of).collect();
    locks.sort_unstable();
    locks.dedup();
    for lock in locks {
        sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind(TALLY_LOCKS)
            .bind(lock)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The tally kept for `key`, if one is.
async fn read_tally(tx: &mut Tx, key: &TallyKey) -> Result<Option<Tally>> {
    let row = sqlx::query(
        "SELECT level, touched_at, locked_until, idle_from FROM login_tallies
         WHERE kind = $1 AND key = $2",
    )
    .bind(&key.kind)
    .bind(&key.key)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|row| {
        Ok(Tally {
            level: row.real("level")?,
            at: row.int("touched_at")?,
            until: row.int_or_null("locked_until")?,
            idle_from: row.int("idle_from")?,
        })
    })
    .transpose()
}

/// Keeps `tally` for `key` (`None` forgets it).
async fn write_tally(tx: &mut Tx, key: &TallyKey, tally: Option<&Tally>) -> Result<()> {
    let Some(tally) = tally else {
        sqlx::query("DELETE FROM login_tallies WHERE kind = $1 AND key = $2")
            .bind(&key.kind)
            .bind(&key.key)
            .execute(&mut **tx)
            .await?;
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO login_tallies (kind, key, level, touched_at, locked_until, idle_from)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (kind, key) DO UPDATE SET
             level = excluded.level, touched_at = excluded.touched_at,
             locked_until = excluded.locked_until, idle_from = excluded.idle_from",
    )
    .bind(&key.kind)
    .bind(&key.key)
    .bind(tally.level)
    .bind(tally.at)
    .bind(tally.until)
    .bind(tally.idle_from)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl PgBoard {
    /// Keeps `kind` within `max_rows` (see [`LoginTallies::update`]).
    /// Bookkeeping only: it runs after the count was made, and a failure
    /// leaves a few rows too many for a while, so it is logged, not
    /// returned (returning it would undo a decision already kept).
    async fn prune(&self, kind: &str, max_rows: usize, now: i64) {
        if let Err(e) = self.try_prune(kind, max_rows, now).await {
            tracing::warn!("cannot forget old sign-in tallies: {e}");
        }
    }

    /// Forgets idle rows, then the least recently touched, once `kind`
    /// holds more than `max_rows`. Rows another caller holds are skipped,
    /// never waited for: a prune never takes part in a deadlock.
    async fn try_prune(&self, kind: &str, max_rows: usize, now: i64) -> Result<()> {
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM login_tallies WHERE kind = $1")
            .bind(kind)
            .fetch_one(&self.pool)
            .await?;
        let max = i64::try_from(max_rows.max(1)).unwrap_or(i64::MAX);
        if rows <= max {
            return Ok(());
        }
        let idle = sqlx::query(
            "DELETE FROM login_tallies WHERE (kind, key) IN (
                 SELECT kind, key FROM login_tallies WHERE kind = $1 AND idle_from <= $2
                 FOR UPDATE SKIP LOCKED)",
        )
        .bind(kind)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let target = max - (max / 10).max(1);
        let over = rows - i64::try_from(idle).unwrap_or(i64::MAX) - target;
        if over > 0 {
            sqlx::query(
                "DELETE FROM login_tallies WHERE (kind, key) IN (
                     SELECT kind, key FROM login_tallies WHERE kind = $1
                     ORDER BY touched_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            )
            .bind(kind)
            .bind(over)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl LoginTallies for PgBoard {
    async fn update(
        &self,
        keys: &[TallyKey],
        max_rows: usize,
        decide: &mut Decide<'_>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        lock_keys(&mut tx, keys).await?;
        // Read once the locks are held: the clock then never runs behind
        // the time the last holder kept.
        let now: i64 = sqlx::query_scalar(NOW_US).fetch_one(&mut *tx).await?;
        let mut before = Vec::with_capacity(keys.len());
        for key in keys {
            before.push(read_tally(&mut tx, key).await?);
        }
        let mut after = before.clone();
        decide(now, &mut after);
        let mut added: Vec<&str> = Vec::new();
        for ((key, old), new) in keys.iter().zip(&before).zip(&after) {
            if old != new {
                write_tally(&mut tx, key, new.as_ref()).await?;
            }
            if old.is_none() && new.is_some() && !added.contains(&key.kind.as_str()) {
                added.push(&key.kind);
            }
        }
        tx.commit().await?;
        for kind in added {
            self.prune(kind, max_rows, now).await;
        }
        Ok(())
    }
}
