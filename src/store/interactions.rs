//! Interactions: the CRM record of a customer's contact with a business (today, one per call).

use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInteraction {
    pub business_id: String,
    pub customer_id: String,
    pub call_sid: String,
    /// `call` for now.
    pub kind: String,
    /// `inbound`, or `outbound` for a call-back.
    pub direction: String,
    pub outcome: Option<String>,
    pub transcript: String,
    pub summary: Option<String>,
    pub recording_path: Option<String>,
    pub started_at_ms: i64,
    pub duration_ms: Option<i64>,
    pub now_ms: i64,
}

/// What an ended call leaves for the CRM: its interaction and the deliveries to queue with it.
#[derive(Debug, Clone, PartialEq)]
pub struct AfterCallRecords {
    pub interaction: NewInteraction,
    pub deliveries: Vec<super::NewDelivery>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interaction {
    pub id: String,
    pub business_id: String,
    pub customer_id: String,
    pub call_sid: Option<String>,
    pub kind: String,
    pub direction: String,
    pub outcome: Option<String>,
    pub transcript: String,
    pub summary: Option<String>,
    pub recording_path: Option<String>,
    pub started_at_ms: i64,
    pub duration_ms: Option<i64>,
    pub created_at_ms: i64,
}

/// A SELECT of every interaction column followed by `$tail`, as one static string.
macro_rules! select_interactions {
    ($tail:literal) => {
        concat!(
            "SELECT id, business_id, customer_id, call_sid, kind, direction, outcome, transcript, summary, ",
            "recording_path, started_at_ms, duration_ms, created_at_ms FROM interactions ",
            $tail
        )
    };
}

fn interaction_from_row(row: &AnyRow) -> Result<Interaction, sqlx::Error> {
    Ok(Interaction {
        id: row.try_get("id")?,
        business_id: row.try_get("business_id")?,
        customer_id: row.try_get("customer_id")?,
        call_sid: row.try_get("call_sid")?,
        kind: row.try_get("kind")?,
        direction: row.try_get("direction")?,
        outcome: row.try_get("outcome")?,
        transcript: row.try_get("transcript")?,
        summary: row.try_get("summary")?,
        recording_path: row.try_get("recording_path")?,
        started_at_ms: row.try_get("started_at_ms")?,
        duration_ms: row.try_get("duration_ms")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

impl Store {
    /// Records the interaction of a call. At most one per call: a second record for the same
    /// CallSid is ignored and the answer is `false`.
    pub async fn insert_interaction(&self, new: &NewInteraction) -> Result<bool, StoreError> {
        let mut connection = self.pool().acquire().await?;
        insert_interaction_on(&mut connection, new).await
    }

    /// The interaction of a call, once it has one.
    pub async fn interaction_for_call(
        &self,
        call_sid: &str,
    ) -> Result<Option<Interaction>, StoreError> {
        let row = sqlx::query(select_interactions!("WHERE call_sid = $1"))
            .bind(call_sid)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.as_ref().map(interaction_from_row).transpose()?)
    }

    /// The customer's interactions, newest first.
    pub async fn interactions_for_customer(
        &self,
        customer_id: &str,
    ) -> Result<Vec<Interaction>, StoreError> {
        let rows = sqlx::query(select_interactions!(
            "WHERE customer_id = $1 ORDER BY started_at_ms DESC, id"
        ))
        .bind(customer_id)
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .iter()
            .map(interaction_from_row)
            .collect::<Result<_, _>>()?)
    }
}

/// [`Store::insert_interaction`] on a given connection, so it can join a transaction.
pub(super) async fn insert_interaction_on(
    connection: &mut AnyConnection,
    new: &NewInteraction,
) -> Result<bool, StoreError> {
    let done = sqlx::query(concat!(
        "INSERT INTO interactions (id, business_id, customer_id, call_sid, kind, direction, outcome, ",
        "transcript, summary, recording_path, started_at_ms, duration_ms, created_at_ms) ",
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ",
        "ON CONFLICT (call_sid) DO NOTHING"
    ))
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&new.business_id)
    .bind(&new.customer_id)
    .bind(&new.call_sid)
    .bind(&new.kind)
    .bind(&new.direction)
    .bind(new.outcome.as_deref())
    .bind(&new.transcript)
    .bind(new.summary.as_deref())
    .bind(new.recording_path.as_deref())
    .bind(new.started_at_ms)
    .bind(new.duration_ms)
    .bind(new.now_ms)
    .execute(connection)
    .await?;
    Ok(done.rows_affected() == 1)
}
