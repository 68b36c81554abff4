//! Live calls. A call is one [`session`] task that owns all per-call state; the Media Streams socket
//! loop, webhooks and shutdown talk to it only through its inbox ([`SessionInput`]).
//! - [`registry`] live sessions by CallSid: a reconnecting stream finds the same session.
//! - [`session`]  the per-call task: playback, barge-in, DTMF, the call's records, its end.
//! - [`playback`] what was sent to Twilio and what the caller has heard (from echoed marks).
//! - [`echo`]     the line-check agent: plays the caller's own words back.
//! - [`agent`]    the AI agent's shared parts: providers, the phrase cache.
//! - [`context`]  what a session starts with: agent mode, the call's facts, policies.
//! - [`conversation`] the AI conversation of one call (state owned by the session).
//! - [`replies`]  what the session does with utterances and turn events.
//! - [`actions`]  what the agent does to the call through Twilio: transfer, `<Say>` fallback.
//! - [`turn`]     one agent turn's tasks: STT, then LLM → sentences → TTS.
//! - [`records`]  turns, the CRM interaction and after-call deliveries.
//! - [`recording`] the call's two-track Ogg Opus recording.
//! - [`hebrew`]   Hebrew text: a comparable normal form and the sentence splitter for streaming TTS.
//! - [`transcript`] what STT returned: cleanup, Whisper hallucinations, asking the caller to repeat.
//! - [`loops`]    repeated utterances (the caller's or the agent's own) that call for escalation.

pub mod actions;
pub mod agent;
pub mod context;
pub mod conversation;
pub mod echo;
pub mod hebrew;
pub mod loops;
pub mod playback;
pub mod recording;
pub mod records;
pub mod registry;
pub mod replies;
pub mod session;
pub mod transcript;
pub mod turn;

use sicha_audio::endpoint::EndpointEvent;
use tokio::sync::mpsc;

pub use registry::Registry;

/// Everything a session hears, in arrival order.
#[derive(Debug)]
pub enum SessionInput {
    /// A Media Streams socket was accepted for this call; audio for Twilio goes to `outbound`.
    StreamAttached {
        stream_sid: String,
        outbound: mpsc::Sender<OutboundCommand>,
    },
    /// The caller's decoded audio, forwarded only while the call is being recorded.
    CallerAudio(Vec<i16>),
    /// The caller's speech, from the socket loop's endpointer.
    Speech(EndpointEvent),
    /// Twilio echoed a mark: the audio before it has played (or was cleared).
    MarkPlayed(String),
    /// The caller pressed a key.
    Dtmf(String),
    /// An event of this call's agent turn `turn`.
    Turn { turn: u64, event: turn::TurnEvent },
    /// A stream ended; `stream_sid` tells an old stream's end from the current one's.
    StreamEnded { stream_sid: String, end: StreamEnd },
}

/// What the session asks the socket loop to send to Twilio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundCommand {
    /// Raw μ-law 8 kHz audio; the loop cuts it into 20 ms media messages.
    Audio(Vec<u8>),
    /// A named mark after the audio sent so far.
    Mark(String),
    /// Drop everything Twilio has buffered.
    Clear,
}

/// How a media stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEnd {
    /// Twilio sent `stop`: the call hung up or moved on.
    Stopped,
    /// The socket went away without `stop`.
    Dropped,
    /// sicha closed it (the session ended or asked for it).
    ClosedByServer,
    /// The `start` failed authentication or validation.
    Rejected(String),
    /// A size or rate limit was broken.
    LimitExceeded(String),
}
