//! Twilio Media Streams messages, typed, in both directions (see PROTOCOLS.md).
//!
//! Every message is a JSON text frame with an `event` tag. Counters arrive as JSON strings. Inbound media
//! payloads borrow from the frame when they can (`Cow`), so the hot path does not copy base64 text.
//! Both directions derive both serde traits: the server reads [`Inbound`] and writes [`Outbound`], the
//! simulated caller does the reverse with the same types.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// What Twilio sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Inbound<'a> {
    Connected {
        protocol: String,
        version: String,
    },
    Start {
        #[serde(rename = "sequenceNumber")]
        sequence_number: String,
        #[serde(rename = "streamSid")]
        stream_sid: String,
        start: StartInfo,
    },
    Media {
        #[serde(rename = "sequenceNumber")]
        sequence_number: String,
        #[serde(rename = "streamSid")]
        stream_sid: String,
        #[serde(borrow)]
        media: MediaInfo<'a>,
    },
    Dtmf {
        #[serde(rename = "sequenceNumber")]
        sequence_number: String,
        #[serde(rename = "streamSid")]
        stream_sid: String,
        dtmf: DtmfInfo,
    },
    Mark {
        #[serde(rename = "sequenceNumber")]
        sequence_number: String,
        #[serde(rename = "streamSid")]
        stream_sid: String,
        mark: MarkInfo,
    },
    Stop {
        #[serde(rename = "sequenceNumber")]
        sequence_number: String,
        #[serde(rename = "streamSid")]
        stream_sid: String,
        stop: StopInfo,
    },
    /// Any event this version does not know: logged and counted, never fatal.
    #[serde(other)]
    Unknown,
}

impl Inbound<'_> {
    /// The streamSid the message claims, when it carries one.
    pub fn stream_sid(&self) -> Option<&str> {
        match self {
            Inbound::Start { stream_sid, .. }
            | Inbound::Media { stream_sid, .. }
            | Inbound::Dtmf { stream_sid, .. }
            | Inbound::Mark { stream_sid, .. }
            | Inbound::Stop { stream_sid, .. } => Some(stream_sid),
            Inbound::Connected { .. } | Inbound::Unknown => None,
        }
    }

    /// A short name for logs and metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Inbound::Connected { .. } => "connected",
            Inbound::Start { .. } => "start",
            Inbound::Media { .. } => "media",
            Inbound::Dtmf { .. } => "dtmf",
            Inbound::Mark { .. } => "mark",
            Inbound::Stop { .. } => "stop",
            Inbound::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartInfo {
    #[serde(rename = "accountSid")]
    pub account_sid: String,
    #[serde(rename = "streamSid")]
    pub stream_sid: String,
    #[serde(rename = "callSid")]
    pub call_sid: String,
    #[serde(default)]
    pub tracks: Vec<String>,
    #[serde(rename = "customParameters", default)]
    pub custom_parameters: HashMap<String, String>,
    #[serde(rename = "mediaFormat")]
    pub media_format: MediaFormat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaFormat {
    pub encoding: String,
    #[serde(rename = "sampleRate")]
    pub sample_rate: u32,
    pub channels: u32,
}

impl MediaFormat {
    /// The only format a bidirectional stream carries: 8 kHz mono μ-law.
    pub fn twilio_mulaw() -> Self {
        Self {
            encoding: "audio/x-mulaw".into(),
            sample_rate: 8000,
            channels: 1,
        }
    }

    pub fn is_mulaw_8k_mono(&self) -> bool {
        self.encoding == "audio/x-mulaw" && self.sample_rate == 8000 && self.channels == 1
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo<'a> {
    #[serde(default)]
    pub track: Option<String>,
    #[serde(default)]
    pub chunk: Option<String>,
    /// Milliseconds since the stream started, as a string.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Base64 of raw μ-law bytes.
    #[serde(borrow)]
    pub payload: Cow<'a, str>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DtmfInfo {
    #[serde(default)]
    pub track: Option<String>,
    pub digit: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkInfo {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopInfo {
    #[serde(rename = "accountSid", default)]
    pub account_sid: Option<String>,
    #[serde(rename = "callSid", default)]
    pub call_sid: Option<String>,
}

/// What sicha sends back on the same socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Outbound {
    Media {
        #[serde(rename = "streamSid")]
        stream_sid: String,
        media: OutboundMedia,
    },
    Mark {
        #[serde(rename = "streamSid")]
        stream_sid: String,
        mark: MarkInfo,
    },
    Clear {
        #[serde(rename = "streamSid")]
        stream_sid: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMedia {
    /// Base64 of raw μ-law 8 kHz mono, no header.
    pub payload: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_twilio_start_with_custom_parameters() {
        let text = r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1",
            "callSid":"CA1","tracks":["inbound"],"customParameters":{"token":"abc"},
            "mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"streamSid":"MZ1"}"#;
        let Inbound::Start {
            start, stream_sid, ..
        } = serde_json::from_str(text).unwrap()
        else {
            panic!()
        };
        assert_eq!(stream_sid, "MZ1");
        assert_eq!(start.call_sid, "CA1");
        assert_eq!(start.custom_parameters["token"], "abc");
        assert!(start.media_format.is_mulaw_8k_mono());
    }

    #[test]
    fn media_payload_borrows_when_unescaped_and_decodes_escaped_slashes() {
        let text = r#"{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1",
            "timestamp":"5","payload":"//8A"},"streamSid":"MZ1"}"#;
        let Inbound::Media { media, .. } = serde_json::from_str(text).unwrap() else {
            panic!()
        };
        assert!(matches!(media.payload, Cow::Borrowed("//8A")));
        let escaped = r#"{"event":"media","sequenceNumber":"3","media":{"payload":"\/\/8A"},"streamSid":"MZ1"}"#;
        let Inbound::Media { media, .. } = serde_json::from_str(escaped).unwrap() else {
            panic!()
        };
        assert_eq!(media.payload, "//8A");
    }

    #[test]
    fn unknown_events_are_a_value_not_an_error() {
        let msg: Inbound =
            serde_json::from_str(r#"{"event":"hologram","streamSid":"MZ1"}"#).unwrap();
        assert_eq!(msg, Inbound::Unknown);
        assert!(serde_json::from_str::<Inbound>(r#"{"streamSid":"MZ1"}"#).is_err());
    }

    #[test]
    fn outbound_messages_have_twilio_field_names() {
        let clear = serde_json::to_value(Outbound::Clear {
            stream_sid: "MZ1".into(),
        })
        .unwrap();
        assert_eq!(
            clear,
            serde_json::json!({"event": "clear", "streamSid": "MZ1"})
        );
        let mark = Outbound::Mark {
            stream_sid: "MZ1".into(),
            mark: MarkInfo { name: "s1".into() },
        };
        assert_eq!(
            serde_json::to_value(mark).unwrap(),
            serde_json::json!({"event": "mark", "streamSid": "MZ1", "mark": {"name": "s1"}})
        );
        let media = Outbound::Media {
            stream_sid: "MZ1".into(),
            media: OutboundMedia {
                payload: "AA==".into(),
            },
        };
        assert_eq!(
            serde_json::to_value(media).unwrap(),
            serde_json::json!({"event": "media", "streamSid": "MZ1", "media": {"payload": "AA=="}})
        );
    }
}
