//! Twilio's callbacks: the call's status (`POST /twilio/status`, configured on the number as the status
//! callback) and the stream's (`POST /twilio/stream-status`, set in our `<Stream statusCallback>`).
//! Both are signed like the voice webhook. Twilio's view of the call (its final status and billed
//! duration) is kept beside ours; a call that ended before any stream started is finalised here.
//! The status of a call-back's call also settles that attempt (see [`super::callback`]).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use serde_json::json;

use super::AppState;
use super::twilio_auth::{SignedForm, field};
use crate::clock::now_ms;
use crate::deliveries::callback::named_in_query;
use crate::store::CallStatus;

/// Twilio's terminal call statuses and how we record them when no session is left to do it.
fn terminal_status(twilio_status: &str) -> Option<CallStatus> {
    match twilio_status {
        "completed" => Some(CallStatus::Completed),
        "busy" | "failed" | "no-answer" | "canceled" => Some(CallStatus::Failed),
        _ => None,
    }
}

pub async fn call_status(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    SignedForm(params): SignedForm,
) -> StatusCode {
    let (Some(call_sid), Some(twilio_status)) =
        (field(&params, "CallSid"), field(&params, "CallStatus"))
    else {
        tracing::warn!("status callback without CallSid or CallStatus");
        return StatusCode::BAD_REQUEST;
    };
    let duration = field(&params, "CallDuration").and_then(|d| d.parse::<i64>().ok());
    tracing::info!(call_sid, twilio_status, ?duration, "call status callback");
    if let Err(error) = state
        .store
        .record_twilio_status(call_sid, twilio_status, duration)
        .await
    {
        tracing::error!(%error, call_sid, "could not record Twilio's call status");
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    // A live session finalises its own call when its stream ends; otherwise nobody else will.
    if let Some(status) = terminal_status(twilio_status)
        && !state.calls.registry.is_live(call_sid)
    {
        let reason = format!("twilio_{}", twilio_status.replace('-', "_"));
        if let Err(error) = state
            .store
            .finish_call(call_sid, status, &reason, now_ms())
            .await
        {
            tracing::error!(%error, call_sid, "could not finalise the call");
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
    }
    if terminal_status(twilio_status).is_some()
        && let Some((id, attempt)) = named_in_query(query.as_deref())
    {
        super::callback::call_ended(&state, call_sid, twilio_status, &id, attempt).await;
    }
    StatusCode::NO_CONTENT
}

pub async fn stream_status(
    State(state): State<AppState>,
    SignedForm(params): SignedForm,
) -> StatusCode {
    let (Some(call_sid), Some(event)) = (field(&params, "CallSid"), field(&params, "StreamEvent"))
    else {
        tracing::warn!("stream status callback without CallSid or StreamEvent");
        return StatusCode::BAD_REQUEST;
    };
    let detail = json!({
        "stream_event": event,
        "stream_sid": field(&params, "StreamSid"),
        "error": field(&params, "StreamError"),
    });
    if event == "stream-error" {
        tracing::warn!(
            call_sid,
            error = field(&params, "StreamError"),
            "Twilio reports a stream error"
        );
    }
    match state.store.call_by_sid(call_sid).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            tracing::warn!(call_sid, "stream status for an unknown call ignored");
            return StatusCode::NO_CONTENT;
        }
        Err(error) => {
            tracing::error!(%error, call_sid, "could not look up the call");
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
    }
    if let Err(error) = state
        .store
        .insert_event(call_sid, "twilio_stream_status", Some(&detail), now_ms())
        .await
    {
        tracing::error!(%error, call_sid, "could not record a stream status");
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    StatusCode::NO_CONTENT
}
