//! When the call needs more than an answer: loops escalated once then ended, transfers and
//! call-backs, what a key does, and how the REST updates of the call went.

use serde_json::json;

use crate::call::core::{ActionResult, CallCore, Effect, Ending, Now};
use crate::call::loops::LoopDecision;
use crate::call::phrases;

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

    pub(super) fn promise_callback(&mut self, reason: &str, digit: Option<&str>, now: Now) {
        self.dialogue.set_outcome("callback_requested");
        let detail = match digit {
            Some(digit) => json!({ "reason": reason, "digit": digit }),
            None => json!({ "reason": reason }),
        };
        self.event(now, "callback_requested", Some(detail));
        self.say(phrases::ESCALATE_CALLBACK, now);
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
