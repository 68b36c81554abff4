//! The Realtime API's transcription events as text on the socket: the client events this client
//! sends (built here) and the server events it reads (parsed here by [`parse_server_event`], a pure
//! function, into [`ServerEvent`]). Types the client does not use are skipped: the API adds events.

use std::fmt;

use serde::Deserialize;
use serde_json::json;

/// μ-law at 8 kHz, Twilio's payload exactly: the audio goes in without decoding or resampling.
const INPUT_FORMAT: &str = "audio/pcmu";

/// The server's words for a failure: `error {type, code, message}` and, when a client event caused
/// it, that event's id. Compatible servers vary, so all but the message may be missing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiError {
    /// Such as `invalid_request_error` or `server_error`.
    pub kind: Option<String>,
    /// Such as `input_audio_buffer_commit_empty`.
    pub code: Option<String>,
    pub message: String,
    /// The `event_id` of the client event the server refused, if it names one.
    pub event_id: Option<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, &self.kind) {
            (Some(code), _) | (None, Some(code)) => write!(f, "{} ({code})", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

/// One server event, as far as this client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ServerEvent {
    SessionCreated,
    SessionUpdated,
    /// The audio since the last commit became the item `item_id`.
    Committed {
        item_id: String,
    },
    Cleared,
    /// More of an item's transcript.
    Delta {
        item_id: String,
        delta: String,
    },
    /// An item's whole transcript.
    Completed {
        item_id: String,
        transcript: String,
    },
    /// An item that will have no transcript.
    TranscriptionFailed {
        item_id: String,
        error: ApiError,
    },
    /// A refused client event, or a failure of the session.
    Error(ApiError),
    /// A type this client does not use, named.
    Other(String),
    /// Not JSON, no type, or a type this client uses without the fields it needs; says what is wrong.
    Malformed(String),
}

/// Every field this client reads from any event; each event has some of them.
#[derive(Deserialize)]
struct RawEvent {
    #[serde(rename = "type")]
    kind: String,
    item_id: Option<String>,
    delta: Option<String>,
    transcript: Option<String>,
    error: Option<RawError>,
}

#[derive(Deserialize)]
struct RawError {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    message: Option<String>,
    event_id: Option<String>,
}

impl From<RawError> for ApiError {
    fn from(raw: RawError) -> Self {
        Self {
            kind: raw.kind,
            code: raw.code,
            message: raw
                .message
                .unwrap_or_else(|| "no message given".to_string()),
            event_id: raw.event_id,
        }
    }
}

/// Reads one text message from the server. Never fails: what cannot be read is
/// [`ServerEvent::Malformed`], what is not used is [`ServerEvent::Other`].
pub(super) fn parse_server_event(text: &str) -> ServerEvent {
    let raw: RawEvent = match serde_json::from_str(text) {
        Ok(raw) => raw,
        Err(error) => return ServerEvent::Malformed(format!("{error}: {}", preview(text))),
    };
    let missing = |field: &str| ServerEvent::Malformed(format!("{} without {field}", raw.kind));
    match raw.kind.as_str() {
        "session.created" => ServerEvent::SessionCreated,
        "session.updated" => ServerEvent::SessionUpdated,
        "input_audio_buffer.cleared" => ServerEvent::Cleared,
        "input_audio_buffer.committed" => match raw.item_id {
            Some(item_id) => ServerEvent::Committed { item_id },
            None => missing("item_id"),
        },
        "conversation.item.input_audio_transcription.delta" => match (raw.item_id, raw.delta) {
            (Some(item_id), Some(delta)) => ServerEvent::Delta { item_id, delta },
            _ => missing("item_id or delta"),
        },
        "conversation.item.input_audio_transcription.completed" => {
            match (raw.item_id, raw.transcript) {
                (Some(item_id), Some(transcript)) => ServerEvent::Completed {
                    item_id,
                    transcript,
                },
                _ => missing("item_id or transcript"),
            }
        }
        "conversation.item.input_audio_transcription.failed" => match raw.item_id {
            Some(item_id) => ServerEvent::TranscriptionFailed {
                item_id,
                error: raw.error.map(ApiError::from).unwrap_or_default(),
            },
            None => missing("item_id"),
        },
        "error" => match raw.error {
            Some(error) => ServerEvent::Error(error.into()),
            None => missing("error"),
        },
        _ => ServerEvent::Other(raw.kind),
    }
}

/// The start of a message for a log line.
fn preview(text: &str) -> String {
    const SHOWN_CHARS: usize = 120;
    text.chars().take(SHOWN_CHARS).collect()
}

/// `session.update` for a transcription session: μ-law in, `model` in `language`, steered by
/// `prompt`, and no server turn detection, because sicha's own endpointer decides where turns end.
pub(super) fn session_update(model: &str, language: &str, prompt: Option<&str>) -> String {
    let mut transcription = json!({"model": model, "language": language});
    if let Some(prompt) = prompt.filter(|prompt| !prompt.trim().is_empty()) {
        transcription["prompt"] = json!(prompt);
    }
    json!({
        "type": "session.update",
        "session": {
            "type": "transcription",
            "audio": {"input": {
                "format": {"type": INPUT_FORMAT},
                "transcription": transcription,
                "turn_detection": null,
            }},
        },
    })
    .to_string()
}

/// `input_audio_buffer.append` with the audio already in base64.
pub(super) fn append(audio_base64: &str) -> String {
    json!({"type": "input_audio_buffer.append", "audio": audio_base64}).to_string()
}

/// `input_audio_buffer.commit`, with an id the server names again if it refuses the commit.
pub(super) fn commit(event_id: &str) -> String {
    json!({"type": "input_audio_buffer.commit", "event_id": event_id}).to_string()
}

pub(super) fn clear() -> String {
    json!({"type": "input_audio_buffer.clear"}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn transcript_events_keep_their_item_and_text() {
        let delta = r#"{"type":"conversation.item.input_audio_transcription.delta","event_id":"e1",
            "item_id":"item_1","content_index":0,"delta":"שלום "}"#;
        assert_eq!(
            parse_server_event(delta),
            ServerEvent::Delta {
                item_id: "item_1".to_string(),
                delta: "שלום ".to_string()
            }
        );
        let completed = r#"{"type":"conversation.item.input_audio_transcription.completed",
            "item_id":"item_1","content_index":0,"transcript":"שלום עולם","usage":{"type":"duration","seconds":2}}"#;
        assert_eq!(
            parse_server_event(completed),
            ServerEvent::Completed {
                item_id: "item_1".to_string(),
                transcript: "שלום עולם".to_string()
            }
        );
        let committed =
            r#"{"type":"input_audio_buffer.committed","item_id":"item_2","previous_item_id":null}"#;
        assert_eq!(
            parse_server_event(committed),
            ServerEvent::Committed {
                item_id: "item_2".to_string()
            }
        );
    }

    #[test]
    fn failures_and_errors_carry_the_servers_words() {
        let failed = r#"{"type":"conversation.item.input_audio_transcription.failed","item_id":"item_3",
            "content_index":0,"error":{"type":"transcription_error","code":"audio_unintelligible","message":"Audio unclear."}}"#;
        let ServerEvent::TranscriptionFailed { item_id, error } = parse_server_event(failed) else {
            panic!("a failed event");
        };
        assert_eq!(item_id, "item_3");
        assert_eq!(error.to_string(), "Audio unclear. (audio_unintelligible)");

        let refused = r#"{"type":"error","event_id":"e9","error":{"type":"invalid_request_error",
            "code":"input_audio_buffer_commit_empty","message":"buffer too small","param":null,"event_id":"commit_4"}}"#;
        let ServerEvent::Error(error) = parse_server_event(refused) else {
            panic!("an error event");
        };
        assert_eq!(error.event_id.as_deref(), Some("commit_4"));
        assert_eq!(error.kind.as_deref(), Some("invalid_request_error"));
        assert_eq!(
            parse_server_event(r#"{"type":"error","error":{}}"#),
            ServerEvent::Error(ApiError {
                message: "no message given".to_string(),
                ..ApiError::default()
            })
        );
    }

    #[test]
    fn unknown_types_are_named_and_skipped() {
        assert_eq!(
            parse_server_event(r#"{"type":"rate_limits.updated","rate_limits":[]}"#),
            ServerEvent::Other("rate_limits.updated".to_string())
        );
        assert_eq!(
            parse_server_event(r#"{"type":"session.created","session":{"type":"transcription"}}"#),
            ServerEvent::SessionCreated
        );
    }

    #[test]
    fn what_cannot_be_read_is_malformed_not_an_error() {
        for text in [
            "not json",
            r#"{"item_id":"item_1"}"#,
            r#"{"type":"conversation.item.input_audio_transcription.completed","item_id":"item_1"}"#,
            r#"{"type":"input_audio_buffer.committed"}"#,
            r#"{"type":"error"}"#,
        ] {
            assert!(
                matches!(parse_server_event(text), ServerEvent::Malformed(_)),
                "{text}"
            );
        }
    }

    #[test]
    fn session_update_asks_for_mulaw_transcription_without_turn_detection() {
        let update: Value = serde_json::from_str(&session_update(
            "gpt-4o-transcribe",
            "he",
            Some("מספרת רונית"),
        ))
        .unwrap();
        assert_eq!(update["type"], "session.update");
        let session = &update["session"];
        assert_eq!(session["type"], "transcription");
        let input = &session["audio"]["input"];
        assert_eq!(input["format"]["type"], "audio/pcmu");
        assert_eq!(input["transcription"]["model"], "gpt-4o-transcribe");
        assert_eq!(input["transcription"]["language"], "he");
        assert_eq!(input["transcription"]["prompt"], "מספרת רונית");
        assert!(input["turn_detection"].is_null());
        assert!(input.as_object().unwrap().contains_key("turn_detection"));

        let without: Value = serde_json::from_str(&session_update("m", "he", Some("  "))).unwrap();
        assert!(without["session"]["audio"]["input"]["transcription"]["prompt"].is_null());
    }

    #[test]
    fn buffer_events_are_what_the_api_expects() {
        let append: Value = serde_json::from_str(&append("//8=")).unwrap();
        assert_eq!(append["type"], "input_audio_buffer.append");
        assert_eq!(append["audio"], "//8=");
        let commit: Value = serde_json::from_str(&commit("commit_1")).unwrap();
        assert_eq!(commit["type"], "input_audio_buffer.commit");
        assert_eq!(commit["event_id"], "commit_1");
        let clear: Value = serde_json::from_str(&clear()).unwrap();
        assert_eq!(clear["type"], "input_audio_buffer.clear");
    }
}
