//! The caller's side: speech starting (a barge-in over the agent), utterances guessed and
//! confirmed, their transcripts judged and formed into caller turns that are answered.

use serde_json::json;
use sicha_audio::endpoint::{EndpointEvent, Utterance};

use crate::call::core::dialogue::CallerWords;
use crate::call::core::end_of_turn::Resumption;
use crate::call::core::turns::{Arrival, UnheardReply};
use crate::call::core::{AgentMode, CallCore, Effect, Now, SttOutcome, TurnId};
use crate::call::loops::LoopDecision;
use crate::call::phrases;
use crate::call::transcript::{AudioEvidence, Judgement};

impl CallCore {
    pub(super) fn speech(&mut self, event: EndpointEvent, now: Now) {
        match event {
            EndpointEvent::SpeechStarted { start_sample } => {
                self.caller_speaking = true;
                self.escalation.caller_spoke();
                // A sentence's mark follows its last audio: with slow synthesis, much of an answer
                // is on the line unmarked, which the ledger counts as audible too.
                if self.agent_audible() || self.turns.reply_sounding() {
                    self.barge_in(start_sample, now);
                }
            }
            EndpointEvent::Utterance(utterance) => {
                self.caller_speaking = false;
                match self.config.mode {
                    AgentMode::Echo => {
                        let audio = crate::call::echo::reply_audio(&utterance);
                        self.play_piece(audio, None, now);
                    }
                    AgentMode::Silent => {}
                    AgentMode::Ai => {
                        let decided = self
                            .end_of_turn
                            .as_mut()
                            .is_some_and(|e| e.endpointer_closed(utterance.start_sample));
                        if decided {
                            // This turn was already confirmed by its words and voice.
                            self.settle(now);
                        } else {
                            self.utterance(utterance, UtteranceEnd::Endpointer, now);
                        }
                    }
                }
            }
            EndpointEvent::Tentative(utterance) if self.is_ai() => {
                let guess = self.end_of_turn.is_some().then(|| utterance.clone());
                let turn = self.utterance(utterance, UtteranceEnd::Guessed, now);
                if let (Some(end_of_turn), Some(guess)) = (&mut self.end_of_turn, guess) {
                    end_of_turn.guessed(guess, turn, now.at);
                }
            }
            EndpointEvent::Tentative(_) => {}
            EndpointEvent::Resumed { at_sample } => {
                let resumption = self.end_of_turn.as_mut().and_then(|e| e.resumed());
                if let Some(id) = self.turns.resumed() {
                    self.emit(Effect::CancelTurn(id));
                    self.event(now, "eager_dropped", None);
                    self.discard_preemptive(Some(id), now);
                }
                if resumption == Some(Resumption::AfterConfirming) {
                    // The turn was ended on its words and voice, and the caller was not done: what
                    // was said to it is out of date, as when they speak over an answer.
                    self.caller_speaking = true;
                    self.event(now, "turn_resumed", Some(json!({ "at_sample": at_sample })));
                    self.said_more(at_sample, now);
                }
            }
            EndpointEvent::Discarded { .. } => {
                self.caller_speaking = false;
                self.settle(now);
            }
        }
    }

    /// The silence after a tentative end has lasted as long as its words and voice ask: the turn
    /// is confirmed without waiting for the endpointer's longest hangover.
    pub(super) fn end_of_turn_due(&mut self, now: Now) {
        let Some(end_of_turn) = &mut self.end_of_turn else {
            return;
        };
        let reading = end_of_turn.reading();
        let Some((utterance, silence_ms)) = end_of_turn.due(now.at) else {
            return;
        };
        if let Some((text, voice)) = reading {
            let detail = json!({
                "silence_ms": silence_ms,
                "by": "words_and_voice",
                "words": format!("{text:?}"),
                "voice": format!("{voice:?}"),
            });
            self.event(now, "turn_ended", Some(detail));
        }
        self.caller_speaking = false;
        self.utterance(utterance, UtteranceEnd::Decided { silence_ms }, now);
    }

    /// An utterance's end, guessed (eager), decided from its words and voice, or confirmed by the
    /// endpointer's hangover. Returns the turn its transcription runs under, when one starts.
    pub(super) fn utterance(
        &mut self,
        utterance: Utterance,
        end: UtteranceEnd,
        now: Now,
    ) -> Option<TurnId> {
        if !self.is_ai() {
            return None;
        }
        let emitted_at = utterance.pcm_start_sample + utterance.pcm.len() as u64;
        let (confirmed, endpoint_ms) = match end {
            // A guess's wait so far: where its speech ended, for pacing a reply started on it.
            UtteranceEnd::Guessed => (false, emitted_at.saturating_sub(utterance.end_sample) / 8),
            UtteranceEnd::Endpointer => (true, emitted_at.saturating_sub(utterance.end_sample) / 8),
            UtteranceEnd::Decided { silence_ms } => (true, silence_ms),
        };
        if let UtteranceEnd::Endpointer = end {
            // Every confirmed end of a turn is on record, whichever way it was decided.
            let detail = json!({ "silence_ms": endpoint_ms, "by": "silence" });
            self.event(now, "turn_ended", Some(detail));
        }
        let speech = utterance.end_sample.saturating_sub(utterance.start_sample);
        let start = utterance.start_sample;
        let evidence = AudioEvidence::from_endpoint(&utterance.evidence, 8000);
        let turn = self
            .turns
            .utterance(start, speech, evidence, endpoint_ms, confirmed, now.at);
        if let Some(turn) = turn {
            let name = self
                .config
                .business
                .as_ref()
                .map_or("", |b| b.name.as_str());
            let prompt = crate::call::hebrew::transcription_prompt(name);
            self.emit(Effect::Transcribe {
                turn,
                pcm: utterance.pcm,
                prompt,
            });
        }
        if !confirmed {
            return turn;
        }
        self.said_more(start, now);
        self.escalation.line_busy();
        if self.turns.ready() {
            self.caller_turn(now);
        }
        turn
    }

    /// The caller said more: a reply to their earlier words is out of date. One already on the
    /// line is cut like a barge-in; one still being prepared is dropped quietly.
    fn said_more(&mut self, at_sample: u64, now: Now) {
        if self.turns.reply_sounding() {
            self.barge_in(at_sample, now);
        } else if let Some(dropped) = self.turns.drop_reply() {
            self.unheard_reply_dropped(dropped, now);
        }
    }

    /// A reply is stopped before a word of it was heard: its work is cancelled and what it had
    /// cost is recorded (the price of ending a turn too soon).
    fn unheard_reply_dropped(&mut self, dropped: UnheardReply, now: Now) {
        self.emit(Effect::CancelTurn(dropped.id));
        let detail = json!({ "turn": dropped.id, "sentences": dropped.speech_requests });
        self.event(now, "answer_dropped", Some(detail));
    }

    pub(super) fn transcript(&mut self, turn: TurnId, outcome: SttOutcome, now: Now) {
        if let (Some(end_of_turn), SttOutcome::Text { text, .. }) =
            (&mut self.end_of_turn, &outcome)
        {
            end_of_turn.transcribed(turn, text);
        }
        match self.turns.transcript(turn, outcome, now.at) {
            Arrival::Ready => self.caller_turn(now),
            Arrival::Held => {
                self.preempt(now);
                // The words may end the turn at once (the silence is already long enough for them).
                self.end_of_turn_due(now);
            }
            Arrival::Stale => {}
        }
    }

    /// The outcomes of a caller turn's utterances, judged: the words to answer, lone fillers, and
    /// what was dropped or failed (as events to record, in speech order). Decides nothing yet.
    pub(super) fn weigh(&self, outcomes: &[(SttOutcome, AudioEvidence)]) -> Weighed {
        let mut weighed = Weighed::default();
        for (outcome, evidence) in outcomes {
            match outcome {
                SttOutcome::Text {
                    text,
                    signals,
                    stt_ms,
                } => {
                    weighed.stt_ms = weighed.stt_ms.max(*stt_ms);
                    match self.filter.judge(text, *signals, *evidence) {
                        Judgement::Answer(text) => weighed.texts.push(text),
                        Judgement::WaitForMore(text) => weighed.fillers.push(text),
                        Judgement::Drop {
                            reason,
                            apologise: clear,
                        } => {
                            let detail = json!({
                                "reason": format!("{reason:?}"),
                                "text": text,
                                "clear_speech": clear,
                            });
                            weighed.events.push(("transcript_dropped", detail));
                            weighed.apologise |= clear;
                        }
                    }
                }
                SttOutcome::Failed { error, stt_ms } => {
                    weighed.stt_ms = weighed.stt_ms.max(*stt_ms);
                    weighed
                        .events
                        .push(("stt_failed", json!({ "error": error })));
                    weighed.stt_failed = true;
                }
            }
        }
        weighed
    }

    /// The words a caller turn answers: lone fillers carried from before, then these.
    pub(super) fn words_to_answer(&self, texts: &[String]) -> String {
        let mut words = self.carried.clone();
        words.extend(texts.iter().cloned());
        words.join(" ")
    }

    /// Every utterance waiting is transcribed: judge the words, then answer, escalate or ask again.
    pub(super) fn caller_turn(&mut self, now: Now) {
        let Some(heard) = self.turns.take_heard() else {
            return;
        };
        let Weighed {
            texts,
            fillers,
            stt_ms,
            stt_failed,
            apologise,
            events,
        } = self.weigh(&heard.outcomes);
        for (kind, detail) in events {
            self.event(now, kind, Some(detail));
        }
        if texts.is_empty() {
            self.discard_preemptive(None, now);
            self.turns.nothing_to_answer();
            self.filler_wait = None;
            if stt_failed {
                self.say(phrases::REPEAT, now);
            } else if apologise {
                // The caller surely spoke: they hear at once that they were not understood.
                self.say(phrases::DID_NOT_CATCH, now);
            } else if !fillers.is_empty() {
                // "אממ…": the caller is thinking. Their next words are answered with these before.
                self.event(
                    now,
                    "turn_extended",
                    Some(json!({ "text": fillers.join(" ") })),
                );
                self.carried.extend(fillers);
            }
            self.settle(now);
            return;
        }
        let text = self.words_to_answer(&texts);
        self.carried.clear();
        let since_heard = now.at.saturating_duration_since(heard.heard_at);
        let spoke_until_ms =
            now.wall_ms - since_heard.as_millis() as i64 - heard.endpoint_ms as i64;
        let words = CallerWords {
            text: text.clone(),
            stt_ms,
            endpoint_ms: heard.endpoint_ms,
            spoke_until_ms,
            spoke_from_ms: spoke_until_ms - (heard.speech_samples / 8) as i64,
        };
        self.tools.caller_spoke();
        let decision = self.escalation.caller_said(&text);
        if decision != LoopDecision::Continue {
            self.discard_preemptive(None, now);
            self.turns.nothing_to_answer();
            self.filler_wait = None;
            let record = self.dialogue.caller_turn(words, now);
            self.emit(Effect::Record(record));
            let detail = json!({ "who": "caller", "text": text });
            self.event(now, "loop_detected", Some(detail));
            self.on_loop(decision, now);
            return;
        }
        let record = self.dialogue.caller_turn(words.clone(), now);
        if let Some(old) = self.turns.start_answer(&heard) {
            self.unheard_reply_dropped(old, now);
        }
        self.dialogue.answer_started(&words, heard.stt_wait, now);
        self.escalation.answer_started();
        if let Some(waited) = self.filler_wait.take() {
            // The filler the caller heard while STT was slow opens this answer.
            self.dialogue.say(phrases::FILLER, false, now);
            let timings = self.dialogue.timings(now);
            timings.v2v_ms.get_or_insert(waited.as_millis() as i64);
        }
        let held = self.adopt_preemptive(heard.id, &text, now);
        if held.is_none() {
            let business = self.config.business.as_ref().expect("AI calls have one");
            let tools = self.tools.offered();
            let request = self.dialogue.request(business, tools);
            self.start_reply(heard.id, request);
        }
        // The answer starts first; the caller's turn is written while the model thinks, so a busy
        // database never delays what the caller hears.
        self.emit(Effect::Record(record));
        for output in held.into_iter().flatten() {
            self.reply_output(heard.id, output, now);
        }
    }

    /// The caller talks over audible agent audio: drop Twilio's buffer, stop the reply, keep only
    /// what was heard.
    pub(super) fn barge_in(&mut self, at_sample: u64, now: Now) {
        self.emit(Effect::Clear);
        // The sentence streaming has no mark yet, but its words were on the line.
        if let Some(text) = self.ledger.streaming_text().map(str::to_string) {
            self.dialogue.say(&text, false, now);
        }
        let cut = self.ledger.clear(now.at);
        // Phrases still being fetched are not wanted any more.
        self.phrases.clear();
        let cleared: Vec<&str> = cut.pieces.iter().map(|p| p.mark.as_str()).collect();
        self.event(
            now,
            "barge_in",
            Some(json!({ "at_sample": at_sample, "cleared": cleared })),
        );
        if !cut.heard_of_first.is_empty() {
            self.dialogue.heard([cut.heard_of_first]);
        }
        if let Some(id) = self.turns.cancel_reply() {
            self.emit(Effect::CancelTurn(id));
        }
        if let Some(record) = self.dialogue.commit_agent_turn(true, now) {
            self.emit(Effect::Record(record));
        }
        // A goodbye that was cut short is no reason to hang up on someone who is still talking.
        self.end_after_playback = None;
    }
}

/// A caller turn's outcomes, judged (see [`CallCore::weigh`]).
#[derive(Debug, Default)]
pub(super) struct Weighed {
    /// The words to answer, in speech order.
    pub texts: Vec<String>,
    /// Lone fillers ("אממ"): the caller is thinking.
    pub fillers: Vec<String>,
    pub stt_ms: u64,
    pub stt_failed: bool,
    /// Something clearly spoken was dropped: the caller should hear they were not understood.
    pub apologise: bool,
    /// Events to record: dropped transcripts and failed transcriptions.
    pub events: Vec<(&'static str, serde_json::Value)>,
}

/// How an utterance's end became known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UtteranceEnd {
    /// The endpointer's tentative end, after a short silence: transcribed early, not yet the turn.
    Guessed,
    /// The endpointer's hangover closed it.
    Endpointer,
    /// Its words and voice, with this much silence, ended the turn.
    Decided { silence_ms: u64 },
}
