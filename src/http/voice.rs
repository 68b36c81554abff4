//! `POST /twilio/voice`: Twilio asks what to do with a new call. The answer must come fast (Twilio gives
//! up after 15 s) and must always be TwiML: a caller never meets a dropped call or an HTTP error page.
//!
//! Known number: the customer is found or created, the call row is committed, and the caller is
//! connected to our Media Streams socket with a token bound to the CallSid. Unknown number, no capacity
//! or shutting down: a polite Hebrew message and a hang-up, and the call is still on record.
//!
//! A link naming a call-back (`?callback=ID&attempt=N`) is Twilio fetching the TwiML of a call-back
//! the customer answered: see [`super::callback`].
//!
//! A CallSid already on record is Twilio retrying, or someone replaying a captured webhook (a
//! signature carries no nonce). Nothing is written for it, and a stream token is issued again only
//! while the call has neither a stream nor an end (see [`AnswerAgain`]); otherwise the answer hangs
//! up, so a replay can neither take a live call's audio nor reopen a finished one.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::AppState;
use super::twilio_auth::{SignedForm, field, public_base, websocket_url};
use crate::clock::now_ms;
use crate::deliveries::callback::named_in_query;
use crate::store::{Call, CallDirection, CallStatus, NewCall};
use crate::twilio::twiml::{self, SayVoice, StreamTwiml};

pub const UNKNOWN_NUMBER_MESSAGE: &str = "מצטערים, המספר שחייגתם אינו פעיל. להתראות.";
pub const BUSY_MESSAGE: &str = "כל הקווים שלנו תפוסים כרגע. אנא נסו שוב בעוד כמה דקות. תודה.";
pub const FAULT_MESSAGE: &str = "מצטערים, אירעה תקלה זמנית. אנא נסו שוב מאוחר יותר.";

/// The `<Parameter>` name carrying the stream token.
pub const TOKEN_PARAMETER: &str = "token";

pub async fn voice_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    SignedForm(params): SignedForm,
) -> Response {
    let started = Instant::now();
    let base = public_base(&state, &headers);
    let response = match named_in_query(query.as_deref()) {
        Some((id, attempt)) => super::callback::answer(&state, &base, &params, &id, attempt).await,
        None => answer(&state, &base, &params).await,
    };
    metrics::histogram!("sicha_webhook_seconds", "route" => "voice")
        .record(started.elapsed().as_secs_f64());
    response
}

async fn answer(state: &AppState, base: &url::Url, params: &[(String, String)]) -> Response {
    let (Some(call_sid), Some(to)) = (field(params, "CallSid"), field(params, "To")) else {
        tracing::warn!("voice webhook without CallSid or To");
        return (StatusCode::BAD_REQUEST, "CallSid and To are required").into_response();
    };
    let from = field(params, "From").unwrap_or("anonymous");
    let span = tracing::info_span!("call", call_sid);
    let _guard = span.enter();
    let mut call = new_call(state, call_sid, from, to, CallDirection::Inbound);
    // Looked up before anything is created: a known CallSid changes nothing.
    if let Some(answer) = known_call(state, base, &call).await {
        return answer;
    }

    let business = match state.store.business_by_number(to).await {
        Ok(business) => business,
        Err(error) => return fault(state, &call, &error.to_string()).await,
    };
    let Some(business) = business else {
        tracing::info!(%to, "call to a number with no business");
        return turn_away(state, &mut call, UNKNOWN_NUMBER_MESSAGE, "unknown_number").await;
    };
    if let Some(answer) = over_capacity(state, &mut call, BUSY_MESSAGE).await {
        return answer;
    }
    call.business_id = Some(business.id.clone());
    if let Err(answer) = record_call(state, base, &mut call, from).await {
        return answer;
    }
    connect(state, base, &call, &business.name).await
}

/// A call the webhook is answering, as it will be recorded (its business and customer still to
/// be found).
pub(super) fn new_call(
    state: &AppState,
    call_sid: &str,
    from: &str,
    to: &str,
    direction: CallDirection,
) -> NewCall {
    NewCall {
        call_sid: call_sid.to_string(),
        business_id: None,
        customer_id: None,
        from_number: from.to_string(),
        to_number: to.to_string(),
        instance_id: state.settings.instance_id.clone(),
        status: CallStatus::Answered,
        started_at_ms: now_ms(),
        direction,
        parent_call_sid: None,
    }
}

/// The answer for a CallSid already on record (see [`AnswerAgain`]), or for a lookup that failed;
/// `None` for a new call. Writes nothing for a known one.
pub(super) async fn known_call(
    state: &AppState,
    base: &url::Url,
    call: &NewCall,
) -> Option<Response> {
    match state.store.call_by_sid(&call.call_sid).await {
        Ok(Some(existing)) => Some(answer_again(state, base, &existing)),
        Ok(None) => None,
        Err(error) => Some(fault(state, call, &error.to_string()).await),
    }
}

/// Shutting down or at the limit of live calls: `message`, and the call recorded as turned away.
pub(super) async fn over_capacity(
    state: &AppState,
    call: &mut NewCall,
    message: &str,
) -> Option<Response> {
    if state.is_draining() {
        return Some(turn_away(state, call, message, "shutting_down").await);
    }
    if state.calls.registry.live_calls() >= state.settings.limits.max_calls {
        tracing::warn!(
            limit = state.settings.limits.max_calls,
            "call turned away: at capacity"
        );
        return Some(turn_away(state, call, message, "at_capacity").await);
    }
    None
}

/// Finds or creates the customer on `customer_phone` within the call's business and records the
/// call; `Err` holds the answer when that fails, or when another request for this CallSid
/// recorded it first.
pub(super) async fn record_call(
    state: &AppState,
    base: &url::Url,
    call: &mut NewCall,
    customer_phone: &str,
) -> Result<(), Response> {
    if let Some(business_id) = &call.business_id {
        match state
            .store
            .find_or_create_customer(business_id, customer_phone, call.started_at_ms)
            .await
        {
            Ok(customer) => call.customer_id = Some(customer.id),
            Err(error) => return Err(fault(state, call, &error.to_string()).await),
        }
    }
    match state.store.insert_call(call).await {
        Ok(true) => Ok(()),
        // Another request for this CallSid committed it first.
        Ok(false) => Err(match state.store.call_by_sid(&call.call_sid).await {
            Ok(Some(existing)) => answer_again(state, base, &existing),
            Ok(None) => fault(state, call, "the call row vanished").await,
            Err(error) => fault(state, call, &error.to_string()).await,
        }),
        Err(error) => Err(fault(state, call, &error.to_string()).await),
    }
}

/// Connects the recorded call to our Media Streams socket.
pub(super) async fn connect(
    state: &AppState,
    base: &url::Url,
    call: &NewCall,
    business_name: &str,
) -> Response {
    match connect_stream(state, base, &call.call_sid) {
        Ok(document) => {
            tracing::info!(business = %business_name, direction = %call.direction,
                "call answered; connecting the media stream");
            twiml_response(document)
        }
        Err(error) => fault(state, call, &error.to_string()).await,
    }
}

/// `<Connect><Stream>` with a fresh token for `call_sid`.
fn connect_stream(
    state: &AppState,
    base: &url::Url,
    call_sid: &str,
) -> Result<String, twiml::TwimlError> {
    let expires = now_ms() + state.settings.stream_token_ttl.as_millis() as i64;
    let stream = StreamTwiml {
        url: websocket_url(base, "/twilio/stream"),
        status_callback: base.join("/twilio/stream-status").ok(),
        parameters: vec![(
            TOKEN_PARAMETER.to_string(),
            state.calls.token_key.issue(call_sid, expires),
        )],
    };
    twiml::connect_stream(&stream)
}

/// What a webhook for a CallSid already on record gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AnswerAgain {
    /// Answered, but no stream has started and the call has not ended: Twilio retrying a webhook
    /// whose first answer it never got. It needs a token to connect at all.
    StreamToken,
    /// Turned away before: the same message again.
    TurnedAway(&'static str),
    /// The call has a stream (or a session here) or has ended: only a replay sends this.
    HangUp(&'static str),
}

impl AnswerAgain {
    fn decide(call: &Call, session_here: bool) -> AnswerAgain {
        if call.status == CallStatus::Rejected {
            return AnswerAgain::TurnedAway(match call.end_reason.as_deref() {
                Some("unknown_number") => UNKNOWN_NUMBER_MESSAGE,
                Some("server_error") => FAULT_MESSAGE,
                _ => BUSY_MESSAGE,
            });
        }
        if call.ended_at_ms.is_some() || !call.status.is_live() {
            return AnswerAgain::HangUp("ended");
        }
        if call.status == CallStatus::Streaming
            || call.stream_started_at_ms.is_some()
            || session_here
        {
            return AnswerAgain::HangUp("live");
        }
        AnswerAgain::StreamToken
    }
}

/// The answer for a CallSid already on record; writes nothing.
fn answer_again(state: &AppState, base: &url::Url, call: &Call) -> Response {
    match AnswerAgain::decide(call, state.calls.registry.is_live(&call.call_sid)) {
        AnswerAgain::StreamToken => match connect_stream(state, base, &call.call_sid) {
            Ok(document) => {
                tracing::info!(
                    "voice webhook again before any stream; connecting the media stream"
                );
                twiml_response(document)
            }
            Err(error) => {
                tracing::error!(%error, "could not answer a repeated voice webhook");
                say_and_hang_up(FAULT_MESSAGE)
            }
        },
        AnswerAgain::TurnedAway(message) => say_and_hang_up(message),
        AnswerAgain::HangUp(call_state) => {
            tracing::warn!(
                call_state,
                "voice webhook for a call that already has a stream or has ended: a replay; hanging up, nothing recorded"
            );
            metrics::counter!("sicha_webhook_replays_total", "call" => call_state).increment(1);
            twiml_response(twiml::hangup())
        }
    }
}

/// Says `message`, hangs up, and records the call as rejected.
async fn turn_away(state: &AppState, call: &mut NewCall, message: &str, reason: &str) -> Response {
    call.status = CallStatus::Rejected;
    if let Err(error) = record_rejected(state, call, reason).await {
        tracing::error!(%error, reason, "could not record a turned-away call");
    }
    metrics::counter!("sicha_calls_rejected_total", "reason" => reason.to_string()).increment(1);
    say_and_hang_up(message)
}

/// Records a turned-away call, but only one this request inserted: a call already on record (another
/// request's, perhaps live) is never ended from here.
async fn record_rejected(
    state: &AppState,
    call: &NewCall,
    reason: &str,
) -> Result<(), crate::store::StoreError> {
    if state.store.insert_call(call).await? {
        state
            .store
            .finish_call(&call.call_sid, CallStatus::Rejected, reason, now_ms())
            .await?;
    }
    Ok(())
}

/// The database or TwiML failed: the caller still hears an apology rather than Twilio's error tone.
async fn fault(state: &AppState, call: &NewCall, error: &str) -> Response {
    tracing::error!(%error, "voice webhook failed; apologising to the caller");
    metrics::counter!("sicha_errors_total", "kind" => "voice_webhook").increment(1);
    // Best effort: the database may be what failed.
    let _ = record_rejected(state, call, "server_error").await;
    say_and_hang_up(FAULT_MESSAGE)
}

fn say_and_hang_up(message: &str) -> Response {
    match twiml::say_then_hangup(message, &SayVoice::hebrew(None)) {
        Ok(document) => twiml_response(document),
        // Our own constant messages are short and plain; this cannot fail, but never answer without TwiML.
        Err(_) => twiml_response(twiml::hangup()),
    }
}

pub fn twiml_response(document: String) -> Response {
    (
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        document,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(status: CallStatus) -> Call {
        Call::example(status)
    }

    #[test]
    fn a_token_again_only_before_any_stream_and_before_the_end() {
        let answered = call(CallStatus::Answered);
        assert_eq!(
            AnswerAgain::decide(&answered, false),
            AnswerAgain::StreamToken
        );
        assert_eq!(
            AnswerAgain::decide(&answered, true),
            AnswerAgain::HangUp("live"),
            "a session here means a stream attached or is attaching"
        );
        let streaming = Call {
            stream_started_at_ms: Some(2),
            ..call(CallStatus::Streaming)
        };
        assert_eq!(
            AnswerAgain::decide(&streaming, false),
            AnswerAgain::HangUp("live")
        );
        for status in [
            CallStatus::Completed,
            CallStatus::Dropped,
            CallStatus::Interrupted,
            CallStatus::Failed,
        ] {
            let ended = Call {
                ended_at_ms: Some(3),
                ..call(status)
            };
            assert_eq!(
                AnswerAgain::decide(&ended, false),
                AnswerAgain::HangUp("ended")
            );
        }
        let rejected = Call {
            ended_at_ms: Some(3),
            end_reason: Some("unknown_number".into()),
            ..call(CallStatus::Rejected)
        };
        assert_eq!(
            AnswerAgain::decide(&rejected, false),
            AnswerAgain::TurnedAway(UNKNOWN_NUMBER_MESSAGE)
        );
    }
}
