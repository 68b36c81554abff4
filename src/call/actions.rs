//! What the agent does to the call itself, through Twilio's REST API: hand it to a human, have Twilio
//! speak when no TTS provider can, and the escalation that picks between a transfer and a promised
//! call-back; what a key the caller presses does, by the business's key map; and what a silent line
//! gets. Each records an event; each failure is logged and leaves the call running.

use serde_json::json;
use tokio::time::Instant;

use super::agent::phrases;
use super::session::{AgentMode, Ending, Session};
use crate::clock::now_ms;
use crate::store::businesses::DtmfAction;
use crate::twilio::twiml::{self, SayVoice, StreamTwiml};

impl Session {
    /// Does what the business's key map says the caller's key `digit` does.
    pub(super) async fn on_dtmf_action(&mut self, digit: &str, action: DtmfAction) {
        tracing::info!(digit, %action, "key mapped to an action");
        match action {
            DtmfAction::Transfer => {
                let has_transfer = self
                    .ctx
                    .business
                    .as_ref()
                    .is_some_and(|b| b.transfer_to.is_some());
                if !has_transfer {
                    tracing::warn!(
                        digit,
                        "transfer key pressed but the business has no transfer number"
                    );
                    self.event(
                        "transfer_failed",
                        Some(json!({ "why": "dtmf", "digit": digit, "reason": "no transfer number" })),
                    )
                    .await;
                    return;
                }
                // A failure is recorded as an event there; the conversation goes on.
                self.transfer_to_human("dtmf").await;
            }
            DtmfAction::Callback => {
                if let Some(conversation) = &mut self.conversation {
                    conversation.outcome = Some("callback_requested".into());
                }
                self.event(
                    "callback_requested",
                    Some(json!({ "reason": "dtmf", "digit": digit })),
                )
                .await;
                self.say_phrase(phrases::ESCALATE_CALLBACK).await;
            }
            DtmfAction::Goodbye => {
                // The caller is leaving: an answer still being worked out would only delay it.
                if let Some(conversation) = &mut self.conversation {
                    conversation.cancel_turn();
                }
                self.say_phrase(phrases::GOODBYE).await;
                self.end_after_playback = Some(Ending::completed("caller_pressed_goodbye"));
            }
        }
    }

    /// The same thing three times: a person takes over where one exists, otherwise a call-back is
    /// promised and recorded.
    pub(super) async fn escalate(&mut self) {
        let has_transfer = self
            .ctx
            .business
            .as_ref()
            .is_some_and(|b| b.transfer_to.is_some());
        if has_transfer && self.transfer_to_human("loop").await {
            return;
        }
        if let Some(conversation) = &mut self.conversation {
            conversation.outcome = Some("callback_requested".into());
        }
        self.event("callback_requested", Some(json!({ "reason": "loop" })))
            .await;
        self.say_phrase(phrases::ESCALATE_CALLBACK).await;
    }

    /// Hands the call to the business's transfer number: Twilio says why, then dials. Returns false
    /// when there is no number or no Twilio REST access.
    pub(super) async fn transfer_to_human(&mut self, why: &str) -> bool {
        let Some(number) = self
            .ctx
            .business
            .as_ref()
            .and_then(|b| b.transfer_to.clone())
        else {
            return false;
        };
        let Some(agent) = self.ctx.agent.clone() else {
            return false;
        };
        let Some(twilio) = &agent.twilio else {
            tracing::warn!("transfer requested but Twilio REST credentials are not configured");
            self.event(
                "transfer_failed",
                Some(json!({ "reason": "no Twilio credentials" })),
            )
            .await;
            return false;
        };
        let voice = SayVoice::hebrew(None);
        let document = match twiml::dial(&number, None, Some((phrases::ESCALATE_TRANSFER, &voice)))
        {
            Ok(document) => document,
            Err(error) => {
                tracing::error!(%error, "transfer TwiML");
                return false;
            }
        };
        match twilio
            .update_call_twiml(&self.ctx.call_sid, &document)
            .await
        {
            Ok(_) => {
                tracing::info!(why, "call transferred to a human");
                if let Some(conversation) = &mut self.conversation {
                    conversation.outcome = Some("transferred".into());
                    conversation.cancel_turn();
                }
                self.stop_reason = Some("transferred".into());
                self.event("transferred", Some(json!({ "why": why, "to": number })))
                    .await;
                true
            }
            Err(error) => {
                tracing::error!(%error, "transfer failed");
                self.event(
                    "transfer_failed",
                    Some(json!({ "error": error.to_string() })),
                )
                .await;
                false
            }
        }
    }

    /// The last resort when no TTS provider can speak: Twilio says the text itself (`<Say>`), then the
    /// call reconnects to a new stream and this session carries on.
    pub(super) async fn say_through_twilio(&mut self, text: &str) {
        let (Some(agent), Some(reconnect)) = (self.ctx.agent.clone(), self.ctx.reconnect.clone())
        else {
            tracing::error!(
                "no TTS and no way to have Twilio speak: the caller hears nothing for this sentence"
            );
            return;
        };
        let Some(twilio) = &agent.twilio else {
            tracing::error!(
                "no TTS and no Twilio REST credentials: the caller hears nothing for this sentence"
            );
            return;
        };
        let expires = now_ms() + reconnect.token_ttl.as_millis() as i64;
        let stream = StreamTwiml {
            url: reconnect.stream_url.clone(),
            status_callback: reconnect.status_callback.clone(),
            parameters: vec![(
                "token".into(),
                reconnect.token_key.issue(&self.ctx.call_sid, expires),
            )],
        };
        let voice = SayVoice::hebrew(None);
        let document = match twiml::say_then_connect_stream(text, &voice, &stream) {
            Ok(document) => document,
            Err(error) => {
                tracing::error!(%error, "fallback TwiML");
                return;
            }
        };
        match twilio
            .update_call_twiml(&self.ctx.call_sid, &document)
            .await
        {
            Ok(_) => {
                self.awaiting_reconnect = Some(Instant::now() + reconnect.wait);
                self.event("fallback_say", Some(json!({ "text": text })))
                    .await;
            }
            Err(error) => {
                tracing::error!(%error, "the <Say> fallback could not be sent");
                self.event(
                    "fallback_failed",
                    Some(json!({ "error": error.to_string() })),
                )
                .await;
            }
        }
    }
}

/// What the caller does without speaking: keys, and silence.
impl Session {
    pub(super) async fn on_dtmf(&mut self, digit: String) {
        tracing::info!(%digit, "caller pressed a key");
        self.event("dtmf", Some(json!({ "digit": digit }))).await;
        // Keys do something only when the agent is talking; the business's map says what.
        if self.ctx.mode != AgentMode::Ai {
            return;
        }
        let action = self
            .ctx
            .business
            .as_ref()
            .and_then(|business| business.dtmf_map.action(&digit));
        if let Some(action) = action {
            self.on_dtmf_action(&digit, action).await;
        }
    }

    /// The line has been quiet for the policy's time: prompt, or after enough prompts, say goodbye.
    pub(super) async fn on_silence(&mut self) {
        self.quiet_since = None;
        self.silence_prompts += 1;
        self.event("silence", Some(json!({ "prompt": self.silence_prompts })))
            .await;
        if self.silence_prompts > self.ctx.silence.max_prompts {
            if let Some(conversation) = &mut self.conversation {
                conversation
                    .outcome
                    .get_or_insert_with(|| "caller_silent".into());
            }
            self.say_phrase(super::agent::phrases::GOODBYE).await;
            self.end_after_playback = Some(Ending::completed("caller_silent"));
        } else {
            self.say_phrase(super::agent::phrases::STILL_THERE).await;
        }
    }
}
