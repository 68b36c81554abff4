//! The CRM webhook: the call's interaction POSTed as JSON to one configured URL.
//!
//! 2xx is delivered; 408, 429, 5xx, connection failures and timeouts are retried by the worker,
//! after the receiver's Retry-After (seconds or an HTTP date) when it sent one; any other answer
//! (other 4xx, and 3xx, since redirects are not followed) is given up. The `Idempotency-Key`
//! header is the same on every attempt, so the receiver can drop repeats.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};
use url::Url;

use super::tool_calls::{ToolCallRecord, tool_calls};
use super::{DeliveryError, DeliveryFailure, KIND_CRM_WEBHOOK};
use crate::store::{Business, Call, Event, NewDelivery, Store, Turn};
use crate::twilio::rest::retry_after;

/// How long one POST may take, from connecting to the whole answer.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a refusal's body is kept in the row's error, for an operator to read.
const ERROR_BODY_CHARS: usize = 200;

/// What the CRM receives about one call. Times are epoch milliseconds, like every record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmInteraction {
    pub business_number: String,
    pub business_name: String,
    pub customer_phone: String,
    pub call_sid: String,
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub outcome: Option<String>,
    pub transcript: Vec<TranscriptLine>,
    pub summary: Option<String>,
    pub recording_path: Option<String>,
    /// What the agent did through its tools, in order: each call with its outcome.
    #[serde(default)]
    pub tool_calls: Vec<ToolCallRecord>,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// `caller` or `agent`.
    pub role: String,
    pub text: String,
    /// For an agent turn cut off by the caller: the part actually heard.
    pub heard_text: Option<String>,
    pub at_ms: i64,
}

impl CrmInteraction {
    /// Assembles the payload from the stored records of a finished call.
    pub fn from_records(
        business: &Business,
        call: &Call,
        turns: &[Turn],
        events: &[Event],
        outcome: Option<String>,
        summary: Option<String>,
    ) -> Self {
        let duration_ms = call
            .ended_at_ms
            .map(|ended| ended.saturating_sub(call.started_at_ms).max(0));
        Self {
            business_number: business.number.clone(),
            business_name: business.name.clone(),
            customer_phone: call.customer_number().to_string(),
            call_sid: call.call_sid.clone(),
            started_at_ms: call.started_at_ms,
            ended_at_ms: call.ended_at_ms,
            duration_ms,
            outcome,
            transcript: turns
                .iter()
                .map(|turn| TranscriptLine {
                    role: turn.role.clone(),
                    text: turn.text.clone(),
                    heard_text: turn.heard_text.clone(),
                    at_ms: turn.started_at_ms,
                })
                .collect(),
            summary,
            recording_path: call.recording_path.clone(),
            tool_calls: tool_calls(events),
        }
    }
}

/// The idempotency key of a call's CRM delivery: one per call.
pub fn crm_idempotency_key(call_sid: &str) -> String {
    format!("crm:{call_sid}")
}

/// The call's CRM webhook as an outbox row, keyed by the call so it is queued once.
pub fn crm_webhook_delivery(interaction: &CrmInteraction) -> Result<NewDelivery, DeliveryError> {
    if interaction.call_sid.trim().is_empty() {
        return Err(DeliveryError::Invalid(
            "a CRM interaction needs a CallSid".into(),
        ));
    }
    let payload = serde_json::to_value(interaction).map_err(|source| DeliveryError::Encode {
        kind: KIND_CRM_WEBHOOK,
        source,
    })?;
    Ok(NewDelivery {
        kind: KIND_CRM_WEBHOOK.to_string(),
        idempotency_key: crm_idempotency_key(&interaction.call_sid),
        payload,
        due_at_ms: None,
    })
}

/// Queues the call's CRM webhook, due at once. `false` when this call's webhook was already
/// queued (delivered or not): enqueueing again is harmless.
pub async fn enqueue_crm_webhook(
    store: &Store,
    interaction: &CrmInteraction,
    now_ms: i64,
) -> Result<bool, DeliveryError> {
    let delivery = crm_webhook_delivery(interaction)?;
    Ok(store.enqueue_delivery(&delivery, now_ms).await?)
}

/// POSTs interactions to the configured URL. Cheap to clone.
#[derive(Clone)]
pub struct CrmWebhook {
    http: reqwest::Client,
    url: Url,
}

/// The URL may carry a token in its query or user info: only scheme, host and port are shown.
impl fmt::Debug for CrmWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrmWebhook")
            .field("target", &shown_target(&self.url))
            .finish_non_exhaustive()
    }
}

fn shown_target(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

impl CrmWebhook {
    pub fn new(url: Url) -> Result<Self, DeliveryError> {
        Self::with_timeout(url, DEFAULT_TIMEOUT)
    }

    /// As [`CrmWebhook::new`] with `timeout` per attempt. Keep it well under the worker's lease,
    /// or a slow receiver's item comes due again while still in flight.
    pub fn with_timeout(url: Url, timeout: Duration) -> Result<Self, DeliveryError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            // A redirected POST may turn into a GET or leave the configured host: refuse instead.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(DeliveryError::HttpClient)?;
        Ok(Self { http, url })
    }

    /// One attempt: POST the interaction with its idempotency key.
    pub async fn deliver(
        &self,
        idempotency_key: &str,
        interaction: &CrmInteraction,
    ) -> Result<(), DeliveryFailure> {
        let response = self
            .http
            .post(self.url.clone())
            .header("Idempotency-Key", idempotency_key)
            .header(CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(interaction).map_err(|error| {
                DeliveryFailure::permanent(format!("cannot encode the interaction: {error}"))
            })?)
            .send()
            .await
            .map_err(transport_failure)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = retry_after(response.headers());
        // The body only explains the refusal; failing to read it changes nothing.
        let body = response.text().await.unwrap_or_default();
        let reason = format!(
            "CRM webhook answered {status}: {}",
            body.trim()
                .chars()
                .take(ERROR_BODY_CHARS)
                .collect::<String>()
        );
        Err(classify_status(status, reason, retry_after))
    }
}

/// Sorts a non-2xx answer: 408, 429 and 5xx may pass; anything else will not.
fn classify_status(
    status: StatusCode,
    reason: String,
    retry_after: Option<Duration>,
) -> DeliveryFailure {
    let transient = status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error();
    if transient {
        DeliveryFailure::Retryable {
            reason,
            retry_after,
        }
    } else {
        DeliveryFailure::Permanent { reason }
    }
}

/// Connection failures and timeouts are retried; only a request that could not even be built is
/// permanent. The URL is stripped from the error: it may carry a token.
fn transport_failure(error: reqwest::Error) -> DeliveryFailure {
    let permanent = error.is_builder();
    let reason = format!("CRM webhook unreachable: {}", error.without_url());
    if permanent {
        DeliveryFailure::permanent(reason)
    } else {
        DeliveryFailure::retryable(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(code: u16) -> DeliveryFailure {
        classify_status(StatusCode::from_u16(code).unwrap(), "x".into(), None)
    }

    #[test]
    fn transient_statuses_are_retried_and_refusals_are_not() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(classify(code), DeliveryFailure::Retryable { .. }),
                "{code}"
            );
        }
        for code in [301, 400, 401, 403, 404, 410, 422] {
            assert!(
                matches!(classify(code), DeliveryFailure::Permanent { .. }),
                "{code}"
            );
        }
    }

    #[test]
    fn debug_output_hides_tokens_in_the_url() {
        let url = Url::parse("https://user:pass@crm.example.com:8443/hook?token=s3cret").unwrap();
        let shown = format!("{:?}", CrmWebhook::new(url).unwrap());
        assert!(shown.contains("https://crm.example.com:8443"), "{shown}");
        for secret in ["pass", "s3cret", "token", "user"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn the_interaction_lists_the_tool_calls_with_their_outcomes() {
        use crate::store::CallStatus;
        use serde_json::json;

        let business = Business::example();
        let call = Call {
            started_at_ms: 1_000,
            stream_started_at_ms: Some(1_100),
            ended_at_ms: Some(9_000),
            ..Call::example(CallStatus::Completed)
        };
        let event = |seq, kind: &str, detail| Event {
            call_sid: "CA1".into(),
            seq,
            kind: kind.into(),
            detail: Some(detail),
            at_ms: 5_000 + seq,
        };
        let events = [
            event(1, "stream_started", json!({ "stream_sid": "MZ1" })),
            event(
                2,
                "tool_call",
                json!({ "id": "c1", "name": "book_table", "arguments": { "guests": 4 } }),
            ),
            event(
                3,
                "tool_result",
                json!({ "id": "c1", "name": "book_table", "ok": true, "ms": 38, "result": { "booked": true } }),
            ),
        ];
        let interaction = CrmInteraction::from_records(&business, &call, &[], &events, None, None);
        let sent = serde_json::to_value(&interaction).unwrap();
        assert_eq!(
            sent["tool_calls"],
            json!([{
                "tool": "book_table", "arguments": { "guests": 4 }, "ok": true,
                "result": { "booked": true }, "error": null, "ms": 38, "at_ms": 5_002
            }])
        );
        // A payload queued before tool calls were listed still decodes.
        let mut older = sent.clone();
        older.as_object_mut().unwrap().remove("tool_calls");
        let decoded: CrmInteraction = serde_json::from_value(older).unwrap();
        assert!(decoded.tool_calls.is_empty());
    }

    #[test]
    fn keys_are_one_per_call() {
        assert_eq!(crm_idempotency_key("CA1"), "crm:CA1");
    }
}
