//! The [`Board`] on PostgreSQL (migration 0002): rows every instance reads
//! and writes, timed by the database's clock.

use crate::board::{Board, PostedOperation, Window};
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
