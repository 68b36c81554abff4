//! The record writer: live calls' records committed behind the call, in order, in group commits.

use std::time::Duration;

use sicha::store::turns::AnswerSpan;
use sicha::store::{Record, RecordWriter};

use super::*;

const FLUSH: Duration = Duration::from_secs(10);

#[tokio::test]
async fn records_from_many_calls_are_committed_in_the_order_each_call_wrote_them() {
    for_each_store(|store| async move {
        let business = business_with_call(&store, "CA-w-0").await;
        for call in 1..8 {
            let sid = format!("CA-w-{call}");
            store
                .insert_call(&new_call(&sid, "i-1", Some(&business), T0))
                .await
                .unwrap();
        }
        let writer = RecordWriter::spawn(store.clone());
        // Eight calls writing at once, as live sessions do: each call's own order must hold.
        let mut tasks = Vec::new();
        for call in 0..8 {
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                let sid = format!("CA-w-{call}");
                writer
                    .write(Record::Streaming {
                        call_sid: sid.clone(),
                        at_ms: T0 + 10,
                    })
                    .await;
                for n in 0..40 {
                    let detail = json!({ "n": n });
                    writer
                        .write(Record::event(&sid, "tick", Some(detail), T0 + n))
                        .await;
                }
                let turn = Box::new(agent_turn(&sid, 1));
                let span = AnswerSpan {
                    turnaround_ms: Some(900),
                    stt_wait_ms: Some(120),
                    head_start_ms: Some(0),
                };
                writer.write(Record::Turn { turn, span }).await;
                writer
                    .write(Record::Finished {
                        call_sid: sid,
                        status: CallStatus::Completed,
                        reason: "caller_hung_up".into(),
                        at_ms: T0 + 5000,
                    })
                    .await;
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert!(writer.flush(FLUSH).await, "everything written is committed");
        for call in 0..8 {
            let sid = format!("CA-w-{call}");
            let events = store.events_for_call(&sid).await.unwrap();
            let order: Vec<i64> = events
                .iter()
                .map(|e| e.detail.as_ref().unwrap()["n"].as_i64().unwrap())
                .collect();
            assert_eq!(order, (0..40).collect::<Vec<_>>(), "{sid}");
            let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
            assert_eq!(seqs, (1..=40).collect::<Vec<_>>(), "{sid}");
            let turns = store.timed_turns_for_call(&sid).await.unwrap();
            assert_eq!(turns.len(), 1);
            assert_eq!(turns[0].span.turnaround_ms, Some(900));
            let stored = store.call_by_sid(&sid).await.unwrap().unwrap();
            assert_eq!(stored.status, CallStatus::Completed);
            assert_eq!(stored.stream_started_at_ms, Some(T0 + 10));
            assert_eq!(stored.end_reason.as_deref(), Some("caller_hung_up"));
        }
    })
    .await;
}

#[tokio::test]
async fn a_refused_record_does_not_cost_the_rest_of_its_batch() {
    for_each_store(|store| async move {
        business_with_call(&store, "CA-known").await;
        let writer = RecordWriter::spawn(store.clone());
        // Queued back to back, so they share one transaction; the middle one names no call row.
        writer
            .write(Record::event("CA-known", "before", None, T0))
            .await;
        writer
            .write(Record::event("CA-never-answered", "orphan", None, T0))
            .await;
        writer
            .write(Record::event("CA-known", "after", None, T0 + 1))
            .await;
        writer
            .write(Record::RecordingPath {
                call_sid: "CA-known".into(),
                path: "/recordings/CA-known.ogg".into(),
            })
            .await;
        assert!(writer.flush(FLUSH).await);
        let kinds: Vec<String> = store
            .events_for_call("CA-known")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["before", "after"]);
        assert!(
            store
                .events_for_call("CA-never-answered")
                .await
                .unwrap()
                .is_empty()
        );
        let call = store.call_by_sid("CA-known").await.unwrap().unwrap();
        assert_eq!(
            call.recording_path.as_deref(),
            Some("/recordings/CA-known.ogg")
        );
        // The writer goes on after a refusal.
        writer
            .write(Record::event("CA-known", "later", None, T0 + 2))
            .await;
        assert!(writer.flush(FLUSH).await);
        assert_eq!(store.events_for_call("CA-known").await.unwrap().len(), 3);
    })
    .await;
}
