//! The worker's deliverer for call-backs: places the call through Twilio's Calls API, then leaves
//! the row waiting for the call's result, which Twilio brings back to [`super::outcome`].
//!
//! What a placement's answer means (a second call would ring the customer twice, so only a request
//! Twilio provably did not take is sent again soon):
//! - accepted (or 2xx with an unreadable body): the call is placed; the row waits for its result.
//! - lost (a timeout, a reset connection, a 5xx that may hide an accepted call): it may be ringing,
//!   so the row waits for a result as if placed. If the call never existed, no result comes and the
//!   row is due again once [`OUTCOME_WAIT`] has passed: a new attempt.
//! - refused for now (429, 503 with Retry-After, no connection): nothing was placed; tried again
//!   after a minute (or Twilio's Retry-After), without counting as an attempt.
//! - refused (an invalid number, bad credentials): given up.
//!
//! A row claimed outside the business's opening hours (the hours changed, or the server was down)
//! is not placed: it waits, uncounted, for the next opening. Past the configured number of attempts
//! (their results lost) it is given up.

use std::time::Duration;

use url::Url;

use super::{CallbackRequest, answer_url, outcome, status_url};
use crate::clock;
use crate::config::CallbackSettings;
use crate::deliveries::{DeliveryFailure, Handover};
use crate::store::{OutboxItem, Store};
use crate::twilio::rest::{
    self, Acceptance, CallResource, OutboundCall, TwilioClient, TwilioError,
};

/// How long a call-back rings before Twilio reports `no-answer`.
pub const RING_SECS: u32 = 30;
/// How long a placed call's row waits for its result before it is due again: far longer than the
/// ringing and Twilio's status callback after it (an answered call settles the row at once, when
/// Twilio fetches its TwiML).
pub const OUTCOME_WAIT: Duration = Duration::from_secs(15 * 60);
/// The wait after Twilio refused a placement for now, when it named none.
const REFUSED_FOR_NOW_WAIT: Duration = Duration::from_secs(60);

/// Places call-backs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CallbackPlacer {
    client: TwilioClient,
    store: Store,
    /// `SICHA_PUBLIC_URL`: where Twilio reaches this server; the request's own base otherwise.
    public_url: Option<Url>,
    settings: CallbackSettings,
}

impl CallbackPlacer {
    /// Uses `client` with one request per attempt: the outbox owns retries.
    pub fn new(
        client: TwilioClient,
        store: Store,
        public_url: Option<Url>,
        settings: CallbackSettings,
    ) -> Self {
        let once = rest::RetryPolicy {
            max_attempts: 1,
            ..rest::RetryPolicy::default()
        };
        Self {
            client: client.with_retry(once),
            store,
            public_url,
            settings,
        }
    }

    /// One attempt for a claimed row.
    pub async fn deliver(
        &self,
        request: &CallbackRequest,
        item: &OutboxItem,
    ) -> Result<Handover, DeliveryFailure> {
        if item.attempts > i64::from(self.settings.attempts) {
            let reason = format!(
                "gave up after {} attempts: no result came back for the last",
                self.settings.attempts
            );
            outcome::record_given_up(&self.store, request, item.attempts - 1, &reason).await;
            return Err(DeliveryFailure::permanent(reason));
        }
        let business = match self.store.business_by_id(&request.business_id).await {
            Ok(Some(business)) => business,
            Ok(None) => {
                return Err(DeliveryFailure::permanent(
                    "the business that promised the call-back no longer exists",
                ));
            }
            Err(error) => {
                return Err(DeliveryFailure::retryable(format!(
                    "cannot read the business: {error}"
                )));
            }
        };
        let now_ms = clock::now_ms();
        if let Some(open) = business.opening_hours.next_open(clock::timestamp(now_ms))
            && open.as_millisecond() > now_ms
        {
            return Ok(Handover::NotYet {
                at_ms: open.as_millisecond(),
                reason: "waiting for the business's opening hours".into(),
            });
        }
        let Some(base) = self.base_for(request) else {
            return Err(DeliveryFailure::permanent(
                "no public URL to give Twilio for the call-back: set SICHA_PUBLIC_URL",
            ));
        };
        let answer = answer_url(&base, &item.id, item.attempts);
        let status = status_url(&base, &item.id, item.attempts);
        let call = OutboundCall {
            to: &request.customer_phone,
            from: &business.number,
            url: &answer,
            status_callback: &status,
            ring_secs: RING_SECS,
        };
        let placed = self.client.create_call(&call).await;
        let handover = after_placing(placed, item.attempts, clock::now_ms());
        match &handover {
            Ok(Handover::Awaiting { reference, .. }) => {
                tracing::info!(id = %item.id, attempt = item.attempts, call_sid = %reference,
                    "call-back placed; waiting for the customer to answer");
            }
            Err(DeliveryFailure::Permanent { reason }) => {
                outcome::record_attempt(&self.store, request, item.attempts, None, "not_placed")
                    .await;
                outcome::record_given_up(&self.store, request, item.attempts, reason).await;
            }
            _ => {}
        }
        handover
    }

    fn base_for(&self, request: &CallbackRequest) -> Option<Url> {
        self.public_url.clone().or_else(|| {
            request
                .public_base
                .as_deref()
                .and_then(|base| Url::parse(base).ok())
        })
    }
}

/// What Twilio's answer to a placement means for the row (see the module notes).
fn after_placing(
    placed: Result<CallResource, TwilioError>,
    attempt: i64,
    now_ms: i64,
) -> Result<Handover, DeliveryFailure> {
    let awaiting = |reference: String| Handover::Awaiting {
        reference,
        until_ms: now_ms.saturating_add(duration_ms(OUTCOME_WAIT)),
    };
    let error = match placed {
        Ok(call) => return Ok(awaiting(call.sid)),
        Err(error) => error,
    };
    match error.acceptance() {
        Acceptance::Accepted => Ok(awaiting("(a call whose SID Twilio's answer lost)".into())),
        Acceptance::Unknown => {
            tracing::warn!(attempt, %error, "a call-back may have been placed; waiting for its result");
            Ok(awaiting(format!("(maybe placed: {error})")))
        }
        Acceptance::NotAccepted if error.is_transient() => Ok(Handover::NotYet {
            at_ms: now_ms.saturating_add(duration_ms(
                error.retry_after().unwrap_or(REFUSED_FOR_NOW_WAIT),
            )),
            reason: format!("not placed, Twilio refused for now: {error}"),
        }),
        Acceptance::NotAccepted => Err(DeliveryFailure::permanent(format!(
            "call-back not placed: {error}"
        ))),
    }
}

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(sid: &str) -> CallResource {
        serde_json::from_value(serde_json::json!({ "sid": sid, "status": "queued" })).unwrap()
    }

    fn api(status: u16, retry_after: Option<u64>) -> TwilioError {
        TwilioError::api_status(status, retry_after)
    }

    const NOW: i64 = 1_750_000_000_000;

    #[test]
    fn a_placed_call_waits_for_its_result() {
        let wait = duration_ms(OUTCOME_WAIT);
        assert_eq!(
            after_placing(Ok(resource("CA9")), 1, NOW),
            Ok(Handover::Awaiting {
                reference: "CA9".into(),
                until_ms: NOW + wait
            })
        );
        // Twilio took it but its answer was unreadable, or the answer was lost: it may ring.
        for maybe in [
            TwilioError::Decode("cut off".into()),
            TwilioError::Timeout,
            api(500, None),
            api(503, None),
        ] {
            match after_placing(Err(maybe), 2, NOW) {
                Ok(Handover::Awaiting { until_ms, .. }) => assert_eq!(until_ms, NOW + wait),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_placement_refused_for_now_is_tried_again_uncounted() {
        assert!(matches!(
            after_placing(Err(api(429, None)), 1, NOW),
            Ok(Handover::NotYet { at_ms, .. }) if at_ms == NOW + 60_000
        ));
        assert!(matches!(
            after_placing(Err(api(503, Some(120))), 1, NOW),
            Ok(Handover::NotYet { at_ms, .. }) if at_ms == NOW + 120_000
        ));
    }

    #[test]
    fn a_refused_placement_is_given_up() {
        assert!(matches!(
            after_placing(Err(api(400, None)), 1, NOW),
            Err(DeliveryFailure::Permanent { .. })
        ));
        assert!(matches!(
            after_placing(Err(api(401, None)), 3, NOW),
            Err(DeliveryFailure::Permanent { .. })
        ));
    }
}
