//! The coordinator's handlers: what each input does, through the parts that own the state. Every
//! handler only reads and changes the core and pushes effects; nothing here waits or touches I/O.

use serde_json::json;
use sicha_audio::endpoint::{EndpointEvent, Utterance};

use super::dialogue::CallerWords;
use super::escalation::SilenceStep;
use super::tools::{ToolDecision, Tools};
use super::{
    ActionResult, AgentMode, CallCore, Effect, Ending, Input, Now, PhraseId, PhrasePurpose,
    ReplyOutput, SttOutcome, TurnId,
};
use crate::call::loops::LoopDecision;
use crate::call::phrases;
use crate::call::transcript::{AudioEvidence, Judgement};
use crate::providers::llm::ToolCall;
use crate::store::{CallStatus, Record};
use crate::twilio::socket::StreamEnd;

/// Why an escalation or transfer was asked for, as recorded.
const WHY_LOOP: &str = "loop";

impl CallCore {
    pub(super) fn dispatch(&mut self, input: Input, now: Now) {
        match input {
            Input::StreamAttached { stream_sid } => self.attached(stream_sid, now),
            Input::StreamEnded { stream_sid, end } => self.stream_ended(&stream_sid, end, now),
            Input::Speech(event) => self.speech(event, now),
            Input::MarkPlayed(mark) => {
                let played = self.ledger.mark_played(&mark, now.at);
                self.dialogue
                    .heard(played.into_iter().filter_map(|p| p.text));
                self.settle(now);
            }
            Input::Dtmf(digit) => self.dtmf(digit, now),
            Input::Transcript { turn, outcome } => self.transcript(turn, outcome, now),
            Input::Reply { turn, output } => self.reply_output(turn, output, now),
            Input::Phrase { id, audio } => self.phrase_audio(id, audio, now),
            Input::ActionDone(result) => self.action_done(result, now),
            Input::Tick => self.tick(now),
            Input::Shutdown => self.end(Ending::completed("server_shutdown"), now),
        }
    }

    // --- the stream -------------------------------------------------------------------------

    fn attached(&mut self, stream_sid: String, now: Now) {
        let first = self.stream_sid.is_none();
        // Whatever an old stream had buffered is gone with it, unheard.
        self.ledger.clear(now.at);
        self.phrases.clear();
        self.awaiting_reconnect = None;
        self.stream_sid = Some(stream_sid.clone());
        self.stream_live = true;
        if first {
            self.hard_deadline = Some(now.at + self.config.max_call);
        }
        self.emit(Effect::Record(Record::Streaming {
            call_sid: self.config.call_sid.clone(),
            at_ms: now.wall_ms,
        }));
        if first {
            self.emit(Effect::StartRecording);
        }
        let kind = if first {
            "stream_started"
        } else {
            "stream_resumed"
        };
        self.event(now, kind, Some(json!({ "stream_sid": stream_sid })));
        if first && let Some(business) = &self.config.business {
            let greeting = business.greeting.clone();
            self.say(&greeting, now);
        }
    }

    fn stream_ended(&mut self, stream_sid: &str, end: StreamEnd, now: Now) {
        if self.stream_sid.as_deref() != Some(stream_sid) || !self.stream_live {
            // An older stream of this call closing after its successor attached.
            return;
        }
        self.stream_live = false;
        self.emit(Effect::DetachStream);
        if self.awaiting_reconnect.is_some() {
            // Twilio is saying a fallback and will come back on a new stream.
            return;
        }
        let ending = match end {
            StreamEnd::Stopped => {
                Ending::completed(self.stop_reason.as_deref().unwrap_or("stream_stopped"))
            }
            StreamEnd::Dropped => Ending::with(CallStatus::Dropped, "socket_dropped"),
            StreamEnd::ClosedByServer => Ending::completed("closed_by_server"),
            StreamEnd::Rejected(why) | StreamEnd::LimitExceeded(why) => {
                Ending::with(CallStatus::Failed, &why)
            }
        };
        self.end(ending, now);
    }

    // --- the caller's speech ----------------------------------------------------------------

    fn speech(&mut self, event: EndpointEvent, now: Now) {
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
                    AgentMode::Ai => self.utterance(utterance, true, now),
                }
            }
            EndpointEvent::Tentative(utterance) if self.is_ai() => {
                self.utterance(utterance, false, now)
            }
            EndpointEvent::Tentative(_) => {}
            EndpointEvent::Resumed { .. } => {
                if let Some(id) = self.turns.resumed() {
                    self.emit(Effect::CancelTurn(id));
                    self.event(now, "eager_dropped", None);
                }
            }
            EndpointEvent::Discarded { .. } => {
                self.caller_speaking = false;
                self.settle(now);
            }
        }
    }

    /// An utterance's end, guessed (eager) or confirmed by the hangover.
    fn utterance(&mut self, utterance: Utterance, confirmed: bool, now: Now) {
        if !self.is_ai() {
            return;
        }
        let emitted_at = utterance.pcm_start_sample + utterance.pcm.len() as u64;
        let endpoint_ms = if confirmed {
            emitted_at.saturating_sub(utterance.end_sample) / 8
        } else {
            0
        };
        let speech = utterance.end_sample.saturating_sub(utterance.start_sample);
        let start = utterance.start_sample;
        let evidence = AudioEvidence::from_endpoint(&utterance.evidence, 8000);
        if let Some(turn) =
            self.turns
                .utterance(start, speech, evidence, endpoint_ms, confirmed, now.at)
        {
            let name = self
                .config
                .business
                .as_ref()
                .map_or("", |b| b.name.as_str());
            let prompt = format!("שיחת טלפון עם {name}.");
            self.emit(Effect::Transcribe {
                turn,
                pcm: utterance.pcm,
                prompt,
            });
        }
        if !confirmed {
            return;
        }
        // The caller said more: a reply to their earlier words is out of date. One already on the
        // line is cut like a barge-in; one still being prepared is dropped quietly.
        if self.turns.reply_sounding() {
            self.barge_in(start, now);
        } else if let Some(id) = self.turns.cancel_reply() {
            self.emit(Effect::CancelTurn(id));
        }
        self.escalation.line_busy();
        if self.turns.ready() {
            self.caller_turn(now);
        }
    }

    fn transcript(&mut self, turn: TurnId, outcome: SttOutcome, now: Now) {
        if self.turns.transcript(turn, outcome, now.at) == super::turns::Arrival::Ready {
            self.caller_turn(now);
        }
    }

    /// Every utterance waiting is transcribed: judge the words, then answer, escalate or ask again.
    fn caller_turn(&mut self, now: Now) {
        let Some(heard) = self.turns.take_heard() else {
            return;
        };
        let mut texts = Vec::new();
        let mut fillers = Vec::new();
        let mut stt_ms = 0;
        let mut stt_failed = false;
        let mut apologise = false;
        for (outcome, evidence) in &heard.outcomes {
            match outcome {
                SttOutcome::Text {
                    text,
                    signals,
                    stt_ms: ms,
                } => {
                    stt_ms = stt_ms.max(*ms);
                    match self.filter.judge(text, *signals, *evidence) {
                        Judgement::Answer(text) => texts.push(text),
                        Judgement::WaitForMore(text) => fillers.push(text),
                        Judgement::Drop {
                            reason,
                            apologise: clear,
                        } => {
                            let detail = json!({
                                "reason": format!("{reason:?}"),
                                "text": text,
                                "clear_speech": clear,
                            });
                            self.event(now, "transcript_dropped", Some(detail));
                            apologise |= clear;
                        }
                    }
                }
                SttOutcome::Failed { error, stt_ms: ms } => {
                    stt_ms = stt_ms.max(*ms);
                    self.event(now, "stt_failed", Some(json!({ "error": error })));
                    stt_failed = true;
                }
            }
        }
        if texts.is_empty() {
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
        texts.splice(0..0, std::mem::take(&mut self.carried));
        let text = texts.join(" ");
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
        let decision = self.escalation.caller_said(&text);
        if decision != LoopDecision::Continue {
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
            self.emit(Effect::CancelTurn(old));
        }
        self.dialogue.answer_started(&words, heard.stt_wait, now);
        self.escalation.answer_started();
        if let Some(waited) = self.filler_wait.take() {
            // The filler the caller heard while STT was slow opens this answer.
            self.dialogue.say(phrases::FILLER, false, now);
            let timings = self.dialogue.timings(now);
            timings.v2v_ms.get_or_insert(waited.as_millis() as i64);
        }
        let business = self.config.business.as_ref().expect("AI calls have one");
        let tools = Tools::offered(business.transfer_to.is_some());
        let request = self.dialogue.request(business, tools);
        self.emit(Effect::Reply {
            turn: heard.id,
            request,
        });
        // The answer starts first; the caller's turn is written while the model thinks, so a busy
        // database never delays what the caller hears.
        self.emit(Effect::Record(record));
    }

    /// The caller talks over audible agent audio: drop Twilio's buffer, stop the reply, keep only
    /// what was heard.
    fn barge_in(&mut self, at_sample: u64, now: Now) {
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

    // --- the reply --------------------------------------------------------------------------

    fn reply_output(&mut self, turn: TurnId, output: ReplyOutput, now: Now) {
        if !self.turns.is_answering(turn) {
            return; // a cancelled or superseded reply's late output
        }
        match output {
            ReplyOutput::LlmFirstToken { ms } => {
                self.dialogue.timings(now).llm_ttft_ms = Some(ms as i64);
            }
            ReplyOutput::Timing(stage) => self.dialogue.timings(now).stage(stage),
            ReplyOutput::SentenceStarted {
                text,
                first_audio_ms,
            } => {
                // The answer's opening is judged before any of its audio goes out.
                let decision = self.escalation.answer_sentence(&text);
                if decision != LoopDecision::Continue {
                    if let Some(id) = self.turns.cancel_reply() {
                        self.emit(Effect::CancelTurn(id));
                    }
                    self.dialogue.finish_answer();
                    let detail = json!({ "who": "agent", "text": text });
                    self.event(now, "loop_detected", Some(detail));
                    self.on_loop(decision, now);
                    self.settle(now);
                    return;
                }
                let stage = super::StageTime::TtsFirstAudio(first_audio_ms);
                self.dialogue.timings(now).stage(stage);
                self.ledger.begin_sentence(text);
            }
            ReplyOutput::Audio(codes) => self.reply_audio(codes, now),
            ReplyOutput::SentenceDone {
                text,
                provider,
                first_audio_ms,
                failures,
            } => {
                for (failed, error) in failures {
                    self.event(
                        now,
                        "tts_fallback",
                        Some(json!({ "failed": failed, "error": error, "served_by": provider })),
                    );
                }
                let timings = self.dialogue.timings(now);
                timings.tts_ttfb_ms.get_or_insert(first_audio_ms as i64);
                self.dialogue.say(&text, false, now);
                if let Some(mark) = self.ledger.end_sentence(text) {
                    self.emit(Effect::Mark(mark));
                }
            }
            ReplyOutput::SentenceFailed { text, failures } => {
                self.event(
                    now,
                    "tts_failed",
                    Some(json!({ "text": text, "failures": failures })),
                );
                self.dialogue.say(&text, false, now);
                self.emit(Effect::SayThroughTwilio { text });
            }
            ReplyOutput::ToolCall(call) => self.tool_call(call, now),
            ReplyOutput::Finished {
                text,
                first_sentence_ms,
                error,
                truncated,
            } => self.reply_finished(turn, &text, first_sentence_ms, error, truncated, now),
        }
    }

    fn reply_audio(&mut self, codes: Vec<u8>, now: Now) {
        if !self.stream_live {
            return;
        }
        if let Some((v2v, span)) = self.turns.first_audio(now.at) {
            self.emit(Effect::VoiceToVoice(v2v));
            let timings = self.dialogue.timings(now);
            // A filler may have broken the silence first; that is what the caller waited.
            timings.v2v_ms.get_or_insert(v2v.as_millis() as i64);
            timings
                .span
                .turnaround_ms
                .get_or_insert(span.as_millis() as i64);
        }
        self.ledger.sentence_audio(codes.len(), now.at);
        self.escalation.line_busy();
        self.emit(Effect::Audio(codes));
    }

    fn reply_finished(
        &mut self,
        turn: TurnId,
        text: &str,
        first_sentence_ms: Option<u64>,
        error: Option<String>,
        truncated: bool,
        now: Now,
    ) {
        let said_something = self.turns.reply_sounding();
        self.turns.reply_finished(turn);
        self.dialogue.timings(now).llm_first_sentence_ms = first_sentence_ms.map(|ms| ms as i64);
        let decision = self.escalation.answer_finished(text);
        if let Some(error) = error {
            let kind = if truncated {
                "llm_truncated"
            } else {
                "llm_failed"
            };
            self.event(now, kind, Some(json!({ "error": error })));
            if !said_something {
                self.say(phrases::APOLOGY, now);
            }
        }
        self.dialogue.finish_answer();
        if decision != LoopDecision::Continue {
            let detail = json!({ "who": "agent", "text": text });
            self.event(now, "loop_detected", Some(detail));
            self.on_loop(decision, now);
        }
        self.settle(now);
    }

    fn tool_call(&mut self, call: ToolCall, now: Now) {
        self.event(
            now,
            "tool_call",
            Some(json!({ "name": call.name, "arguments": call.arguments })),
        );
        let decision = self
            .tools
            .decide(&call, &self.config.call_sid, &self.config.caller_number);
        match decision {
            ToolDecision::EndCall => {
                self.dialogue.outcome_if_unset("resolved");
                self.end_after_playback = Some(Ending::completed("agent_ended_call"));
            }
            ToolDecision::Transfer => {
                if !self.transfer("tool") {
                    self.event(
                        now,
                        "tool_refused",
                        Some(json!({ "name": call.name, "why": "no transfer number" })),
                    );
                }
            }
            ToolDecision::Sms { to, text, key } => self.emit(Effect::Sms { to, text, key }),
            ToolDecision::Refused(why) => {
                self.event(
                    now,
                    "tool_refused",
                    Some(json!({ "name": call.name, "why": why })),
                );
            }
        }
    }

    // --- the agent's other words --------------------------------------------------------------

    /// Says a fixed phrase as part of the agent's turn (only the AI agent speaks phrases).
    fn say(&mut self, text: &str, now: Now) {
        if !self.is_ai() {
            return;
        }
        // Said outside a reply (greeting, prompts): nothing more will be added to it.
        let closing = self.turns.answering_id().is_none();
        self.dialogue.say(text, closing, now);
        self.request_phrase(PhrasePurpose::Spoken(text.to_string()), text);
    }

    fn request_phrase(&mut self, purpose: PhrasePurpose, text: &str) {
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

    fn phrase_audio(
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
    fn play_piece(&mut self, audio: Vec<u8>, text: Option<String>, now: Now) {
        if !self.stream_live || audio.is_empty() {
            return;
        }
        let samples = audio.len();
        self.escalation.line_busy();
        self.emit(Effect::Audio(audio));
        let mark = self.ledger.enqueue(samples, text, now.at);
        self.emit(Effect::Mark(mark));
    }

    /// The line may have fallen silent: commit a finished answer, start counting silence, and end
    /// the call if it was waiting for its last words to play.
    fn settle(&mut self, now: Now) {
        if self.agent_audible() {
            return;
        }
        if self.is_ai() {
            if self.dialogue.answer_finished()
                && self.turns.answering_id().is_none()
                && let Some(record) = self.dialogue.commit_agent_turn(false, now)
            {
                self.emit(Effect::Record(record));
            }
            // Quiet only when nobody is talking: not mid-utterance, not while a turn is answered.
            if !self.turns.in_flight() && !self.caller_speaking {
                self.escalation.line_quiet(now.at);
            }
        }
        if let Some(ending) = self.end_after_playback.take() {
            self.end(ending, now);
        }
    }

    // --- escalation, keys, timers -------------------------------------------------------------

    /// A loop was found: the first escalates, one after that ends the call politely (a second
    /// escalation would promise a second call-back for the same request).
    fn on_loop(&mut self, decision: LoopDecision, now: Now) {
        match decision {
            LoopDecision::Continue => {}
            LoopDecision::Escalate => self.escalate(now),
            LoopDecision::EndPolitely => {
                self.dialogue.outcome_if_unset("callback_requested");
                self.say(phrases::LOOP_GOODBYE, now);
                self.end_after_playback = Some(Ending::completed("loop_after_escalation"));
            }
        }
    }

    /// The same thing too often: a person takes over where one exists, otherwise a call-back is
    /// promised and recorded.
    fn escalate(&mut self, now: Now) {
        if !self.transfer(WHY_LOOP) {
            self.promise_callback(WHY_LOOP, None, now);
        }
    }

    /// Asks for a transfer to the business's number; false when it has none.
    fn transfer(&mut self, why: &str) -> bool {
        let Some(to) = self
            .config
            .business
            .as_ref()
            .and_then(|b| b.transfer_to.clone())
        else {
            return false;
        };
        self.emit(Effect::Transfer {
            why: why.to_string(),
            to,
        });
        true
    }

    fn promise_callback(&mut self, reason: &str, digit: Option<&str>, now: Now) {
        self.dialogue.set_outcome("callback_requested");
        let detail = match digit {
            Some(digit) => json!({ "reason": reason, "digit": digit }),
            None => json!({ "reason": reason }),
        };
        self.event(now, "callback_requested", Some(detail));
        self.say(phrases::ESCALATE_CALLBACK, now);
    }

    fn action_done(&mut self, result: ActionResult, now: Now) {
        match result {
            ActionResult::Transferred { why, to } => {
                self.dialogue.set_outcome("transferred");
                for id in self.turns.cancel_all() {
                    self.emit(Effect::CancelTurn(id));
                }
                self.stop_reason = Some("transferred".into());
                self.event(now, "transferred", Some(json!({ "why": why, "to": to })));
            }
            ActionResult::TransferFailed { why, error } => {
                self.event(now, "transfer_failed", Some(json!({ "error": error })));
                if why == WHY_LOOP {
                    self.promise_callback(WHY_LOOP, None, now);
                }
            }
            ActionResult::SaidThroughTwilio { text } => {
                self.awaiting_reconnect = Some(now.at + self.config.reconnect_wait);
                self.event(now, "fallback_say", Some(json!({ "text": text })));
            }
            ActionResult::SayFailed { error: Some(error) } => {
                self.event(now, "fallback_failed", Some(json!({ "error": error })));
            }
            ActionResult::SayFailed { error: None } => {}
        }
    }

    fn dtmf(&mut self, digit: String, now: Now) {
        self.event(now, "dtmf", Some(json!({ "digit": digit })));
        if !self.is_ai() {
            return;
        }
        let Some(business) = &self.config.business else {
            return;
        };
        use crate::store::businesses::DtmfAction;
        match business.dtmf_map.action(&digit) {
            None => {}
            Some(DtmfAction::Transfer) => {
                let asked = self.transfer("dtmf");
                if asked {
                    return;
                }
                let detail =
                    json!({ "why": "dtmf", "digit": digit, "reason": "no transfer number" });
                self.event(now, "transfer_failed", Some(detail));
            }
            Some(DtmfAction::Callback) => self.promise_callback("dtmf", Some(&digit), now),
            Some(DtmfAction::Goodbye) => {
                // The caller is leaving: an answer still being worked out would only delay it.
                for id in self.turns.cancel_all() {
                    self.emit(Effect::CancelTurn(id));
                }
                self.say(phrases::GOODBYE, now);
                self.end_after_playback = Some(Ending::completed("caller_pressed_goodbye"));
            }
        }
    }

    fn tick(&mut self, now: Now) {
        let due = |at: Option<std::time::Instant>| at.is_some_and(|at| at <= now.at);
        if due(self.hard_deadline) {
            self.end(Ending::completed("max_call_length"), now);
            return;
        }
        if due(self.awaiting_reconnect) {
            self.end(Ending::with(CallStatus::Dropped, "reconnect_timeout"), now);
            return;
        }
        if due(self.turns.filler_due_at()) {
            self.filler(now);
        }
        if due(self.escalation.silence_due_at()) {
            match self.escalation.on_silence() {
                SilenceStep::Prompt(n) => {
                    self.event(now, "silence", Some(json!({ "prompt": n })));
                    self.say(phrases::STILL_THERE, now);
                }
                SilenceStep::Goodbye(n) => {
                    self.event(now, "silence", Some(json!({ "prompt": n })));
                    self.dialogue.outcome_if_unset("caller_silent");
                    self.say(phrases::GOODBYE, now);
                    self.end_after_playback = Some(Ending::completed("caller_silent"));
                }
            }
        }
    }

    /// Nothing to say yet, long after the caller stopped: a short filler, recorded as its own event
    /// and as the opening of the answer it stands in for. When the caller's words are not even
    /// transcribed yet, it waits to join the answer, so the answer still follows the caller's turn.
    fn filler(&mut self, now: Now) {
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

    /// Ends the call: stops every turn, records the agent's last words, the end and why.
    pub(super) fn end(&mut self, ending: Ending, now: Now) {
        if self.ended {
            return;
        }
        self.ended = true;
        for id in self.turns.cancel_all() {
            self.emit(Effect::CancelTurn(id));
        }
        if let Some(record) = self.dialogue.commit_agent_turn(false, now) {
            self.emit(Effect::Record(record));
        }
        // The event goes first: whoever sees the call ended also finds why among its events.
        self.event(now, "call_ended", Some(json!({ "reason": ending.reason })));
        self.emit(Effect::Record(Record::Finished {
            call_sid: self.config.call_sid.clone(),
            status: ending.status,
            reason: ending.reason.clone(),
            at_ms: now.wall_ms,
        }));
        if self.stream_live {
            self.stream_live = false;
            self.emit(Effect::DetachStream);
        }
        let outcome = self
            .dialogue
            .outcome()
            .map_or_else(|| ending.reason.clone(), str::to_string);
        self.emit(Effect::End { ending, outcome });
    }
}
