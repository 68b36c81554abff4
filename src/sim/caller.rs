//! The simulated Twilio caller: plays a [`Scenario`] against a sicha server the way Twilio would —
//! signed voice webhook, `connected`, `start` with the stream token, 20 ms `media` frames paced by a
//! clock (real time, or a time-lapse for tests), mark echoes from an emulated playback buffer, and
//! `stop` — and records every event in a [`CallTrace`].
//!
//! The caller speaks a line, keeps sending silence while it listens, and speaks the next line once
//! the answer has played and a pause has passed (or, for a barge-in line, while the answer is still
//! playing), as a person on a phone would.

mod trace;

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use url::Url;

use super::playback::{PlaybackBuffer, SAMPLE_RATE};
use super::scenario::{FRAME_SAMPLES, LineStart, Scenario};
use super::twilio_caller::{CallerError, MediaStreamClient, Received, place_call, stream_target};
use crate::twilio::stream::Outbound;

pub use trace::{BargeIn, CallTrace, TraceEvent, TraceKind};

/// How long the caller waits for the server to close the socket after `stop`.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// A receive wait longer than any call; the select loop's other branches bound it.
const RECV_FOREVER: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum SimCallError {
    #[error(transparent)]
    Twilio(#[from] CallerError),
    #[error("the voice webhook answered {status}: {body}")]
    Rejected { status: u16, body: String },
}

/// Who calls whom, where, and how fast.
#[derive(Debug, Clone)]
pub struct CallerOptions {
    /// The sicha server's origin, e.g. `http://127.0.0.1:8080/`.
    pub server: Url,
    /// Signs the webhook and the stream upgrade as Twilio does; `None` for an unsigned server.
    pub auth_token: Option<String>,
    pub call_sid: String,
    pub from: String,
    pub to: String,
    /// 1.0 is real time; 4.0 sends the caller's audio and plays the agent's four times as fast.
    pub speed: f64,
    /// Wall time to wait for an answer to start before the caller goes on without one.
    pub answer_timeout: Duration,
}

impl CallerOptions {
    pub fn new(server: Url, call_sid: &str, from: &str, to: &str) -> Self {
        Self {
            server,
            auth_token: None,
            call_sid: call_sid.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            speed: 1.0,
            answer_timeout: Duration::from_secs(15),
        }
    }
}

/// A fresh CallSid in Twilio's shape.
pub fn new_call_sid() -> String {
    format!("CA{}", uuid::Uuid::new_v4().simple())
}

/// Where the caller is in the script.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Listening for the answer to `after` (`None`: the greeting) since `since`.
    Listening {
        after: Option<usize>,
        since: Instant,
        answer_started: Option<Instant>,
    },
    /// Sending frame `frame` of line `line` next.
    Speaking {
        line: usize,
        frame: usize,
    },
    Done,
}

/// Timestamps events, keeps them, and passes each to an optional watcher (a live view).
struct Recorder {
    origin: Instant,
    events: Vec<TraceEvent>,
    watch: Option<mpsc::UnboundedSender<TraceEvent>>,
}

impl Recorder {
    fn record_at(&mut self, at: Instant, kind: TraceKind) {
        let event = TraceEvent {
            at: at.saturating_duration_since(self.origin),
            kind,
        };
        if let Some(watch) = &self.watch {
            // A watcher that went away only stops the live view, never the call.
            let _ = watch.send(event.clone());
        }
        self.events.push(event);
    }

    fn record(&mut self, kind: TraceKind) {
        self.record_at(Instant::now(), kind);
    }
}

/// Plays `scenario` as one call and returns its trace. `watch`, when given, receives every event
/// as it happens; the call goes on if the receiver is dropped.
///
/// Everything runs in this one future: a `select!` over the frame clock, the socket and the next
/// mark's due time, so sending, listening and echoing never wait on each other. Dropping the future
/// drops the socket (the server sees a dropped connection).
pub async fn run_call(
    options: &CallerOptions,
    scenario: &Scenario,
    watch: Option<mpsc::UnboundedSender<TraceEvent>>,
) -> Result<CallTrace, SimCallError> {
    let origin = Instant::now();
    let mut recorder = Recorder {
        origin,
        events: Vec::new(),
        watch,
    };
    let http = reqwest::Client::new();
    let auth_token = options.auth_token.as_deref();
    let answer = place_call(
        &http,
        &options.server,
        auth_token,
        &options.call_sid,
        &options.from,
        &options.to,
    )
    .await?;
    recorder.record(TraceKind::WebhookAnswered {
        status: answer.status,
    });
    if answer.status != 200 {
        return Err(SimCallError::Rejected {
            status: answer.status,
            body: answer.twiml,
        });
    }
    let target = stream_target(&answer.twiml)?;
    let stream_sid = format!("MZ{}", options.call_sid.trim_start_matches("CA"));
    let mut client = MediaStreamClient::connect(&target.url, auth_token, &stream_sid).await?;
    client.send_connected().await?;
    client
        .send_start(&options.call_sid, &target.parameters)
        .await?;
    recorder.record(TraceKind::StartSent);

    let mut call = LiveCall {
        scenario,
        options,
        playback: PlaybackBuffer::new(origin, options.speed),
        recorder,
        caller_audio: Vec::new(),
        caller_start_sample: None,
        phase: Phase::Listening {
            after: None,
            since: Instant::now(),
            answer_started: None,
        },
        closed: false,
    };
    call.run(&mut client).await?;
    call.hang_up(client).await?;
    Ok(call.into_trace())
}

/// The state of a call in progress; owned by [`run_call`]'s future alone.
struct LiveCall<'a> {
    scenario: &'a Scenario,
    options: &'a CallerOptions,
    playback: PlaybackBuffer,
    recorder: Recorder,
    caller_audio: Vec<u8>,
    caller_start_sample: Option<u64>,
    phase: Phase,
    closed: bool,
}

impl LiveCall<'_> {
    async fn run(&mut self, client: &mut MediaStreamClient) -> Result<(), SimCallError> {
        let frame_period = Duration::from_secs_f64(
            FRAME_SAMPLES as f64 / f64::from(SAMPLE_RATE) / self.options.speed,
        );
        let mut frames = tokio::time::interval(frame_period);
        // A late tick sends the missed frames at once: the caller's audio keeps its length.
        frames.set_missed_tick_behavior(MissedTickBehavior::Burst);
        while !matches!(self.phase, Phase::Done) {
            let mark_due = self.playback.next_mark_due();
            tokio::select! {
                biased;
                _ = tokio::time::sleep_until(mark_due.unwrap_or_else(Instant::now)), if mark_due.is_some() => {
                    for name in self.playback.due_marks(Instant::now()) {
                        self.echo_mark(client, &name).await?;
                    }
                }
                _ = frames.tick() => self.send_frame(client).await?,
                received = client.recv(RECV_FOREVER) => match received? {
                    Some(Received::Message(message)) => self.on_message(client, message).await?,
                    Some(Received::Closed(code)) => {
                        self.recorder.record(TraceKind::Closed { code });
                        self.closed = true;
                        self.phase = Phase::Done;
                    }
                    None => {}
                },
            }
        }
        Ok(())
    }

    async fn on_message(
        &mut self,
        client: &mut MediaStreamClient,
        message: Outbound,
    ) -> Result<(), SimCallError> {
        let now = Instant::now();
        match message {
            Outbound::Media { media, .. } => {
                use base64::Engine;
                let codes = base64::engine::general_purpose::STANDARD
                    .decode(media.payload.as_bytes())
                    .map_err(|e| CallerError::Protocol(format!("media payload: {e}")))?;
                self.playback.push_audio(now, &codes);
                self.recorder.record_at(
                    now,
                    TraceKind::MediaReceived {
                        samples: codes.len(),
                    },
                );
                if let Phase::Listening {
                    after,
                    answer_started: answer_started @ None,
                    ..
                } = &mut self.phase
                {
                    *answer_started = Some(now);
                    let after_line = *after;
                    self.recorder
                        .record_at(now, TraceKind::AgentAudio { after_line });
                }
            }
            Outbound::Mark { mark, .. } => {
                self.recorder.record_at(
                    now,
                    TraceKind::MarkReceived {
                        name: mark.name.clone(),
                    },
                );
                if let Some(name) = self.playback.push_mark(now, &mark.name) {
                    self.echo_mark(client, &name).await?;
                }
            }
            Outbound::Clear { .. } => {
                let cleared = self.playback.clear(now);
                self.recorder.record_at(
                    now,
                    TraceKind::Clear {
                        dropped_samples: cleared.dropped_samples,
                        marks_echoed: cleared.marks.len(),
                    },
                );
                for name in cleared.marks {
                    self.echo_mark(client, &name).await?;
                }
            }
        }
        Ok(())
    }

    async fn echo_mark(
        &mut self,
        client: &mut MediaStreamClient,
        name: &str,
    ) -> Result<(), SimCallError> {
        client.send_mark(name).await?;
        self.recorder.record(TraceKind::MarkEchoed {
            name: name.to_string(),
        });
        Ok(())
    }

    /// One tick of the frame clock: the next frame of the line being spoken, or silence; then the
    /// script moves on if it is time.
    async fn send_frame(&mut self, client: &mut MediaStreamClient) -> Result<(), SimCallError> {
        let now = Instant::now();
        let (codes, voiced, line): (Vec<u8>, bool, Option<usize>) = match self.phase {
            Phase::Speaking { line, frame } => {
                let (codes, voiced) = self.scenario.lines[line]
                    .frames()
                    .nth(frame)
                    .expect("a speaking phase points at a frame");
                (codes.to_vec(), voiced, Some(line))
            }
            _ => (
                vec![sicha_audio::mulaw::SILENCE; FRAME_SAMPLES],
                false,
                None,
            ),
        };
        client.send_media(&codes).await?;
        self.caller_start_sample
            .get_or_insert_with(|| self.playback.sample_at(now));
        self.caller_audio.extend_from_slice(&codes);
        self.recorder
            .record_at(now, TraceKind::FrameSent { voiced, line });
        if let Phase::Speaking { line, frame } = self.phase {
            self.after_line_frame(now, line, frame, voiced);
        } else {
            self.maybe_start_next_line(now);
        }
        Ok(())
    }

    fn after_line_frame(&mut self, now: Instant, line: usize, frame: usize, voiced: bool) {
        let spoken = &self.scenario.lines[line];
        let first_voiced = spoken.voiced.iter().position(|v| *v);
        let last_voiced = spoken.voiced.iter().rposition(|v| *v);
        if voiced && first_voiced == Some(frame) {
            let text = spoken.text.clone();
            self.recorder
                .record_at(now, TraceKind::LineStarted { line, text });
        }
        if voiced && last_voiced == Some(frame) {
            self.recorder.record_at(now, TraceKind::LineEnded { line });
        }
        self.phase = if frame + 1 < spoken.voiced.len() {
            Phase::Speaking {
                line,
                frame: frame + 1,
            }
        } else {
            Phase::Listening {
                after: Some(line),
                since: now,
                answer_started: None,
            }
        };
    }

    /// While listening: decides whether the next line (or the end of the call) is due.
    fn maybe_start_next_line(&mut self, now: Instant) {
        let Phase::Listening {
            after,
            since,
            answer_started,
        } = self.phase
        else {
            return;
        };
        let next = after.map_or(0, |line| line + 1);
        let timed_out = answer_started.is_none()
            && now.saturating_duration_since(since) >= self.options.answer_timeout;
        if timed_out {
            self.recorder
                .record_at(now, TraceKind::NoAnswer { after_line: after });
        }
        let call_time = |d: Duration| d.div_f64(self.options.speed);
        let due = match self.scenario.lines.get(next).map(|l| l.start) {
            Some(LineStart::BargeIn {
                after_answer_starts,
            }) => {
                timed_out
                    || answer_started.is_some_and(|t| now >= t + call_time(after_answer_starts))
            }
            Some(LineStart::AfterAnswer { pause }) => {
                timed_out || self.answer_finished(now, answer_started, call_time(pause))
            }
            None => {
                timed_out
                    || self.answer_finished(
                        now,
                        answer_started,
                        call_time(super::scenario::DEFAULT_PAUSE),
                    )
            }
        };
        if !due {
            return;
        }
        self.phase = if next < self.scenario.lines.len() {
            Phase::Speaking {
                line: next,
                frame: 0,
            }
        } else {
            Phase::Done
        };
    }

    /// The answer started, has played out, and the line has been quiet for `quiet` since.
    fn answer_finished(
        &self,
        now: Instant,
        answer_started: Option<Instant>,
        quiet: Duration,
    ) -> bool {
        answer_started.is_some()
            && !self.playback.is_playing(now)
            && now >= self.playback.idle_at() + quiet
    }

    /// `stop`, then waits for the server to close (echoing nothing more).
    async fn hang_up(&mut self, mut client: MediaStreamClient) -> Result<(), SimCallError> {
        // Whatever had not played when the caller hung up was never heard.
        self.playback.clear(Instant::now());
        if self.closed {
            return Ok(());
        }
        client.send_stop(&self.options.call_sid).await?;
        self.recorder.record(TraceKind::StopSent);
        let deadline = Instant::now() + CLOSE_WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match client.recv(left).await {
                Ok(Some(Received::Closed(code))) => {
                    self.recorder.record(TraceKind::Closed { code });
                    return Ok(());
                }
                Ok(Some(Received::Message(_))) => continue,
                // The server did not close in time (or the socket failed): close from our side.
                Ok(None) | Err(_) => break,
            }
        }
        let _ = client.close().await;
        self.recorder.record(TraceKind::Closed { code: None });
        Ok(())
    }

    fn into_trace(self) -> CallTrace {
        CallTrace {
            call_sid: self.options.call_sid.clone(),
            speed: self.options.speed,
            events: self.recorder.events,
            caller_audio: self.caller_audio,
            caller_start_sample: self.caller_start_sample.unwrap_or(0),
            agent_audio: self.playback.segments().to_vec(),
        }
    }
}
