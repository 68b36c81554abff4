//! The coordinator's handlers: what each input does, through the parts that own the state. Every
//! handler only reads and changes the core and pushes effects; nothing here waits or touches I/O.
//! - this file: the dispatch by input, the timers, settling after the line falls silent, the end;
//! - [`stream`]: a stream joining and ending;
//! - [`caller`]: the caller's speech, utterances, transcripts, turns and barge-ins;
//! - [`reply`]: the reply in flight, its audio, tools and end;
//! - [`preempt`]: replies started on an eager transcript, held, then adopted or discarded;
//! - [`tool_calls`]: the business's tools within a reply, their results given back to the model;
//! - [`speaking`]: the agent's fixed phrases and the filler;
//! - [`handover`]: loops escalated, transfers, call-backs, keys, REST results.

mod caller;
mod handover;
mod preempt;
mod reply;
mod speaking;
mod stream;
mod tool_calls;

use serde_json::json;

use crate::call::core::escalation::SilenceStep;
use crate::call::core::{CallCore, Effect, Ending, Input, Now};
use crate::call::phrases;
use crate::store::{CallStatus, Record};

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
            Input::ToolResult {
                turn,
                call_id,
                result,
                ms,
            } => self.tool_result(turn, &call_id, result, ms, now),
            Input::Phrase { id, audio } => self.phrase_audio(id, audio, now),
            Input::ActionDone(result) => self.action_done(result, now),
            Input::Tick => self.tick(now),
            Input::Shutdown => self.end(Ending::completed("server_shutdown"), now),
        }
    }

    /// The line may have fallen silent: commit a finished answer, start counting silence, and end
    /// the call if it was waiting for its last words to play.
    pub(super) fn settle(&mut self, now: Now) {
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

    pub(super) fn tick(&mut self, now: Now) {
        let due = |at: Option<std::time::Instant>| at.is_some_and(|at| at <= now.at);
        if due(self.hard_deadline) {
            self.end(Ending::completed("max_call_length"), now);
            return;
        }
        if due(self.awaiting_reconnect) {
            self.end(Ending::with(CallStatus::Dropped, "reconnect_timeout"), now);
            return;
        }
        self.end_of_turn_due(now);
        if due(self.preempt_due_at()) {
            self.preempt(now);
        }
        self.tool_wait_due(now);
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

    /// Ends the call: stops every turn, records the agent's last words, the end and why.
    pub(super) fn end(&mut self, ending: Ending, now: Now) {
        if self.ended {
            return;
        }
        self.ended = true;
        // Its work is among the turns cancelled next.
        self.preemptive = None;
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
