//! The per-call session: one task per live call, the only owner of the call's state.
//!
//! Inputs: the inbox ([`SessionInput`], senders held by the registry and by each stream's socket
//! loop), the call's cancellation token (a child of the server's shutdown token: cancelled means
//! "end this call now"), and the call's length limit. Outputs: [`OutboundCommand`]s to the current
//! stream's socket loop (the session owns that sender; dropping it closes the socket) and the call's
//! records, written to the store as things happen. Whatever way the call ends, `finish` runs once and
//! commits the call's end before the task exits.

use std::time::Duration;

use serde_json::json;
use sicha_audio::endpoint::EndpointEvent;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::playback::Playback;
use super::{OutboundCommand, Registry, SessionInput, StreamEnd, echo};
use crate::clock::now_ms;
use crate::store::{CallStatus, Store};

/// Who answers the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentMode {
    /// Plays each caller utterance back: checks a line end to end without AI providers.
    Echo,
    /// Listens and records, never speaks.
    Silent,
}

/// What a session is started with.
#[derive(Clone)]
pub struct CallContext {
    pub call_sid: String,
    pub store: Store,
    pub registry: Registry,
    pub agent: AgentMode,
    pub max_call: Duration,
}

struct Session {
    ctx: CallContext,
    /// Sender to the current stream's socket loop; `None` between streams.
    outbound: Option<mpsc::Sender<OutboundCommand>>,
    stream_sid: Option<String>,
    playback: Playback,
}

/// Why the session ended, as recorded on the call.
struct Ending {
    status: CallStatus,
    reason: String,
}

/// Runs one call to its end. `me` is this session's own inbox sender, used only to remove itself from
/// the registry by identity (a reconnect may already have started a successor).
pub async fn run(
    ctx: CallContext,
    me: mpsc::Sender<SessionInput>,
    mut inbox: mpsc::Receiver<SessionInput>,
    cancel: CancellationToken,
) {
    let deadline = Instant::now() + ctx.max_call;
    let mut session = Session {
        ctx,
        outbound: None,
        stream_sid: None,
        playback: Playback::default(),
    };
    let span = tracing::info_span!("call", call_sid = %session.ctx.call_sid);
    async move {
    let ending = loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break Ending { status: CallStatus::Completed, reason: "server_shutdown".into() },
            _ = tokio::time::sleep_until(deadline) => {
                tracing::info!(limit_secs = session.ctx.max_call.as_secs(), "call reached its length limit");
                break Ending { status: CallStatus::Completed, reason: "max_call_length".into() };
            }
            input = inbox.recv() => {
                // Every sender gone: nobody can reach this call any more.
                let Some(input) = input else {
                    break Ending { status: CallStatus::Dropped, reason: "no_stream".into() };
                };
                if let Some(ending) = session.handle(input).await {
                    break ending;
                }
            }
        }
    };
    session.finish(ending, &me).await;
    }
    .instrument(span)
    .await
}

impl Session {
    async fn handle(&mut self, input: SessionInput) -> Option<Ending> {
        match input {
            SessionInput::StreamAttached {
                stream_sid,
                outbound,
            } => {
                tracing::info!(%stream_sid, "media stream attached");
                self.outbound = Some(outbound);
                self.playback.clear();
                let resumed = self.stream_sid.replace(stream_sid.clone()).is_some();
                let at = now_ms();
                if let Err(error) = self.ctx.store.mark_streaming(&self.ctx.call_sid, at).await {
                    tracing::error!(%error, "could not record the stream start");
                }
                self.event(
                    if resumed {
                        "stream_resumed"
                    } else {
                        "stream_started"
                    },
                    Some(json!({ "stream_sid": stream_sid })),
                )
                .await;
            }
            SessionInput::Speech(event) => self.on_speech(event).await,
            SessionInput::MarkPlayed(name) => {
                self.playback.mark_played(&name);
            }
            SessionInput::Dtmf(digit) => {
                tracing::info!(%digit, "caller pressed a key");
                self.event("dtmf", Some(json!({ "digit": digit }))).await;
            }
            SessionInput::StreamEnded { stream_sid, end } => {
                if self.stream_sid.as_deref() != Some(stream_sid.as_str()) {
                    // An older stream of this call closing after its successor attached.
                    return None;
                }
                self.outbound = None;
                return Some(match end {
                    StreamEnd::Stopped => Ending {
                        status: CallStatus::Completed,
                        reason: "stream_stopped".into(),
                    },
                    StreamEnd::Dropped => {
                        tracing::warn!("media stream dropped without stop");
                        Ending {
                            status: CallStatus::Dropped,
                            reason: "socket_dropped".into(),
                        }
                    }
                    StreamEnd::ClosedByServer => Ending {
                        status: CallStatus::Completed,
                        reason: "closed_by_server".into(),
                    },
                    StreamEnd::Rejected(why) | StreamEnd::LimitExceeded(why) => Ending {
                        status: CallStatus::Failed,
                        reason: why,
                    },
                });
            }
        }
        None
    }

    async fn on_speech(&mut self, event: EndpointEvent) {
        match event {
            EndpointEvent::SpeechStarted { start_sample } => {
                if self.playback.is_audible() {
                    self.barge_in(start_sample).await;
                }
            }
            EndpointEvent::Utterance(utterance) => {
                let seconds = (utterance.end_sample - utterance.start_sample) as f64 / 8000.0;
                tracing::info!(seconds, forced = utterance.forced, "caller utterance");
                if self.ctx.agent == AgentMode::Echo {
                    let audio = echo::reply_audio(&utterance);
                    self.play(audio, None).await;
                }
            }
            EndpointEvent::Discarded {
                start_sample,
                end_sample,
            } => {
                tracing::debug!(
                    start_sample,
                    end_sample,
                    "speech too short to be an utterance"
                );
            }
            EndpointEvent::Tentative(_) | EndpointEvent::Resumed { .. } => {}
        }
    }

    /// Sends one piece of agent audio followed by its mark.
    async fn play(&mut self, mulaw: Vec<u8>, text: Option<String>) {
        let Some(outbound) = &self.outbound else {
            return;
        };
        let mark = self.playback.enqueue(mulaw.len(), text);
        // A closed outbound channel means the stream is ending; its StreamEnded is on the way.
        if outbound.send(OutboundCommand::Audio(mulaw)).await.is_ok() {
            let _ = outbound.send(OutboundCommand::Mark(mark)).await;
        }
    }

    /// The caller talks over audible agent audio: drop Twilio's buffer and record what was cut.
    async fn barge_in(&mut self, at_sample: u64) {
        if let Some(outbound) = &self.outbound {
            let _ = outbound.send(OutboundCommand::Clear).await;
        }
        let cut = self.playback.clear();
        tracing::info!(pieces = cut.len(), "barge-in: caller spoke over the agent");
        let unplayed: Vec<&str> = cut.iter().map(|p| p.mark.as_str()).collect();
        self.event(
            "barge_in",
            Some(json!({ "at_sample": at_sample, "cleared": unplayed })),
        )
        .await;
    }

    async fn event(&self, kind: &str, detail: Option<serde_json::Value>) {
        if let Err(error) = self
            .ctx
            .store
            .insert_event(&self.ctx.call_sid, kind, detail.as_ref(), now_ms())
            .await
        {
            tracing::error!(%error, kind, "could not record a call event");
        }
    }

    async fn finish(mut self, ending: Ending, me: &mpsc::Sender<SessionInput>) {
        // Dropping the outbound sender tells the socket loop to close the stream.
        self.outbound = None;
        let at = now_ms();
        match self
            .ctx
            .store
            .finish_call(&self.ctx.call_sid, ending.status, &ending.reason, at)
            .await
        {
            Ok(_) => tracing::info!(reason = %ending.reason, status = ?ending.status, "call ended"),
            Err(error) => {
                tracing::error!(%error, reason = %ending.reason, "could not record the call's end")
            }
        }
        self.event("call_ended", Some(json!({ "reason": ending.reason })))
            .await;
        self.ctx.registry.remove(&self.ctx.call_sid, me);
    }
}
