//! Promised call-backs: when the agent told a caller that someone will call them back, sicha does.
//!
//! The call that made the promise (its events hold `callback_requested`) leaves a `callback` row in
//! the outbox, keyed by its CallSid, due at the business's next opening moment ([`callback_delivery`],
//! from [`super::after_call`], so a live call's end and the restart after a crash write it alike).
//! The worker places the call through Twilio ([`placer`]) with two links back to this server, each
//! naming the row and the attempt (`?callback=ID&attempt=N`): the voice webhook, fetched when the
//! customer answers, and the status callback, posted when the call is over. Twilio signs both,
//! query included, so nobody else can make them. The row waits for one
//! of them ([`outcome`]): an answer settles it; busy, no answer, a failed or cancelled call schedules
//! the next attempt ([`schedule`]) or, after the last, gives it up with the reason kept. Every
//! attempt's result is an event (`callback_attempt`) of the call that asked.
//!
//! Layout: this file (the payload, the row, the links), [`schedule`] (when the next attempt is, pure),
//! [`placer`] (the worker's deliverer: Twilio's Calls API), [`outcome`] (what an answer or an
//! unanswered call does to the row).

pub mod outcome;
pub mod placer;
pub mod schedule;

use serde::{Deserialize, Serialize};
use url::Url;

use super::{DeliveryError, KIND_CALLBACK};
use crate::store::{Business, Event, NewDelivery, validate_e164};

pub use outcome::{callback_answered, callback_call_ended, callback_for_answer};
pub use placer::CallbackPlacer;
pub use schedule::{NextAttempt, next_attempt};

/// The event a call's core records when the agent promises a call-back.
pub const CALLBACK_REQUESTED: &str = "callback_requested";
/// An attempt's result, recorded on the call that asked: `{"attempt", "call_sid", "result"}`.
pub const CALLBACK_ATTEMPT: &str = "callback_attempt";
/// The last attempt went unanswered: `{"attempts", "reason"}`.
pub const CALLBACK_GIVEN_UP: &str = "callback_given_up";

/// The query parameter naming the call-back (its outbox row) in the links Twilio is given.
pub const CALLBACK_PARAMETER: &str = "callback";
/// The query parameter numbering the attempt in both links.
pub const ATTEMPT_PARAMETER: &str = "attempt";

/// One promised call-back, as queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRequest {
    pub business_id: String,
    /// The business's Twilio number: the call-back's caller ID.
    pub business_number: String,
    /// Who is called back, E.164.
    pub customer_phone: String,
    /// The call in which the call-back was promised.
    pub parent_call_sid: String,
    /// Why it was promised, as the core recorded it: `loop` or `dtmf`, or for one the model asked
    /// for (`request_callback`), what it is about in the caller's words.
    pub reason: String,
    /// When the caller would like it, as they said it (the model's `when`); for a person to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Where Twilio reached this server for that call: the origin of the call-back's links when
    /// `SICHA_PUBLIC_URL` is not set.
    #[serde(default)]
    pub public_base: Option<String>,
}

/// The idempotency key of a call's call-back: one per call, however often the promise was made.
pub fn callback_idempotency_key(call_sid: &str) -> String {
    format!("callback:{call_sid}")
}

/// The call-back a call promised, as an outbox row due at the business's next opening moment at or
/// after `ended_at_ms`; `None` when it promised none, or the customer's number cannot be called
/// (hidden, `anonymous`, not E.164).
pub fn callback_delivery(
    business: &Business,
    parent_call_sid: &str,
    customer_phone: &str,
    events: &[Event],
    public_base: Option<&Url>,
    ended_at_ms: i64,
) -> Result<Option<NewDelivery>, DeliveryError> {
    let Some(promise) = events.iter().find(|e| e.kind == CALLBACK_REQUESTED) else {
        return Ok(None);
    };
    if validate_e164(customer_phone).is_err() {
        tracing::info!(
            "a call-back was promised to a caller whose number cannot be called; none is placed"
        );
        return Ok(None);
    }
    let said = |key: &str| {
        promise
            .detail
            .as_ref()
            .and_then(|detail| detail[key].as_str())
            .map(str::to_string)
    };
    let reason = said("reason").unwrap_or_else(|| "unknown".to_string());
    let request = CallbackRequest {
        business_id: business.id.clone(),
        business_number: business.number.clone(),
        customer_phone: customer_phone.to_string(),
        parent_call_sid: parent_call_sid.to_string(),
        reason,
        when: said("when"),
        public_base: public_base.map(Url::to_string),
    };
    let payload = serde_json::to_value(&request).map_err(|source| DeliveryError::Encode {
        kind: KIND_CALLBACK,
        source,
    })?;
    let ended = crate::clock::timestamp(ended_at_ms);
    let due_at_ms = business
        .opening_hours
        .next_open(ended)
        .map(|at| at.as_millisecond());
    Ok(Some(NewDelivery {
        kind: KIND_CALLBACK.to_string(),
        idempotency_key: callback_idempotency_key(parent_call_sid),
        payload,
        due_at_ms: due_at_ms.or(Some(ended_at_ms)),
    }))
}

/// The voice webhook's link for attempt `attempt` of call-back `id`: Twilio fetches it when the
/// customer answers.
pub fn answer_url(base: &Url, id: &str, attempt: i64) -> Url {
    link(base, "/twilio/voice", id, attempt)
}

/// The status callback's link for attempt `attempt` of call-back `id`: Twilio posts the call's end.
pub fn status_url(base: &Url, id: &str, attempt: i64) -> Url {
    link(base, "/twilio/status", id, attempt)
}

fn link(base: &Url, path: &str, id: &str, attempt: i64) -> Url {
    let mut url = base.join(path).expect("static path joins any base");
    url.query_pairs_mut()
        .append_pair(CALLBACK_PARAMETER, id)
        .append_pair(ATTEMPT_PARAMETER, &attempt.to_string());
    url
}

/// The call-back and attempt a Twilio request's query names, if any.
pub fn named_in_query(query: Option<&str>) -> Option<(String, i64)> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query?.as_bytes())
        .into_owned()
        .collect();
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let id = value(CALLBACK_PARAMETER).filter(|id| !id.is_empty())?;
    let attempt = value(ATTEMPT_PARAMETER)?.parse().ok()?;
    Some((id, attempt))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn business() -> Business {
        Business::example()
    }

    fn promised(reason: &str) -> Event {
        Event {
            call_sid: "CA1".into(),
            seq: 3,
            kind: CALLBACK_REQUESTED.into(),
            detail: Some(serde_json::json!({ "reason": reason })),
            at_ms: 0,
        }
    }

    fn ms(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn a_promise_made_on_thursday_evening_is_due_on_sunday_morning() {
        let base = Url::parse("https://calls.example.com/").unwrap();
        // Thursday 2025-06-19 20:00 in Israel.
        let ended = ms("2025-06-19T17:00:00Z");
        let row = callback_delivery(
            &business(),
            "CA1",
            "+972501234567",
            &[promised("loop")],
            Some(&base),
            ended,
        )
        .unwrap()
        .expect("a call-back");
        assert_eq!(row.kind, "callback");
        assert_eq!(row.idempotency_key, "callback:CA1");
        assert_eq!(row.due_at_ms, Some(ms("2025-06-22T06:00:00Z")));
        let request: CallbackRequest = serde_json::from_value(row.payload).unwrap();
        assert_eq!(request.customer_phone, "+972501234567");
        assert_eq!(request.business_number, "+97231234567");
        assert_eq!(request.reason, "loop");
        assert_eq!(
            request.public_base.as_deref(),
            Some("https://calls.example.com/")
        );
    }

    #[test]
    fn a_call_back_the_model_asked_for_keeps_its_reason_and_preferred_time() {
        let mut promise = promised("לקבוע צבע");
        promise.detail = Some(serde_json::json!({
            "why": "tool", "reason": "לקבוע צבע", "when": "מחר בבוקר"
        }));
        let row = callback_delivery(&business(), "CA1", "+972501234567", &[promise], None, 0)
            .unwrap()
            .expect("a call-back");
        let request: CallbackRequest = serde_json::from_value(row.payload).unwrap();
        assert_eq!(
            (request.reason.as_str(), request.when.as_deref()),
            ("לקבוע צבע", Some("מחר בבוקר"))
        );
    }

    #[test]
    fn no_promise_or_no_number_to_call_means_no_call_back() {
        let none = callback_delivery(&business(), "CA1", "+972501234567", &[], None, 0).unwrap();
        assert_eq!(none, None);
        for hidden in ["anonymous", "", "0501234567"] {
            let row = callback_delivery(&business(), "CA1", hidden, &[promised("dtmf")], None, 0)
                .unwrap();
            assert_eq!(row, None, "{hidden}");
        }
    }

    #[test]
    fn links_name_the_call_back_and_the_attempt() {
        let base = Url::parse("https://calls.example.com/").unwrap();
        let answer = answer_url(&base, "id-1", 2);
        assert_eq!(
            answer.as_str(),
            "https://calls.example.com/twilio/voice?callback=id-1&attempt=2"
        );
        assert_eq!(
            status_url(&base, "id-1", 2).as_str(),
            "https://calls.example.com/twilio/status?callback=id-1&attempt=2"
        );
        assert_eq!(named_in_query(answer.query()), Some(("id-1".into(), 2)));
        assert_eq!(named_in_query(None), None);
        assert_eq!(named_in_query(Some("callback=id-1")), None);
        assert_eq!(named_in_query(Some("callback=&attempt=1")), None);
        assert_eq!(named_in_query(Some("attempt=x&callback=a")), None);
    }
}
