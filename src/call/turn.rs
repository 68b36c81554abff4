//! One agent turn's work, as cancellable tasks under the turn's token (a child of the call's):
//! - [`transcribe`]: the utterance to WAV → STT; the outcome goes to the session's control path.
//! - [`transcribe_streamed`]: a turn whose audio went to a realtime stream waits for its transcript
//!   there, and falls back to [`transcribe`]'s upload when none comes.
//! - [`reply`]: the LLM stream → Hebrew sentences → TTS per sentence → μ-law audio, streamed on the
//!   turn's own path: the first sentence goes to TTS while the LLM is still writing, and audio goes
//!   out as TTS produces it.
//!
//! Who cancels: the session, when the core says the turn is over (barge-in, a newer utterance, a key,
//! the end of the call) or the server shuts down. Cancelling drops the in-flight HTTP streams (that
//! cancels the requests). A reply's path is owned by the session: dropping its receiver also stops the
//! reply at its next send, so a superseded reply can never put audio on the line.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use sicha_audio::mulaw;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::agent::Agent;
use super::core::{Input, ReplyOutput, StageTime, SttOutcome, TurnId};
use super::hebrew::SentenceSplitter;
use super::realtime_turns::StreamedText;
use super::session::Control;
use super::transcript::SpeechSignals;
use crate::providers::llm::{ChatDelta, ChatRequest};

/// How long a turn committed on a realtime stream waits for its transcript before its audio is
/// uploaded instead: long past the stream's usual few hundred milliseconds, and early enough that
/// the upload still beats the filler on a slow day.
const STREAMED_WAIT: Duration = Duration::from_millis(1500);

fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

/// Transcribes one utterance by upload and reports the outcome for `turn` on the control path.
pub async fn transcribe(
    agent: Arc<Agent>,
    pcm: Vec<i16>,
    prompt: String,
    turn: TurnId,
    control: mpsc::Sender<Control>,
    cancel: CancellationToken,
) {
    let started = Instant::now();
    let outcome = tokio::select! {
        _ = cancel.cancelled() => return,
        outcome = upload(&agent, &pcm, &prompt, started) => outcome,
    };
    report_transcript(&control, turn, outcome).await;
}

/// Waits for a turn's transcript from the realtime stream its audio was committed on; when none
/// comes (the turn failed, the stream broke, or [`STREAMED_WAIT`] passed), uploads the utterance
/// as [`transcribe`] does. Reports the outcome for `turn` on the control path.
pub async fn transcribe_streamed(
    agent: Arc<Agent>,
    pcm: Vec<i16>,
    prompt: String,
    turn: TurnId,
    streamed: oneshot::Receiver<StreamedText>,
    control: mpsc::Sender<Control>,
    cancel: CancellationToken,
) {
    let started = Instant::now();
    let waited = tokio::select! {
        _ = cancel.cancelled() => return,
        waited = tokio::time::timeout(STREAMED_WAIT, streamed) => waited,
    };
    let why = match waited {
        Ok(Ok(Ok(text))) => {
            let stt_ms = millis(started);
            metrics::histogram!("sicha_stt_seconds").record(started.elapsed().as_secs_f64());
            let outcome = SttOutcome::Text {
                text,
                // The realtime API gives no per-segment confidences: the filter judges the words.
                signals: SpeechSignals::default(),
                stt_ms,
            };
            report_transcript(&control, turn, outcome).await;
            return;
        }
        Ok(Ok(Err(reason))) => reason,
        Ok(Err(_)) => "the call stopped waiting for the stream".to_string(),
        Err(_) => format!("no transcript within {} ms", STREAMED_WAIT.as_millis()),
    };
    metrics::counter!("sicha_stt_fallbacks_total").increment(1);
    tracing::warn!(reason = %why, "no realtime transcript for the turn; its audio is uploaded");
    let outcome = tokio::select! {
        _ = cancel.cancelled() => return,
        outcome = upload(&agent, &pcm, &prompt, started) => outcome,
    };
    report_transcript(&control, turn, outcome).await;
}

/// Uploads an utterance to batch STT; `started` is when the turn's transcription began.
async fn upload(agent: &Agent, pcm: &[i16], prompt: &str, started: Instant) -> SttOutcome {
    let wav = sicha_audio::wav::pcm16_to_wav_bytes(pcm, 8000);
    let result = agent.stt.transcribe(wav, Some(prompt)).await;
    let stt_ms = millis(started);
    metrics::histogram!("sicha_stt_seconds").record(started.elapsed().as_secs_f64());
    match result {
        Err(error) => {
            metrics::counter!("sicha_errors_total", "kind" => "stt").increment(1);
            tracing::warn!(%error, stt_ms, "speech-to-text failed");
            SttOutcome::Failed {
                error: error.to_string(),
                stt_ms,
            }
        }
        Ok(transcript) => SttOutcome::Text {
            signals: SpeechSignals {
                no_speech_prob: transcript.max_no_speech_prob(),
                avg_logprob: transcript.min_avg_logprob(),
                compression_ratio: transcript.max_compression_ratio(),
            },
            text: transcript.text,
            stt_ms,
        },
    }
}

async fn report_transcript(control: &mpsc::Sender<Control>, turn: TurnId, outcome: SttOutcome) {
    let _ = control
        .send(Control::Input(Input::Transcript { turn, outcome }))
        .await;
}

/// Streams the answer to `request`: sentences to TTS as they complete, audio to the session as it
/// arrives. The LLM keeps writing while earlier sentences are synthesised (two tasks joined by a
/// channel of sentences).
pub async fn reply(
    agent: Arc<Agent>,
    request: ChatRequest,
    voice: Option<String>,
    path: mpsc::Sender<ReplyOutput>,
    cancel: CancellationToken,
) {
    let started = Instant::now();
    // Sentences from the LLM reader to the TTS writer; dropped when the reader ends.
    let (sentences_tx, sentences_rx) = mpsc::channel::<String>(16);
    let reader = read_llm(&agent, &request, &path, sentences_tx, started);
    let writer = speak_sentences(&agent, voice.as_deref(), &path, sentences_rx);
    let (outcome, ()) = tokio::select! {
        _ = cancel.cancelled() => return,
        both = async { tokio::join!(reader, writer) } => both,
    };
    let _ = path.send(outcome).await;
}

/// Reads the LLM stream, splitting text into sentences for TTS; returns the final event.
async fn read_llm(
    agent: &Agent,
    request: &ChatRequest,
    path: &mpsc::Sender<ReplyOutput>,
    sentences: mpsc::Sender<String>,
    started: Instant,
) -> ReplyOutput {
    let mut text = String::new();
    let mut first_sentence_ms = None;
    let mut first_token = true;
    let mut splitter = SentenceSplitter::default();
    let finish = |text: String, error: Option<String>, truncated: bool, first_sentence_ms| {
        if error.is_some() {
            metrics::counter!("sicha_errors_total", "kind" => "llm").increment(1);
        }
        ReplyOutput::Finished {
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
                    let ms = millis(started);
                    let _ = path.send(ReplyOutput::LlmFirstToken { ms }).await;
                }
                text.push_str(&piece);
                for sentence in splitter.push(&piece) {
                    let first = first_sentence_ms.is_none();
                    let ms = *first_sentence_ms.get_or_insert_with(|| millis(started));
                    let _ = sentences.send(sentence).await;
                    if first {
                        let stage = StageTime::LlmFirstSentence(ms);
                        let _ = path.send(ReplyOutput::Timing(stage)).await;
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
            let _ = path.send(ReplyOutput::Timing(stage)).await;
        }
    }
    drop(sentences);
    for call in tool_calls {
        let _ = path.send(ReplyOutput::ToolCall(call)).await;
    }
    finish(text, None, false, first_sentence_ms)
}

/// Synthesises each sentence in order and streams its audio to the session.
async fn speak_sentences(
    agent: &Agent,
    voice: Option<&str>,
    path: &mpsc::Sender<ReplyOutput>,
    mut sentences: mpsc::Receiver<String>,
) {
    while let Some(sentence) = sentences.recv().await {
        if path.send(ReplyOutput::SpeechRequested).await.is_err() {
            return;
        }
        let output = match agent.tts.synthesize(&sentence, voice).await {
            Ok(output) => output,
            Err(error) => {
                let failures = error
                    .failures
                    .iter()
                    .map(|(p, e)| (p.to_string(), e.to_string()))
                    .collect();
                let failed = ReplyOutput::SentenceFailed {
                    text: sentence,
                    failures,
                };
                if path.send(failed).await.is_err() {
                    return;
                }
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
                        let started = ReplyOutput::SentenceStarted {
                            text,
                            first_audio_ms,
                        };
                        if path.send(started).await.is_err() {
                            return;
                        }
                    }
                    let mut codes = vec![mulaw::SILENCE; samples.len()];
                    mulaw::encode_into(&samples, &mut codes);
                    if path.send(ReplyOutput::Audio(codes)).await.is_err() {
                        return;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, provider, "speech broke off mid-sentence");
                    break;
                }
            }
        }
        let done = ReplyOutput::SentenceDone {
            text: sentence,
            provider,
            first_audio_ms,
            failures,
        };
        if path.send(done).await.is_err() {
            return;
        }
    }
}

/// One business tool call to carry out for the call's session.
pub struct ToolCallJob {
    pub turn: TurnId,
    pub call: crate::providers::llm::ToolCall,
    pub tool: Box<crate::business_tools::ToolDeclaration>,
    pub key: String,
    pub business: crate::store::Business,
    pub call_sid: String,
    pub caller: String,
}

/// POSTs a business tool call and reports its result on the control path (the session's
/// cancellation drops it: the call is over).
pub async fn invoke_tool(
    agent: Arc<Agent>,
    job: ToolCallJob,
    control: mpsc::Sender<Control>,
    cancel: CancellationToken,
) {
    let started = Instant::now();
    let result = match &job.business.tools_secret {
        None => Err(
            serde_json::json!({ "error": "not_configured", "detail": "the business has no tools secret" }),
        ),
        Some(secret) => {
            let request = crate::business_tools::ToolRequest {
                tool: &job.tool,
                secret,
                call_sid: &job.call_sid,
                business: &job.business.number,
                caller: &job.caller,
                arguments: &job.call.arguments,
                idempotency_key: &job.key,
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                result = agent.tools.invoke(&request) => result.map_err(|error| {
                    tracing::warn!(tool = %job.call.name, %error, "a business tool call failed");
                    error.model_result()
                }),
            }
        }
    };
    let input = Input::ToolResult {
        turn: job.turn,
        call_id: job.call.id,
        result,
        ms: millis(started),
    };
    let _ = control.send(Control::Input(input)).await;
}
