//! `media` messages written straight into their JSON text. Serialising [`Outbound::Media`] or
//! [`Inbound::Media`] with serde makes the base64 payload a `String` of its own, then copies it into
//! the message while checking every character for escapes, growing the message as it goes. Base64
//! never needs escaping, so here it is encoded once, in place, into a message sized up front.
//!
//! The streamSid is the one field that could need escaping (it comes from the far end), so it is
//! escaped once per stream into a [`StreamSidJson`].
//!
//! [`Outbound::Media`]: super::Outbound::Media
//! [`Inbound::Media`]: super::Inbound::Media

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// A streamSid, with its JSON string literal (quotes included) escaped once for every message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamSidJson {
    sid: String,
    json: String,
}

impl StreamSidJson {
    pub fn new(stream_sid: &str) -> Self {
        Self {
            sid: stream_sid.to_string(),
            json: serde_json::to_string(stream_sid).expect("a string always serialises"),
        }
    }

    /// The streamSid itself.
    pub fn sid(&self) -> &str {
        &self.sid
    }
}

/// Room for `mulaw` as base64, with `extra` bytes for the rest of the message.
fn with_room(mulaw: &[u8], extra: usize) -> String {
    String::with_capacity(mulaw.len().div_ceil(3) * 4 + extra)
}

/// `{"event":"media","streamSid":…,"media":{"payload":…}}`: agent audio for Twilio, the same text
/// serde writes for [`super::Outbound::Media`].
pub fn outbound_media_text(stream_sid: &StreamSidJson, mulaw: &[u8]) -> String {
    let mut text = with_room(mulaw, 64 + stream_sid.json.len());
    text.push_str(r#"{"event":"media","streamSid":"#);
    text.push_str(&stream_sid.json);
    text.push_str(r#","media":{"payload":""#);
    BASE64.encode_string(mulaw, &mut text);
    text.push_str(r#""}}"#);
    text
}

/// A `media` message as Twilio sends it, with its counters: the same text serde writes for
/// [`super::Inbound::Media`] with track `inbound`.
pub fn inbound_media_text(
    sequence_number: u64,
    stream_sid: &StreamSidJson,
    chunk: u64,
    timestamp_ms: u64,
    mulaw: &[u8],
) -> String {
    let mut text = with_room(mulaw, 160 + stream_sid.json.len());
    let mut digits = itoa::Buffer::new();
    text.push_str(r#"{"event":"media","sequenceNumber":""#);
    text.push_str(digits.format(sequence_number));
    text.push_str(r#"","streamSid":"#);
    text.push_str(&stream_sid.json);
    text.push_str(r#","media":{"track":"inbound","chunk":""#);
    text.push_str(digits.format(chunk));
    text.push_str(r#"","timestamp":""#);
    text.push_str(digits.format(timestamp_ms));
    text.push_str(r#"","payload":""#);
    BASE64.encode_string(mulaw, &mut text);
    text.push_str(r#""}}"#);
    text
}
