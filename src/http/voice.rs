//! `POST /twilio/voice`: Twilio asks what to do with a new call. The answer must come fast (Twilio gives
//! up after 15 s) and must always be TwiML: a caller never meets a dropped call or an HTTP error page.
//!
//! Known number: the customer is found or created, the call row is committed, and the caller is
//! connected to our Media Streams socket with a token bound to the CallSid. Unknown number, no capacity
//! or shutting down: a polite Hebrew message and a hang-up, and the call is still on record.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::AppState;
use super::twilio_auth::{SignedForm, field, public_base, websocket_url};
use crate::clock::now_ms;
use crate::store::{CallStatus, NewCall};
use crate::twilio::twiml::{self, SayVoice, StreamTwiml};

pub const UNKNOWN_NUMBER_MESSAGE: &str = "מצטערים, המספר שחייגתם אינו פעיל. להתראות.";
pub const BUSY_MESSAGE: &str = "כל הקווים שלנו תפוסים כרגע. אנא נסו שוב בעוד כמה דקות. תודה.";
pub const FAULT_MESSAGE: &str = "מצטערים, אירעה תקלה זמנית. אנא נסו שוב מאוחר יותר.";

/// The `<Parameter>` name carrying the stream token.
pub const TOKEN_PARAMETER: &str = "token";

pub async fn voice_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedForm(params): SignedForm,
) -> Response {
    let started = Instant::now();
    let base = public_base(&state, &headers);
    let response = answer(&state, &base, &params).await;
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
    let now = now_ms();
    let mut call = NewCall {
        call_sid: call_sid.to_string(),
        business_id: None,
        customer_id: None,
        from_number: from.to_string(),
        to_number: to.to_string(),
        instance_id: state.settings.instance_id.clone(),
        status: CallStatus::Answered,
        started_at_ms: now,
    };

    let business = match state.store.business_by_number(to).await {
        Ok(business) => business,
        Err(error) => return fault(state, &call, &error.to_string()).await,
    };
    let Some(business) = business else {
        tracing::info!(%to, "call to a number with no business");
        return turn_away(state, &mut call, UNKNOWN_NUMBER_MESSAGE, "unknown_number").await;
    };
    if state.is_draining() {
        return turn_away(state, &mut call, BUSY_MESSAGE, "shutting_down").await;
    }
    if state.registry.live_calls() >= state.settings.limits.max_calls {
        tracing::warn!(
            limit = state.settings.limits.max_calls,
            "call turned away: at capacity"
        );
        return turn_away(state, &mut call, BUSY_MESSAGE, "at_capacity").await;
    }
    call.business_id = Some(business.id.clone());
    match state
        .store
        .find_or_create_customer(&business.id, from, now)
        .await
    {
        Ok(customer) => call.customer_id = Some(customer.id),
        Err(error) => return fault(state, &call, &error.to_string()).await,
    }
    if let Err(error) = state.store.insert_call(&call).await {
        return fault(state, &call, &error.to_string()).await;
    }

    let expires = now + state.settings.stream_token_ttl.as_millis() as i64;
    let stream = StreamTwiml {
        url: websocket_url(base, "/twilio/stream"),
        status_callback: base.join("/twilio/stream-status").ok(),
        parameters: vec![(
            TOKEN_PARAMETER.to_string(),
            state.token_key.issue(call_sid, expires),
        )],
    };
    match twiml::connect_stream(&stream) {
        Ok(document) => {
            tracing::info!(business = %business.name, "call answered; connecting the media stream");
            twiml_response(document)
        }
        Err(error) => fault(state, &call, &error.to_string()).await,
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

async fn record_rejected(
    state: &AppState,
    call: &NewCall,
    reason: &str,
) -> Result<(), crate::store::StoreError> {
    state.store.insert_call(call).await?;
    state
        .store
        .finish_call(&call.call_sid, CallStatus::Rejected, reason, now_ms())
        .await?;
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
