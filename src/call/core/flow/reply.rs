//! The reply in flight: its sentences and audio onto the line (the opening checked for loops
//! first), its timings, its tool calls, its end.

use serde_json::json;

use crate::call::core::tools::ToolDecision;
use crate::call::core::{CallCore, Effect, Ending, Now, ReplyOutput, TurnId};
use crate::call::loops::LoopDecision;
use crate::call::phrases;
use crate::deliveries::tool_calls::{TOOL_CALL, TOOL_REFUSED};
use crate::providers::llm::ToolCall;

impl CallCore {
    pub(super) fn reply_output(&mut self, turn: TurnId, output: ReplyOutput, now: Now) {
        let Some(output) = self.hold_preemptive(turn, output) else {
            return; // started ahead of the caller's turn: held until it is confirmed
        };
        if !self.turns.is_answering(turn) {
            return; // a cancelled or superseded reply's late output
        }
        match output {
            ReplyOutput::LlmFirstToken { ms } => {
                self.dialogue.timings(now).llm_ttft_ms = Some(ms as i64);
            }
            ReplyOutput::Timing(stage) => self.dialogue.timings(now).stage(stage),
            ReplyOutput::SpeechRequested => self.turns.speech_requested(turn),
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
                let stage = crate::call::core::StageTime::TtsFirstAudio(first_audio_ms);
                self.dialogue.timings(now).stage(stage);
                self.on_the_line(&text, now);
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
            ReplyOutput::ToolCall(call) => self.tool_call(turn, call, now),
            ReplyOutput::Finished {
                text,
                first_sentence_ms,
                error,
                truncated,
            } => self.reply_finished(turn, &text, first_sentence_ms, error, truncated, now),
        }
    }

    pub(super) fn reply_audio(&mut self, codes: Vec<u8>, now: Now) {
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

    pub(super) fn reply_finished(
        &mut self,
        turn: TurnId,
        text: &str,
        first_sentence_ms: Option<u64>,
        error: Option<String>,
        truncated: bool,
        now: Now,
    ) {
        if error.is_none() && self.reply_finished_with_tools(turn, text) {
            return; // the answer goes on once the tools have answered
        }
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

    pub(super) fn tool_call(&mut self, turn: TurnId, call: ToolCall, now: Now) {
        // The id ties the call to its result or refusal, for the call page and the CRM.
        self.event(
            now,
            TOOL_CALL,
            Some(json!({ "id": call.id, "name": call.name, "arguments": call.arguments })),
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
                    self.tool_refused(&call, "no transfer number", now);
                }
            }
            ToolDecision::Sms { to, text, key } => self.emit(Effect::Sms { to, text, key }),
            ToolDecision::Callback(asked) => self.callback_asked(turn, call, asked, now),
            ToolDecision::Refused(why) => self.tool_refused(&call, &why, now),
            ToolDecision::Business { tool, key } => self.invoke_tool(turn, call, tool, key, now),
            ToolDecision::Answered { why, result } => {
                self.tool_refused(&call, &why, now);
                self.answer_tool_call(turn, call, result);
            }
        }
    }

    fn tool_refused(&mut self, call: &ToolCall, why: &str, now: Now) {
        let detail = json!({ "id": call.id, "name": call.name, "why": why });
        self.event(now, TOOL_REFUSED, Some(detail));
    }
}
