//! The model's tools: which it is offered, and what a call of each does to the call. Decisions only;
//! the coordinator carries them out.

use serde_json::json;

use crate::providers::llm::{ToolCall, ToolSpec};
use crate::store::validate_e164;

/// Texts the `send_sms` tool may send in one call: the caller ID can be spoofed and the text is
/// written by the model from the caller's words, so it is a confirmation, not a channel.
pub const MAX_SMS_PER_CALL: u32 = 1;

/// What a tool call asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolDecision {
    /// End the call once the answer has played.
    EndCall,
    /// Hand the caller to a person.
    Transfer,
    /// Text the caller, with this idempotency key.
    Sms {
        to: String,
        text: String,
        key: String,
    },
    /// Refused, with why (logged and recorded; the call goes on).
    Refused(String),
}

#[derive(Debug, Default)]
pub struct Tools {
    sms_sent: u32,
}

impl Tools {
    /// The tools the model may call. No transfer number, no transfer tool.
    pub fn offered(can_transfer: bool) -> Vec<ToolSpec> {
        let mut tools = vec![
            ToolSpec {
                name: "end_call".into(),
                description:
                    "End the call after saying goodbye, when the caller has what they need.".into(),
                parameters: json!({ "type": "object", "properties": {}, "additionalProperties": false }),
            },
            ToolSpec {
                name: "send_sms".into(),
                description:
                    "Text the caller a short message (an address, a confirmation, a link).".into(),
                parameters: json!({
                    "type": "object",
                    "properties": { "text": { "type": "string", "description": "The message, in Hebrew." } },
                    "required": ["text"],
                    "additionalProperties": false
                }),
            },
        ];
        if can_transfer {
            tools.push(ToolSpec {
                name: "transfer_to_human".into(),
                description: "Transfer the caller to a human at the business, when they ask for a person or \
                              the request is beyond what you can do."
                    .into(),
                parameters: json!({ "type": "object", "properties": {}, "additionalProperties": false }),
            });
        }
        tools
    }

    /// What `call` does in the call `call_sid` from `caller`.
    pub fn decide(&mut self, call: &ToolCall, call_sid: &str, caller: &str) -> ToolDecision {
        match call.name.as_str() {
            "end_call" => ToolDecision::EndCall,
            "transfer_to_human" => ToolDecision::Transfer,
            "send_sms" => self.sms(call, call_sid, caller),
            other => ToolDecision::Refused(format!("unknown tool {other}")),
        }
    }

    fn sms(&mut self, call: &ToolCall, call_sid: &str, caller: &str) -> ToolDecision {
        if self.sms_sent >= MAX_SMS_PER_CALL {
            return ToolDecision::Refused(format!("at most {MAX_SMS_PER_CALL} SMS per call"));
        }
        if validate_e164(caller).is_err() {
            return ToolDecision::Refused(
                "the caller's number is not a textable E.164 number".into(),
            );
        }
        let text: String = call
            .arguments
            .get("text")
            .and_then(|t| t.as_str())
            .unwrap_or_default()
            .trim()
            .chars()
            .take(1600)
            .collect();
        if text.is_empty() {
            return ToolDecision::Refused("empty SMS text".into());
        }
        self.sms_sent += 1;
        ToolDecision::Sms {
            to: caller.to_string(),
            text,
            // One key per text of the call: a retried delivery is the same text, a second text is not.
            key: format!("sms-tool:{call_sid}:{}", self.sms_sent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, arguments: serde_json::Value) -> ToolCall {
        ToolCall {
            id: "t1".into(),
            name: name.into(),
            arguments,
        }
    }

    #[test]
    fn sms_is_limited_per_call_checked_and_keyed_by_count() {
        let mut tools = Tools::default();
        let sms = call("send_sms", json!({ "text": "הכתובת: הרצל 1" }));
        assert_eq!(
            tools.decide(&sms, "CA1", "anonymous"),
            ToolDecision::Refused("the caller's number is not a textable E.164 number".into())
        );
        assert_eq!(
            tools.decide(&sms, "CA1", "+972501234567"),
            ToolDecision::Sms {
                to: "+972501234567".into(),
                text: "הכתובת: הרצל 1".into(),
                key: "sms-tool:CA1:1".into()
            }
        );
        assert!(matches!(
            tools.decide(&sms, "CA1", "+972501234567"),
            ToolDecision::Refused(_)
        ));
    }

    #[test]
    fn only_e164_callers_are_texted() {
        let sms = call("send_sms", json!({ "text": "הכתובת: הרצל 1" }));
        let texted = |caller| {
            matches!(
                Tools::default().decide(&sms, "CA1", caller),
                ToolDecision::Sms { .. }
            )
        };
        for good in ["+972501234567", "+14155550100"] {
            assert!(texted(good), "{good}");
        }
        for bad in [
            "anonymous",
            "0501234567",
            "+0501234567",
            "+97250",
            "client:bob",
            "+9725012345678901",
        ] {
            assert!(!texted(bad), "{bad}");
        }
    }
}
