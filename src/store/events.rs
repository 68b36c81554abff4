//! Call events: barge-in, loop, fallback, dtmf, errors, stream changes, in the order they happened.

use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

/// Concurrent inserts for one call can pick the same `seq`; the loser simply takes the next one.
/// Writers per call are few (the session and a webhook or two), so a handful of tries is ample.
const SEQ_ATTEMPTS: usize = 16;

/// An agent sentence (or fixed phrase) went to the caller's line: detail `{"turn": seq, "text": …}`.
/// The agent's turn is recorded only when it ends, so these are what is left of it if the process
/// dies first (see `startup::reconcile`).
pub const AGENT_SPEAKING: &str = "agent_speaking";

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub call_sid: String,
    /// Insertion order within the call, from 1.
    pub seq: i64,
    pub kind: String,
    pub detail: Option<serde_json::Value>,
    pub at_ms: i64,
}

fn event_from_row(row: &AnyRow) -> Result<Event, StoreError> {
    let detail: Option<String> = row.try_get("detail")?;
    let detail = detail
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|error| StoreError::Corrupt {
            what: "event detail",
            reason: error.to_string(),
        })?;
    Ok(Event {
        call_sid: row.try_get("call_sid")?,
        seq: row.try_get("seq")?,
        kind: row.try_get("kind")?,
        detail,
        at_ms: row.try_get("at_ms")?,
    })
}

impl Store {
    /// Records an event of a known call (the call row must exist). `detail` is stored as JSON text.
    /// Returns the event's `seq` within the call.
    pub async fn insert_event(
        &self,
        call_sid: &str,
        kind: &str,
        detail: Option<&serde_json::Value>,
        at_ms: i64,
    ) -> Result<i64, StoreError> {
        let mut connection = self.pool().acquire().await?;
        insert_event_on(&mut connection, call_sid, kind, detail, at_ms).await
    }

    /// The call's events by time, then insertion order.
    pub async fn events_for_call(&self, call_sid: &str) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT call_sid, seq, kind, detail, at_ms FROM events WHERE call_sid = $1 ORDER BY at_ms, seq",
        )
        .bind(call_sid)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(event_from_row).collect()
    }
}

/// [`Store::insert_event`] on a given connection, so the record writer can batch it in a transaction.
pub(super) async fn insert_event_on(
    connection: &mut AnyConnection,
    call_sid: &str,
    kind: &str,
    detail: Option<&serde_json::Value>,
    at_ms: i64,
) -> Result<i64, StoreError> {
    let detail = detail.map(serde_json::Value::to_string);
    for _ in 0..SEQ_ATTEMPTS {
        // The next seq is read and written in one statement; a concurrent insert that took the
        // same seq first makes this one a no-op (PostgreSQL waits for it to commit), and we
        // try again with a fresh maximum. SQLite serialises writers, so it never conflicts.
        let row = sqlx::query(concat!(
            "INSERT INTO events (call_sid, seq, kind, detail, at_ms) ",
            "SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 FROM events WHERE call_sid = $1 ",
            "ON CONFLICT (call_sid, seq) DO NOTHING RETURNING seq"
        ))
        .bind(call_sid)
        .bind(kind)
        .bind(detail.as_deref())
        .bind(at_ms)
        .fetch_optional(&mut *connection)
        .await?;
        if let Some(row) = row {
            return Ok(row.try_get("seq")?);
        }
    }
    Err(StoreError::Contended(format!(
        "an event sequence number for call {call_sid}"
    )))
}
