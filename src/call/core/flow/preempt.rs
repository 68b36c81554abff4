//! Answers started before the caller's turn is confirmed: on an eager transcript the reply starts
//! and its output is held; the hangover's confirmation adopts it (for the same words only), the
//! caller going on discards it. A reply is started no sooner than [`REPLY_AFTER_SILENCE`] into the
//! silence, however early the transcript came, and, when the end of turn is decided from words and
//! voice, only once the turn is due to end within [`PREEMPT_LEAD`]: an utterance that reads as
//! unfinished is likely to go on, and a reply started on it would be thrown away.
//!
//! The eager transcription itself may start sooner (`SICHA_EAGER_STT_MS`): a guess the caller talks
//! past costs only its transcription, so its words can be ready when the reply may start.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::call::core::preemptive::Preemptive;
use crate::call::core::{CallCore, Effect, Now, ReplyOutput, TurnId};

/// How long before the turn is due to end a reply is worth starting: about what a reply takes to
/// its first audio (the model's first sentence and its speech), so one started then is ready as the
/// turn ends, and one for a caller who goes on is rarely started at all.
pub(super) const PREEMPT_LEAD: Duration = Duration::from_millis(600);

/// The silence before any reply is started ahead: the pauses inside a sentence (a breath, a comma,
/// a stop consonant) mostly end by then, and a reply started in one is thrown away. Measured on the
/// bench's scripts with realtime STT, whose transcript comes about 35 ms after the guess: replies
/// started at 150 ms (eager transcription at 100) wasted 0.4 model requests per answer, at 185 ms
/// (eager at 150, the default) 0.2; batch STT's transcripts come later than either.
pub(super) const REPLY_AFTER_SILENCE: Duration = Duration::from_millis(150);

impl CallCore {
    /// An eager transcript arrived, or the time to start its reply came: if it completes everything
    /// the caller said so far, start the answer now, held until the turn is confirmed.
    pub(super) fn preempt(&mut self, now: Now) {
        if !self.is_ai() || self.preemptive.is_some() || !self.config.preemptive_replies {
            return;
        }
        if self.preempt_due_at().is_some_and(|at| at > now.at) {
            return; // the turn is not due to end soon; the deadline brings this back
        }
        let Some((id, outcomes)) = self.turns.eager_guess_transcribed() else {
            return;
        };
        let weighed = self.weigh(&outcomes);
        if weighed.texts.is_empty() || weighed.stt_failed {
            return; // nothing the confirmed turn would answer with a reply
        }
        let text = self.words_to_answer(&weighed.texts);
        let business = self.config.business.as_ref().expect("AI calls have one");
        let request = self
            .dialogue
            .request_answering(business, self.tools.offered(), &text);
        self.preemptive = Some(Preemptive::new(id, text, now.at));
        self.start_reply(id, request);
    }

    /// When a transcribed guess's reply is to start: [`REPLY_AFTER_SILENCE`] into the silence, and
    /// no sooner than [`PREEMPT_LEAD`] before the turn is due to end by its words and voice.
    pub(in crate::call::core) fn preempt_due_at(&self) -> Option<Instant> {
        if self.preemptive.is_some() || !self.config.preemptive_replies {
            return None;
        }
        self.turns.transcribed_guess()?;
        let soonest = self.turns.guess_speech_ended()? + REPLY_AFTER_SILENCE;
        let paced = self
            .end_of_turn
            .as_ref()
            .and_then(|e| e.deadline())
            .map(|ends_at| ends_at.checked_sub(PREEMPT_LEAD).unwrap_or(ends_at));
        Some(paced.map_or(soonest, |paced| paced.max(soonest)))
    }

    /// An output of a reply not yet adopted: held. Returns the output when it is not one.
    pub(super) fn hold_preemptive(
        &mut self,
        turn: TurnId,
        output: ReplyOutput,
    ) -> Option<ReplyOutput> {
        match &mut self.preemptive {
            Some(preemptive) if preemptive.id == turn => {
                preemptive.hold(output);
                None
            }
            _ => Some(output),
        }
    }

    /// The caller's turn `id` is confirmed with `text`: a reply started ahead for exactly that is
    /// adopted, and what it produced so far comes back to be played. A reply started for other words
    /// (or another turn) is discarded, so no audio made for a different transcript is ever heard.
    pub(super) fn adopt_preemptive(
        &mut self,
        id: TurnId,
        text: &str,
        now: Now,
    ) -> Option<Vec<ReplyOutput>> {
        let preemptive = self.preemptive.take()?;
        if preemptive.id == id && preemptive.text == text {
            let head_start = now.at.saturating_duration_since(preemptive.started_at);
            self.dialogue.timings(now).span.head_start_ms = Some(head_start.as_millis() as i64);
            self.event(now, "preemptive_adopted", Some(json!({ "turn": id })));
            return Some(preemptive.release());
        }
        self.preemptive = Some(preemptive);
        self.discard_preemptive(None, now);
        None
    }

    /// Drops the reply started ahead, if any (`cancelled`: its work was already cancelled under that
    /// id), recording what it had cost.
    pub(super) fn discard_preemptive(&mut self, cancelled: Option<TurnId>, now: Now) {
        let Some(preemptive) = self.preemptive.take() else {
            return;
        };
        if cancelled != Some(preemptive.id) {
            self.emit(Effect::CancelTurn(preemptive.id));
        }
        let waste = preemptive.waste();
        self.event(
            now,
            "preemptive_discarded",
            Some(json!({
                "turn": preemptive.id,
                "sentences": waste.sentences,
                "audio_ms": waste.audio_bytes / 8,
            })),
        );
    }
}
