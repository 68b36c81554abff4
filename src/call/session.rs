//! The per-call session: one task per live call, the only owner of the call's state.
//!
//! Inputs: the inbox ([`SessionInput`]: senders are held by the registry, by each stream's socket
//! loop and by this call's turn tasks), the call's cancellation token (a child of the server's
//! shutdown token: cancelled means "end this call now"), and timers (call length limit, the filler
//! deadline of a slow turn, the wait for a stream to reconnect). Outputs: [`OutboundCommand`]s to the
//! current stream's socket loop (the session owns that sender; dropping it closes the socket) and the
//! call's records, written to the store as things happen. Whatever way the call ends, `finish` runs
//! once and commits the call's end, its last turn and its CRM interaction before the task exits.
//!
//! The AI conversation lives in [`super::conversation`] (same state, its own file); the records in
//! [`super::records`].

use std::time::Duration;

use serde_json::json;
use sicha_audio::endpoint::EndpointEvent;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::conversation::Conversation;
use super::playback::Playback;
use super::recording::CallRecording;
use super::{OutboundCommand, SessionInput, StreamEnd, echo};
use crate::clock::now_ms;
use crate::store::{CallStatus, Record};

pub use super::context::{AgentMode, CallContext, Reconnect, SilencePolicy};

/// How long an ending call waits for its records to be committed before it builds its interaction
/// from them (only a database that is down makes it wait at all).
const RECORDS_FLUSH_WAIT: Duration = Duration::from_secs(10);

pub(super) struct Session {
    pub(super) ctx: CallContext,
    /// Our own inbox sender, handed to turn tasks (and used to leave the registry by identity).
    pub(super) me: mpsc::Sender<SessionInput>,
    /// Sender to the current stream's socket loop; `None` between streams.
    outbound: Option<mpsc::Sender<OutboundCommand>>,
    stream_sid: Option<String>,
    pub(super) playback: Playback,
    /// Present in [`AgentMode::Ai`] once the business is known.
    pub(super) conversation: Option<Conversation>,
    /// A REST update sent the call to a new stream: the end of this one is not the end of the call.
    pub(super) awaiting_reconnect: Option<Instant>,
    /// Set when the call should end once the audio in flight has played (goodbye, transfer).
    pub(super) end_after_playback: Option<Ending>,
    /// Overrides how a `stop` is recorded (a transfer ends our stream on purpose).
    pub(super) stop_reason: Option<String>,
    /// Since when the line has been quiet on both sides (AI calls); `None` while anyone speaks.
    pub(super) quiet_since: Option<Instant>,
    /// Between the caller's SpeechStarted and the end of that utterance.
    caller_speaking: bool,
    /// "Are you still there?" prompts said since the caller last spoke.
    pub(super) silence_prompts: u32,
    /// The call's recording, when `SICHA_RECORDINGS_DIR` is set. Behind a mutex only to make the
    /// session `Sync` (the Opus encoder is not); only this task ever locks it.
    pub(super) recording: Option<std::sync::Mutex<CallRecording>>,
}

/// Why the session ended, as recorded on the call.
#[derive(Debug, Clone)]
pub(super) struct Ending {
    pub(super) status: CallStatus,
    pub(super) reason: String,
}

impl Ending {
    pub(super) fn completed(reason: &str) -> Self {
        Self {
            status: CallStatus::Completed,
            reason: reason.to_string(),
        }
    }
}

/// Runs one call to its end. `me` is this session's own inbox sender.
pub async fn run(
    ctx: CallContext,
    me: mpsc::Sender<SessionInput>,
    mut inbox: mpsc::Receiver<SessionInput>,
    cancel: CancellationToken,
) {
    let deadline = Instant::now() + ctx.max_call;
    let span = tracing::info_span!("call", call_sid = %ctx.call_sid);
    let conversation = Conversation::for_call(&ctx, cancel.clone());
    let mut session = Session {
        ctx,
        me,
        outbound: None,
        stream_sid: None,
        playback: Playback::default(),
        conversation,
        awaiting_reconnect: None,
        end_after_playback: None,
        stop_reason: None,
        quiet_since: None,
        caller_speaking: false,
        silence_prompts: 0,
        recording: None,
    };
    async move {
        let ending = loop {
            let filler_at = session.conversation.as_ref().and_then(Conversation::filler_due_at);
            let prompt_at = session.quiet_since.map(|since| since + session.ctx.silence.after);
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break Ending::completed("server_shutdown"),
                _ = tokio::time::sleep_until(deadline) => {
                    tracing::info!(limit_secs = session.ctx.max_call.as_secs(), "call reached its length limit");
                    break Ending::completed("max_call_length");
                }
                _ = sleep_until_some(session.awaiting_reconnect) => {
                    tracing::warn!("the call did not come back on a new stream");
                    break Ending { status: CallStatus::Dropped, reason: "reconnect_timeout".into() };
                }
                _ = sleep_until_some(filler_at) => session.play_filler().await,
                _ = sleep_until_some(prompt_at) => session.on_silence().await,
                input = inbox.recv() => {
                    // Every sender gone: nobody can reach this call any more.
                    let Some(input) = input else { break Ending { status: CallStatus::Dropped, reason: "no_stream".into() } };
                    if let Some(ending) = session.handle(input).await {
                        break ending;
                    }
                }
            }
        };
        session.finish(ending).await;
    }
    .instrument(span)
    .await
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Session {
    async fn handle(&mut self, input: SessionInput) -> Option<Ending> {
        match input {
            SessionInput::StreamAttached {
                stream_sid,
                outbound,
            } => self.attach(stream_sid, outbound).await,
            SessionInput::CallerAudio(pcm) => self.record(|recording| recording.caller(&pcm)),
            SessionInput::Speech(event) => self.on_speech(event).await,
            SessionInput::MarkPlayed(name) => {
                let played = self.playback.mark_played(&name);
                if let Some(conversation) = &mut self.conversation {
                    conversation.on_played(&played);
                }
                if !self.playback.is_audible() {
                    if let Some(conversation) = &mut self.conversation {
                        conversation.commit_spoken_if_done(&self.ctx).await;
                        // Quiet only when nobody is talking: not mid-utterance (a barge-in's cleared
                        // marks echo while the caller speaks), not while a turn is being answered.
                        if !conversation.turn_in_flight() && !self.caller_speaking {
                            self.quiet_since = Some(Instant::now());
                        }
                    }
                    if let Some(ending) = self.end_after_playback.take() {
                        return Some(ending);
                    }
                }
            }
            SessionInput::Dtmf(digit) => self.on_dtmf(digit).await,
            SessionInput::Turn { turn, event } => return self.on_turn_event(turn, event).await,
            SessionInput::StreamEnded { stream_sid, end } => {
                return self.stream_ended(stream_sid, end);
            }
        }
        None
    }

    async fn attach(&mut self, stream_sid: String, outbound: mpsc::Sender<OutboundCommand>) {
        tracing::info!(%stream_sid, "media stream attached");
        self.outbound = Some(outbound);
        // Whatever the old stream had buffered is gone with it.
        let (lost, _) = self.playback.clear();
        if let Some(conversation) = &mut self.conversation {
            conversation.on_cleared(&lost, Duration::ZERO);
        }
        self.awaiting_reconnect = None;
        let resumed = self.stream_sid.replace(stream_sid.clone()).is_some();
        let streaming = Record::Streaming {
            call_sid: self.ctx.call_sid.clone(),
            at_ms: now_ms(),
        };
        self.ctx.records.write(streaming).await;
        if !resumed && let Some(dir) = &self.ctx.after_call.recordings_dir {
            match CallRecording::start(dir, &self.ctx.call_sid) {
                Ok(recording) => self.recording = Some(std::sync::Mutex::new(recording)),
                Err(error) => tracing::error!(%error, "the call cannot be recorded"),
            }
        }
        let kind = if resumed {
            "stream_resumed"
        } else {
            "stream_started"
        };
        self.event(kind, Some(json!({ "stream_sid": stream_sid })))
            .await;
        if !resumed {
            self.greet().await;
        }
    }

    fn stream_ended(&mut self, stream_sid: String, end: StreamEnd) -> Option<Ending> {
        if self.stream_sid.as_deref() != Some(stream_sid.as_str()) {
            // An older stream of this call closing after its successor attached.
            return None;
        }
        self.outbound = None;
        if self.awaiting_reconnect.is_some() {
            tracing::info!(
                ?end,
                "stream ended; waiting for the call to come back on a new stream"
            );
            return None;
        }
        Some(match end {
            StreamEnd::Stopped => {
                Ending::completed(self.stop_reason.as_deref().unwrap_or("stream_stopped"))
            }
            StreamEnd::Dropped => {
                tracing::warn!("media stream dropped without stop");
                Ending {
                    status: CallStatus::Dropped,
                    reason: "socket_dropped".into(),
                }
            }
            StreamEnd::ClosedByServer => Ending::completed("closed_by_server"),
            StreamEnd::Rejected(why) | StreamEnd::LimitExceeded(why) => Ending {
                status: CallStatus::Failed,
                reason: why,
            },
        })
    }

    async fn on_speech(&mut self, event: EndpointEvent) {
        match event {
            EndpointEvent::SpeechStarted { start_sample } => {
                self.quiet_since = None;
                self.caller_speaking = true;
                self.silence_prompts = 0;
                // A sentence's mark follows its last audio: with slow synthesis, much of an answer
                // is on the line unmarked.
                let sounding = self.conversation.as_ref().is_some_and(|c| c.is_sounding());
                if self.playback.is_audible() || sounding {
                    self.barge_in(start_sample).await;
                }
            }
            EndpointEvent::Utterance(utterance) => {
                self.caller_speaking = false;
                let seconds = (utterance.end_sample - utterance.start_sample) as f64 / 8000.0;
                tracing::info!(seconds, forced = utterance.forced, "caller utterance");
                match self.ctx.mode {
                    AgentMode::Echo => {
                        self.play(echo::reply_audio(&utterance), None).await;
                    }
                    AgentMode::Silent => {}
                    AgentMode::Ai => self.on_utterance(utterance).await,
                }
            }
            EndpointEvent::Discarded {
                start_sample,
                end_sample,
            } => {
                self.caller_speaking = false;
                tracing::debug!(
                    start_sample,
                    end_sample,
                    "speech too short to be an utterance"
                );
            }
            EndpointEvent::Tentative(utterance) if self.ctx.mode == AgentMode::Ai => {
                self.on_tentative(utterance)
            }
            EndpointEvent::Resumed { .. } => self.on_resumed().await,
            EndpointEvent::Tentative(_) => {}
        }
    }

    /// Sends one piece of agent audio followed by its mark. Returns false without a stream.
    pub(super) async fn play(&mut self, mulaw: Vec<u8>, text: Option<String>) -> bool {
        let started = Instant::now();
        if !self.send_audio(mulaw.clone()).await {
            return false;
        }
        self.mark_piece(mulaw.len(), text, started).await
    }

    /// Streams audio of the piece in progress (its mark follows with [`Session::mark_piece`]).
    pub(super) async fn send_audio(&mut self, mulaw: Vec<u8>) -> bool {
        let Some(outbound) = &self.outbound else {
            return false;
        };
        // The agent is talking: the line is not quiet.
        self.quiet_since = None;
        if let Some(recording) = &mut self.recording {
            recording.get_mut().expect("recording lock").agent(&mulaw);
        }
        // A closed channel means the stream is ending; its StreamEnded is on the way.
        outbound.send(OutboundCommand::Audio(mulaw)).await.is_ok()
    }

    pub(super) async fn mark_piece(
        &mut self,
        samples: usize,
        text: Option<String>,
        sent_at: Instant,
    ) -> bool {
        let Some(outbound) = &self.outbound else {
            return false;
        };
        let mark = self.playback.enqueue(samples, text, sent_at);
        outbound.send(OutboundCommand::Mark(mark)).await.is_ok()
    }

    /// The caller talks over audible agent audio: drop Twilio's buffer, stop the turn, keep only what
    /// was heard.
    async fn barge_in(&mut self, at_sample: u64) {
        if let Some(outbound) = &self.outbound {
            let _ = outbound.send(OutboundCommand::Clear).await;
        }
        if let Some(conversation) = &mut self.conversation {
            conversation.cut_sentence_in_flight(&mut self.playback);
        }
        let (cut, playing_for) = self.playback.clear();
        if let Some(recording) = &mut self.recording {
            recording.get_mut().expect("recording lock").clear();
        }
        tracing::info!(pieces = cut.len(), "barge-in: caller spoke over the agent");
        let unplayed: Vec<&str> = cut.iter().map(|p| p.mark.as_str()).collect();
        self.event(
            "barge_in",
            Some(json!({ "at_sample": at_sample, "cleared": unplayed })),
        )
        .await;
        if let Some(conversation) = &mut self.conversation {
            conversation.on_cleared(&cut, playing_for);
            conversation.cancel_turn();
            conversation.commit_spoken(&self.ctx, true).await;
        }
        // A goodbye that was cut short is not a reason to hang up on someone who is still talking.
        self.end_after_playback = None;
    }

    pub(super) async fn event(&self, kind: &str, detail: Option<serde_json::Value>) {
        let event = Record::event(&self.ctx.call_sid, kind, detail, now_ms());
        self.ctx.records.write(event).await;
    }

    async fn finish(mut self, ending: Ending) {
        // Dropping the outbound sender tells the socket loop to close the stream.
        self.outbound = None;
        if let Some(conversation) = &mut self.conversation {
            conversation.cancel_turn();
            conversation.commit_spoken(&self.ctx, false).await;
        }
        let at = now_ms();
        // The event goes first: whoever sees the call ended also finds why among its events.
        self.event("call_ended", Some(json!({ "reason": ending.reason })))
            .await;
        let finished = Record::Finished {
            call_sid: self.ctx.call_sid.clone(),
            status: ending.status,
            reason: ending.reason.clone(),
            at_ms: at,
        };
        self.ctx.records.write(finished).await;
        tracing::info!(reason = %ending.reason, status = ?ending.status, "call ended");
        self.finish_recording().await;
        // The interaction is built from the call's records as stored: they must all be in first.
        if !self.ctx.records.flush(RECORDS_FLUSH_WAIT).await {
            tracing::error!(
                "the call's records were not all committed in time; its interaction may miss some"
            );
        }
        super::records::record_interaction(&self.ctx, &ending.reason, self.outcome(&ending), at)
            .await;
        self.ctx.registry.remove(&self.ctx.call_sid, &self.me);
    }

    fn outcome(&self, ending: &Ending) -> String {
        self.conversation
            .as_ref()
            .and_then(|c| c.outcome.clone())
            .unwrap_or_else(|| ending.reason.clone())
    }
}
