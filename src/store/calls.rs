//! Calls: one row per CallSid the voice webhook saw, from answer (or refusal) to the end.

use std::fmt;
use std::str::FromStr;

use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

/// sicha's view of a call, stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStatus {
    /// The voice webhook answered and sent TwiML; no media stream yet.
    Answered,
    /// The media stream is live.
    Streaming,
    Completed,
    /// Turned away: unknown number, over capacity, shutting down.
    Rejected,
    /// The socket went away without a `stop`.
    Dropped,
    /// The server died mid-call; found and closed by the next start of the same instance.
    Interrupted,
    Failed,
}

impl CallStatus {
    pub const ALL: [CallStatus; 7] = [
        CallStatus::Answered,
        CallStatus::Streaming,
        CallStatus::Completed,
        CallStatus::Rejected,
        CallStatus::Dropped,
        CallStatus::Interrupted,
        CallStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Answered => "answered",
            CallStatus::Streaming => "streaming",
            CallStatus::Completed => "completed",
            CallStatus::Rejected => "rejected",
            CallStatus::Dropped => "dropped",
            CallStatus::Interrupted => "interrupted",
            CallStatus::Failed => "failed",
        }
    }

    /// Whether the call is still going on (as far as this record knows).
    pub fn is_live(self) -> bool {
        matches!(self, CallStatus::Answered | CallStatus::Streaming)
    }
}

impl fmt::Display for CallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that names no [`CallStatus`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown call status {0:?}")]
pub struct UnknownCallStatus(pub String);

impl FromStr for CallStatus {
    type Err = UnknownCallStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        CallStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| UnknownCallStatus(text.into()))
    }
}

/// Who placed the call: a caller reaching the business, or sicha calling a customer back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CallDirection {
    #[default]
    Inbound,
    Outbound,
}

impl CallDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            CallDirection::Inbound => "inbound",
            CallDirection::Outbound => "outbound",
        }
    }

    /// A stored direction; an unknown one means the row was written by something else (corrupt).
    pub(super) fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "inbound" => Ok(CallDirection::Inbound),
            "outbound" => Ok(CallDirection::Outbound),
            other => Err(StoreError::Corrupt {
                what: "call direction",
                reason: format!("unknown direction {other:?}"),
            }),
        }
    }
}

impl fmt::Display for CallDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub call_sid: String,
    pub business_id: Option<String>,
    pub customer_id: Option<String>,
    pub from_number: String,
    pub to_number: String,
    /// The server instance that answered: after a crash it closes only its own calls.
    pub instance_id: String,
    pub status: CallStatus,
    pub started_at_ms: i64,
    pub stream_started_at_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    pub end_reason: Option<String>,
    /// Twilio's own view, from status callbacks.
    pub twilio_status: Option<String>,
    pub twilio_duration_secs: Option<i64>,
    pub recording_path: Option<String>,
    pub direction: CallDirection,
    /// For a call-back: the call that asked for it.
    pub parent_call_sid: Option<String>,
}

#[cfg(test)]
impl Call {
    /// An inbound call from a mobile to the example business, just started, for tests to change
    /// what they test.
    pub fn example(status: CallStatus) -> Self {
        Self {
            call_sid: "CA1".into(),
            business_id: Some("b1".into()),
            customer_id: Some("c1".into()),
            from_number: "+972501234567".into(),
            to_number: "+97231234567".into(),
            instance_id: "i1".into(),
            status,
            started_at_ms: 1,
            stream_started_at_ms: None,
            ended_at_ms: None,
            end_reason: None,
            twilio_status: None,
            twilio_duration_secs: None,
            recording_path: None,
            direction: CallDirection::Inbound,
            parent_call_sid: None,
        }
    }
}

impl Call {
    /// The customer's number: who called in, or who was called back.
    pub fn customer_number(&self) -> &str {
        match self.direction {
            CallDirection::Inbound => &self.from_number,
            CallDirection::Outbound => &self.to_number,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCall {
    pub call_sid: String,
    pub business_id: Option<String>,
    pub customer_id: Option<String>,
    pub from_number: String,
    pub to_number: String,
    pub instance_id: String,
    pub status: CallStatus,
    pub started_at_ms: i64,
    pub direction: CallDirection,
    pub parent_call_sid: Option<String>,
}

/// Which calls [`Store::list_calls`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFilter {
    /// Calls to this number (a business's Twilio number).
    pub business_number: Option<String>,
    pub status: Option<CallStatus>,
    pub limit: i64,
}

impl Default for CallFilter {
    fn default() -> Self {
        CallFilter {
            business_number: None,
            status: None,
            limit: 50,
        }
    }
}

macro_rules! select_calls {
    ($tail:literal) => {
        concat!(
            "SELECT call_sid, business_id, customer_id, from_number, to_number, instance_id, status, ",
            "started_at_ms, stream_started_at_ms, ended_at_ms, end_reason, twilio_status, ",
            "twilio_duration_secs, recording_path, direction, parent_call_sid FROM calls ",
            $tail
        )
    };
}

/// A stored direction (see [`CallDirection::parse`]).
pub(super) fn parse_direction(text: &str) -> Result<CallDirection, StoreError> {
    CallDirection::parse(text)
}

/// A stored status; an unknown one means the row was written by something else (corrupt).
pub(super) fn parse_status(text: &str) -> Result<CallStatus, StoreError> {
    text.parse()
        .map_err(|error: UnknownCallStatus| StoreError::Corrupt {
            what: "call status",
            reason: error.to_string(),
        })
}

fn call_from_row(row: &AnyRow) -> Result<Call, StoreError> {
    let status: String = row.try_get("status")?;
    let direction: String = row.try_get("direction")?;
    Ok(Call {
        call_sid: row.try_get("call_sid")?,
        business_id: row.try_get("business_id")?,
        customer_id: row.try_get("customer_id")?,
        from_number: row.try_get("from_number")?,
        to_number: row.try_get("to_number")?,
        instance_id: row.try_get("instance_id")?,
        status: parse_status(&status)?,
        started_at_ms: row.try_get("started_at_ms")?,
        stream_started_at_ms: row.try_get("stream_started_at_ms")?,
        ended_at_ms: row.try_get("ended_at_ms")?,
        end_reason: row.try_get("end_reason")?,
        twilio_status: row.try_get("twilio_status")?,
        twilio_duration_secs: row.try_get("twilio_duration_secs")?,
        recording_path: row.try_get("recording_path")?,
        direction: CallDirection::parse(&direction)?,
        parent_call_sid: row.try_get("parent_call_sid")?,
    })
}

impl Store {
    /// Records a call. Twilio retries webhooks, so a CallSid already recorded is no error:
    /// the existing row is kept and the answer is `false`.
    pub async fn insert_call(&self, call: &NewCall) -> Result<bool, StoreError> {
        let done = sqlx::query(concat!(
            "INSERT INTO calls (call_sid, business_id, customer_id, from_number, to_number, instance_id, ",
            "status, started_at_ms, direction, parent_call_sid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ",
            "ON CONFLICT (call_sid) DO NOTHING"
        ))
        .bind(&call.call_sid)
        .bind(call.business_id.as_deref())
        .bind(call.customer_id.as_deref())
        .bind(&call.from_number)
        .bind(&call.to_number)
        .bind(&call.instance_id)
        .bind(call.status.as_str())
        .bind(call.started_at_ms)
        .bind(call.direction.as_str())
        .bind(call.parent_call_sid.as_deref())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The media stream is live. The first stream start is kept when a stream reconnects;
    /// an ended call stays ended. `false` when no open call has this CallSid.
    pub async fn mark_streaming(&self, call_sid: &str, at_ms: i64) -> Result<bool, StoreError> {
        let mut connection = self.pool().acquire().await?;
        mark_streaming_on(&mut connection, call_sid, at_ms).await
    }

    /// Ends the call. The first finaliser wins: `false` when the call had already ended (or is
    /// unknown), and then nothing changes.
    pub async fn finish_call(
        &self,
        call_sid: &str,
        status: CallStatus,
        end_reason: &str,
        ended_at_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut connection = self.pool().acquire().await?;
        finish_call_on(&mut connection, call_sid, status, end_reason, ended_at_ms).await
    }

    /// Twilio's view from a status callback, kept apart from sicha's own status. A callback
    /// without a duration keeps the one already known. `false` for an unknown CallSid.
    pub async fn record_twilio_status(
        &self,
        call_sid: &str,
        twilio_status: &str,
        duration_secs: Option<i64>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE calls SET twilio_status = $2, twilio_duration_secs = COALESCE($3, twilio_duration_secs) \
             WHERE call_sid = $1",
        )
        .bind(call_sid)
        .bind(twilio_status)
        .bind(duration_secs)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// `false` for an unknown CallSid.
    pub async fn set_recording_path(&self, call_sid: &str, path: &str) -> Result<bool, StoreError> {
        let mut connection = self.pool().acquire().await?;
        set_recording_path_on(&mut connection, call_sid, path).await
    }

    pub async fn call_by_sid(&self, call_sid: &str) -> Result<Option<Call>, StoreError> {
        let row = sqlx::query(select_calls!("WHERE call_sid = $1"))
            .bind(call_sid)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(call_from_row).transpose()
    }

    /// Calls matching `filter`, newest first.
    pub async fn list_calls(&self, filter: &CallFilter) -> Result<Vec<Call>, StoreError> {
        let rows = sqlx::query(select_calls!(
            "WHERE ($1 IS NULL OR to_number = $1) AND ($2 IS NULL OR status = $2) \
             ORDER BY started_at_ms DESC, call_sid DESC LIMIT $3"
        ))
        .bind(filter.business_number.as_deref())
        .bind(filter.status.map(CallStatus::as_str))
        .bind(filter.limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(call_from_row).collect()
    }

    /// This instance's calls still marked live, oldest first: after a restart, the ones a crash
    /// cut off (see [`Store::end_interrupted_call`]). Other instances' calls are theirs to finish,
    /// which is what lets several instances share one PostgreSQL.
    pub async fn open_calls_of_instance(&self, instance_id: &str) -> Result<Vec<Call>, StoreError> {
        let rows = sqlx::query(select_calls!(
            "WHERE instance_id = $1 AND ended_at_ms IS NULL AND status IN ('answered', 'streaming') \
             ORDER BY started_at_ms, call_sid"
        ))
        .bind(instance_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(call_from_row).collect()
    }
}

/// [`Store::mark_streaming`] on a given connection, so the record writer can batch it.
pub(super) async fn mark_streaming_on(
    connection: &mut AnyConnection,
    call_sid: &str,
    at_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(concat!(
        "UPDATE calls SET status = 'streaming', stream_started_at_ms = COALESCE(stream_started_at_ms, $2) ",
        "WHERE call_sid = $1 AND ended_at_ms IS NULL"
    ))
    .bind(call_sid)
    .bind(at_ms)
    .execute(connection)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// [`Store::finish_call`] on a given connection, so the record writer can batch it.
pub(super) async fn finish_call_on(
    connection: &mut AnyConnection,
    call_sid: &str,
    status: CallStatus,
    end_reason: &str,
    ended_at_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE calls SET status = $2, end_reason = $3, ended_at_ms = $4 WHERE call_sid = $1 AND ended_at_ms IS NULL",
    )
    .bind(call_sid)
    .bind(status.as_str())
    .bind(end_reason)
    .bind(ended_at_ms)
    .execute(connection)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// [`Store::set_recording_path`] on a given connection, so the record writer can batch it.
pub(super) async fn set_recording_path_on(
    connection: &mut AnyConnection,
    call_sid: &str,
    path: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE calls SET recording_path = $2 WHERE call_sid = $1")
        .bind(call_sid)
        .bind(path)
        .execute(connection)
        .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_round_trips() {
        for status in CallStatus::ALL {
            assert_eq!(status.as_str().parse::<CallStatus>(), Ok(status));
        }
        assert!("ringing".parse::<CallStatus>().is_err());
    }

    #[test]
    fn direction_text_round_trips() {
        for direction in [CallDirection::Inbound, CallDirection::Outbound] {
            assert_eq!(CallDirection::parse(direction.as_str()).unwrap(), direction);
        }
        assert!(CallDirection::parse("sideways").is_err());
    }
}
