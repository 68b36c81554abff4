//! The agent's fixed words: phrases asked for and played with their marks, and the filler that
//! breaks a long wait.

use serde_json::json;

use crate::call::core::{CallCore, Effect, Now, PhraseId, PhrasePurpose};
use crate::call::phrases;
use crate::store::events::AGENT_SPEAKING;

impl CallCore {
    /// Says a fixed phrase as part of the agent's turn (only the AI agent speaks phrases).
    pub(super) fn say(&mut self, text: &str, now: Now) {
        if !self.is_ai() {
            return;
        }
        // Said outside a reply (greeting, prompts): nothing more will be added to it.
        let closing = self.turns.answering_id().is_none();
        self.dialogue.say(text, closing, now);
        self.request_phrase(PhrasePurpose::Spoken(text.to_string()), text);
    }

    pub(super) fn request_phrase(&mut self, purpose: PhrasePurpose, text: &str) {
        self.next_phrase += 1;
        let id: PhraseId = self.next_phrase;
        self.phrases.push((id, purpose));
        self.escalation.line_busy();
        let voice = self.config.business.as_ref().and_then(|b| b.voice.clone());
        self.emit(Effect::Phrase {
            id,
            text: text.to_string(),
            voice,
        });
    }

    pub(super) fn phrase_audio(
        &mut self,
        id: PhraseId,
        audio: Result<std::sync::Arc<Vec<u8>>, String>,
        now: Now,
    ) {
        let Some(index) = self.phrases.iter().position(|(p, _)| *p == id) else {
            return; // cleared by a barge-in or a new stream
        };
        let (_, purpose) = self.phrases.remove(index);
        let text = match purpose {
            PhrasePurpose::Spoken(text) => text,
            PhrasePurpose::Filler => phrases::FILLER.to_string(),
        };
        match audio {
            Ok(audio) => self.play_piece(audio.as_ref().clone(), Some(text), now),
            Err(error) => {
                self.event(
                    now,
                    "tts_failed",
                    Some(json!({ "text": text, "error": error })),
                );
                self.emit(Effect::SayThroughTwilio { text });
            }
        }
        self.settle(now);
    }

    /// Sends one whole piece of agent audio followed by its mark.
    pub(super) fn play_piece(&mut self, audio: Vec<u8>, text: Option<String>, now: Now) {
        if !self.stream_live || audio.is_empty() {
            return;
        }
        let samples = audio.len();
        self.escalation.line_busy();
        if let Some(text) = &text {
            self.on_the_line(text, now);
        }
        self.emit(Effect::Audio(audio));
        let mark = self.ledger.enqueue(samples, text, now.at);
        self.emit(Effect::Mark(mark));
    }

    /// Words of the agent's turn go to the caller's line: recorded at once, so a process that dies
    /// before the turn ends still leaves what the caller was hearing. (A filler played before the
    /// caller's words are transcribed belongs to no turn yet; the answer it opens is recorded.)
    pub(super) fn on_the_line(&mut self, text: &str, now: Now) {
        let Some(turn) = self.dialogue.speaking_seq() else {
            return;
        };
        let detail = json!({ "turn": turn, "text": text });
        self.event(now, AGENT_SPEAKING, Some(detail));
    }

    /// Nothing to say yet, long after the caller stopped: a short filler, recorded as its own event
    /// and as the opening of the answer it stands in for. When the caller's words are not even
    /// transcribed yet, it waits to join the answer, so the answer still follows the caller's turn.
    pub(super) fn filler(&mut self, now: Now) {
        let Some(waited) = self.turns.filler_played(now.at) else {
            return;
        };
        // What the caller waited before hearing something: the filler counts.
        if self.turns.answering_id().is_some() {
            self.dialogue.say(phrases::FILLER, false, now);
            let timings = self.dialogue.timings(now);
            timings.v2v_ms.get_or_insert(waited.as_millis() as i64);
        } else {
            self.filler_wait = Some(waited);
        }
        self.event(now, "filler", Some(json!({ "text": phrases::FILLER })));
        self.request_phrase(PhrasePurpose::Filler, phrases::FILLER);
    }
}
