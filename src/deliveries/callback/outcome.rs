//! What Twilio's reports about a placed call-back do to its row, and the events they leave on the
//! call that asked for it.
//!
//! - Answered (Twilio fetches the voice webhook's link): the call-back is done. The customer is
//!   connected whatever the row says, even to an attempt given up meanwhile: they picked up.
//! - Ended without reaching us (the status callback: busy, no-answer, failed, canceled, or completed
//!   while the row still waits and no stream of that call started, which means Twilio could not
//!   fetch our TwiML or we turned the call away): the next attempt is scheduled
//!   ([`super::next_attempt`]), or after the last the row is given up with the reason kept. A call
//!   whose stream started was answered, even if recording that at its answer failed.
//!
//! Each report changes the row only for the attempt it names and only once (see
//! [`crate::store::outbox`]), so a replayed or late report changes nothing and records nothing.

use serde_json::json;

use super::{
    CALLBACK_ATTEMPT, CALLBACK_GIVEN_UP, CallbackRequest, KIND_CALLBACK, NextAttempt, next_attempt,
};
use crate::config::CallbackSettings;
use crate::store::businesses::OpeningHours;
use crate::store::{Store, StoreError};

/// The call-back `id` names, for the voice webhook of its answered call from `from` to `to`;
/// `None` when no such call-back exists or the call is not it (other numbers).
pub async fn callback_for_answer(
    store: &Store,
    id: &str,
    from: &str,
    to: &str,
) -> Result<Option<CallbackRequest>, StoreError> {
    let Some(request) = request_of(store, id).await? else {
        return Ok(None);
    };
    let same_call = request.business_number == from && request.customer_phone == to;
    Ok(same_call.then_some(request))
}

/// The customer answered attempt `attempt` (call `call_sid`): the call-back is done, and the
/// attempt's result recorded on the call that asked. Call once per answered call.
pub async fn callback_answered(
    store: &Store,
    id: &str,
    request: &CallbackRequest,
    attempt: i64,
    call_sid: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    store.mark_delivered(id, now_ms).await?;
    count("answered");
    record_attempt(store, request, attempt, Some(call_sid), "answered").await;
    Ok(())
}

/// Attempt `attempt`'s call (`call_sid`) ended with Twilio's `twilio_status` without being
/// answered here: schedule the next attempt or give up. `None` when the report changed nothing
/// (not a call-back, answered, replayed, or about an older attempt).
pub async fn callback_call_ended(
    store: &Store,
    settings: &CallbackSettings,
    id: &str,
    attempt: i64,
    call_sid: &str,
    twilio_status: &str,
    now_ms: i64,
) -> Result<Option<NextAttempt>, StoreError> {
    let Some(entry) = store.delivery_by_id(id).await? else {
        return Ok(None);
    };
    if entry.item.kind != KIND_CALLBACK || entry.status != "pending" {
        return Ok(None);
    }
    let Some(request) = decode(&entry.item.payload) else {
        return Ok(None);
    };
    if twilio_status == "completed"
        && let Some(call) = store.call_by_sid(call_sid).await?
        && call.stream_started_at_ms.is_some()
    {
        // Answered, though its answer was not recorded on the row in time.
        if store.mark_delivered(id, now_ms).await? {
            count("answered");
            record_attempt(store, &request, attempt, Some(call_sid), "answered").await;
        }
        return Ok(None);
    }
    let hours = match store.business_by_id(&request.business_id).await? {
        Some(business) => business.opening_hours,
        None => OpeningHours::default(),
    };
    let result = if twilio_status == "completed" {
        "completed_unanswered"
    } else {
        twilio_status
    };
    let reason = format!("attempt {attempt}: {result}");
    let next = next_attempt(settings, &hours, attempt, now_ms);
    let changed = match next {
        NextAttempt::At(at_ms) => store.retry_attempt(id, attempt, &reason, at_ms).await?,
        NextAttempt::GiveUp => {
            let reason = format!("gave up after {attempt} attempts; the last: {result}");
            store.give_up_attempt(id, attempt, &reason).await?
        }
    };
    if !changed {
        return Ok(None);
    }
    count(result);
    record_attempt(store, &request, attempt, Some(call_sid), result).await;
    match next {
        NextAttempt::At(at_ms) => {
            tracing::info!(
                id,
                attempt,
                result,
                next_at_ms = at_ms,
                "call-back not answered; trying again later"
            );
        }
        NextAttempt::GiveUp => {
            let reason = format!("no answer in {attempt} attempts; the last: {result}");
            record_given_up(store, &request, attempt, &reason).await;
        }
    }
    Ok(Some(next))
}

/// Records attempt `attempt`'s result on the call that asked for the call-back. A failure is
/// logged: the row holds the result too.
pub(super) async fn record_attempt(
    store: &Store,
    request: &CallbackRequest,
    attempt: i64,
    call_sid: Option<&str>,
    result: &str,
) {
    let detail = json!({ "attempt": attempt, "call_sid": call_sid, "result": result });
    record(store, request, CALLBACK_ATTEMPT, &detail).await;
}

/// Records on the call that asked that its call-back was given up, and why.
pub(super) async fn record_given_up(
    store: &Store,
    request: &CallbackRequest,
    attempts: i64,
    reason: &str,
) {
    count("given_up");
    tracing::warn!(parent = %request.parent_call_sid, attempts, reason, "call-back given up");
    let detail = json!({ "attempts": attempts, "reason": reason });
    record(store, request, CALLBACK_GIVEN_UP, &detail).await;
}

async fn record(store: &Store, request: &CallbackRequest, kind: &str, detail: &serde_json::Value) {
    let at = crate::clock::now_ms();
    if let Err(error) = store
        .insert_event(&request.parent_call_sid, kind, Some(detail), at)
        .await
    {
        tracing::warn!(%error, kind, "could not record a call-back's event");
    }
}

async fn request_of(store: &Store, id: &str) -> Result<Option<CallbackRequest>, StoreError> {
    Ok(store
        .delivery_by_id(id)
        .await?
        .filter(|entry| entry.item.kind == KIND_CALLBACK)
        .and_then(|entry| decode(&entry.item.payload)))
}

fn decode(payload: &serde_json::Value) -> Option<CallbackRequest> {
    serde_json::from_value(payload.clone())
        .inspect_err(|error| tracing::warn!(%error, "a call-back's payload does not decode"))
        .ok()
}

/// `sicha_callbacks_total{result}`, with Twilio's statuses mapped to known labels only.
fn count(result: &str) {
    let label = match result {
        "answered" => "answered",
        "busy" => "busy",
        "no-answer" => "no_answer",
        "failed" => "failed",
        "canceled" => "canceled",
        "completed_unanswered" => "completed_unanswered",
        "given_up" => "given_up",
        _ => "other",
    };
    metrics::counter!("sicha_callbacks_total", "result" => label).increment(1);
}
