//! What a call's session is started with: who answers, the call's facts and the server's policies.
//! Built by the stream handler when a `start` is accepted; cloned into the session task.

use std::sync::Arc;
use std::time::Duration;

use super::Registry;
use super::agent::Agent;
use crate::config::AfterCallSettings;
use crate::store::{Business, RecordWriter, Store};
use crate::twilio::token::StreamTokenKey;

/// Who answers the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentMode {
    /// The AI agent: Whisper → LLM → Hebrew TTS.
    Ai,
    /// Plays each caller utterance back: checks a line end to end without AI providers.
    Echo,
    /// Listens and records, never speaks.
    Silent,
}

/// How to bring a call back to a fresh stream after a REST TwiML update (the `<Say>` fallback).
#[derive(Clone)]
pub struct Reconnect {
    pub stream_url: url::Url,
    pub status_callback: Option<url::Url>,
    pub token_key: StreamTokenKey,
    pub token_ttl: Duration,
    /// How long the session waits for the new stream before it gives the call up.
    pub wait: Duration,
}

/// What the agent does when the caller goes quiet: after `after` of silence (nothing playing, no turn
/// in flight) it asks whether they are still there; after `max_prompts` unanswered prompts it says
/// goodbye and ends the call.
#[derive(Debug, Clone, Copy)]
pub struct SilencePolicy {
    pub after: Duration,
    pub max_prompts: u32,
}

impl Default for SilencePolicy {
    fn default() -> Self {
        Self {
            after: Duration::from_secs(8),
            max_prompts: 2,
        }
    }
}

/// What a session is started with.
#[derive(Clone)]
pub struct CallContext {
    pub call_sid: String,
    pub store: Store,
    /// The call's events, turns and status changes go here and are committed behind the call.
    pub records: RecordWriter,
    pub registry: Registry,
    pub mode: AgentMode,
    /// Present in [`AgentMode::Ai`].
    pub agent: Option<Arc<Agent>>,
    pub business: Option<Business>,
    pub customer_id: Option<String>,
    pub caller_number: String,
    pub started_at_ms: i64,
    pub max_call: Duration,
    pub reconnect: Option<Reconnect>,
    pub after_call: AfterCallSettings,
    pub silence: SilencePolicy,
    /// Wakes the outbox worker after the call's deliveries are queued.
    pub outbox: Option<crate::deliveries::worker::OutboxNotifier>,
}
