//! What the simulated model says: rules matched against the caller's last words, a tool call when
//! the request offered that tool, and otherwise a Hebrew reply that echoes the caller, so a transcript
//! of a simulated call reads as a real exchange.

use serde_json::Value;

/// Said after a tool result when the matching rule gives nothing to say.
const AFTER_TOOL_REPLY: &str = "בוצע. יש עוד משהו שאפשר לעזור בו?";
/// Said after a tool result that tells of a failure, as a model following its instructions would:
/// never a success.
pub const FAILED_TOOL_REPLY: &str = "לא הצלחתי לבצע את זה כרגע. אפשר לנסות שוב מאוחר יותר.";
/// Said when the tool asks for the caller's agreement first (a `confirm` tool).
pub const READ_BACK_REPLY: &str = "רק לוודא לפני שאני מבצעת: לאשר?";
/// Said when the tool says it was already done in this call (a call-back asked for twice).
pub const ALREADY_DONE_REPLY: &str = "זה כבר רשום אצלנו, אין צורך לבקש שוב.";
/// Said when the caller's words were empty.
const EMPTY_INPUT_REPLY: &str = "סליחה, לא שמעתי. אפשר לחזור על זה?";
/// How many of the caller's words the default reply repeats.
const ECHOED_WORDS: usize = 6;

/// A tool call the stand-in makes, when the request offered a tool of that name.
#[derive(Debug, Clone, PartialEq)]
pub struct SimToolCall {
    pub name: String,
    pub arguments: Value,
}

/// "When the caller says something containing `when_contains`, answer like this."
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRule {
    pub when_contains: String,
    /// Spoken text, streamed before any tool call.
    pub reply: Option<String>,
    pub tool_call: Option<SimToolCall>,
    /// Said once the tool's result comes back; a short "done, anything else?" otherwise.
    pub after_tool: Option<String>,
}

impl ChatRule {
    pub fn reply(when_contains: &str, reply: &str) -> Self {
        Self {
            when_contains: when_contains.to_string(),
            reply: Some(reply.to_string()),
            tool_call: None,
            after_tool: None,
        }
    }

    pub fn tool_call(when_contains: &str, name: &str, arguments: Value) -> Self {
        Self {
            when_contains: when_contains.to_string(),
            reply: None,
            tool_call: Some(SimToolCall {
                name: name.to_string(),
                arguments,
            }),
            after_tool: None,
        }
    }

    /// Text streamed before the tool call.
    pub fn with_reply(mut self, reply: &str) -> Self {
        self.reply = Some(reply.to_string());
        self
    }

    /// What to say once the tool's result comes back.
    pub fn then_say(mut self, after_tool: &str) -> Self {
        self.after_tool = Some(after_tool.to_string());
        self
    }
}

/// The answer decided for one request.
pub(super) struct Answer {
    pub(super) text: String,
    pub(super) tool_call: Option<SimToolCall>,
}

impl Answer {
    pub(super) fn finish_reason(&self) -> &'static str {
        if self.tool_call.is_some() {
            "tool_calls"
        } else {
            "stop"
        }
    }
}

/// What to answer. A tool call is made only when the request offered that tool, as a real model would;
/// after a tool's result (`tool_result`, the last message's content) what is said follows the result:
/// a failure is told as one, a tool asking for agreement first gets a read-back, one already done is
/// said to be.
pub(super) fn compose(
    rule: Option<ChatRule>,
    last_user: &str,
    tool_result: Option<&str>,
    offered_tools: &[String],
) -> Answer {
    if let Some(result) = tool_result {
        let result: Value = serde_json::from_str(result).unwrap_or(Value::Null);
        let text = if result.get("error").is_some() {
            FAILED_TOOL_REPLY.to_string()
        } else if result["status"] == "not_done" {
            READ_BACK_REPLY.to_string()
        } else if result["status"] == "already_done" {
            ALREADY_DONE_REPLY.to_string()
        } else {
            rule.and_then(|r| r.after_tool)
                .unwrap_or_else(|| AFTER_TOOL_REPLY.to_string())
        };
        return Answer {
            text,
            tool_call: None,
        };
    }
    match rule {
        Some(rule) => {
            let tool_call = rule
                .tool_call
                .filter(|call| offered_tools.contains(&call.name));
            let text = rule.reply.unwrap_or_else(|| {
                if tool_call.is_some() {
                    String::new()
                } else {
                    echo_reply(last_user)
                }
            });
            Answer { text, tool_call }
        }
        None => Answer {
            text: echo_reply(last_user),
            tool_call: None,
        },
    }
}

/// "I heard you say: …. How can I help?", so a transcript shows a real exchange.
fn echo_reply(last_user: &str) -> String {
    let echoed: Vec<&str> = last_user.split_whitespace().take(ECHOED_WORDS).collect();
    if echoed.is_empty() {
        return EMPTY_INPUT_REPLY.to_string();
    }
    let echoed = echoed.join(" ");
    let echoed = echoed.trim_end_matches(['.', ',', '?', '!']);
    format!("שמעתי שאמרת: {echoed}. איך אפשר לעזור?")
}

/// The reply as tokens: words, each after the first with its leading space, as tokenizers split text.
pub(super) fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .enumerate()
        .map(|(i, word)| {
            if i == 0 {
                word.to_string()
            } else {
                format!(" {word}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_default_reply_echoes_the_first_words() {
        let reply = echo_reply("אני רוצה לקבוע תור למחר בבוקר בבקשה תודה");
        assert_eq!(
            reply,
            "שמעתי שאמרת: אני רוצה לקבוע תור למחר בבוקר. איך אפשר לעזור?"
        );
        assert_eq!(echo_reply("  "), EMPTY_INPUT_REPLY);
    }

    #[test]
    fn a_tool_call_needs_the_tool_to_be_offered_and_is_not_repeated_after_its_result() {
        let rule = ChatRule::tool_call("להעביר", "transfer_call", json!({"reason": "x"}));
        let offered = ["transfer_call".to_string()];
        let called = compose(
            Some(rule.clone()),
            "תעביר אותי בבקשה להעביר",
            None,
            &offered,
        );
        assert!(called.tool_call.is_some());
        assert_eq!(called.finish_reason(), "tool_calls");
        let not_offered = compose(Some(rule.clone()), "להעביר", None, &[]);
        assert!(not_offered.tool_call.is_none());
        assert!(!not_offered.text.is_empty());
        let rule = rule.then_say("מעביר אותך");
        let after = compose(
            Some(rule.clone()),
            "להעביר",
            Some("{\"ok\":true}"),
            &offered,
        );
        assert_eq!(
            (after.text.as_str(), after.tool_call.is_none()),
            ("מעביר אותך", true)
        );
        // A failure is told as one, never with the success words.
        let failed = r#"{"error":"timeout","detail":"no answer"}"#;
        let after = compose(Some(rule.clone()), "להעביר", Some(failed), &offered);
        assert_eq!(after.text, FAILED_TOOL_REPLY);
        let read_back = r#"{"status":"not_done"}"#;
        let after = compose(Some(rule.clone()), "להעביר", Some(read_back), &offered);
        assert_eq!(after.text, READ_BACK_REPLY);
        let already = r#"{"status":"already_done","detail":"..."}"#;
        let after = compose(Some(rule), "להעביר", Some(already), &offered);
        assert_eq!(after.text, ALREADY_DONE_REPLY);
    }
}
