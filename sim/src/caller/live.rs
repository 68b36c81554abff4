//! One call in progress: the select loop over the frame clock, the socket and the next mark, and
//! the script's progress from line to line.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use super::trace::{CallTrace, SentFrame, TraceEvent, TraceKind};
use super::{CallerOptions, SimCallError};
use crate::playback::{PlaybackBuffer, SAMPLE_RATE};
use crate::scenario::{DEFAULT_PAUSE, FRAME_SAMPLES, LineStart, Scenario};
use crate::twilio_caller::{CallerError, MediaStreamClient, Received};
use sicha::twilio::stream::Outbound;

/// What the caller sends while it listens.
const SILENT_FRAME: [u8; FRAME_SAMPLES] = [sicha_audio::mulaw::SILENCE; FRAME_SAMPLES];

/// How long the caller waits for the server to close the socket after `stop`.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

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
pub(super) struct Recorder {
    origin: Instant,
    events: Vec<TraceEvent>,
    watch: Option<mpsc::UnboundedSender<TraceEvent>>,
}

impl Recorder {
    pub(super) fn new(origin: Instant, watch: Option<mpsc::UnboundedSender<TraceEvent>>) -> Self {
        Self {
            origin,
            events: Vec::new(),
            watch,
        }
    }

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

    pub(super) fn record(&mut self, kind: TraceKind) {
        self.record_at(Instant::now(), kind);
    }
}

/// The state of a call in progress; owned by `run_call`'s future alone.
pub(super) struct LiveCall<'a> {
    scenario: &'a Scenario,
    options: &'a CallerOptions,
    playback: PlaybackBuffer,
    recorder: Recorder,
    caller_audio: Vec<u8>,
    frames: Vec<SentFrame>,
    /// The last agent audio received, decoded; reused for every media message.
    received: Vec<u8>,
    caller_start_sample: Option<u64>,
    phase: Phase,
    closed: bool,
}

impl<'a> LiveCall<'a> {
    /// Starts listening for the greeting; `start` has just been sent.
    pub(super) fn new(
        scenario: &'a Scenario,
        options: &'a CallerOptions,
        origin: Instant,
        recorder: Recorder,
    ) -> Self {
        Self {
            scenario,
            options,
            playback: PlaybackBuffer::new(origin, options.speed).keeping_audio(options.keep_audio),
            received: Vec::new(),
            frames: Vec::new(),
            recorder,
            caller_audio: Vec::new(),
            caller_start_sample: None,
            phase: Phase::Listening {
                after: None,
                since: Instant::now(),
                answer_started: None,
            },
            closed: false,
        }
    }

    pub(super) async fn run(&mut self, client: &mut MediaStreamClient) -> Result<(), SimCallError> {
        let frame_period = Duration::from_secs_f64(
            FRAME_SAMPLES as f64 / f64::from(SAMPLE_RATE) / self.options.speed,
        );
        let mut frames = tokio::time::interval(frame_period);
        // A late tick sends the missed frames at once: the caller's audio keeps its length.
        frames.set_missed_tick_behavior(MissedTickBehavior::Burst);
        while !matches!(self.phase, Phase::Done) {
            let mark_due = self.playback.next_mark_due();
            // Biased, in this order: a due mark is echoed before anything else (the server times
            // what the caller heard from it); the frame clock comes before the socket so a burst of
            // agent audio cannot stall the caller's 20 ms pacing. `recv` is cancel-safe: a message
            // not yet read when another branch wins stays in the socket for the next turn.
            tokio::select! {
                biased;
                _ = tokio::time::sleep_until(mark_due.unwrap_or_else(Instant::now)), if mark_due.is_some() => {
                    for name in self.playback.due_marks(Instant::now()) {
                        self.echo_mark(client, &name).await?;
                    }
                }
                due = frames.tick() => self.send_frame(client, due).await?,
                // No timeout here: a timer armed and dropped every 20 ms in each of a thousand calls
                // is load the bench itself would add.
                received = client.next_received() => match received? {
                    Received::Message(message) => self.on_message(client, message).await?,
                    Received::Closed(code) => {
                        self.recorder.record(TraceKind::Closed { code });
                        self.closed = true;
                        self.phase = Phase::Done;
                    }
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
                self.received.clear();
                base64::engine::general_purpose::STANDARD
                    .decode_vec(media.payload.as_bytes(), &mut self.received)
                    .map_err(|e| CallerError::Protocol(format!("media payload: {e}")))?;
                self.playback.push_audio(now, &self.received);
                self.recorder.record_at(
                    now,
                    TraceKind::MediaReceived {
                        samples: self.received.len(),
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
    /// Sends the frame of the clock tick that was `due`.
    async fn send_frame(
        &mut self,
        client: &mut MediaStreamClient,
        due: Instant,
    ) -> Result<(), SimCallError> {
        let now = Instant::now();
        let late_us = now
            .saturating_duration_since(due)
            .as_micros()
            .min(u32::MAX as u128) as u32;
        let scenario = self.scenario;
        let (codes, voiced): (&[u8], bool) = match self.phase {
            Phase::Speaking { line, frame } => {
                let spoken = &scenario.lines[line];
                let codes = &spoken.codes[frame * FRAME_SAMPLES..(frame + 1) * FRAME_SAMPLES];
                (codes, spoken.voiced[frame])
            }
            _ => (&SILENT_FRAME, false),
        };
        client.send_media(codes).await?;
        self.caller_start_sample
            .get_or_insert_with(|| self.playback.sample_at(now));
        if self.options.keep_audio {
            self.caller_audio.extend_from_slice(codes);
        }
        self.frames.push(SentFrame { voiced, late_us });
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
        for (part, labelled) in spoken.parts.iter().enumerate() {
            if labelled.first_frame == frame {
                self.recorder
                    .record_at(now, TraceKind::PartStarted { line, part });
            }
            if labelled.last_frame == frame {
                let complete = labelled.complete;
                self.recorder.record_at(
                    now,
                    TraceKind::PartEnded {
                        line,
                        part,
                        complete,
                    },
                );
            }
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
                timed_out || self.answer_finished(now, answer_started, call_time(DEFAULT_PAUSE))
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
    pub(super) async fn hang_up(
        &mut self,
        mut client: MediaStreamClient,
    ) -> Result<(), SimCallError> {
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

    pub(super) fn into_trace(self) -> CallTrace {
        CallTrace {
            call_sid: self.options.call_sid.clone(),
            speed: self.options.speed,
            events: self.recorder.events,
            frames: self.frames,
            caller_audio: self.caller_audio,
            caller_start_sample: self.caller_start_sample.unwrap_or(0),
            agent_audio: self.playback.segments().to_vec(),
        }
    }
}
