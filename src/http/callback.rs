//! Twilio's requests about a call-back sicha placed, which reach the usual routes with links naming
//! it (`?callback=ID&attempt=N`, signed by Twilio with the rest of the URL):
//! - the voice webhook, once the customer answers: the call is recorded as an outbound call linked
//!   to the call that asked for it, the call-back is done, and the call is connected to our Media
//!   Streams socket like an inbound one (its session opens with the call-back's words);
//! - the status callback, once the call is over: an unanswered attempt is retried or given up.
//!
//! A call-back that cannot take the call now (shutting down, at capacity) says so and hangs up; the
//! call-back stays due, and the status callback that follows schedules its next attempt.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::twilio_auth::field;
use super::voice::{connect, known_call, new_call, over_capacity, record_call, twiml_response};
use crate::clock::now_ms;
use crate::deliveries::callback::{callback_answered, callback_call_ended, callback_for_answer};
use crate::store::CallDirection;
use crate::twilio::twiml;

/// Said when a call-back reaches the customer while this server cannot take the call.
pub const CALLBACK_LATER_MESSAGE: &str =
    "שלום, חזרנו אליכם אבל כרגע אין נציג פנוי. ננסה שוב בהמשך. תודה ולהתראות.";

/// The voice webhook of attempt `attempt` of call-back `id`: the customer answered.
pub async fn answer(
    state: &AppState,
    base: &url::Url,
    params: &[(String, String)],
    id: &str,
    attempt: i64,
) -> Response {
    let (Some(call_sid), Some(from), Some(to)) = (
        field(params, "CallSid"),
        field(params, "From"),
        field(params, "To"),
    ) else {
        tracing::warn!("call-back webhook without CallSid, From or To");
        return (StatusCode::BAD_REQUEST, "CallSid, From and To are required").into_response();
    };
    let span = tracing::info_span!("call", call_sid, callback = id);
    let _guard = span.enter();
    let mut call = new_call(state, call_sid, from, to, CallDirection::Outbound);
    if let Some(answer) = known_call(state, base, &call).await {
        return answer;
    }
    let request = match callback_for_answer(&state.store, id, from, to).await {
        Ok(Some(request)) => request,
        Ok(None) => {
            tracing::warn!(
                "webhook for a call-back that does not exist or is another call's; hanging up"
            );
            return twiml_response(twiml::hangup());
        }
        Err(error) => {
            tracing::error!(%error, "could not read the call-back; hanging up");
            return twiml_response(twiml::hangup());
        }
    };
    call.parent_call_sid = Some(request.parent_call_sid.clone());
    let business = match state.store.business_by_id(&request.business_id).await {
        Ok(Some(business)) => business,
        Ok(None) => {
            tracing::warn!("a call-back's business no longer exists; hanging up");
            return twiml_response(twiml::hangup());
        }
        Err(error) => {
            tracing::error!(%error, "could not read a call-back's business; hanging up");
            return twiml_response(twiml::hangup());
        }
    };
    call.business_id = Some(business.id.clone());
    if let Some(answer) = over_capacity(state, &mut call, CALLBACK_LATER_MESSAGE).await {
        return answer;
    }
    if let Err(answer) = record_call(state, base, &mut call, to).await {
        return answer;
    }
    if let Err(error) = callback_answered(
        &state.store,
        id,
        &request,
        attempt,
        call_sid,
        call.started_at_ms,
    )
    .await
    {
        // The call goes on; the row's own result may then come from its status callback.
        tracing::error!(%error, "could not record the answered call-back");
    }
    connect(state, base, &call, &business.name).await
}

/// The status callback of attempt `attempt` of call-back `id`: its call `call_sid` is over with
/// Twilio's `twilio_status`. Unanswered, it is tried again later or given up.
pub async fn call_ended(
    state: &AppState,
    call_sid: &str,
    twilio_status: &str,
    id: &str,
    attempt: i64,
) {
    let ended = callback_call_ended(
        &state.store,
        &state.settings.callbacks,
        id,
        attempt,
        call_sid,
        twilio_status,
        now_ms(),
    )
    .await;
    match ended {
        // The next attempt may be due at once: the worker looks now.
        Ok(Some(_)) => {
            if let Some(outbox) = &state.calls.outbox {
                outbox.notify();
            }
        }
        Ok(None) => {}
        Err(error) => tracing::error!(%error, call_sid, "could not record a call-back's result"),
    }
}
