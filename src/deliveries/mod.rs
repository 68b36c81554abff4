//! After-call deliveries through the durable outbox: the CRM webhook, the post-call SMS and
//! promised call-backs.
//!
//! Producers (the end of a call) enqueue typed payloads with [`enqueue_crm_webhook`],
//! [`enqueue_sms`] or [`enqueue_post_call_sms`], then poke the worker with
//! [`OutboxNotifier::notify`] so delivery starts at once. The [`OutboxWorker`] claims due rows,
//! delivers each with the matching deliverer, and records delivered, retry later, or given up.
//!
//! Delivery is at least once, and each receiver is kept from seeing a repeat its own way: the CRM
//! webhook carries the row's idempotency key (derived from the CallSid) on every attempt, so a
//! receiver that dedupes on it sees each call once; Twilio's Messages API has no such key, so the
//! SMS deliverer asks Twilio whether an earlier attempt's text already exists before sending again
//! (see [`sms`]).
//!
//! A call-back is delivered in two steps: the worker places the call, and the row then waits for
//! Twilio to say whether it was answered (see [`callback`]).
//!
//! Layout: [`after_call`] (an ended call's interaction and deliveries, built from its records, for a
//! live call's end and for a call a crash cut off), [`crm_webhook`] (payload, enqueue, HTTP
//! deliverer), [`tool_calls`] (the call's tool calls with their outcomes, from its events), [`sms`] (payload, enqueue, Hebrew body, Twilio deliverer), [`callback`] (payload, the
//! Twilio deliverer placing the call, what its answer or its end does, the retry schedule),
//! [`worker`] (the polling task, retry policy, metrics).

pub mod after_call;
pub mod callback;
pub mod crm_webhook;
pub mod sms;
pub mod tool_calls;
pub mod worker;

use std::time::Duration;

pub use after_call::{EndedCall, after_call_records, record_after_call, transcript_text};
pub use callback::{CallbackPlacer, CallbackRequest, callback_delivery};
pub use crm_webhook::{
    CrmInteraction, CrmWebhook, TranscriptLine, crm_idempotency_key, crm_webhook_delivery,
    enqueue_crm_webhook,
};
pub use sms::{
    SmsAudience, SmsMessage, SmsSender, enqueue_post_call_sms, enqueue_sms, post_call_sms_body,
    post_call_sms_delivery, sms_delivery, sms_idempotency_key,
};
pub use tool_calls::ToolCallRecord;
pub use worker::{OutboxNotifier, OutboxWorker, RetryPolicy, WorkerOptions};

use crate::config::Settings;
use crate::store::{Store, StoreError};

/// The outbox `kind` of a CRM webhook delivery.
pub const KIND_CRM_WEBHOOK: &str = "crm_webhook";
/// The outbox `kind` of an SMS delivery.
pub const KIND_SMS: &str = "sms";
/// The outbox `kind` of a promised call-back.
pub const KIND_CALLBACK: &str = "callback";

/// Failures of the producer side: enqueueing and building deliverers.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("cannot queue the delivery: {0}")]
    Store(#[from] StoreError),
    #[error("cannot encode the {kind} payload: {source}")]
    Encode {
        kind: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("refused before queueing: {0}")]
    Invalid(String),
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

/// Why one delivery attempt failed, sorted by whether another attempt may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryFailure {
    /// Worth retrying later; `retry_after` is the receiver's own request, when it sent one.
    #[error("{reason}")]
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help (refused, malformed, not configured).
    #[error("{reason}")]
    Permanent { reason: String },
}

impl DeliveryFailure {
    pub fn retryable(reason: impl Into<String>) -> Self {
        Self::Retryable {
            reason: reason.into(),
            retry_after: None,
        }
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent {
            reason: reason.into(),
        }
    }
}

/// What an attempt that did not fail achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handover {
    /// Done; the receiver's id for what it got, when it gave one (an SMS's message SID).
    Delivered(Option<String>),
    /// Handed over, with the result to come later (a placed call is answered or not): the row
    /// waits for it, and is due again at `until_ms` if nothing settles it first.
    Awaiting { reference: String, until_ms: i64 },
    /// Not attempted: not its time yet (`reason`). Due again at `at_ms`, the claim uncounted.
    NotYet { at_ms: i64, reason: String },
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Handed over; the result is awaited until `until_ms` (see [`Handover::Awaiting`]).
    Awaiting {
        until_ms: i64,
    },
    /// Not attempted yet; due at `at_ms`.
    Deferred {
        at_ms: i64,
        reason: String,
    },
    /// Failed; due again at this epoch-ms time.
    WillRetry {
        at_ms: i64,
        reason: String,
    },
    GaveUp {
        reason: String,
    },
}

impl DeliveryOutcome {
    /// The `outcome` label of `sicha_outbox_deliveries_total`.
    pub fn label(&self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Awaiting { .. } => "awaiting",
            DeliveryOutcome::Deferred { .. } => "deferred",
            DeliveryOutcome::WillRetry { .. } => "retry",
            DeliveryOutcome::GaveUp { .. } => "gave_up",
        }
    }
}

/// One attempt's result, announced to [`OutboxWorker::subscribe`]rs (the dashboard, tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub id: String,
    pub kind: String,
    pub idempotency_key: String,
    /// This attempt's number, from 1.
    pub attempt: i64,
    pub outcome: DeliveryOutcome,
    /// The receiver's id for what was delivered or handed over, when it gave one (an SMS's Twilio
    /// message SID, a call-back's CallSid).
    pub reference: Option<String>,
}

/// The deliverers this instance has; a kind without one is given up (see [`worker`]).
#[derive(Debug, Clone, Default)]
pub struct Deliverers {
    pub crm: Option<CrmWebhook>,
    pub sms: Option<SmsSender>,
    pub callback: Option<CallbackPlacer>,
}

impl Deliverers {
    /// The CRM deliverer when a webhook URL is configured, the SMS deliverer and the call-back
    /// placer when Twilio credentials are.
    pub fn from_settings(settings: &Settings, store: &Store) -> Result<Self, DeliveryError> {
        let crm = settings
            .after_call
            .crm_webhook_url
            .clone()
            .map(CrmWebhook::new)
            .transpose()?;
        let twilio = &settings.twilio;
        let client = match (&twilio.account_sid, &twilio.auth_token) {
            (Some(account_sid), Some(auth_token)) => Some(crate::twilio::rest::TwilioClient::new(
                twilio.api_base.clone(),
                account_sid.clone(),
                auth_token.clone(),
            )),
            _ => None,
        };
        let callback = client.clone().map(|client| {
            CallbackPlacer::new(
                client,
                store.clone(),
                settings.public_url.clone(),
                settings.callbacks.clone(),
            )
        });
        Ok(Self {
            crm,
            sms: client.map(SmsSender::new),
            callback,
        })
    }
}
