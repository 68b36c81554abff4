//! Requests started for an answer and then thrown away, per answer the callers heard: the cost of
//! answering early.
//!
//! Counted from the server's own records of each call rather than from what the stand-ins served.
//! The stand-ins see every request but not which of them an answer used: one answer may take a
//! model request per tool round and a speech request per sentence, fixed phrases are synthesised
//! once for many calls, and concurrent calls' requests are not told apart. The server records the
//! waste where it decides it, per call:
//! - `preemptive_discarded`: a reply started on an eager transcript and dropped (the caller went
//!   on, or the confirmed words differ): its model request, and a speech request for each sentence
//!   it had sent to speech (`sentences`), whether or not its audio had started.
//! - `answer_dropped`: an answer started and then stopped before a word of it was heard (the caller
//!   went on after the end of the turn was confirmed): its model request and its `sentences`.
//! - `eager_dropped`: an eager transcription whose utterance went on: one upload.
//!
//! What the stand-ins served over the same calls is reported beside it (`provider_requests`), to
//! set these against.

use serde::Serialize;

use sicha::store::events::Event;

const PREEMPTIVE_DISCARDED: &str = "preemptive_discarded";
const EAGER_DROPPED: &str = "eager_dropped";
const ANSWER_DROPPED: &str = "answer_dropped";

/// Requests thrown away, by provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct WasteCount {
    pub model: u64,
    pub tts: u64,
    pub stt: u64,
}

/// `wasted_requests_per_answer`: the counts over the run divided by the answers heard.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WastedRequests {
    pub model: f64,
    pub tts: f64,
    pub stt: f64,
    /// The counts over the run, and the answers they are divided by.
    pub counted: WasteCount,
    pub answers: usize,
}

/// What the stand-ins served over the measured calls (not the warm-up), by endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProviderRequests {
    pub transcriptions: u64,
    pub realtime_commits: u64,
    pub chat: u64,
    pub speech: u64,
    /// Chat and speech streams the server went away from before their end.
    pub cancelled_streams: u64,
}

impl ProviderRequests {
    /// What was served between two readings.
    pub fn since(self, before: Self) -> Self {
        Self {
            transcriptions: self.transcriptions.saturating_sub(before.transcriptions),
            realtime_commits: self
                .realtime_commits
                .saturating_sub(before.realtime_commits),
            chat: self.chat.saturating_sub(before.chat),
            speech: self.speech.saturating_sub(before.speech),
            cancelled_streams: self
                .cancelled_streams
                .saturating_sub(before.cancelled_streams),
        }
    }
}

impl WasteCount {
    /// Adds one call's waste from its events.
    pub(super) fn collect(&mut self, events: &[Event]) {
        for event in events {
            match event.kind.as_str() {
                PREEMPTIVE_DISCARDED | ANSWER_DROPPED => {
                    self.model += 1;
                    self.tts += event
                        .detail
                        .as_ref()
                        .and_then(|d| d["sentences"].as_u64())
                        .unwrap_or(0);
                }
                EAGER_DROPPED => self.stt += 1,
                _ => {}
            }
        }
    }

    /// Per answer heard; `None` without any answer.
    pub(super) fn per_answer(self, answers: usize) -> Option<WastedRequests> {
        let per = |count: u64| super::stats::round(count as f64 / answers as f64);
        (answers > 0).then(|| WastedRequests {
            model: per(self.model),
            tts: per(self.tts),
            stt: per(self.stt),
            counted: self,
            answers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, detail: Option<serde_json::Value>) -> Event {
        Event {
            call_sid: "CA1".into(),
            seq: 1,
            kind: kind.into(),
            detail,
            at_ms: 0,
        }
    }

    #[test]
    fn discarded_replies_dropped_answers_and_dropped_guesses_are_counted() {
        let events = [
            event("eager_dropped", None),
            event("answer_dropped", Some(json!({"turn": 2, "sentences": 1}))),
            event(
                "preemptive_discarded",
                Some(json!({"turn": 3, "sentences": 2, "audio_ms": 900})),
            ),
            event(
                "preemptive_discarded",
                Some(json!({"turn": 5, "sentences": 0})),
            ),
            event("preemptive_adopted", None),
        ];
        let mut count = WasteCount::default();
        count.collect(&events);
        assert_eq!(
            count,
            WasteCount {
                model: 3,
                tts: 3,
                stt: 1
            }
        );
        let per = count.per_answer(4).unwrap();
        assert_eq!((per.model, per.tts, per.stt), (0.75, 0.75, 0.25));
        assert_eq!(per.answers, 4);
        assert!(WasteCount::default().per_answer(0).is_none());
    }

    #[test]
    fn answered_turns_waste_nothing() {
        let mut count = WasteCount::default();
        count.collect(&[event("preemptive_adopted", None), event("turn_ended", None)]);
        assert_eq!(count, WasteCount::default());
    }
}
