//! One agent turn, as two cancellable tasks that report to the call's session through its inbox:
//! - [`transcribe`]: the utterance to WAV → STT → transcript filter. The session then checks for loops
//!   and either answers from a fixed phrase or starts the reply.
//! - [`reply`]: the LLM stream → Hebrew sentences → TTS per sentence → μ-law audio, streamed: the first
//!   sentence goes to TTS while the LLM is still writing, and audio goes out as TTS produces it.
//!
//! Both run under the turn's cancellation token (a child of the call's): barge-in, a newer utterance,
//! hang-up and shutdown cancel it, which drops the in-flight HTTP streams (that cancels the requests)
//! and sends nothing more. Every event carries the turn id, so the session ignores a stale turn's
//! late messages.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use sicha_audio::mulaw;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::SessionInput;
use super::agent::Agent;
use super::hebrew::SentenceSplitter;
use super::records::StageTime;
use super::transcript::{SpeechSignals, TranscriptFilter, Verdict};
use crate::providers::llm::{ChatDelta, ChatRequest, ToolCall};

/// What a turn tells its session.
#[derive(Debug)]
pub enum TurnEvent {
    /// The caller's words, accepted by the filter.
    Transcribed { text: String, stt_ms: u64 },
    /// STT answered, but the filter refused it (silence, noise, a known hallucination).
    Rejected {
        text: String,
        reason: String,
        stt_ms: u64,
    },
    /// STT failed outright.
    SttFailed { error: String, stt_ms: u64 },
    /// The first token of the answer arrived.
    LlmFirstToken { ms: u64 },
    /// A stage on the way to the first audio finished (sent as it happens, so an answer cut off
    /// before it completes keeps its times).
    Timing(StageTime),
    /// A sentence's audio starts: its chunks follow, so a barge-in before its end (and its mark)
    /// knows what was being said.
    SentenceStarted { text: String, first_audio_ms: u64 },
    /// A chunk of the current sentence's audio, μ-law 8 kHz.
    Audio(Vec<u8>),
    /// The current sentence is fully sent: the session marks it.
    SentenceDone {
        text: String,
        provider: &'static str,
        first_audio_ms: u64,
        failures: Vec<(String, String)>,
    },
    /// Every TTS provider failed for this sentence.
    SentenceFailed {
        text: String,
        failures: Vec<(String, String)>,
    },
    /// The model called a tool (after its text, if any).
    ToolCall(ToolCall),
    /// The reply is complete (or broke off).
    ReplyFinished {
        text: String,
        first_sentence_ms: Option<u64>,
        error: Option<String>,
        truncated: bool,
    },
}

async fn report(inbox: &mpsc::Sender<SessionInput>, turn: u64, event: TurnEvent) -> bool {
    inbox.send(SessionInput::Turn { turn, event }).await.is_ok()
}

fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

/// Transcribes one utterance and filters the result.
pub async fn transcribe(
    agent: Arc<Agent>,
    filter: TranscriptFilter,
    pcm: Vec<i16>,
    prompt: Option<String>,
    turn: u64,
    inbox: mpsc::Sender<SessionInput>,
    cancel: CancellationToken,
) {
    let started = Instant::now();
    let wav = sicha_audio::wav::pcm16_to_wav_bytes(&pcm, 8000);
    let result = tokio::select! {
        _ = cancel.cancelled() => return,
        result = agent.stt.transcribe(wav, prompt.as_deref()) => result,
    };
    let stt_ms = millis(started);
    metrics::histogram!("sicha_stt_seconds").record(started.elapsed().as_secs_f64());
    let event = match result {
        Err(error) => {
            metrics::counter!("sicha_errors_total", "kind" => "stt").increment(1);
            TurnEvent::SttFailed {
                error: error.to_string(),
                stt_ms,
            }
        }
        Ok(transcript) => {
            let signals = SpeechSignals {
                no_speech_prob: transcript.max_no_speech_prob(),
                avg_logprob: transcript.min_avg_logprob(),
                compression_ratio: transcript.max_compression_ratio(),
            };
            match filter.check(&transcript.text, signals) {
                Verdict::Accept(text) => TurnEvent::Transcribed { text, stt_ms },
                Verdict::Reject(reason) => TurnEvent::Rejected {
                    text: transcript.text,
                    reason: format!("{reason:?}"),
                    stt_ms,
                },
            }
        }
    };
    report(&inbox, turn, event).await;
}

/// Streams the answer to `request`: sentences to TTS as they complete, audio to the session as it
/// arrives. The LLM keeps writing while earlier sentences are synthesised (two tasks joined by a
/// channel of sentences).
pub async fn reply(
    agent: Arc<Agent>,
    request: ChatRequest,
    voice: Option<String>,
    turn: u64,
    inbox: mpsc::Sender<SessionInput>,
    cancel: CancellationToken,
) {
    let started = Instant::now();
    // Sentences from the LLM reader to the TTS writer; dropped when the reader ends.
    let (sentences_tx, sentences_rx) = mpsc::channel::<String>(16);
    let reader = read_llm(&agent, &request, turn, &inbox, sentences_tx, started);
    let writer = speak_sentences(&agent, voice.as_deref(), turn, &inbox, sentences_rx);
    let (outcome, ()) = tokio::select! {
        _ = cancel.cancelled() => return,
        both = async { tokio::join!(reader, writer) } => both,
    };
    report(&inbox, turn, outcome).await;
}

/// Reads the LLM stream, splitting text into sentences for TTS; returns the final event.
async fn read_llm(
    agent: &Agent,
    request: &ChatRequest,
    turn: u64,
    inbox: &mpsc::Sender<SessionInput>,
    sentences: mpsc::Sender<String>,
    started: Instant,
) -> TurnEvent {
    let mut text = String::new();
    let mut first_sentence_ms = None;
    let mut first_token = true;
    let mut splitter = SentenceSplitter::default();
    let finish = |text: String, error: Option<String>, truncated: bool, first_sentence_ms| {
        if error.is_some() {
            metrics::counter!("sicha_errors_total", "kind" => "llm").increment(1);
        }
        TurnEvent::ReplyFinished {
            text,
            first_sentence_ms,
            error,
            truncated,
        }
    };
    let mut stream = match agent.llm.stream(request).await {
        Ok(stream) => stream,
        Err(error) => return finish(text, Some(error.to_string()), false, None),
    };
    let mut tool_calls = Vec::new();
    while let Some(delta) = stream.next().await {
        match delta {
            Ok(ChatDelta::Text(piece)) => {
                if first_token {
                    first_token = false;
                    metrics::histogram!("sicha_llm_first_token_seconds")
                        .record(started.elapsed().as_secs_f64());
                    report(
                        inbox,
                        turn,
                        TurnEvent::LlmFirstToken {
                            ms: millis(started),
                        },
                    )
                    .await;
                }
                text.push_str(&piece);
                for sentence in splitter.push(&piece) {
                    let first = first_sentence_ms.is_none();
                    let ms = *first_sentence_ms.get_or_insert_with(|| millis(started));
                    let _ = sentences.send(sentence).await;
                    if first {
                        let stage = StageTime::LlmFirstSentence(ms);
                        report(inbox, turn, TurnEvent::Timing(stage)).await;
                    }
                }
            }
            Ok(ChatDelta::ToolCall(call)) => tool_calls.push(call),
            Ok(ChatDelta::Finished(_)) => break,
            Err(error) => {
                // What was said so far stands; the rest of the answer is lost and the session knows.
                if let Some(tail) = splitter.finish() {
                    let _ = sentences.send(tail).await;
                }
                drop(sentences);
                let truncated = matches!(error, crate::providers::llm::LlmError::Truncated);
                return finish(text, Some(error.to_string()), truncated, first_sentence_ms);
            }
        }
    }
    if let Some(tail) = splitter.finish() {
        let first = first_sentence_ms.is_none();
        let ms = *first_sentence_ms.get_or_insert_with(|| millis(started));
        let _ = sentences.send(tail).await;
        if first {
            let stage = StageTime::LlmFirstSentence(ms);
            report(inbox, turn, TurnEvent::Timing(stage)).await;
        }
    }
    drop(sentences);
    for call in tool_calls {
        report(inbox, turn, TurnEvent::ToolCall(call)).await;
    }
    finish(text, None, false, first_sentence_ms)
}

/// Synthesises each sentence in order and streams its audio to the session.
async fn speak_sentences(
    agent: &Agent,
    voice: Option<&str>,
    turn: u64,
    inbox: &mpsc::Sender<SessionInput>,
    mut sentences: mpsc::Receiver<String>,
) {
    while let Some(sentence) = sentences.recv().await {
        let started = Instant::now();
        let output = match agent.tts.synthesize(&sentence, voice).await {
            Ok(output) => output,
            Err(error) => {
                let failures = error
                    .failures
                    .iter()
                    .map(|(p, e)| (p.to_string(), e.to_string()))
                    .collect();
                report(
                    inbox,
                    turn,
                    TurnEvent::SentenceFailed {
                        text: sentence,
                        failures,
                    },
                )
                .await;
                continue;
            }
        };
        let first_audio_ms = output.first_audio.as_millis() as u64;
        let provider = output.provider;
        let failures = output
            .failures
            .iter()
            .map(|(p, e)| (p.to_string(), e.to_string()))
            .collect();
        let mut pcm = output.pcm;
        let mut unannounced = Some(sentence.clone());
        while let Some(chunk) = pcm.next().await {
            match chunk {
                Ok(samples) if samples.is_empty() => {}
                Ok(samples) => {
                    if let Some(text) = unannounced.take() {
                        let started = TurnEvent::SentenceStarted {
                            text,
                            first_audio_ms,
                        };
                        if !report(inbox, turn, started).await {
                            return;
                        }
                    }
                    let mut codes = vec![mulaw::SILENCE; samples.len()];
                    mulaw::encode_into(&samples, &mut codes);
                    if !report(inbox, turn, TurnEvent::Audio(codes)).await {
                        return;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, provider, "speech broke off mid-sentence");
                    break;
                }
            }
        }
        let _ = started;
        report(
            inbox,
            turn,
            TurnEvent::SentenceDone {
                text: sentence,
                provider,
                first_audio_ms,
                failures,
            },
        )
        .await;
    }
}

/// How long after the caller's speech ended (hangover included) a turn with nothing to say yet plays a
/// filler, so that the caller never waits more than 3 s in silence: the filler is cached and plays at
/// once, with this margin for the send and Twilio's buffer.
pub const FILLER_AFTER: Duration = Duration::from_millis(2400);
