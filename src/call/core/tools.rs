//! The model's tools: which it is offered, and what a call of each does to the call. Decisions only;
//! the coordinator carries them out. Built in: ending the call, a transfer (with a transfer number),
//! a text (when the business allows it), a call-back (when one can be placed: see [`callback_tool`]),
//! once a call. Declared by the business: its own tools (see `business_tools`), each called over HTTP
//! with its result given back to the model; those marked `confirm` only after the agent has read the
//! action back and the caller has spoken since.
//!
//! [`callback_tool`]: super::callback_tool

use serde_json::{Value, json};

use super::callback_tool::{self, CallbackAsked, REQUEST_CALLBACK};
use crate::business_tools::{
    BusinessTools, ToolCallAdmission, ToolCallCounter, ToolDeclaration, idempotency_key,
};
use crate::providers::llm::{ToolCall, ToolSpec};
use crate::store::businesses::SmsPolicy;
use crate::store::{Business, validate_e164};

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
    /// Promise a call-back; the model is told it is arranged.
    Callback(CallbackAsked),
    /// Refused, with why (logged and recorded; the call goes on).
    Refused(String),
    /// Call the business's tool; its result goes back to the model.
    Business {
        tool: Box<ToolDeclaration>,
        key: String,
    },
    /// Not called, and the model is told this (a limit reached, invalid arguments, a `confirm` tool
    /// the caller has not agreed to yet): `why` for the record.
    Answered { why: String, result: Value },
}

/// What the model is told when a `confirm` tool is called before the caller agreed.
fn read_back_first() -> Value {
    json!({
        "status": "not_done",
        "instruction": "Nothing was done. Read the details back to the caller and ask whether to go \
                        ahead. Call this tool again, with the same arguments, only after the caller agrees."
    })
}

/// A `confirm` tool's call held back until the caller has answered its read-back.
#[derive(Debug)]
struct ReadBack {
    name: String,
    arguments: Value,
    /// The caller has had a turn since the read-back was asked for.
    answered: bool,
}

/// The tools of one call: which the business allows, and what has been used of them.
#[derive(Default)]
pub struct Tools {
    can_transfer: bool,
    /// `None`: the business has not let the agent text callers.
    sms: Option<SmsPolicy>,
    sms_sent: u32,
    /// The business's own tools.
    business: Option<BusinessTools>,
    counter: ToolCallCounter,
    read_back: Option<ReadBack>,
    /// The model may ask for a call-back: one can be placed, to a number that can be called.
    can_call_back: bool,
    /// A call-back is promised in this call, however it was: it is not promised again.
    callback_promised: bool,
}

impl Tools {
    /// The tools `business` allows (none without a business: a call answered by a person) in a call
    /// from `caller`; `can_place_callbacks` when this server can place a promised call-back.
    pub fn for_call(business: Option<&Business>, caller: &str, can_place_callbacks: bool) -> Self {
        Self {
            can_transfer: business.is_some_and(|b| b.transfer_to.is_some()),
            sms: business.and_then(|b| b.sms_policy.clone()),
            sms_sent: 0,
            business: business.and_then(|b| b.tools.clone()),
            counter: ToolCallCounter::new(),
            read_back: None,
            // A hidden or malformed number could never be called back (no call-back row is made).
            can_call_back: business.is_some()
                && can_place_callbacks
                && validate_e164(caller).is_ok(),
            callback_promised: false,
        }
    }

    /// A call-back was promised (by the model, a key or an escalation): the model may not ask for
    /// another.
    pub fn callback_promised(&mut self) {
        self.callback_promised = true;
    }

    /// The caller has had a turn: a read-back asked for before it has had its answer.
    pub fn caller_spoke(&mut self) {
        if let Some(read_back) = &mut self.read_back {
            read_back.answered = true;
        }
    }

    /// The tools the model may call: no transfer number, no transfer tool; no texting unless the
    /// business allowed it; no call-back unless one can be placed.
    pub fn offered(&self) -> Vec<ToolSpec> {
        let mut tools = vec![ToolSpec {
            name: "end_call".into(),
            description: "End the call after saying goodbye, when the caller has what they need."
                .into(),
            parameters: json!({ "type": "object", "properties": {}, "additionalProperties": false }),
        }];
        if let Some(policy) = &self.sms {
            let links = if policy.allowed_links.is_empty() {
                "The text must not contain any link.".to_string()
            } else {
                format!(
                    "The only links it may contain start with: {}.",
                    policy.allowed_links.join(", ")
                )
            };
            tools.push(ToolSpec {
                name: "send_sms".into(),
                description: format!(
                    "Text the caller a short message (an address, a confirmation), at most {} per \
                     call. {links}",
                    policy.max_per_call
                ),
                parameters: json!({
                    "type": "object",
                    "properties": { "text": { "type": "string", "description": "The message, in Hebrew." } },
                    "required": ["text"],
                    "additionalProperties": false
                }),
            });
        }
        if let Some(business) = &self.business {
            tools.extend(business.specs());
        }
        if self.can_call_back {
            // Still offered once used: asked again, the model is told it is already arranged.
            tools.push(callback_tool::spec());
        }
        if self.can_transfer {
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
            "transfer_to_human" if self.can_transfer => ToolDecision::Transfer,
            "send_sms" if self.sms.is_some() => self.sms(call, call_sid, caller),
            REQUEST_CALLBACK if self.can_call_back => self.callback(call),
            other => match self.business.as_ref().and_then(|b| b.get(other)).cloned() {
                Some(tool) => self.business_tool(tool, call, call_sid),
                None => ToolDecision::Refused(format!("unknown tool {other}")),
            },
        }
    }

    fn callback(&self, call: &ToolCall) -> ToolDecision {
        if self.callback_promised {
            return ToolDecision::Answered {
                why: "a call-back is already promised in this call".into(),
                result: callback_tool::already_promised(),
            };
        }
        match CallbackAsked::from_arguments(&call.arguments) {
            Ok(asked) => ToolDecision::Callback(asked),
            Err(problem) => ToolDecision::Answered {
                why: "invalid arguments".into(),
                result: callback_tool::invalid(&problem),
            },
        }
    }

    fn business_tool(
        &mut self,
        tool: ToolDeclaration,
        call: &ToolCall,
        call_sid: &str,
    ) -> ToolDecision {
        if let Err(problems) = tool.check_arguments(&call.arguments) {
            return ToolDecision::Answered {
                why: "invalid arguments".into(),
                result: json!({ "error": "invalid_arguments", "detail": problems }),
            };
        }
        if tool.confirm() {
            let agreed = self.read_back.as_ref().is_some_and(|r| {
                r.answered && r.name == call.name && r.arguments == call.arguments
            });
            if !agreed {
                self.read_back = Some(ReadBack {
                    name: call.name.clone(),
                    arguments: call.arguments.clone(),
                    answered: false,
                });
                return ToolDecision::Answered {
                    why: "read back to the caller first".into(),
                    result: read_back_first(),
                };
            }
            self.read_back = None;
        }
        let tools = self.business.as_ref().expect("the tool came from them");
        match self.counter.admit(tools, &tool) {
            ToolCallAdmission::Allowed { sequence } => ToolDecision::Business {
                tool: Box::new(tool),
                key: idempotency_key(call_sid, sequence),
            },
            ToolCallAdmission::Refused(limit) => ToolDecision::Answered {
                why: limit.to_string(),
                result: limit.model_result(),
            },
        }
    }

    fn sms(&mut self, call: &ToolCall, call_sid: &str, caller: &str) -> ToolDecision {
        let Some(policy) = &self.sms else {
            return ToolDecision::Refused("texting is off for this business".into());
        };
        if self.sms_sent >= policy.max_per_call {
            return ToolDecision::Refused(format!("at most {} SMS per call", policy.max_per_call));
        }
        if validate_e164(caller).is_err() {
            return ToolDecision::Refused(
                "the caller's number is not a textable E.164 number".into(),
            );
        }
        let text = call
            .arguments
            .get("text")
            .and_then(|t| t.as_str())
            .unwrap_or_default();
        let text = match policy.check_text(text) {
            Ok(text) => text,
            Err(why) => return ToolDecision::Refused(why.to_string()),
        };
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

    fn texting(max_per_call: u32, links: &[&str]) -> Tools {
        let links = links.iter().map(|l| l.to_string()).collect();
        Tools {
            sms: Some(SmsPolicy::new(max_per_call, links).unwrap()),
            ..Tools::default()
        }
    }

    #[test]
    fn sms_is_off_unless_the_business_allows_it() {
        let mut tools = Tools::default();
        assert!(!tools.offered().iter().any(|t| t.name == "send_sms"));
        assert_eq!(
            tools.decide(
                &call("send_sms", json!({ "text": "שלום" })),
                "CA1",
                "+972501234567"
            ),
            ToolDecision::Refused("unknown tool send_sms".into())
        );
        assert!(
            texting(1, &[])
                .offered()
                .iter()
                .any(|t| t.name == "send_sms")
        );
    }

    #[test]
    fn sms_is_limited_per_call_checked_and_keyed_by_count() {
        let mut tools = texting(2, &[]);
        let sms = call("send_sms", json!({ "text": "הכתובת: הרצל 1" }));
        assert_eq!(
            tools.decide(&sms, "CA1", "anonymous"),
            ToolDecision::Refused("the caller's number is not a textable E.164 number".into())
        );
        for n in 1..=2 {
            assert_eq!(
                tools.decide(&sms, "CA1", "+972501234567"),
                ToolDecision::Sms {
                    to: "+972501234567".into(),
                    text: "הכתובת: הרצל 1".into(),
                    key: format!("sms-tool:CA1:{n}")
                }
            );
        }
        assert_eq!(
            tools.decide(&sms, "CA1", "+972501234567"),
            ToolDecision::Refused("at most 2 SMS per call".into())
        );
    }

    #[test]
    fn a_text_with_a_link_the_business_did_not_list_is_refused() {
        let mut tools = texting(1, &["https://barber.example/book"]);
        let phishing = call(
            "send_sms",
            json!({ "text": "עדכנו פרטי אשראי: https://evil.example/pay" }),
        );
        assert!(matches!(
            tools.decide(&phishing, "CA1", "+972501234567"),
            ToolDecision::Refused(why) if why.contains("evil.example")
        ));
        let booking = call(
            "send_sms",
            json!({ "text": "לקביעת תור: https://barber.example/book" }),
        );
        assert!(matches!(
            tools.decide(&booking, "CA1", "+972501234567"),
            ToolDecision::Sms { .. }
        ));
    }

    #[test]
    fn a_call_back_is_offered_only_when_one_can_be_placed_to_the_caller() {
        let business = crate::call::core::tests::harness::business(None, "");
        let offered = |caller, can_place| {
            Tools::for_call(Some(&business), caller, can_place)
                .offered()
                .iter()
                .any(|t| t.name == REQUEST_CALLBACK)
        };
        assert!(offered("+972501234567", true));
        assert!(!offered("+972501234567", false), "no way to place it");
        assert!(!offered("anonymous", true), "no number to call");
        let mut tools = Tools::for_call(Some(&business), "anonymous", true);
        assert_eq!(
            tools.decide(
                &call(REQUEST_CALLBACK, json!({ "reason": "ביטול" })),
                "CA1",
                "anonymous"
            ),
            ToolDecision::Refused("unknown tool request_callback".into())
        );
    }

    #[test]
    fn a_call_back_is_promised_once_a_call() {
        let business = crate::call::core::tests::harness::business(None, "");
        let mut tools = Tools::for_call(Some(&business), "+972501234567", true);
        let asked = call(
            REQUEST_CALLBACK,
            json!({ "reason": "לקבוע צבע", "when": "מחר בבוקר" }),
        );
        assert_eq!(
            tools.decide(&asked, "CA1", "+972501234567"),
            ToolDecision::Callback(CallbackAsked {
                reason: "לקבוע צבע".into(),
                when: Some("מחר בבוקר".into())
            })
        );
        let unreadable = call(REQUEST_CALLBACK, json!({ "when": "מחר" }));
        assert!(matches!(
            tools.decide(&unreadable, "CA1", "+972501234567"),
            ToolDecision::Answered { result, .. } if result["error"] == "invalid_arguments"
        ));
        tools.callback_promised();
        assert!(
            matches!(
                tools.decide(&asked, "CA1", "+972501234567"),
                ToolDecision::Answered { result, .. } if result["status"] == "already_done"
            ),
            "asked again, the model is told it is already arranged"
        );
    }

    #[test]
    fn only_e164_callers_are_texted() {
        let sms = call("send_sms", json!({ "text": "הכתובת: הרצל 1" }));
        let texted = |caller| {
            matches!(
                texting(1, &[]).decide(&sms, "CA1", caller),
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
