//! Turns: the conversation of a call, one row per caller utterance or agent answer, with the
//! time each stage took so latency can be read per turn.

use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, flag};

/// Who spoke a turn.
pub const ROLE_CALLER: &str = "caller";
pub const ROLE_AGENT: &str = "agent";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTurn {
    pub call_sid: String,
    /// Order within the call, assigned by the session.
    pub seq: i64,
    /// [`ROLE_CALLER`] or [`ROLE_AGENT`].
    pub role: String,
    /// What was said (the transcript, or the agent's whole answer).
    pub text: String,
    /// For an agent turn cut off by barge-in: the part the caller actually heard.
    pub heard_text: Option<String>,
    pub started_at_ms: i64,
    pub ended_at_ms: i64,
    /// The caller spoke over this agent turn.
    pub interrupted: bool,
    pub stt_ms: Option<i64>,
    pub llm_ttft_ms: Option<i64>,
    pub llm_first_sentence_ms: Option<i64>,
    pub tts_ttfb_ms: Option<i64>,
    pub endpoint_ms: Option<i64>,
    /// Voice to voice: end of the caller's speech to the first agent audio sent.
    pub v2v_ms: Option<i64>,
}

impl NewTurn {
    /// A turn of `role` saying `text`, with no stage times, not interrupted.
    pub fn said(
        call_sid: &str,
        seq: i64,
        role: &str,
        text: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Self {
        Self {
            call_sid: call_sid.to_string(),
            seq,
            role: role.to_string(),
            text: text.to_string(),
            heard_text: None,
            started_at_ms: from_ms,
            ended_at_ms: to_ms,
            interrupted: false,
            stt_ms: None,
            llm_ttft_ms: None,
            llm_first_sentence_ms: None,
            tts_ttfb_ms: None,
            endpoint_ms: None,
            v2v_ms: None,
        }
    }
}

/// A stored turn: the same fields as [`NewTurn`].
pub type Turn = NewTurn;

/// The server's own share of an agent answer, on its own clock, so what it adds to the caller's
/// wait can be told from the providers' time and from the endpoint wait. `None` on caller turns and
/// on answers that never sounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnswerSpan {
    /// The end of the caller's speech confirmed (the endpointer's utterance reached the call's
    /// session) → the answer's first audio handed to the socket.
    pub turnaround_ms: Option<i64>,
    /// The part of `turnaround_ms` spent waiting for speech-to-text: all of `stt_ms`, or with eager
    /// transcription only what was left of it when the end of speech was confirmed.
    pub stt_wait_ms: Option<i64>,
    /// How long before the end of speech was confirmed the answer had started (a preemptive reply
    /// started on the eager transcript); 0 when it started at the confirmation.
    pub head_start_ms: Option<i64>,
}

/// A stored turn with its [`AnswerSpan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedTurn {
    pub turn: Turn,
    pub span: AnswerSpan,
}

/// The columns of a turn, in the order both queries use (a macro so `concat!` keeps them static).
macro_rules! turn_columns {
    () => {
        concat!(
            "call_sid, seq, role, text, heard_text, started_at_ms, ended_at_ms, interrupted, ",
            "stt_ms, llm_ttft_ms, llm_first_sentence_ms, tts_ttfb_ms, endpoint_ms, v2v_ms, ",
            "turnaround_ms, stt_wait_ms, head_start_ms"
        )
    };
}

fn turn_from_row(row: &AnyRow) -> Result<Turn, sqlx::Error> {
    Ok(Turn {
        call_sid: row.try_get("call_sid")?,
        seq: row.try_get("seq")?,
        role: row.try_get("role")?,
        text: row.try_get("text")?,
        heard_text: row.try_get("heard_text")?,
        started_at_ms: row.try_get("started_at_ms")?,
        ended_at_ms: row.try_get("ended_at_ms")?,
        interrupted: flag(row.try_get("interrupted")?),
        stt_ms: row.try_get("stt_ms")?,
        llm_ttft_ms: row.try_get("llm_ttft_ms")?,
        llm_first_sentence_ms: row.try_get("llm_first_sentence_ms")?,
        tts_ttfb_ms: row.try_get("tts_ttfb_ms")?,
        endpoint_ms: row.try_get("endpoint_ms")?,
        v2v_ms: row.try_get("v2v_ms")?,
    })
}

fn timed_turn_from_row(row: &AnyRow) -> Result<TimedTurn, sqlx::Error> {
    Ok(TimedTurn {
        turn: turn_from_row(row)?,
        span: AnswerSpan {
            turnaround_ms: row.try_get("turnaround_ms")?,
            stt_wait_ms: row.try_get("stt_wait_ms")?,
            head_start_ms: row.try_get("head_start_ms")?,
        },
    })
}

impl Store {
    /// Records a finished turn. A turn already stored under the same (call, seq) is kept and the
    /// answer is `false`, so a retried write cannot duplicate it.
    pub async fn insert_turn(&self, turn: &NewTurn) -> Result<bool, StoreError> {
        self.insert_timed_turn(turn, &AnswerSpan::default()).await
    }

    /// [`Store::insert_turn`] with the answer's [`AnswerSpan`].
    pub async fn insert_timed_turn(
        &self,
        turn: &NewTurn,
        span: &AnswerSpan,
    ) -> Result<bool, StoreError> {
        let mut connection = self.pool().acquire().await?;
        insert_timed_turn_on(&mut connection, turn, span).await
    }

    /// The call's turns in conversation order.
    pub async fn turns_for_call(&self, call_sid: &str) -> Result<Vec<Turn>, StoreError> {
        let timed = self.timed_turns_for_call(call_sid).await?;
        Ok(timed.into_iter().map(|t| t.turn).collect())
    }

    /// The call's turns in conversation order, each with its [`AnswerSpan`].
    pub async fn timed_turns_for_call(&self, call_sid: &str) -> Result<Vec<TimedTurn>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            turn_columns!(),
            " FROM turns WHERE call_sid = $1 ORDER BY seq"
        ))
        .bind(call_sid)
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .iter()
            .map(timed_turn_from_row)
            .collect::<Result<_, _>>()?)
    }
}

/// [`Store::insert_timed_turn`] on a given connection, so the record writer can batch it.
pub(super) async fn insert_timed_turn_on(
    connection: &mut AnyConnection,
    turn: &NewTurn,
    span: &AnswerSpan,
) -> Result<bool, StoreError> {
    let done = sqlx::query(concat!(
        "INSERT INTO turns (",
        turn_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ",
        "ON CONFLICT (call_sid, seq) DO NOTHING"
    ))
    .bind(&turn.call_sid)
    .bind(turn.seq)
    .bind(&turn.role)
    .bind(&turn.text)
    .bind(turn.heard_text.as_deref())
    .bind(turn.started_at_ms)
    .bind(turn.ended_at_ms)
    .bind(i64::from(turn.interrupted))
    .bind(turn.stt_ms)
    .bind(turn.llm_ttft_ms)
    .bind(turn.llm_first_sentence_ms)
    .bind(turn.tts_ttfb_ms)
    .bind(turn.endpoint_ms)
    .bind(turn.v2v_ms)
    .bind(span.turnaround_ms)
    .bind(span.stt_wait_ms)
    .bind(span.head_start_ms)
    .execute(connection)
    .await?;
    Ok(done.rows_affected() == 1)
}
