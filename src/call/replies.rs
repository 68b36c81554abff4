//! What the session does with the caller's utterances and its turns' events (the behaviour of
//! [`Conversation`], on the session that owns it).
//!
//! One agent turn: utterance → STT (+ filter) → loop check → LLM stream → sentences → TTS → audio,
//! a mark per sentence. Fallbacks keep the caller from silence: a failed STT or LLM gets a fixed
//! phrase, a slow turn gets a filler, a sentence every TTS provider failed is said by Twilio itself
//! (`<Say>`, then the call reconnects to a new stream).

use serde_json::json;
use sicha_audio::endpoint::Utterance;
use tokio::time::Instant;

use super::agent::phrases;
use super::conversation::ActiveTurn;
use super::records::CallerTurn;
use super::session::{Ending, Session};
use super::transcript::Verdict;
use super::turn::{self, TurnEvent};
use crate::providers::llm::{ChatMessage, ToolCall};

impl Session {
    /// Plays the business's greeting (synthesised ahead and cached) the moment the stream starts.
    pub(super) async fn greet(&mut self) {
        let Some(conversation) = &self.conversation else {
            return;
        };
        let greeting = conversation.business.greeting.clone();
        self.say_phrase(&greeting).await;
    }

    /// Says a fixed phrase from the cache (synthesised now on a miss).
    pub(super) async fn say_phrase(&mut self, text: &str) {
        let Some(conversation) = &mut self.conversation else {
            return;
        };
        let agent = conversation.agent.clone();
        let voice = conversation.business.voice.clone();
        let idle = conversation.active.is_none();
        let spoken = conversation.spoken();
        spoken.append(text);
        // Said outside a reply (greeting, repeat prompt): nothing more will be added to it.
        spoken.finished |= idle;
        match agent.phrase(text, voice.as_deref()).await {
            Ok(audio) => {
                self.play(audio.as_ref().clone(), Some(text.to_string()))
                    .await;
            }
            Err(error) => {
                tracing::error!(%error, phrase = text, "no provider could say a fixed phrase");
                self.event(
                    "tts_failed",
                    Some(json!({ "text": text, "error": error.to_string() })),
                )
                .await;
                self.say_through_twilio(text).await;
            }
        }
    }

    pub(super) async fn play_filler(&mut self) {
        if let Some(conversation) = self.conversation.as_mut()
            && let Some(active) = conversation.active.as_mut()
        {
            active.filler_played = true;
            // What the caller waited before hearing something: the filler counts.
            let waited = active.endpoint_ms + active.heard_at.elapsed().as_millis() as u64;
            conversation
                .spoken()
                .timings
                .v2v_ms
                .get_or_insert(waited as i64);
        }
        self.event("filler", None).await;
        self.say_phrase(phrases::FILLER).await;
    }

    /// A finished utterance: confirms an eager turn already transcribing it, or starts a new turn.
    pub(super) async fn on_utterance(&mut self, utterance: Utterance) {
        let emitted_at = utterance.pcm_start_sample + utterance.pcm.len() as u64;
        let endpoint_ms = emitted_at.saturating_sub(utterance.end_sample) / 8;
        let Some(conversation) = &mut self.conversation else {
            return;
        };
        if let Some(active) = &mut conversation.active
            && !active.confirmed
            && active.start_sample == utterance.start_sample
        {
            // The hangover confirmed the end the eager turn guessed: its STT is already under way
            // (or done), and that time is hidden from the caller.
            active.confirmed = true;
            active.heard_at = Instant::now();
            active.endpoint_ms = endpoint_ms;
            let id = active.id;
            if let Some(early) = active.early.take() {
                Box::pin(self.on_turn_event(id, early)).await;
            }
            return;
        }
        self.start_turn(utterance, endpoint_ms, true);
    }

    /// Eager transcription: the silence after speech reached the eager threshold, so STT starts now.
    /// The turn stays unconfirmed (its result is held) until the full hangover confirms the end.
    pub(super) fn on_tentative(&mut self, utterance: Utterance) {
        self.start_turn(utterance, 0, false);
    }

    /// Speech came back before the hangover ended: the eager guess is dropped.
    pub(super) async fn on_resumed(&mut self) {
        if let Some(conversation) = &mut self.conversation
            && conversation.active.as_ref().is_some_and(|a| !a.confirmed)
        {
            conversation.cancel_turn();
            self.event("eager_dropped", None).await;
        }
    }

    fn start_turn(&mut self, utterance: Utterance, endpoint_ms: u64, confirmed: bool) {
        let Some(conversation) = &mut self.conversation else {
            return;
        };
        // A newer utterance supersedes a turn still working on the previous one.
        conversation.cancel_turn();
        conversation.next_turn += 1;
        let id = conversation.next_turn;
        let cancel = conversation.call_cancel.child_token();
        let start = utterance.start_sample;
        let active = ActiveTurn::new(id, cancel.clone(), endpoint_ms, start, confirmed);
        conversation.active = Some(active);
        let prompt = Some(format!("שיחת טלפון עם {}.", conversation.business.name));
        let task = turn::transcribe(
            conversation.agent.clone(),
            conversation.filter.clone(),
            utterance.pcm,
            prompt,
            id,
            self.me.clone(),
            cancel,
        );
        tokio::spawn(task);
    }

    pub(super) async fn on_turn_event(&mut self, id: u64, event: TurnEvent) -> Option<Ending> {
        let current = self
            .conversation
            .as_ref()
            .and_then(|c| c.active.as_ref())
            .map(|a| a.id);
        if current != Some(id) {
            return None; // a cancelled or superseded turn's late message
        }
        let active = self.conversation.as_mut()?.active.as_mut()?;
        if !active.confirmed {
            // An eager turn's transcript waits for the hangover to confirm the utterance.
            active.early = Some(event);
            return None;
        }
        match event {
            TurnEvent::Transcribed { text, stt_ms } => self.on_transcript(text, stt_ms).await,
            TurnEvent::Rejected {
                text,
                reason,
                stt_ms,
            } => {
                tracing::info!(%reason, %text, stt_ms, "transcript dropped; no answer");
                self.event(
                    "transcript_dropped",
                    Some(json!({ "reason": reason, "text": text })),
                )
                .await;
                let conversation = self.conversation.as_mut()?;
                conversation.active = None;
                if conversation
                    .unintelligible
                    .observe(&Verdict::Reject(super::transcript::Reason::Empty))
                {
                    self.say_phrase(phrases::REPEAT).await;
                }
            }
            TurnEvent::SttFailed { error, stt_ms } => {
                tracing::warn!(%error, stt_ms, "speech-to-text failed");
                self.event("stt_failed", Some(json!({ "error": error })))
                    .await;
                self.conversation.as_mut()?.active = None;
                self.say_phrase(phrases::REPEAT).await;
            }
            TurnEvent::LlmFirstToken { ms } => {
                self.conversation.as_mut()?.spoken().timings.llm_ttft_ms = Some(ms as i64);
            }
            TurnEvent::Timing(stage) => self.conversation.as_mut()?.spoken().timings.stage(stage),
            TurnEvent::SentenceStarted {
                text,
                first_audio_ms: ms,
            } => {
                self.conversation.as_mut()?.sentence_started(text, ms);
            }
            TurnEvent::Audio(codes) => self.on_turn_audio(codes).await,
            TurnEvent::SentenceDone {
                text,
                provider,
                first_audio_ms,
                failures,
            } => {
                for (failed, error) in &failures {
                    self.event(
                        "tts_fallback",
                        Some(json!({ "failed": failed, "error": error, "served_by": provider })),
                    )
                    .await;
                }
                let conversation = self.conversation.as_mut()?;
                let active = conversation.active.as_mut()?;
                let samples = std::mem::take(&mut active.sentence_samples);
                let started = active.sentence_started.take().unwrap_or_else(Instant::now);
                let spoken = conversation.spoken();
                spoken
                    .timings
                    .tts_ttfb_ms
                    .get_or_insert(first_audio_ms as i64);
                spoken.append(&text);
                if samples > 0 {
                    self.mark_piece(samples, Some(text), started).await;
                }
            }
            TurnEvent::SentenceFailed { text, failures } => {
                self.event(
                    "tts_failed",
                    Some(json!({ "text": text, "failures": failures })),
                )
                .await;
                self.conversation.as_mut()?.spoken().append(&text);
                self.say_through_twilio(&text).await;
            }
            TurnEvent::ToolCall(call) => return self.on_tool_call(call).await,
            TurnEvent::ReplyFinished {
                text,
                first_sentence_ms,
                error,
                truncated,
            } => {
                return self
                    .on_reply_finished(text, first_sentence_ms, error, truncated)
                    .await;
            }
        }
        None
    }

    async fn on_transcript(&mut self, text: String, stt_ms: u64) {
        let Some(conversation) = &mut self.conversation else {
            return;
        };
        let Some(endpoint_ms) = conversation.active.as_ref().map(|a| a.endpoint_ms) else {
            return;
        };
        conversation
            .unintelligible
            .observe(&Verdict::Accept(text.clone()));
        let seq = conversation.seq();
        let caller = CallerTurn {
            seq,
            text: text.clone(),
            stt_ms,
            endpoint_ms,
        };
        let repetition = conversation.caller_loops.observe(&text);
        if repetition.escalate {
            tracing::warn!(
                count = repetition.count,
                "the caller keeps repeating; escalating instead of looping"
            );
            conversation.active = None;
            caller.commit(&self.ctx).await;
            self.event(
                "loop_detected",
                Some(json!({ "who": "caller", "count": repetition.count, "text": text })),
            )
            .await;
            self.escalate().await;
            return;
        }
        conversation.history.push(ChatMessage::user(text));
        let active = conversation.active.as_ref().expect("checked above");
        let task = turn::reply(
            conversation.agent.clone(),
            conversation.request(),
            conversation.business.voice.clone(),
            active.id,
            self.me.clone(),
            active.cancel.clone(),
        );
        let since_heard = active.heard_at.elapsed();
        let timings = &mut conversation.spoken().timings;
        timings.transcribed(stt_ms, endpoint_ms, since_heard);
        // The answer starts first; the caller's turn is written while the model thinks, so a busy
        // database never delays what the caller hears.
        tokio::spawn(task);
        caller.commit(&self.ctx).await;
    }

    async fn on_turn_audio(&mut self, codes: Vec<u8>) {
        let Some(conversation) = &mut self.conversation else {
            return;
        };
        let Some(active) = &mut conversation.active else {
            return;
        };
        let first = !active.any_audio;
        if first {
            active.any_audio = true;
            let v2v = active.endpoint_ms + active.heard_at.elapsed().as_millis() as u64;
            metrics::histogram!("sicha_voice_to_voice_seconds").record(v2v as f64 / 1000.0);
            let spoken = conversation.spoken();
            // A filler may have broken the silence first; that is what the caller waited.
            spoken.timings.v2v_ms.get_or_insert(v2v as i64);
        }
        let active = conversation.active.as_mut().expect("checked above");
        active.sentence_samples += codes.len();
        active.sentence_started.get_or_insert_with(Instant::now);
        self.send_audio(codes).await;
        if first && let Some(conversation) = &mut self.conversation {
            conversation.first_audio_sent();
        }
    }

    async fn on_reply_finished(
        &mut self,
        text: String,
        first_sentence_ms: Option<u64>,
        error: Option<String>,
        truncated: bool,
    ) -> Option<Ending> {
        let conversation = self.conversation.as_mut()?;
        let said_something = conversation.active.as_ref().is_some_and(|a| a.any_audio);
        conversation.active = None;
        conversation.spoken().timings.llm_first_sentence_ms = first_sentence_ms.map(|ms| ms as i64);
        let repeated = !text.trim().is_empty() && conversation.agent_loops.observe(&text).escalate;
        if let Some(error) = error {
            let kind = if truncated {
                "llm_truncated"
            } else {
                "llm_failed"
            };
            tracing::warn!(%error, said_something, "the language model failed");
            self.event(kind, Some(json!({ "error": error }))).await;
            if !said_something {
                self.say_phrase(phrases::APOLOGY).await;
            }
        }
        let conversation = self.conversation.as_mut()?;
        conversation.spoken().finished = true;
        if repeated {
            self.event(
                "loop_detected",
                Some(json!({ "who": "agent", "text": text })),
            )
            .await;
            self.escalate().await;
        }
        if !self.playback.is_audible() {
            let conversation = self.conversation.as_mut()?;
            conversation.commit_spoken_if_done(&self.ctx).await;
            return self.end_after_playback.take();
        }
        None
    }

    async fn on_tool_call(&mut self, call: ToolCall) -> Option<Ending> {
        tracing::info!(tool = %call.name, "the model called a tool");
        self.event(
            "tool_call",
            Some(json!({ "name": call.name, "arguments": call.arguments })),
        )
        .await;
        match call.name.as_str() {
            "end_call" => {
                self.conversation
                    .as_mut()?
                    .outcome
                    .get_or_insert_with(|| "resolved".into());
                self.end_after_playback = Some(Ending::completed("agent_ended_call"));
            }
            "transfer_to_human" => {
                self.transfer_to_human("tool").await;
            }
            "send_sms" => {
                let text = call
                    .arguments
                    .get("text")
                    .and_then(|t| t.as_str())
                    .unwrap_or_default()
                    .to_string();
                super::records::enqueue_caller_sms(&self.ctx, &text).await;
            }
            other => tracing::warn!(tool = other, "the model called an unknown tool; ignored"),
        }
        None
    }
}
