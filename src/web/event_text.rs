//! A call's events in short Hebrew: a label for each kind the call code records, and its details
//! in words. A kind or a detail key this page does not know is still shown as recorded
//! (`key: value`), so nothing is hidden; the template escapes all of it.

use serde_json::{Map, Value};

use super::format::{duration, end_reason_label, excerpt};

/// How much of a quoted sentence (what the caller or the agent said) an event shows.
const QUOTE_CHARS: usize = 80;
/// Twilio streams 8000 samples a second.
const SAMPLES_PER_SEC: u64 = 8000;

/// An event as the call page shows it.
#[derive(Debug, PartialEq, Eq)]
pub struct EventText {
    pub label: String,
    pub detail: String,
    /// Drawn as a warning.
    pub notable: bool,
}

pub fn describe(kind: &str, detail: Option<&Value>) -> EventText {
    let mut fields = Fields::new(detail);
    let (label, parts) = match kind {
        "barge_in" => ("הלקוח קטע את הסוכן", barge_in(&mut fields)),
        "loop_detected" => ("זוהתה חזרה", repetition(&mut fields)),
        "callback_requested" => ("התבקשה שיחה חוזרת", callback_requested(&mut fields)),
        "callback_attempt" => ("ניסיון לחזור ללקוח", callback_attempt(&mut fields)),
        "callback_given_up" => {
            let mut parts: Vec<String> = fields
                .text("attempts")
                .map(|n| format!("אחרי {n} ניסיונות"))
                .into_iter()
                .collect();
            parts.extend(fields.text("reason").map(|r| format!("סיבה: {r}")));
            ("השיחה החוזרת לא התקיימה", parts)
        }
        "transferred" => {
            let mut parts = trigger(&mut fields);
            parts.extend(fields.text("to").map(|to| format!("אל {to}")));
            ("הועברה לנציג", parts)
        }
        "transfer_failed" => {
            let mut parts = trigger(&mut fields);
            parts.extend(fields.text("reason").map(|r| failure_reason(&r)));
            parts.extend(error(&mut fields));
            ("ההעברה נכשלה", parts)
        }
        "fallback_say" => ("Twilio הקריא הודעת גיבוי", quote(&mut fields)),
        "fallback_failed" => ("הודעת הגיבוי נכשלה", error(&mut fields)),
        "dtmf" => (
            "הלקוח לחץ על מקש",
            fields.text("digit").into_iter().collect(),
        ),
        "silence" => {
            let prompt = fields.text("prompt").map(|n| format!("תזכורת {n}"));
            ("שקט על הקו", prompt.into_iter().collect())
        }
        "filler" => ("מילת המתנה", Vec::new()),
        "eager_dropped" => ("תמלול מוקדם בוטל: הלקוח המשיך לדבר", Vec::new()),
        "transcript_dropped" => {
            let mut parts: Vec<String> = fields
                .text("reason")
                .map(|r| transcript_reason(&r))
                .into_iter()
                .collect();
            parts.extend(quote(&mut fields));
            ("תמלול נפסל", parts)
        }
        "stt_failed" => ("התמלול נכשל", error(&mut fields)),
        "tts_fallback" => ("מעבר לספק דיבור חלופי", tts_fallback(&mut fields)),
        "tts_failed" => {
            let mut parts = quote(&mut fields);
            parts.extend(provider_failures(&mut fields));
            parts.extend(error(&mut fields));
            ("הדיבור נכשל", parts)
        }
        "llm_failed" => ("המודל נכשל", error(&mut fields)),
        "llm_truncated" => ("תשובת המודל נקטעה", error(&mut fields)),
        "tool_call" => ("הסוכן הפעיל פעולה", tool_call(&mut fields)),
        "tool_result" => ("תוצאת הפעולה", tool_result(&mut fields)),
        "tool_refused" => ("הפעולה נדחתה", tool_refused(&mut fields)),
        "call_ended" => {
            let reason = fields.text("reason").map(|r| end_reason_label(&r));
            ("סיום", reason.into_iter().collect())
        }
        "stream_started" => ("השמע התחבר", stream(&mut fields)),
        "stream_resumed" => ("השמע התחבר מחדש", stream(&mut fields)),
        "stream_rejected" => {
            let reason = fields.text("reason").map(|r| format!("סיבה: {r}"));
            ("חיבור השמע נדחה", reason.into_iter().collect())
        }
        "twilio_stream_status" => ("דיווח של Twilio על השמע", stream_status(&mut fields)),
        unknown => (unknown, Vec::new()),
    };
    let detail = parts
        .into_iter()
        .chain(fields.rest())
        .collect::<Vec<_>>()
        .join(" · ");
    EventText {
        label: label.to_string(),
        detail,
        notable: is_notable(kind),
    }
}

fn is_notable(kind: &str) -> bool {
    matches!(
        kind,
        "barge_in"
            | "loop_detected"
            | "stream_rejected"
            | "llm_truncated"
            | "callback_given_up"
            | "tool_refused"
    ) || kind.contains("fallback")
        || kind.ends_with("failed")
}

/// An event's details, taken key by key; what no one took is shown as recorded.
struct Fields {
    map: Map<String, Value>,
    /// A detail that is not an object, shown as recorded.
    other: Option<Value>,
}

impl Fields {
    fn new(detail: Option<&Value>) -> Fields {
        match detail {
            Some(Value::Object(map)) => Fields {
                map: map.clone(),
                other: None,
            },
            Some(Value::Null) | None => Fields {
                map: Map::new(),
                other: None,
            },
            Some(other) => Fields {
                map: Map::new(),
                other: Some(other.clone()),
            },
        }
    }

    /// The value of `key`, taken; a missing key and a null are both nothing.
    fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key).filter(|v| !v.is_null())
    }

    /// The value of `key` as text: a string as is, anything else as JSON.
    fn text(&mut self, key: &str) -> Option<String> {
        self.take(key).map(plain)
    }

    /// The value of `key` as text if it is one of `values`; otherwise it is left where it is.
    fn text_if(&mut self, key: &str, values: &[&str]) -> Option<String> {
        let listed = self
            .map
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|value| values.contains(&value));
        if listed { self.text(key) } else { None }
    }

    /// What is left, as `key: value`.
    fn rest(self) -> impl Iterator<Item = String> {
        let other = self.other.map(plain);
        self.map
            .into_iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(key, value)| format!("{key}: {}", plain(value)))
            .chain(other)
    }
}

fn plain(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

fn quote(fields: &mut Fields) -> Vec<String> {
    fields
        .text("text")
        .map(|text| format!("«{}»", excerpt(&text, QUOTE_CHARS)))
        .into_iter()
        .collect()
}

fn error(fields: &mut Fields) -> Vec<String> {
    fields
        .text("error")
        .map(|e| format!("שגיאה: {e}"))
        .into_iter()
        .collect()
}

fn barge_in(fields: &mut Fields) -> Vec<String> {
    let mut parts = Vec::new();
    match fields.take("cleared") {
        Some(Value::Array(cleared)) => match cleared.len() {
            0 => {}
            1 => parts.push("קטע אחד לא הושמע".to_string()),
            n => parts.push(format!("{n} קטעים לא הושמעו")),
        },
        Some(other) => parts.push(format!("cleared: {}", plain(other))),
        None => {}
    }
    // Where the caller cut in, on the caller's track: where to seek the recording to.
    match fields.take("at_sample").as_ref().map(|v| (v, v.as_u64())) {
        Some((_, Some(sample))) => {
            let ms = sample.saturating_mul(1000) / SAMPLES_PER_SEC;
            parts.push(format!("בהקלטה {}", duration(ms as i64)));
        }
        Some((other, None)) => parts.push(format!("at_sample: {}", plain(other.clone()))),
        None => {}
    }
    parts
}

fn repetition(fields: &mut Fields) -> Vec<String> {
    let mut parts = Vec::new();
    if let Some(who) = fields.text("who") {
        parts.push(match who.as_str() {
            "caller" => "הלקוח חזר על עצמו".to_string(),
            "agent" => "הסוכן חזר על עצמו".to_string(),
            _ => format!("מי: {who}"),
        });
    }
    parts.extend(fields.text("count").map(|n| format!("{n} פעמים")));
    parts.extend(quote(fields));
    parts
}

/// What set off a transfer or a callback: `why` or `reason`, and the key pressed.
fn trigger(fields: &mut Fields) -> Vec<String> {
    let mut parts = Vec::new();
    // A callback names its trigger `reason`; for a transfer `reason` says why it failed.
    let cause = fields
        .text("why")
        .or_else(|| fields.text_if("reason", &["dtmf", "loop"]));
    if let Some(cause) = cause {
        parts.push(match cause.as_str() {
            "dtmf" => "בלחיצה על מקש".to_string(),
            "loop" => "בעקבות חזרה".to_string(),
            "tool" => "לבקשת הסוכן".to_string(),
            other => format!("סיבה: {other}"),
        });
    }
    parts.extend(fields.text("digit").map(|d| format!("מקש {d}")));
    parts
}

/// A promised call-back: what set it off, and for one the model asked for, what it is about and
/// when the caller would like it.
fn callback_requested(fields: &mut Fields) -> Vec<String> {
    let mut parts = trigger(fields);
    parts.extend(
        fields
            .text("reason")
            .map(|r| format!("בנושא «{}»", excerpt(&r, QUOTE_CHARS))),
    );
    parts.extend(fields.text("when").map(|w| format!("מועד מבוקש: {w}")));
    parts
}

/// One attempt of a promised call-back: its number, how it went, the call placed.
fn callback_attempt(fields: &mut Fields) -> Vec<String> {
    let mut parts = Vec::new();
    parts.extend(fields.text("attempt").map(|n| format!("ניסיון {n}")));
    if let Some(result) = fields.text("result") {
        parts.push(match result.as_str() {
            "answered" => "הלקוח ענה".to_string(),
            "no-answer" => "אין מענה".to_string(),
            "busy" => "תפוס".to_string(),
            "failed" => "השיחה נכשלה".to_string(),
            "canceled" => "השיחה בוטלה".to_string(),
            "completed_unanswered" => "השיחה לא הגיעה לסוכן".to_string(),
            "not_placed" => "השיחה לא יצאה".to_string(),
            other => format!("תוצאה: {other}"),
        });
    }
    parts.extend(fields.text("call_sid").map(|sid| format!("שיחה {sid}")));
    parts
}

fn failure_reason(reason: &str) -> String {
    match reason {
        "no transfer number" => "לעסק אין מספר להעברה".to_string(),
        "no Twilio credentials" => "אין פרטי גישה ל-Twilio".to_string(),
        other => format!("סיבה: {other}"),
    }
}

/// The transcript filter's reasons, as the call code records them.
fn transcript_reason(reason: &str) -> String {
    let label = match reason {
        "Empty" => "ריק",
        "TooShort" => "קצר מדי",
        "PunctuationOnly" => "סימני פיסוק בלבד",
        "NotHebrew" => "לא בעברית",
        "KnownHallucination" => "הזיה מוכרת של מנוע התמלול",
        "NoSpeech" => "לא זוהה דיבור",
        "FailedDecode" => "הפענוח נכשל",
        other => return format!("סיבה: {other}"),
    };
    label.to_string()
}

fn tts_fallback(fields: &mut Fields) -> Vec<String> {
    let mut parts = Vec::new();
    parts.extend(fields.text("failed").map(|p| format!("{p} נכשל")));
    parts.extend(fields.text("served_by").map(|p| format!("{p} דיבר במקומו")));
    parts.extend(error(fields));
    parts
}

/// `failures`: the providers tried, each as `[provider, error]`.
fn provider_failures(fields: &mut Fields) -> Vec<String> {
    let Some(failures) = fields.take("failures") else {
        return Vec::new();
    };
    let pairs: Option<Vec<String>> = failures.as_array().and_then(|list| {
        list.iter()
            .map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([provider, error]) => Some(format!(
                    "{} ({})",
                    plain(provider.clone()),
                    plain(error.clone())
                )),
                _ => None,
            })
            .collect()
    });
    match pairs {
        Some(pairs) if !pairs.is_empty() => vec![format!("נכשלו: {}", pairs.join(", "))],
        Some(_) => Vec::new(),
        None => vec![format!("failures: {}", plain(failures))],
    }
}

/// A tool's name as the page shows it: sicha's own in Hebrew, a business's as it declared it.
pub fn tool_label(name: &str) -> &str {
    match name {
        "end_call" => "סיום השיחה",
        "transfer_to_human" => "העברה לנציג",
        "send_sms" => "שליחת SMS ללקוח",
        "request_callback" => "רישום שיחה חוזרת",
        other => other,
    }
}

fn tool_call(fields: &mut Fields) -> Vec<String> {
    let mut parts = Vec::new();
    if let Some(name) = fields.text("name") {
        parts.push(tool_label(&name).to_string());
    }
    match fields.take("arguments") {
        Some(Value::Object(mut arguments)) => {
            if let Some(Value::String(text)) = arguments.remove("text") {
                parts.push(format!("«{}»", excerpt(&text, QUOTE_CHARS)));
            }
            if !arguments.is_empty() {
                parts.push(format!("פרטים: {}", Value::Object(arguments)));
            }
        }
        Some(other) => parts.push(format!("פרטים: {}", plain(other))),
        None => {}
    }
    // Ties the call to its result; nothing a reader needs.
    fields.take("id");
    parts
}

fn tool_result(fields: &mut Fields) -> Vec<String> {
    let mut parts = Vec::new();
    parts.extend(
        fields
            .text("name")
            .map(|name| tool_label(&name).to_string()),
    );
    match fields.take("ok") {
        Some(Value::Bool(true)) => parts.push("הצליחה".to_string()),
        Some(Value::Bool(false)) => parts.push("נכשלה".to_string()),
        Some(other) => parts.push(format!("ok: {}", plain(other))),
        None => {}
    }
    parts.extend(fields.text("result").map(|r| format!("תשובה: {r}")));
    parts.extend(fields.text("ms").map(|ms| format!("{ms} ms")));
    fields.take("id");
    parts
}

fn tool_refused(fields: &mut Fields) -> Vec<String> {
    let mut parts = Vec::new();
    parts.extend(
        fields
            .text("name")
            .map(|name| tool_label(&name).to_string()),
    );
    parts.extend(fields.text("why").map(|why| format!("סיבה: {why}")));
    fields.take("id");
    parts
}

fn stream(fields: &mut Fields) -> Vec<String> {
    fields
        .text("stream_sid")
        .map(|sid| format!("זרם {sid}"))
        .into_iter()
        .collect()
}

fn stream_status(fields: &mut Fields) -> Vec<String> {
    let mut parts = Vec::new();
    if let Some(event) = fields.text("stream_event") {
        parts.push(match event.as_str() {
            "stream-started" => "הזרם התחיל".to_string(),
            "stream-stopped" => "הזרם נעצר".to_string(),
            "stream-error" => "שגיאה בזרם".to_string(),
            other => other.to_string(),
        });
    }
    parts.extend(stream(fields));
    parts.extend(error(fields));
    parts
}

#[cfg(test)]
mod tests;
