//! The per-call session: one task per live call, a thin shell around the call's [`CallCore`]. It
//! feeds the core what happens and carries out what the core decides; it decides nothing itself.
//!
//! Concurrency, and who owns what:
//! - **Control path** (`control`, bounded [`CONTROL_CAPACITY`]): speech events, marks and keys from the
//!   current stream's [`super::line::Line`], stream attach/end, STT outcomes, realtime transcription
//!   events, phrase audio and REST results. Senders: the registry (to attach streams), each line,
//!   and this call's tasks. The session holds one sender itself to hand to its tasks, so the path
//!   never closes while the call lives.
//! - **Audio paths**, served only when no control message waits (a biased `select!`): the reply in
//!   flight's own path (its sentences and audio, in order; the session owns the receiver and drops it
//!   when the core cancels the turn, which stops the reply at its next send), and the caller's PCM for
//!   the recording. So a barge-in is never queued behind audio: it is read first, the core clears, and
//!   the clear overtakes any audio already queued for the socket (see [`crate::twilio::outbound`]).
//! - **Tasks**: each turn's STT or reply runs under a child of the call's token, kept by turn id and
//!   cancelled when the core says so; phrase synthesis on a cache miss and REST updates run as
//!   detached tasks that report back on the control path (a report for a finished call is dropped).
//! - **Realtime transcription** (`SICHA_STT=realtime`): for each stream attached, a task opens a
//!   stream of its own (and again, a few times a call, when it breaks) and hands its audio side to
//!   that stream's line; its transcripts come back on the control path, and the turns committed on
//!   it wait in [`StreamedTranscripts`] (see [`super::realtime_turns`]). The task is cancelled with
//!   the call.
//! - **Ending**: the call's token (a child of the server's shutdown token) or the core's own decision.
//!   Whatever way the call ends, the core emits its last records, then the session closes the socket
//!   (dropping the outbound sender), commits the recording, waits for the records and writes the CRM
//!   interaction, and leaves the registry.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::context::CallContext;
use super::core::{CallCore, Effect, Ending, Input, Now, ReplyOutput, TurnId};
use super::realtime_turns::{self, StreamedAudio, StreamedTranscripts, StreamedTurn};
use super::recording::CallRecording;
use super::{actions, records, turn};
use crate::clock::now_ms;
use crate::providers::realtime_stt::TranscriptionEvent;
use crate::store::Record;
use crate::twilio::outbound::{OutboundSender, StreamCommand};
use sicha_audio::endpoint::EndpointEvent;

pub use super::context::{CallServices, Reconnect};
pub use super::core::{AgentMode, SilencePolicy};

/// Control messages a session's inbox holds before senders wait: speech events and marks are few a
/// second, and the session serves them first.
pub const CONTROL_CAPACITY: usize = 64;

/// Reply outputs queued before the reply waits: a few sentences' worth of audio chunks.
const REPLY_CAPACITY: usize = 32;

/// Caller PCM frames queued for the recording (about a second).
const CALLER_AUDIO_CAPACITY: usize = 64;

/// How many times a call opens its realtime transcription stream again after it breaks, and how
/// long it waits first: a network blip costs a few uploads, a provider that keeps failing is
/// given up on for the rest of the call.
const REALTIME_REOPENS: u32 = 3;
const REALTIME_REOPEN_AFTER: Duration = Duration::from_secs(1);

/// How long an ending call waits for its records to be committed before it builds its interaction
/// from them (only a database that is down makes it wait at all).
const RECORDS_FLUSH_WAIT: Duration = Duration::from_secs(10);

/// What reaches a session on its control path.
#[derive(Debug)]
pub enum Control {
    /// A media stream joined this call: its outbound side; the core then hears
    /// [`Input::StreamAttached`]. When the call is recorded, the session answers on `recording` with
    /// the recording path's sender, so the stream's line can feed it; otherwise nobody waits for the
    /// session before the stream starts.
    /// With realtime transcription, the session opens a stream for it and hands its audio side to
    /// the stream's line on `transcription` (dropped unanswered when there is none).
    Attach {
        stream_sid: String,
        outbound: OutboundSender,
        recording: Option<oneshot::Sender<Option<mpsc::Sender<Vec<i16>>>>>,
        transcription: Option<mpsc::Sender<StreamedAudio>>,
    },
    /// The caller's speech, from the endpointer; `streamed` when the line committed the audio of
    /// the utterance this event ends (or guesses) on a realtime stream.
    Speech {
        event: EndpointEvent,
        streamed: Option<StreamedTurn>,
    },
    /// What the realtime stream of media stream `generation` heard.
    Transcription {
        generation: u64,
        event: TranscriptionEvent,
    },
    /// Anything else the core hears.
    Input(Input),
}

struct Shell {
    ctx: CallContext,
    core: CallCore,
    /// Our own control sender, handed to tasks (and used to leave the registry by identity).
    me: mpsc::Sender<Control>,
    cancel: CancellationToken,
    /// The current stream's outbound side; dropping it closes that socket.
    outbound: Option<OutboundSender>,
    /// Work running per turn (STT, reply), cancelled when the core says so.
    work: HashMap<TurnId, CancellationToken>,
    /// The reply in flight's own path.
    reply: Option<(TurnId, mpsc::Receiver<ReplyOutput>)>,
    recording: Option<CallRecording>,
    /// The recording path's sender, handed to each stream's line while the call is recorded.
    caller_audio: Option<mpsc::Sender<Vec<i16>>>,
    /// Set by the core's last effect.
    ended: Option<(Ending, String)>,
    /// Turns waiting on realtime transcripts.
    streamed: StreamedTranscripts,
    /// The realtime commit of the speech event being handled: a transcription the core starts for
    /// it waits for that transcript instead of uploading.
    speech_commit: Option<StreamedTurn>,
    /// Where the current media stream's line takes realtime streams, with realtime transcription.
    realtime_line: Option<mpsc::Sender<StreamedAudio>>,
    /// The latest realtime stream opened (streams are numbered from 1, per call).
    realtime_generation: u64,
    /// How many more times a broken realtime stream is opened again in this call.
    realtime_reopens_left: u32,
}

/// A call's session, to run on the registry's tracker. `me` is its own control sender.
pub fn start(
    ctx: CallContext,
    me: mpsc::Sender<Control>,
    control: mpsc::Receiver<Control>,
    cancel: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let span = tracing::info_span!("call", call_sid = %ctx.call_sid);
    run(ctx, me, control, cancel).instrument(span)
}

async fn run(
    ctx: CallContext,
    me: mpsc::Sender<Control>,
    mut control: mpsc::Receiver<Control>,
    cancel: CancellationToken,
) {
    // The caller's audio for the recording, when calls are recorded.
    let (caller_audio_tx, mut caller_audio) = match ctx.after_call().recordings_dir {
        Some(_) => {
            let (tx, rx) = mpsc::channel(CALLER_AUDIO_CAPACITY);
            (Some(tx), Some(rx))
        }
        None => (None, None),
    };
    let mut shell = Shell {
        core: CallCore::new(ctx.core_config()),
        ctx,
        me,
        cancel: cancel.clone(),
        outbound: None,
        work: HashMap::new(),
        reply: None,
        recording: None,
        caller_audio: caller_audio_tx,
        ended: None,
        streamed: StreamedTranscripts::default(),
        speech_commit: None,
        realtime_line: None,
        realtime_generation: 0,
        realtime_reopens_left: REALTIME_REOPENS,
    };
    // One timer for the core's next deadline, re-armed only when the deadline moves: the loop turns
    // for every caller frame while the call is recorded, and arming a timer per turn is not free.
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    while shell.ended.is_none() {
        let deadline = shell.core.next_deadline().map(Instant::from_std);
        if deadline != armed {
            if let Some(at) = deadline {
                timer.as_mut().reset(at);
            }
            armed = deadline;
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => shell.apply(Input::Shutdown).await,
            // The session holds a sender itself, so this path is open while the call lives.
            Some(message) = control.recv() => shell.control(message).await,
            _ = &mut timer, if armed.is_some() => {
                // Due: the core decides what, and the next deadline is armed afresh.
                armed = None;
                shell.apply(Input::Tick).await;
            }
            output = next_reply(&mut shell.reply) => shell.reply_output(output).await,
            Some(pcm) = recv_some(&mut caller_audio) => shell.record_caller(&pcm),
        }
    }
    shell.finish().await;
}

async fn recv_some<T>(receiver: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match receiver {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// The reply's next output; `None` once its path closed (the reply task is done).
async fn next_reply(
    reply: &mut Option<(TurnId, mpsc::Receiver<ReplyOutput>)>,
) -> (TurnId, Option<ReplyOutput>) {
    match reply {
        Some((turn, receiver)) => (*turn, receiver.recv().await),
        None => std::future::pending().await,
    }
}

/// The recogniser's prompt for this call (the core gives batch uploads the same words).
fn transcription_prompt(ctx: &CallContext) -> String {
    let name = ctx.business.as_ref().map_or("", |b| b.name.as_str());
    super::hebrew::transcription_prompt(name)
}

fn now() -> Now {
    Now {
        at: Instant::now().into_std(),
        wall_ms: now_ms(),
    }
}

impl Shell {
    async fn control(&mut self, message: Control) {
        match message {
            Control::Attach {
                stream_sid,
                outbound,
                recording,
                transcription,
            } => {
                tracing::info!(%stream_sid, "media stream attached");
                if let Some(recording) = recording {
                    let _ = recording.send(self.caller_audio.clone());
                }
                // A newer stream's line replaces the old one's.
                self.realtime_line = transcription;
                self.open_realtime_stream(Duration::ZERO);
                // A newer stream replaces the old one's outbound side (dropping it closes that socket).
                self.outbound = Some(outbound);
                self.apply(Input::StreamAttached { stream_sid }).await;
            }
            Control::Speech { event, streamed } => {
                if let Some(turn) = streamed {
                    self.streamed.committed(turn);
                }
                self.speech_commit = streamed;
                self.apply(Input::Speech(event)).await;
                // A commit the core did not transcribe (a guess it did not want) is not waited for.
                self.speech_commit = None;
            }
            Control::Transcription { generation, event } => {
                let broken = matches!(event, TranscriptionEvent::Broken(_));
                self.streamed.on_event(generation, event);
                if broken
                    && generation == self.realtime_generation
                    && self.realtime_reopens_left > 0
                {
                    self.realtime_reopens_left -= 1;
                    tracing::info!(
                        generation,
                        "opening the realtime transcription stream again"
                    );
                    self.open_realtime_stream(REALTIME_REOPEN_AFTER);
                }
            }
            Control::Input(input) => {
                if let Input::Transcript { turn, .. } = &input {
                    self.work.remove(turn);
                }
                self.apply(input).await;
            }
        }
    }

    /// Opens a realtime stream for the current media stream's line, `after` a pause (see
    /// [`realtime_turns`]).
    fn open_realtime_stream(&mut self, after: Duration) {
        let (Some(to_line), Some(stt)) = (
            self.realtime_line.clone(),
            self.ctx.agent().and_then(|a| a.realtime_stt.clone()),
        ) else {
            return;
        };
        self.realtime_generation += 1;
        let stream = realtime_turns::OpenStream {
            stt,
            prompt: transcription_prompt(&self.ctx),
            generation: self.realtime_generation,
            after,
            to_line,
        };
        tokio::spawn(realtime_turns::open(
            stream,
            self.me.clone(),
            self.cancel.child_token(),
        ));
    }

    async fn reply_output(&mut self, (turn, output): (TurnId, Option<ReplyOutput>)) {
        match output {
            Some(output) => self.apply(Input::Reply { turn, output }).await,
            None => {
                self.reply = None;
                self.work.remove(&turn);
            }
        }
    }

    /// Hands the core one input and carries out its effects; inputs the effects answer at once (a
    /// cached phrase) are handled in the same pass.
    async fn apply(&mut self, input: Input) {
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            for effect in self.core.handle(input, now()) {
                self.execute(effect, &mut inputs).await;
            }
        }
    }

    async fn execute(&mut self, effect: Effect, inputs: &mut VecDeque<Input>) {
        match effect {
            Effect::Transcribe { turn, pcm, prompt } => {
                let Some(agent) = self.ctx.agent().cloned() else {
                    return;
                };
                let token = self.cancel.child_token();
                self.work.insert(turn, token.clone());
                let me = self.me.clone();
                match self.speech_commit.take() {
                    Some(streamed) => {
                        let transcript = self.streamed.wait_for(streamed);
                        tokio::spawn(turn::transcribe_streamed(
                            agent, pcm, prompt, turn, transcript, me, token,
                        ));
                    }
                    None => {
                        tokio::spawn(turn::transcribe(agent, pcm, prompt, turn, me, token));
                    }
                }
            }
            Effect::Reply { turn, request } => {
                let Some(agent) = self.ctx.agent().cloned() else {
                    return;
                };
                let token = self.cancel.child_token();
                self.work.insert(turn, token.clone());
                let (path, receiver) = mpsc::channel(REPLY_CAPACITY);
                self.reply = Some((turn, receiver));
                let voice = self.ctx.business.as_ref().and_then(|b| b.voice.clone());
                tokio::spawn(turn::reply(agent, request, voice, path, token));
            }
            Effect::CancelTurn(turn) => {
                if let Some(token) = self.work.remove(&turn) {
                    token.cancel();
                }
                if self.reply.as_ref().is_some_and(|(id, _)| *id == turn) {
                    self.reply = None;
                }
            }
            Effect::Phrase { id, text, voice } => {
                let Some(agent) = self.ctx.agent().cloned() else {
                    return;
                };
                if let Some(audio) = agent.cached_phrase(&text, voice.as_deref()) {
                    inputs.push_back(Input::Phrase {
                        id,
                        audio: Ok(audio),
                    });
                    return;
                }
                let me = self.me.clone();
                tokio::spawn(async move {
                    let audio = agent.phrase(&text, voice.as_deref()).await.map_err(|error| {
                        tracing::error!(%error, phrase = text, "no provider could say a fixed phrase");
                        error.to_string()
                    });
                    let _ = me.send(Control::Input(Input::Phrase { id, audio })).await;
                });
            }
            Effect::Audio(codes) => {
                if let Some(recording) = &mut self.recording {
                    recording.agent(&codes);
                }
                if let Some(outbound) = &self.outbound {
                    // A closed stream is ending; its end arrives on the control path.
                    outbound.send(StreamCommand::Media(codes)).await;
                }
            }
            Effect::Mark(name) => {
                if let Some(outbound) = &self.outbound {
                    outbound.send(StreamCommand::Mark(name)).await;
                }
            }
            Effect::Clear => {
                if let Some(outbound) = &mut self.outbound {
                    outbound.clear();
                }
                if let Some(recording) = &mut self.recording {
                    recording.clear();
                }
                tracing::info!("barge-in: caller spoke over the agent");
            }
            Effect::Record(record) => self.ctx.records().write(record).await,
            Effect::StartRecording => {
                if let Some(dir) = &self.ctx.after_call().recordings_dir {
                    match CallRecording::start(dir, &self.ctx.call_sid) {
                        Ok(recording) => self.recording = Some(recording),
                        Err(error) => tracing::error!(%error, "the call cannot be recorded"),
                    }
                }
            }
            Effect::DetachStream => self.outbound = None,
            Effect::Transfer { why, to } => {
                let (ctx, me) = (self.ctx.clone(), self.me.clone());
                tokio::spawn(async move {
                    let result = actions::transfer(&ctx, why, to).await;
                    let _ = me.send(Control::Input(Input::ActionDone(result))).await;
                });
            }
            Effect::SayThroughTwilio { text } => {
                let (ctx, me) = (self.ctx.clone(), self.me.clone());
                tokio::spawn(async move {
                    let result = actions::say_through_twilio(&ctx, text).await;
                    let _ = me.send(Control::Input(Input::ActionDone(result))).await;
                });
            }
            Effect::InvokeTool {
                turn,
                call,
                tool,
                key,
            } => {
                let (Some(agent), Some(business)) = (self.ctx.agent().cloned(), &self.ctx.business)
                else {
                    return;
                };
                let token = self.cancel.child_token();
                tokio::spawn(turn::invoke_tool(
                    agent,
                    turn::ToolCallJob {
                        turn,
                        call,
                        tool,
                        key,
                        business: business.clone(),
                        call_sid: self.ctx.call_sid.clone(),
                        caller: self.ctx.caller_number.clone(),
                    },
                    self.me.clone(),
                    token,
                ));
            }
            Effect::Sms { to, text, key } => {
                let ctx = self.ctx.clone();
                tokio::spawn(
                    async move { records::enqueue_caller_sms(&ctx, &to, &text, &key).await },
                );
            }
            Effect::VoiceToVoice(v2v) => {
                metrics::histogram!("sicha_voice_to_voice_seconds").record(v2v.as_secs_f64());
            }
            Effect::End { ending, outcome } => self.ended = Some((ending, outcome)),
        }
    }

    /// Closes the call after the core's last records: the socket, the recording, the records, the
    /// CRM interaction, the registry entry.
    async fn finish(mut self) {
        let Some((ending, outcome)) = self.ended.take() else {
            return;
        };
        for (_, token) in self.work.drain() {
            token.cancel();
        }
        self.reply = None;
        // Dropping the outbound sender tells the socket loop to close the stream.
        self.outbound = None;
        tracing::info!(reason = %ending.reason, status = ?ending.status, "call ended");
        self.finish_recording().await;
        // The interaction is built from the call's records as stored: they must all be in first.
        if !self.ctx.records().flush(RECORDS_FLUSH_WAIT).await {
            tracing::error!(
                "the call's records were not all committed in time; its interaction may miss some"
            );
        }
        records::record_interaction(&self.ctx, &ending.reason, outcome, now_ms()).await;
        self.ctx
            .services
            .registry
            .remove(&self.ctx.call_sid, &self.me);
    }

    fn record_caller(&mut self, pcm: &[i16]) {
        if let Some(recording) = &mut self.recording
            && let Err(error) = recording.caller(pcm)
        {
            // A failing recording is stopped, never the call.
            tracing::error!(%error, "recording failed; the call goes on unrecorded");
            self.recording = None;
        }
    }

    /// Finishes the recording file and records where it is.
    async fn finish_recording(&mut self) {
        let Some(recording) = self.recording.take() else {
            return;
        };
        match recording.finish() {
            Ok(path) => {
                let record = Record::RecordingPath {
                    call_sid: self.ctx.call_sid.clone(),
                    path: path.display().to_string(),
                };
                self.ctx.records().write(record).await;
            }
            Err(error) => tracing::error!(%error, "the call's recording could not be finished"),
        }
    }
}
