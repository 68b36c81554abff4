//! When the call needs more than an answer: loops escalated once then ended, transfers and
//! call-backs, what a key does, and how the REST updates of the call went.

use serde_json::{Value, json};

use crate::call::core::callback_tool::{self, CallbackAsked};
use crate::call::core::{ActionResult, CallCore, Effect, Ending, Now, TurnId};
use crate::call::loops::LoopDecision;
use crate::call::phrases;
use crate::deliveries::callback::CALLBACK_REQUESTED;
use crate::deliveries::tool_calls::TOOL_RESULT;
use crate::providers::llm::ToolCall;

/// Why an escalation or transfer was asked for, as recorded.
const WHY_LOOP: &str = "loop";

impl CallCore {
    /// A loop was found: the first escalates, one after that ends the call politely (a second
    /// escalation would promise a second call-back for the same request).
    pub(super) fn on_loop(&mut self, decision: LoopDecision, now: Now) {
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
    pub(super) fn escalate(&mut self, now: Now) {
        if !self.transfer(WHY_LOOP) {
            self.promise_callback(WHY_LOOP, None, now);
        }
    }

    /// Asks for a transfer to the business's number; false when it has none.
    pub(super) fn transfer(&mut self, why: &str) -> bool {
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

    /// Nobody can take over now (a loop, the call-back key): a call-back is promised in a fixed
    /// phrase.
    pub(super) fn promise_callback(&mut self, reason: &str, digit: Option<&str>, now: Now) {
        let detail = match digit {
            Some(digit) => json!({ "reason": reason, "digit": digit }),
            None => json!({ "reason": reason }),
        };
        self.record_callback_promise(detail, now);
        self.say(phrases::ESCALATE_CALLBACK, now);
    }

    /// The model asked for a call-back (`request_callback`): promised as any other, and the model
    /// told it is arranged and from when, so the caller hears it in the answer that goes on.
    pub(super) fn callback_asked(
        &mut self,
        turn: TurnId,
        call: ToolCall,
        asked: CallbackAsked,
        now: Now,
    ) {
        let detail = json!({ "why": "tool", "reason": asked.reason, "when": asked.when });
        self.record_callback_promise(detail, now);
        let hours = self
            .config
            .business
            .as_ref()
            .map(|b| b.opening_hours.clone())
            .unwrap_or_default();
        let result = callback_tool::promised(&hours, now.wall_ms);
        let recorded =
            json!({ "id": call.id, "name": call.name, "ok": true, "ms": 0, "result": result });
        self.event(now, TOOL_RESULT, Some(recorded));
        self.answer_tool_call(turn, call, result);
    }

    /// Every promise of a call-back comes here, however it was made: the event the call's end turns
    /// into the durable call-back row (one per call), and the call's outcome.
    fn record_callback_promise(&mut self, detail: Value, now: Now) {
        self.dialogue.set_outcome("callback_requested");
        self.tools.callback_promised();
        self.event(now, CALLBACK_REQUESTED, Some(detail));
    }

    pub(super) fn action_done(&mut self, result: ActionResult, now: Now) {
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

    pub(super) fn dtmf(&mut self, digit: String, now: Now) {
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
}
