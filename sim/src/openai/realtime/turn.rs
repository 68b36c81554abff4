//! One committed turn of a realtime socket, transcribed on a task of its own so the socket goes on
//! taking audio meanwhile: heard as an upload would be, then told as deltas of a few words and a
//! `completed` event (or a `failed` one) spread evenly over the profile's delay.

use std::time::Duration;

use serde_json::{Value, json};

use super::Outbox;
use crate::openai::SimTranscript;
use crate::openai::transcriptions::{HALLUCINATION, Hearing};

/// Words per delta event: OpenAI sends a few tokens at a time.
const WORDS_PER_DELTA: usize = 3;

pub(super) async fn transcribe(
    outbox: Outbox,
    hearing: Hearing,
    mulaw: Vec<u8>,
    item_id: String,
    delay: Duration,
) {
    let mut samples = vec![0i16; mulaw.len()];
    sicha_audio::mulaw::decode_into(&mulaw, &mut samples);
    let events = match hearing.hear(Some((&samples, 8000))) {
        SimTranscript::Heard(text) => told(&item_id, &text),
        SimTranscript::Hallucination => told(&item_id, HALLUCINATION),
        SimTranscript::Fail(status) => vec![json!({
            "type": "conversation.item.input_audio_transcription.failed",
            "item_id": item_id, "content_index": 0,
            "error": {"type": "server_error", "code": "scripted_failure",
                "message": format!("Scripted transcription failure ({status})."), "param": null},
        })],
    };
    let step = delay / u32::try_from(events.len()).unwrap_or(u32::MAX);
    for event in events {
        tokio::time::sleep(step).await;
        outbox.send(event).await;
    }
}

/// The delta events and the completed event that tell `text`.
fn told(item_id: &str, text: &str) -> Vec<Value> {
    let mut events: Vec<Value> = deltas(text)
        .into_iter()
        .map(|delta| {
            json!({"type": "conversation.item.input_audio_transcription.delta",
                "item_id": item_id, "content_index": 0, "delta": delta})
        })
        .collect();
    events.push(json!({
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": item_id, "content_index": 0, "transcript": text,
        "usage": {"type": "duration", "seconds": 1},
    }));
    events
}

/// `text` in pieces of a few words that join back to it exactly.
fn deltas(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    words
        .chunks(WORDS_PER_DELTA)
        .map(<[&str]>::concat)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_join_back_to_the_text() {
        let text = "שלום, אני רוצה לקבוע תור  למחר בבוקר";
        let pieces = deltas(text);
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces.concat(), text);
        assert!(deltas("").is_empty());
    }

    #[test]
    fn a_transcript_ends_with_its_completed_event() {
        let events = told("item_1", "מה שעות הפתיחה?");
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["delta"], "מה שעות הפתיחה?");
        let last = events.last().unwrap();
        assert_eq!(
            last["type"],
            "conversation.item.input_audio_transcription.completed"
        );
        assert_eq!(last["transcript"], "מה שעות הפתיחה?");
        assert_eq!(last["item_id"], "item_1");
    }
}
