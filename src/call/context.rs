//! What calls are started with. [`CallServices`] is built once per server and shared by every call
//! (the store, the record writer, the registry, the agent, the call policies); [`CallContext`] is one
//! call's share of it plus the call's own facts, owned by that call's session task.

use std::sync::Arc;
use std::time::Duration;

use sicha_audio::endpoint::EndpointConfig;

use super::Registry;
use super::agent::Agent;
use super::callback::CallbackContext;
use super::core::{AgentMode, SilencePolicy};
use super::hebrew::end_of_turn::HangoverPolicy;
use crate::config::{AfterCallSettings, Settings};
use crate::deliveries::worker::OutboxNotifier;
use crate::store::{Business, CallDirection, RecordWriter, Store};
use crate::twilio::token::StreamTokenKey;

/// How long a call redirected to `<Say>` may take to come back on a new stream (the core keeps
/// that deadline).
const RECONNECT_WAIT: Duration = Duration::from_secs(60);

/// How to bring a call back to a fresh stream after a REST TwiML update (the `<Say>` fallback).
#[derive(Clone)]
pub struct Reconnect {
    pub stream_url: url::Url,
    pub status_callback: Option<url::Url>,
    pub token_key: StreamTokenKey,
    pub token_ttl: Duration,
}

/// The server's call policies, from its settings.
#[derive(Clone, Debug)]
pub struct CallPolicies {
    pub max_call: Duration,
    pub silence: SilencePolicy,
    pub after_call: AfterCallSettings,
    pub endpoint: EndpointConfig,
    /// How much silence ends a turn, by its words and voice; `None`: the endpointer's hangover alone.
    pub end_of_turn: Option<HangoverPolicy>,
    pub stream_token_ttl: Duration,
    /// A promised call-back can be placed: Twilio's REST credentials are set, as the outbox's
    /// call-back placer needs (without them a call-back row is given up at once).
    pub can_place_callbacks: bool,
}

impl CallPolicies {
    pub fn from_settings(settings: &Settings) -> Self {
        let conversation = &settings.conversation;
        Self {
            max_call: settings.limits.max_call,
            silence: SilencePolicy {
                after: conversation.silence_prompt_after,
                max_prompts: conversation.silence_prompts,
            },
            after_call: settings.after_call.clone(),
            endpoint: endpoint_config(conversation),
            end_of_turn: end_of_turn_policy(conversation),
            stream_token_ttl: settings.stream_token_ttl,
            can_place_callbacks: settings.twilio.account_sid.is_some()
                && settings.twilio.auth_token.is_some(),
        }
    }
}

/// The end-of-turn decision, when the settings ask for it and eager transcription gives it words.
fn end_of_turn_policy(
    conversation: &crate::config::ConversationSettings,
) -> Option<HangoverPolicy> {
    (conversation.hebrew_end_of_turn && conversation.eager_stt_ms.is_some())
        .then(|| HangoverPolicy::around(conversation.vad_hangover_ms))
}

/// The endpointer as configured; the rest of its settings keep their measured defaults. When the
/// call decides the end of turns itself, the endpointer's own hangover is only the longest wait.
pub fn endpoint_config(conversation: &crate::config::ConversationSettings) -> EndpointConfig {
    let hangover_ms = match end_of_turn_policy(conversation) {
        Some(policy) => policy.longest_ms.max(conversation.vad_hangover_ms),
        None => conversation.vad_hangover_ms,
    };
    EndpointConfig {
        start_ms: conversation.vad_start_ms,
        hangover_ms,
        eager_ms: conversation.eager_stt_ms,
        ..EndpointConfig::default()
    }
}

/// Everything calls share; cheap to clone.
#[derive(Clone)]
pub struct CallServices {
    pub store: Store,
    /// The calls' events, turns and status changes go here and are committed behind the calls.
    pub records: RecordWriter,
    pub registry: Registry,
    pub mode: AgentMode,
    /// Present in [`AgentMode::Ai`].
    pub agent: Option<Arc<Agent>>,
    pub token_key: StreamTokenKey,
    pub policies: CallPolicies,
    /// Wakes the outbox worker after a call's deliveries are queued.
    pub outbox: Option<OutboxNotifier>,
}

/// What one call's session is started with.
#[derive(Clone)]
pub struct CallContext {
    pub call_sid: String,
    pub services: CallServices,
    pub business: Option<Business>,
    pub customer_id: Option<String>,
    /// The customer's number: who called, or who is called back.
    pub caller_number: String,
    pub started_at_ms: i64,
    pub direction: CallDirection,
    /// Present when this call is a call-back.
    pub callback: Option<CallbackContext>,
    pub reconnect: Option<Reconnect>,
}

impl CallContext {
    /// A call's context; `stream_url` is where Twilio reached us, so a `<Say>` fallback can send the
    /// call back to the same place.
    pub fn new(
        services: CallServices,
        call: crate::store::Call,
        business: Option<Business>,
        callback: Option<CallbackContext>,
        stream_url: url::Url,
    ) -> Self {
        let base = public_base_of(&stream_url);
        let reconnect = Reconnect {
            status_callback: base.join("/twilio/stream-status").ok(),
            stream_url,
            token_key: services.token_key.clone(),
            token_ttl: services.policies.stream_token_ttl,
        };
        Self {
            caller_number: call.customer_number().to_string(),
            call_sid: call.call_sid,
            business,
            customer_id: call.customer_id,
            started_at_ms: call.started_at_ms,
            direction: call.direction,
            callback,
            reconnect: Some(reconnect),
            services,
        }
    }

    /// Where Twilio reaches this server, as this call's stream showed it.
    pub fn public_base(&self) -> Option<url::Url> {
        self.reconnect
            .as_ref()
            .map(|reconnect| public_base_of(&reconnect.stream_url))
    }

    pub fn store(&self) -> &Store {
        &self.services.store
    }

    pub fn records(&self) -> &RecordWriter {
        &self.services.records
    }

    pub fn agent(&self) -> Option<&Arc<Agent>> {
        self.services.agent.as_ref()
    }

    pub fn after_call(&self) -> &AfterCallSettings {
        &self.services.policies.after_call
    }

    /// The core's view of this call.
    pub fn core_config(&self) -> super::core::CoreConfig {
        super::core::CoreConfig {
            call_sid: self.call_sid.clone(),
            mode: self.services.mode,
            business: self.business.clone(),
            caller_number: self.caller_number.clone(),
            silence: self.services.policies.silence,
            max_call: self.services.policies.max_call,
            reconnect_wait: RECONNECT_WAIT,
            preemptive_replies: self.business.as_ref().is_none_or(|b| b.preemptive_replies),
            end_of_turn: self.services.policies.end_of_turn,
            opening: self.callback.as_ref().map(|c| c.opening.clone()),
            earlier_call_summary: self.callback.as_ref().and_then(|c| c.earlier_call.clone()),
            can_place_callbacks: self.services.policies.can_place_callbacks,
        }
    }
}

/// The https origin behind a ws(s) stream URL.
fn public_base_of(stream_url: &url::Url) -> url::Url {
    let mut base = stream_url.clone();
    let scheme = if base.scheme() == "wss" {
        "https"
    } else {
        "http"
    };
    // Both schemes are special with the same host rules, so the change cannot fail.
    let _ = base.set_scheme(scheme);
    base.set_path("/");
    base
}
