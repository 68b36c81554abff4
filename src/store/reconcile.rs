//! Closing calls a crash left open. The process that ran a call died before its session could end
//! it, so the next start of the same instance ends it in its place: the call, its `call_ended`
//! event, its interaction and its after-call deliveries, in one transaction.
//!
//! Why one transaction behind a conditional update: two starts of one instance may race (a
//! supervisor restarting twice, two replicas given the same id). Each ends a call with `UPDATE …
//! WHERE ended_at_ms IS NULL`; on SQLite writers take turns, and on PostgreSQL the second waits for
//! the first's row lock and then finds the call ended, so exactly one sees its row updated and goes
//! on to write the rest; the other rolls back having written nothing. A crash halfway leaves the
//! call open for the next start, never ended without its records.

use serde_json::json;

use super::calls::{CallStatus, finish_call_on};
use super::events::insert_event_on;
use super::interactions::{AfterCallRecords, insert_interaction_on};
use super::outbox::enqueue_on;
use super::turns::{AnswerSpan, NewTurn, insert_timed_turn_on};
use super::{Store, StoreError};

/// Why a call left open by a crash ended, as its end reason and in its `call_ended` event.
pub const SERVER_RESTARTED: &str = "server_restarted";

impl Store {
    /// Ends `call_sid` as interrupted at `ended_at_ms` with its `call_ended` event, the agent turns
    /// the crash cut off (`cut_off`) and, when given, its interaction and deliveries, all or nothing. `false` when the call had already ended
    /// (another start won the race, or the call ended some other way): then nothing is written.
    pub async fn end_interrupted_call(
        &self,
        call_sid: &str,
        ended_at_ms: i64,
        cut_off: &[NewTurn],
        records: Option<&AfterCallRecords>,
    ) -> Result<bool, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let won = finish_call_on(
            &mut transaction,
            call_sid,
            CallStatus::Interrupted,
            SERVER_RESTARTED,
            ended_at_ms,
        )
        .await?;
        if !won {
            transaction.rollback().await?;
            return Ok(false);
        }
        let detail = json!({ "reason": SERVER_RESTARTED });
        insert_event_on(
            &mut transaction,
            call_sid,
            "call_ended",
            Some(&detail),
            ended_at_ms,
        )
        .await?;
        for turn in cut_off {
            insert_timed_turn_on(&mut transaction, turn, &AnswerSpan::default()).await?;
        }
        if let Some(records) = records {
            insert_interaction_on(&mut transaction, &records.interaction).await?;
            for delivery in &records.deliveries {
                enqueue_on(&mut transaction, delivery, ended_at_ms).await?;
            }
        }
        transaction.commit().await?;
        Ok(true)
    }
}
