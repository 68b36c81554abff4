//! What the agent does to the call itself through Twilio's REST API: hand it to a human, and have
//! Twilio speak when no TTS provider can. The core decides; these carry the decision out and report
//! how it went ([`ActionResult`]), which the core turns into events and next steps. Each failure is
//! logged and leaves the call running.

use super::context::CallContext;
use super::core::ActionResult;
use super::phrases;
use crate::clock::now_ms;
use crate::twilio::twiml::{self, SayVoice, StreamTwiml};

/// Hands the call to `to`: Twilio says why, then dials.
pub async fn transfer(ctx: &CallContext, why: String, to: String) -> ActionResult {
    let failed = |error: String| ActionResult::TransferFailed {
        why: why.clone(),
        error,
    };
    let Some(twilio) = ctx.agent().and_then(|agent| agent.twilio.as_ref()) else {
        tracing::warn!("transfer requested but Twilio REST credentials are not configured");
        return failed("no Twilio credentials".into());
    };
    let voice = SayVoice::hebrew(None);
    let document = match twiml::dial(&to, None, Some((phrases::ESCALATE_TRANSFER, &voice))) {
        Ok(document) => document,
        Err(error) => {
            tracing::error!(%error, "transfer TwiML");
            return failed(error.to_string());
        }
    };
    match twilio.update_call_twiml(&ctx.call_sid, &document).await {
        Ok(_) => {
            tracing::info!(why, "call transferred to a human");
            ActionResult::Transferred { why, to }
        }
        Err(error) => {
            tracing::error!(%error, "transfer failed");
            failed(error.to_string())
        }
    }
}

/// The last resort when no TTS provider can speak: Twilio says the text itself (`<Say>`), then the
/// call reconnects to a new stream and this session carries on.
pub async fn say_through_twilio(ctx: &CallContext, text: String) -> ActionResult {
    let (Some(agent), Some(reconnect)) = (ctx.agent(), &ctx.reconnect) else {
        tracing::error!(
            "no TTS and no way to have Twilio speak: the caller hears nothing for this sentence"
        );
        return ActionResult::SayFailed { error: None };
    };
    let Some(twilio) = &agent.twilio else {
        tracing::error!(
            "no TTS and no Twilio REST credentials: the caller hears nothing for this sentence"
        );
        return ActionResult::SayFailed { error: None };
    };
    let expires = now_ms() + reconnect.token_ttl.as_millis() as i64;
    let stream = StreamTwiml {
        url: reconnect.stream_url.clone(),
        status_callback: reconnect.status_callback.clone(),
        parameters: vec![(
            "token".into(),
            reconnect.token_key.issue(&ctx.call_sid, expires),
        )],
    };
    let voice = SayVoice::hebrew(None);
    let document = match twiml::say_then_connect_stream(&text, &voice, &stream) {
        Ok(document) => document,
        Err(error) => {
            tracing::error!(%error, "fallback TwiML");
            return ActionResult::SayFailed {
                error: Some(error.to_string()),
            };
        }
    };
    match twilio.update_call_twiml(&ctx.call_sid, &document).await {
        Ok(_) => ActionResult::SaidThroughTwilio { text },
        Err(error) => {
            tracing::error!(%error, "the <Say> fallback could not be sent");
            ActionResult::SayFailed {
                error: Some(error.to_string()),
            }
        }
    }
}
