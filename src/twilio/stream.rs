//! Twilio Media Streams messages, typed, in both directions (see PROTOCOLS.md).
//!
//! Every message is a JSON text frame with an `event` tag. Counters arrive as JSON strings. Both
//! directions read and write with serde: the server reads [`Inbound`] and writes [`Outbound`], the
//! simulated caller does the reverse with the same types.
//!
//! `media` is fifty messages a second per call in each direction, so it has a cheaper path both ways:
//! - [`parse`]: [`Inbound`] is read through one flat envelope instead of serde's internally tagged
//!   enum (which buffers every field of every message into an intermediate tree first), and its
//!   strings borrow from the frame (`Cow`) unless they hold escapes;
//! - [`text`]: `media` messages are written straight into their text, base64 included, with no
//!   intermediate strings; tests hold them equal to what serde writes for the same message.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

mod parse;
mod text;

pub use text::{StreamSidJson, inbound_media_text, outbound_media_text};

/// What Twilio sends. Read with `serde_json::from_str` (see [`parse`] for how).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Inbound<'a> {
    Connected {
        protocol: String,
        version: String,
    },
    Start {
        #[serde(rename = "sequenceNumber")]
        sequence_number: Cow<'a, str>,
        #[serde(rename = "streamSid")]
        stream_sid: Cow<'a, str>,
        start: StartInfo,
    },
    Media {
        #[serde(rename = "sequenceNumber")]
        sequence_number: Cow<'a, str>,
        #[serde(rename = "streamSid")]
        stream_sid: Cow<'a, str>,
        media: MediaInfo<'a>,
    },
    Dtmf {
        #[serde(rename = "sequenceNumber")]
        sequence_number: Cow<'a, str>,
        #[serde(rename = "streamSid")]
        stream_sid: Cow<'a, str>,
        dtmf: DtmfInfo,
    },
    Mark {
        #[serde(rename = "sequenceNumber")]
        sequence_number: Cow<'a, str>,
        #[serde(rename = "streamSid")]
        stream_sid: Cow<'a, str>,
        mark: MarkInfo,
    },
    Stop {
        #[serde(rename = "sequenceNumber")]
        sequence_number: Cow<'a, str>,
        #[serde(rename = "streamSid")]
        stream_sid: Cow<'a, str>,
        stop: StopInfo,
    },
    /// Any event this version does not know: logged and counted, never fatal.
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
    #[serde(default, borrow, deserialize_with = "parse::optional_cow")]
    pub track: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "parse::optional_cow")]
    pub chunk: Option<Cow<'a, str>>,
    /// Milliseconds since the stream started, as a string.
    #[serde(default, borrow, deserialize_with = "parse::optional_cow")]
    pub timestamp: Option<Cow<'a, str>>,
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
mod tests;
