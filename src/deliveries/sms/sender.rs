//! Hands queued texts to Twilio so that a retry does not text the customer twice.
//!
//! Twilio's Messages API has no idempotency key, so after a failure the question is whether Twilio
//! took the request anyway:
//! - Provably not (a refused connection, 429, 503 with Retry-After, any other 4xx): nothing was
//!   sent. 429 and 503 are retried; another 4xx is given up.
//! - Maybe (a timeout, a reset connection, any other 5xx, or an attempt cut off by a crash or
//!   shutdown): before sending again, the next attempt lists the messages from the same number to
//!   the same number and looks for the same body created since the row was queued. If Twilio has
//!   it, the row is delivered with that message's SID and nothing is sent; if the lookup fails,
//!   nothing is sent and the row waits for its next attempt.
//! - Yes (2xx with an unreadable answer): delivered.
//!
//! The row cannot say how its previous attempt ended (a crash records nothing), so every attempt
//! after the first looks first, unless this process itself saw that attempt provably refused. That
//! memory is only a shortcut: losing it (a restart, another instance) costs one lookup, never a
//! duplicate.
//!
//! What remains: Twilio's message list may lag behind a message it has just accepted. The worker's
//! backoff puts seconds between attempts, which is normally far longer than that lag.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::SmsMessage;
use crate::deliveries::DeliveryFailure;
use crate::store::OutboxItem;
use crate::twilio::rest::{self, Acceptance, MessageSearch, SmsSearch, TwilioClient, TwilioError};

/// How far Twilio's clock may be behind ours when comparing its `date_created` with the row's time.
const CLOCK_SKEW_MS: i64 = 120_000;
/// The longest one attempt (lookup and send) may take; well under the worker's default lease, so
/// no other worker starts the row while this attempt is still running.
const ATTEMPT_BUDGET: Duration = Duration::from_secs(30);
/// Refused attempts remembered at most; past that the memory starts over.
const MAX_REMEMBERED: usize = 10_000;

/// Sends queued texts through Twilio. Cheap to clone; clones share their memory of refusals.
#[derive(Debug, Clone)]
pub struct SmsSender {
    client: TwilioClient,
    /// Row id → the number of its last attempt, when that attempt was provably not taken.
    refused: Arc<Mutex<HashMap<String, i64>>>,
}

impl SmsSender {
    /// Uses `client` with one request per attempt: the outbox owns retries, with its longer,
    /// durable backoff, instead of holding a worker slot through the client's own.
    pub fn new(client: TwilioClient) -> Self {
        let once = rest::RetryPolicy {
            max_attempts: 1,
            ..rest::RetryPolicy::default()
        };
        Self {
            client: client.with_retry(once),
            refused: Arc::default(),
        }
    }

    /// One attempt for a claimed row. `Ok` holds the message's SID when Twilio told it.
    pub async fn deliver(
        &self,
        message: &SmsMessage,
        item: &OutboxItem,
    ) -> Result<Option<String>, DeliveryFailure> {
        match tokio::time::timeout(ATTEMPT_BUDGET, self.attempt(message, item)).await {
            Ok(result) => result,
            // Dropping the attempt may have cut a request off mid-way: the next attempt looks first.
            Err(_) => Err(DeliveryFailure::retryable(format!(
                "SMS attempt took longer than {} s",
                ATTEMPT_BUDGET.as_secs()
            ))),
        }
    }

    async fn attempt(
        &self,
        message: &SmsMessage,
        item: &OutboxItem,
    ) -> Result<Option<String>, DeliveryFailure> {
        if self.must_look_first(item) {
            // The row's creation stands in for its first attempt: never later, so nothing is missed.
            let since_ms = item.created_at_ms.saturating_sub(CLOCK_SKEW_MS);
            let search = SmsSearch::new(&message.to, &message.from, &message.body, since_ms);
            let found = self.client.find_sms(&search).await;
            count_lookup(&found);
            match found {
                Ok(MessageSearch::Found(sent)) => {
                    tracing::info!(id = %item.id, sid = %sent.sid, attempt = item.attempts,
                        "outbox: Twilio already has this SMS from an earlier attempt; not sending it again");
                    return Ok(Some(sent.sid));
                }
                Ok(MessageSearch::NotFound) => {}
                Ok(MessageSearch::TooMany) => {
                    return Err(DeliveryFailure::permanent(
                        "SMS not sent again: too many messages between these numbers to tell \
                         whether an earlier attempt reached Twilio",
                    ));
                }
                Err(error) => {
                    return Err(classify(
                        error,
                        "SMS not sent again yet: cannot tell whether an earlier attempt reached Twilio",
                    ));
                }
            }
        }
        let sent = self
            .client
            .send_sms(&message.to, &message.from, &message.body)
            .await;
        match sent {
            Ok(sent) => Ok(Some(sent.sid)),
            Err(TwilioError::Decode(reason)) => {
                tracing::warn!(id = %item.id, %reason, "Twilio accepted an SMS with an unreadable answer");
                Ok(None)
            }
            Err(error) => {
                if error.acceptance() == Acceptance::NotAccepted {
                    self.remember_refused(item);
                }
                Err(classify(error, "SMS not sent"))
            }
        }
    }

    /// Whether Twilio may already have this row's text: any attempt after the first, unless this
    /// process saw the one just before it refused.
    fn must_look_first(&self, item: &OutboxItem) -> bool {
        if item.attempts <= 1 {
            return false;
        }
        let refused = self.memory().remove(&item.id);
        refused != Some(item.attempts - 1)
    }

    fn remember_refused(&self, item: &OutboxItem) {
        let mut refused = self.memory();
        if refused.len() >= MAX_REMEMBERED {
            // Forgetting costs a lookup per row, never a duplicate.
            refused.clear();
        }
        refused.insert(item.id.clone(), item.attempts);
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        // The map holds no invariant a panicking holder could break.
        self.refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Throttling, server errors and lost answers may pass later (after Twilio's Retry-After, if it
/// gave one); a refusal (invalid number, bad credentials) will not.
pub(super) fn classify(error: TwilioError, what: &str) -> DeliveryFailure {
    let reason = format!("{what}: {error}");
    if error.is_transient() {
        DeliveryFailure::Retryable {
            reason,
            retry_after: error.retry_after(),
        }
    } else {
        DeliveryFailure::permanent(reason)
    }
}

fn count_lookup(found: &Result<MessageSearch, TwilioError>) {
    let result = match found {
        Ok(MessageSearch::Found(_)) => "found",
        Ok(MessageSearch::NotFound) => "not_found",
        Ok(MessageSearch::TooMany) => "too_many",
        Err(_) => "failed",
    };
    metrics::counter!("sicha_sms_lookups_total", "result" => result).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn api(status: u16, retry_after: Option<u64>) -> TwilioError {
        TwilioError::api_status(status, retry_after)
    }

    fn item(id: &str, attempts: i64) -> OutboxItem {
        OutboxItem {
            id: id.into(),
            kind: "sms".into(),
            idempotency_key: format!("sms:{id}"),
            payload: serde_json::Value::Null,
            attempts,
            next_attempt_at_ms: 0,
            last_error: None,
            created_at_ms: 0,
        }
    }

    fn sender() -> SmsSender {
        let base = url::Url::parse("http://127.0.0.1:9/2010-04-01").unwrap();
        SmsSender::new(TwilioClient::new(base, "AC1".into(), Secret::new("t")))
    }

    #[test]
    fn only_rate_limits_server_errors_and_lost_answers_are_retried() {
        for error in [
            api(429, None),
            api(500, None),
            api(503, None),
            TwilioError::Timeout,
        ] {
            assert!(matches!(
                classify(error, "x"),
                DeliveryFailure::Retryable { .. }
            ));
        }
        for error in [
            api(400, None),
            api(401, None),
            api(404, None),
            TwilioError::InvalidInput("x".into()),
        ] {
            assert!(matches!(
                classify(error, "x"),
                DeliveryFailure::Permanent { .. }
            ));
        }
    }

    #[test]
    fn twilio_s_retry_after_reaches_the_worker() {
        match classify(api(429, Some(7)), "SMS not sent") {
            DeliveryFailure::Retryable {
                retry_after,
                reason,
            } => {
                assert_eq!(retry_after, Some(Duration::from_secs(7)));
                assert!(
                    reason.starts_with("SMS not sent: Twilio answered 429"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_retry_looks_first_unless_the_attempt_just_before_was_seen_refused() {
        let sender = sender();
        assert!(!sender.must_look_first(&item("a", 1)), "a first attempt");
        assert!(sender.must_look_first(&item("a", 2)), "nothing remembered");

        sender.remember_refused(&item("a", 2));
        assert!(
            !sender.must_look_first(&item("a", 3)),
            "attempt 2 was refused"
        );
        assert!(
            sender.must_look_first(&item("a", 4)),
            "the memory is used once"
        );

        // An attempt in between that this process never saw (another instance, a crash).
        sender.remember_refused(&item("b", 2));
        assert!(sender.must_look_first(&item("b", 4)));

        // Clones share what they saw.
        sender.clone().remember_refused(&item("c", 5));
        assert!(!sender.must_look_first(&item("c", 6)));
    }
}
