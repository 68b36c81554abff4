//! The outbox: durable deliveries (CRM webhooks, SMS, call-backs) that survive restarts and are
//! shared by every instance polling the same database.
//!
//! A worker claims due rows with [`Store::claim_due`], delivers, then reports with
//! [`Store::mark_delivered`], [`Store::mark_failed`] or, after too many attempts,
//! [`Store::give_up`]. A worker that dies mid-delivery simply lets its lease run out and the
//! row comes due again, so delivery is at least once: receivers dedupe on the idempotency key.
//!
//! Some deliveries learn their result later (a call-back is answered, or not, after the call is
//! placed): the worker then parks the row until the result is due ([`Store::await_outcome`]), and
//! the result, when it comes, settles that attempt ([`Store::retry_attempt`],
//! [`Store::give_up_attempt`], [`Store::mark_delivered`]). Each of these changes the row only in
//! the state it expects, so a late or repeated report cannot undo a newer one.

use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

/// One delivery claimed by a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub id: String,
    pub kind: String,
    pub idempotency_key: String,
    pub payload: serde_json::Value,
    /// Including the attempt this claim starts.
    pub attempts: i64,
    /// The end of this claim's lease.
    pub next_attempt_at_ms: i64,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
}

fn item_from_row(row: &AnyRow) -> Result<OutboxItem, StoreError> {
    let payload: String = row.try_get("payload")?;
    Ok(OutboxItem {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        idempotency_key: row.try_get("idempotency_key")?,
        payload: serde_json::from_str(&payload).map_err(|error| StoreError::Corrupt {
            what: "outbox payload",
            reason: error.to_string(),
        })?,
        attempts: row.try_get("attempts")?,
        next_attempt_at_ms: row.try_get("next_attempt_at_ms")?,
        last_error: row.try_get("last_error")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

/// A delivery to queue: its kind, the key that makes queueing it again harmless, its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    pub kind: String,
    pub idempotency_key: String,
    pub payload: serde_json::Value,
    /// When it is first due (epoch ms); `None`: at once.
    pub due_at_ms: Option<i64>,
}

/// A delivery as stored, whatever became of it: for listings.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub item: OutboxItem,
    /// `pending`, `delivered` or `dead` (given up).
    pub status: String,
    pub delivered_at_ms: Option<i64>,
}

fn entry_from_row(row: &AnyRow) -> Result<OutboxEntry, StoreError> {
    Ok(OutboxEntry {
        item: item_from_row(row)?,
        status: row.try_get("status")?,
        delivered_at_ms: row.try_get("delivered_at_ms")?,
    })
}

/// Every outbox column, in the order listings read them.
macro_rules! select_outbox {
    ($tail:literal) => {
        concat!(
            "SELECT id, kind, idempotency_key, payload, status, attempts, next_attempt_at_ms, ",
            "last_error, created_at_ms, delivered_at_ms FROM outbox ",
            $tail
        )
    };
}

impl Store {
    /// Queues a delivery, due at once. A key already queued (delivered or not) is ignored and
    /// the answer is `false`, so producers may enqueue again after a crash without duplicates.
    pub async fn enqueue(
        &self,
        kind: &str,
        idempotency_key: &str,
        payload: &serde_json::Value,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let delivery = NewDelivery {
            kind: kind.to_string(),
            idempotency_key: idempotency_key.to_string(),
            payload: payload.clone(),
            due_at_ms: None,
        };
        self.enqueue_delivery(&delivery, now_ms).await
    }

    /// [`Store::enqueue`] of a built row, due when it says (at `now_ms` if it does not).
    pub async fn enqueue_delivery(
        &self,
        delivery: &NewDelivery,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut connection = self.pool().acquire().await?;
        enqueue_on(&mut connection, delivery, now_ms).await
    }

    /// Claims up to `limit` due deliveries for `lease_ms`: each claimed row's next attempt moves to
    /// `now_ms + lease_ms` and its attempt count goes up, in the same statement that selects it.
    ///
    /// Why two instances never claim one row within a lease: on SQLite the statement runs under
    /// the database's single write lock. On PostgreSQL both may pick the same ids in the subquery,
    /// but the second UPDATE then waits for the first's row lock and, once it commits, re-checks
    /// its WHERE clause against the new row version; the repeated "still due" condition is false
    /// by then (the lease moved the due time), so the row is skipped. The second claimer may get
    /// fewer rows than it asked for, never a row already claimed.
    pub async fn claim_due(
        &self,
        now_ms: i64,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let rows = sqlx::query(concat!(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at_ms = $2 ",
            "WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at_ms <= $1 ",
            "ORDER BY next_attempt_at_ms, created_at_ms LIMIT $3) ",
            "AND status = 'pending' AND next_attempt_at_ms <= $1 ",
            "RETURNING id, kind, idempotency_key, payload, attempts, next_attempt_at_ms, last_error, created_at_ms"
        ))
        .bind(now_ms)
        .bind(now_ms.saturating_add(lease_ms))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut items = rows
            .iter()
            .map(item_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        // RETURNING promises no order; oldest first is what a worker expects.
        items.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
        Ok(items)
    }

    /// The delivery succeeded; it will not be claimed again. `false` if it was not pending.
    pub async fn mark_delivered(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET status = 'delivered', delivered_at_ms = $2, last_error = NULL \
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The attempt failed; try again from `next_attempt_at_ms`. `false` if it was not pending.
    pub async fn mark_failed(
        &self,
        id: &str,
        error: &str,
        next_attempt_at_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET last_error = $2, next_attempt_at_ms = $3 WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(error)
        .bind(next_attempt_at_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stops retrying after too many attempts; the row stays, marked dead, for inspection.
    /// `false` if it was not pending.
    pub async fn give_up(&self, id: &str, error: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE outbox SET status = 'dead', last_error = $2 WHERE id = $1 AND status = 'pending'")
            .bind(id)
            .bind(error)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A result is on its way for the attempt `claim` started (a placed call will be answered or
    /// not): the row waits for it until `until_ms`, and comes due again then if nothing settled
    /// it. `note` says what is awaited. Changes nothing (`false`) when the row is no longer as
    /// claimed (same attempt, same lease end): the result already came.
    pub async fn await_outcome(
        &self,
        claim: &OutboxItem,
        note: &str,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET last_error = $4, next_attempt_at_ms = $5 \
             WHERE id = $1 AND status = 'pending' AND attempts = $2 AND next_attempt_at_ms = $3",
        )
        .bind(&claim.id)
        .bind(claim.attempts)
        .bind(claim.next_attempt_at_ms)
        .bind(note)
        .bind(until_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The row `claim` took was not attempted after all (not yet its time, for `reason`): it comes
    /// due at `at_ms`, the claim uncounted. `false` when the row is no longer as claimed.
    pub async fn defer(
        &self,
        claim: &OutboxItem,
        reason: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET attempts = attempts - 1, last_error = $4, next_attempt_at_ms = $5 \
             WHERE id = $1 AND status = 'pending' AND attempts = $2 AND next_attempt_at_ms = $3",
        )
        .bind(&claim.id)
        .bind(claim.attempts)
        .bind(claim.next_attempt_at_ms)
        .bind(reason)
        .bind(at_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Attempt `attempt` failed, as reported after the worker was done with it: try again from
    /// `at_ms`. `false` when the row has moved on (another attempt began, it was settled) or this
    /// very result was already recorded (`reason` is the last one): a repeated report.
    pub async fn retry_attempt(
        &self,
        id: &str,
        attempt: i64,
        reason: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET last_error = $3, next_attempt_at_ms = $4 \
             WHERE id = $1 AND status = 'pending' AND attempts = $2 \
             AND (last_error IS NULL OR last_error <> $3)",
        )
        .bind(id)
        .bind(attempt)
        .bind(reason)
        .bind(at_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Attempt `attempt` failed and was the last: the row is given up, kept with `reason`.
    /// `false` when the row has moved on.
    pub async fn give_up_attempt(
        &self,
        id: &str,
        attempt: i64,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET status = 'dead', last_error = $3 \
             WHERE id = $1 AND status = 'pending' AND attempts = $2",
        )
        .bind(id)
        .bind(attempt)
        .bind(reason)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn delivery_by_id(&self, id: &str) -> Result<Option<OutboxEntry>, StoreError> {
        let row = sqlx::query(select_outbox!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(entry_from_row).transpose()
    }

    pub async fn delivery_by_key(
        &self,
        idempotency_key: &str,
    ) -> Result<Option<OutboxEntry>, StoreError> {
        let row = sqlx::query(select_outbox!("WHERE idempotency_key = $1"))
            .bind(idempotency_key)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(entry_from_row).transpose()
    }

    /// Deliveries of `kind`, pending ones first by due time, then the rest newest first; only the
    /// pending ones unless `settled_too`. At most `limit`.
    pub async fn deliveries_of_kind(
        &self,
        kind: &str,
        settled_too: bool,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query(select_outbox!(
            "WHERE kind = $1 AND ($2 = 1 OR status = 'pending') \
             ORDER BY CASE WHEN status = 'pending' THEN 0 ELSE 1 END, \
             CASE WHEN status = 'pending' THEN next_attempt_at_ms ELSE -created_at_ms END, id \
             LIMIT $3"
        ))
        .bind(kind)
        .bind(i64::from(settled_too))
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// How many deliveries are still pending (due or not): for metrics and tests.
    pub async fn pending_outbox_count(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS pending FROM outbox WHERE status = 'pending'")
            .fetch_one(self.reader())
            .await?;
        Ok(row.try_get("pending")?)
    }
}

/// [`Store::enqueue_delivery`] on a given connection, so it can join a transaction.
pub(super) async fn enqueue_on(
    connection: &mut AnyConnection,
    delivery: &NewDelivery,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(concat!(
        "INSERT INTO outbox (id, kind, idempotency_key, payload, status, attempts, next_attempt_at_ms, ",
        "created_at_ms) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING"
    ))
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&delivery.kind)
    .bind(&delivery.idempotency_key)
    .bind(delivery.payload.to_string())
    .bind(delivery.due_at_ms.unwrap_or(now_ms))
    .bind(now_ms)
    .execute(connection)
    .await?;
    Ok(done.rows_affected() == 1)
}
