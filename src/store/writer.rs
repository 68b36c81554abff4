//! Call records written behind the call: a live call hands its events, turns and status changes to
//! one writer task and goes on at once, and the writer commits them in order, many per transaction.
//!
//! Why: with hundreds of live calls the sessions' writes arrive faster than one-at-a-time commits
//! can be handed round. Each statement then waits its turn for a connection, and a session that
//! awaited its write stalled the call's audio behind it (measured at 1000 calls on SQLite: answers
//! seconds late, writes timing out and lost). One writer taking everything queued so far into one
//! transaction (a group commit) does the same work in a handful of round trips, so the queue drains
//! as fast as it fills, and no call ever waits on the database to be heard.
//!
//! Ownership and lifetime: [`RecordWriter::spawn`] starts the task; every clone of the handle is a
//! sender. The task commits what is queued and ends when the last handle is dropped, after writing
//! everything sent before. [`RecordWriter::flush`] waits until everything sent before it is
//! committed: a call's session flushes before it reads its own records back at the end, and the
//! server flushes once more before it stops.
//!
//! Failures: a transient fault (no connection in time, a busy or restarting database) keeps the batch
//! and retries it with a growing pause, so nothing is dropped while the database comes back. A
//! record the database refuses outright (a constraint, an unknown call) is written alone, logged
//! with what it was and counted in `sicha_records_failed_total`; the rest of its batch still commits.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::turns::{AnswerSpan, NewTurn};
use super::{CallStatus, Engine, Store, StoreError, calls, events, turns};

/// Records queued beyond this make senders wait: memory stays bounded while the database is down.
const QUEUE_CAPACITY: usize = 100_000;
/// Records per transaction at most, so one commit stays short.
const MAX_BATCH: usize = 512;
const FIRST_RETRY: Duration = Duration::from_millis(50);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// One write of a call's record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Event {
        call_sid: String,
        kind: String,
        detail: Option<serde_json::Value>,
        at_ms: i64,
    },
    Turn {
        /// Boxed: a turn is several times the size of the other records.
        turn: Box<NewTurn>,
        span: AnswerSpan,
    },
    Streaming {
        call_sid: String,
        at_ms: i64,
    },
    Finished {
        call_sid: String,
        status: CallStatus,
        reason: String,
        at_ms: i64,
    },
    RecordingPath {
        call_sid: String,
        path: String,
    },
}

impl Record {
    pub fn event(
        call_sid: &str,
        kind: &str,
        detail: Option<serde_json::Value>,
        at_ms: i64,
    ) -> Self {
        Self::Event {
            call_sid: call_sid.to_string(),
            kind: kind.to_string(),
            detail,
            at_ms,
        }
    }

    /// What the record is, for a log line.
    fn describe(&self) -> String {
        match self {
            Self::Event { call_sid, kind, .. } => format!("event {kind} of {call_sid}"),
            Self::Turn { turn, .. } => format!("turn {} of {}", turn.seq, turn.call_sid),
            Self::Streaming { call_sid, .. } => format!("stream start of {call_sid}"),
            Self::Finished { call_sid, .. } => format!("end of {call_sid}"),
            Self::RecordingPath { call_sid, .. } => format!("recording of {call_sid}"),
        }
    }

    async fn apply(&self, connection: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
        match self {
            Self::Event {
                call_sid,
                kind,
                detail,
                at_ms,
            } => events::insert_event_on(connection, call_sid, kind, detail.as_ref(), *at_ms)
                .await
                .map(drop),
            // A turn already stored under its (call, seq) is kept: a replayed write is no error.
            Self::Turn { turn, span } => turns::insert_timed_turn_on(connection, turn, span)
                .await
                .map(drop),
            Self::Streaming { call_sid, at_ms } => {
                calls::mark_streaming_on(connection, call_sid, *at_ms)
                    .await
                    .map(drop)
            }
            // The first finaliser wins; a later one changes nothing, by design.
            Self::Finished {
                call_sid,
                status,
                reason,
                at_ms,
            } => calls::finish_call_on(connection, call_sid, *status, reason, *at_ms)
                .await
                .map(drop),
            Self::RecordingPath { call_sid, path } => {
                calls::set_recording_path_on(connection, call_sid, path)
                    .await
                    .map(drop)
            }
        }
    }
}

enum Queued {
    Record(Record),
    /// Answered once everything queued before it is committed.
    Flush(oneshot::Sender<()>),
}

/// The sending side of the writer; cheap to clone.
#[derive(Clone)]
pub struct RecordWriter {
    queue: mpsc::Sender<Queued>,
    /// Records handed over and not yet committed (the writer task takes them off).
    queued: metrics::Gauge,
}

impl RecordWriter {
    /// Starts the writer task on the current runtime.
    pub fn spawn(store: Store) -> Self {
        let (queue, received) = mpsc::channel(QUEUE_CAPACITY);
        let queued = metrics::gauge!("sicha_records_queued");
        // Shown from the start, at zero, so an alert on it needs no failure to have happened first.
        metrics::counter!("sicha_records_failed_total").increment(0);
        tokio::spawn(write_behind(store, received, queued.clone()));
        Self { queue, queued }
    }

    /// Queues a record; returns at once unless [`QUEUE_CAPACITY`] records are already waiting.
    pub async fn write(&self, record: Record) {
        self.queued.increment(1.0);
        if self.queue.send(Queued::Record(record)).await.is_err() {
            // Only after the runtime has dropped the task: nothing is left to write with.
            self.queued.decrement(1.0);
            tracing::error!("the record writer has stopped; a call record was not written");
        }
    }

    /// Waits until everything written before is committed, at most `wait`; `false` if it was not.
    pub async fn flush(&self, wait: Duration) -> bool {
        let (done, committed) = oneshot::channel();
        if self.queue.send(Queued::Flush(done)).await.is_err() {
            return false;
        }
        matches!(tokio::time::timeout(wait, committed).await, Ok(Ok(())))
    }
}

/// The writer task: takes what is queued (up to [`MAX_BATCH`]), commits it, answers the flushes.
async fn write_behind(store: Store, mut received: mpsc::Receiver<Queued>, queued: metrics::Gauge) {
    let commit_seconds = metrics::histogram!("sicha_record_commit_seconds");
    let batch_size = metrics::histogram!("sicha_record_batch_size");
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut flushes = Vec::new();
    while let Some(first) = received.recv().await {
        let mut next = Some(first);
        while let Some(queued) = next.take() {
            match queued {
                Queued::Record(record) => batch.push(record),
                Queued::Flush(done) => flushes.push(done),
            }
            if batch.len() < MAX_BATCH {
                next = received.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            let started = std::time::Instant::now();
            commit(&store, &batch).await;
            commit_seconds.record(started.elapsed().as_secs_f64());
            batch_size.record(batch.len() as f64);
            queued.decrement(batch.len() as f64);
            batch.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Commits `batch` in one transaction, retrying transient faults; if the database refuses a record,
/// writes the batch one record at a time so only the refused ones are lost.
async fn commit(store: &Store, batch: &[Record]) {
    let mut pause = FIRST_RETRY;
    loop {
        match commit_together(store, batch).await {
            Ok(()) => return,
            Err(error) if is_transient(&error, store.engine()) => {
                tracing::warn!(%error, records = batch.len(), retry_in_ms = pause.as_millis() as u64, "could not commit call records yet; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_RETRY);
            }
            Err(error) => {
                tracing::warn!(%error, records = batch.len(), "a call record was refused; writing the batch one by one");
                for record in batch {
                    commit_alone(store, record).await;
                }
                return;
            }
        }
    }
}

async fn commit_together(store: &Store, batch: &[Record]) -> Result<(), StoreError> {
    let mut transaction = store.pool().begin().await?;
    for record in batch {
        record.apply(&mut transaction).await?;
    }
    transaction.commit().await?;
    Ok(())
}

async fn commit_alone(store: &Store, record: &Record) {
    let mut pause = FIRST_RETRY;
    loop {
        let result = match store.pool().acquire().await {
            Ok(mut connection) => record.apply(&mut connection).await,
            Err(error) => Err(error.into()),
        };
        match result {
            Ok(()) => return,
            Err(error) if is_transient(&error, store.engine()) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_RETRY);
            }
            Err(error) => {
                metrics::counter!("sicha_records_failed_total").increment(1);
                tracing::error!(%error, record = %record.describe(), "the database refused a call record; it is lost");
                return;
            }
        }
    }
}

/// Faults that pass: no connection in time, a lost connection, a busy or restarting database.
fn is_transient(error: &StoreError, engine: Engine) -> bool {
    let StoreError::Query(error) = error else {
        return false;
    };
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => {
            let Some(code) = error.code() else {
                return false;
            };
            match engine {
                // BUSY (5) and LOCKED (6), and their extended codes (the primary code is the low byte).
                Engine::Sqlite => code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6)),
                // Connection exceptions, serialisation failures and deadlocks, insufficient
                // resources, an administrator's shutdown.
                Engine::Postgres => ["08", "40", "53", "57P"]
                    .iter()
                    .any(|class| code.starts_with(class)),
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_faults_are_retried_and_refusals_are_not() {
        let timed_out = StoreError::Query(sqlx::Error::PoolTimedOut);
        assert!(is_transient(&timed_out, Engine::Sqlite));
        assert!(is_transient(&timed_out, Engine::Postgres));
        let closed = StoreError::Query(sqlx::Error::PoolClosed);
        assert!(!is_transient(&closed, Engine::Sqlite));
        let contended = StoreError::Contended("an event sequence number".into());
        assert!(!is_transient(&contended, Engine::Postgres));
        let missing = StoreError::Query(sqlx::Error::RowNotFound);
        assert!(!is_transient(&missing, Engine::Sqlite));
    }
}
