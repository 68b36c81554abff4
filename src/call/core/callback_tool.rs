//! `request_callback`, the model's one way to promise a call-back: what it is offered as, its
//! arguments read (why, in the caller's words, and when they would like it, kept as said), and what
//! the model is told back, so the caller hears what was really arranged.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::providers::llm::ToolSpec;
use crate::store::businesses::OpeningHours;

/// The tool's name (reserved: no business may declare a tool by it).
pub const REQUEST_CALLBACK: &str = "request_callback";

/// What is kept of the reason: enough for a person to know what to call about.
const MAX_REASON_CHARS: usize = 300;
/// What is kept of the caller's preferred time.
const MAX_WHEN_CHARS: usize = 100;

/// A call-back the model asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackAsked {
    /// Why, in the caller's words.
    pub reason: String,
    /// When the caller would like it, as they said it; recorded for the business, never parsed.
    pub when: Option<String>,
}

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: REQUEST_CALLBACK.into(),
        description: "Record that someone from the business will call the caller back, within its \
                      opening hours: when the caller asks to be called back, or you cannot help them \
                      now and they agree to a call-back. This is the only way to promise a call-back; \
                      at most once per call."
            .into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "reason": {
                    "type": "string",
                    "description": "What the call-back is about, in Hebrew, in the caller's words."
                },
                "when": {
                    "type": "string",
                    "description": "When the caller would like to be called, as they said it (e.g. \"מחר בבוקר\"), if they said."
                }
            },
            "required": ["reason"],
            "additionalProperties": false
        }),
    }
}

impl CallbackAsked {
    /// The model's arguments, or what is wrong with them (as the model will read it).
    pub fn from_arguments(arguments: &Value) -> Result<Self, String> {
        let text = |key: &str| match arguments.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.trim()).filter(|t| !t.is_empty())),
            Some(_) => Err(format!("{key} must be a string")),
        };
        let reason = text("reason")?.ok_or("reason is required: what the call-back is about")?;
        let when = text("when")?;
        if let Some(other) = arguments.as_object().and_then(|map| {
            map.keys()
                .find(|k| !matches!(k.as_str(), "reason" | "when"))
        }) {
            return Err(format!("unknown argument {other}"));
        }
        Ok(Self {
            reason: cut(reason, MAX_REASON_CHARS),
            when: when.map(|when| cut(when, MAX_WHEN_CHARS)),
        })
    }
}

fn cut(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// What the model is told once the call-back is recorded at `now_ms`: when the first try can be,
/// from the business's opening hours, so the caller is promised no sooner.
pub fn promised(hours: &OpeningHours, now_ms: i64) -> Value {
    let now = crate::clock::timestamp(now_ms);
    let first_try = match hours.next_open(now) {
        Some(open) if open > now => format!("not before {} (Israel time)", israel(open)),
        _ => "soon after this call ends".to_string(),
    };
    json!({
        "status": "done",
        "callback": "recorded",
        "first_try": first_try,
        "opening_hours": hours.to_string(),
        "instruction": "Tell the caller that someone from the business will call them back, and roughly \
                        when (never sooner than first_try). Do not promise an exact time."
    })
}

/// What the model is told when a call-back is asked for again in the same call.
pub fn already_promised() -> Value {
    json!({
        "status": "already_done",
        "detail": "Not recorded again: a call-back to this caller is already arranged in this call. \
                   Tell the caller it is already arranged; do not ask for another."
    })
}

/// What the model is told of arguments it must fix.
pub fn invalid(problem: &str) -> Value {
    json!({ "error": "invalid_arguments", "detail": [problem] })
}

fn israel(at: Timestamp) -> String {
    crate::clock::format_in_israel(at.as_millisecond(), "%A %Y-%m-%d %H:%M")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_needed_and_the_preferred_time_is_kept_as_said() {
        let asked =
            CallbackAsked::from_arguments(&json!({ "reason": " צבע לשיער ", "when": "מחר בבוקר" }))
                .unwrap();
        assert_eq!(
            asked,
            CallbackAsked {
                reason: "צבע לשיער".into(),
                when: Some("מחר בבוקר".into())
            }
        );
        let no_when = CallbackAsked::from_arguments(&json!({ "reason": "ביטול" })).unwrap();
        assert_eq!(no_when.when, None);
        for bad in [
            json!({}),
            json!({ "reason": "  " }),
            json!({ "reason": 3 }),
            json!({ "reason": "ביטול", "when": 9 }),
            json!({ "reason": "ביטול", "phone": "+972501234567" }),
        ] {
            assert!(CallbackAsked::from_arguments(&bad).is_err(), "{bad}");
        }
        let long = "א".repeat(1000);
        let kept = CallbackAsked::from_arguments(&json!({ "reason": long })).unwrap();
        assert_eq!(kept.reason.chars().count(), MAX_REASON_CHARS);
    }

    #[test]
    fn the_model_is_told_the_first_try_from_the_opening_hours() {
        // Thursday 2025-06-19 20:00 in Israel: closed until Sunday 09:00.
        let thursday_evening = "2025-06-19T17:00:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .as_millisecond();
        let told = promised(&OpeningHours::default(), thursday_evening);
        assert_eq!(told["status"], "done");
        assert_eq!(
            told["first_try"],
            "not before Sunday 2025-06-22 09:00 (Israel time)"
        );
        let open = promised(&OpeningHours::always(), thursday_evening);
        assert_eq!(open["first_try"], "soon after this call ends");
    }
}
