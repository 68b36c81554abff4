//! Everything a simulated caller saw and did, timestamped, and the latencies read from it:
//! voice-to-voice per line (last voiced frame sent → first agent audio received), barge-in (speech
//! onset sent → `clear` received) and greeting (`start` sent → first greeting audio). It also keeps
//! the audio of both sides on one timeline, to write what the caller heard as a WAV.

use std::time::Duration;

use crate::playback::{PlayedSegment, SAMPLE_RATE};

/// One thing that happened, `at` this long (wall time) after the call was placed.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceEvent {
    pub at: Duration,
    pub kind: TraceKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TraceKind {
    /// The voice webhook answered.
    WebhookAnswered {
        status: u16,
    },
    /// `connected` and `start` (with the stream token) were sent.
    StartSent,
    /// The first voiced frame of a caller line was sent.
    LineStarted {
        line: usize,
        text: String,
    },
    /// The last voiced frame of a caller line was sent.
    LineEnded {
        line: usize,
    },
    /// The first frame of a labelled part of a line said with pauses was sent.
    PartStarted {
        line: usize,
        part: usize,
    },
    /// The last frame of a labelled part was sent; `complete` when what was said up to here is a
    /// finished utterance (else the caller pauses inside it).
    PartEnded {
        line: usize,
        part: usize,
        complete: bool,
    },
    /// The first agent audio after a caller line ended (`None`: the greeting).
    AgentAudio {
        after_line: Option<usize>,
    },
    /// Agent audio arrived (any frame).
    MediaReceived {
        samples: usize,
    },
    MarkReceived {
        name: String,
    },
    /// A mark was echoed: the audio before it has played (or was cleared).
    MarkEchoed {
        name: String,
    },
    /// `clear` arrived: unplayed audio dropped, pending marks echoed.
    Clear {
        dropped_samples: u64,
        marks_echoed: usize,
    },
    /// No agent audio came within the answer timeout.
    NoAnswer {
        after_line: Option<usize>,
    },
    StopSent,
    /// The socket closed, with the server's close code when it sent one.
    Closed {
        code: Option<u16>,
    },
}

/// One 20 ms media frame the caller sent. Frames are kept apart from the events, in this compact
/// form: fifty a second per call, a bench's thousand calls send millions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentFrame {
    /// Speech by the fixture's labels.
    pub voiced: bool,
    /// How long after its tick of the caller's 20 ms clock it went out: the caller's own lag, which
    /// the server cannot tell from its own (a loaded caller sends late).
    pub late_us: u32,
}

/// A barge-in: the caller started `line` while the agent spoke, and the server cleared its audio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BargeIn {
    pub line: usize,
    /// Speech onset sent → `clear` received.
    pub latency: Duration,
}

/// The record of one simulated call.
#[derive(Debug, Clone)]
pub struct CallTrace {
    pub call_sid: String,
    /// 1.0 when the call ran in real time.
    pub speed: f64,
    pub events: Vec<TraceEvent>,
    /// Every media frame sent, in order.
    pub frames: Vec<SentFrame>,
    /// Everything the caller sent, contiguous, starting at `caller_start_sample` of call time.
    pub caller_audio: Vec<u8>,
    pub caller_start_sample: u64,
    /// The agent audio as it played on the caller's side (cleared audio is not in it).
    pub agent_audio: Vec<PlayedSegment>,
}

impl CallTrace {
    fn first(&self, want: impl Fn(&TraceKind) -> bool) -> Option<Duration> {
        self.events.iter().find(|e| want(&e.kind)).map(|e| e.at)
    }

    /// `start` sent → first greeting audio received.
    pub fn greeting_latency(&self) -> Option<Duration> {
        let start = self.first(|k| matches!(k, TraceKind::StartSent))?;
        let audio = self.first(|k| matches!(k, TraceKind::AgentAudio { after_line: None }))?;
        Some(audio.saturating_sub(start))
    }

    /// How many caller lines were played (started).
    pub fn lines_played(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e.kind, TraceKind::LineStarted { .. }))
            .count()
    }

    /// Voice to voice for `line`: its last voiced frame sent → the first agent audio after it.
    pub fn voice_to_voice(&self, line: usize) -> Option<Duration> {
        let ended = self.first(|k| *k == TraceKind::LineEnded { line })?;
        let answered = self.first(|k| {
            *k == TraceKind::AgentAudio {
                after_line: Some(line),
            }
        })?;
        Some(answered.saturating_sub(ended))
    }

    /// Voice to voice for every line played, in order (`None` where no answer came).
    pub fn voice_to_voice_all(&self) -> Vec<Option<Duration>> {
        (0..self.lines_played())
            .map(|line| self.voice_to_voice(line))
            .collect()
    }

    /// Every `clear`, paired with the caller line whose speech onset came last before it.
    pub fn barge_ins(&self) -> Vec<BargeIn> {
        let mut onset: Option<(usize, Duration)> = None;
        let mut found = Vec::new();
        for event in &self.events {
            match &event.kind {
                TraceKind::LineStarted { line, .. } => onset = Some((*line, event.at)),
                TraceKind::Clear { .. } => {
                    if let Some((line, at)) = onset {
                        found.push(BargeIn {
                            line,
                            latency: event.at.saturating_sub(at),
                        });
                    }
                }
                _ => {}
            }
        }
        found
    }

    /// How many events match `want`.
    pub fn count(&self, want: impl Fn(&TraceKind) -> bool) -> usize {
        self.events.iter().filter(|e| want(&e.kind)).count()
    }

    /// How many media frames were sent, and how many of them were speech.
    pub fn frames_sent(&self) -> (usize, usize) {
        let voiced = self.frames.iter().filter(|f| f.voiced).count();
        (self.frames.len(), voiced)
    }

    /// Seconds of agent audio heard.
    pub fn agent_seconds_heard(&self) -> f64 {
        let samples: usize = self.agent_audio.iter().map(|s| s.codes.len()).sum();
        samples as f64 / f64::from(SAMPLE_RATE)
    }

    /// Both sides of the call mixed on one timeline, 8 kHz 16-bit PCM: what a listener on the line
    /// would have heard.
    pub fn mixed_pcm(&self) -> Vec<i16> {
        let caller_end = self.caller_start_sample as usize + self.caller_audio.len();
        let agent_end = self
            .agent_audio
            .iter()
            .map(|s| s.start_sample as usize + s.codes.len())
            .max()
            .unwrap_or(0);
        let mut mix = vec![0i32; caller_end.max(agent_end)];
        let mut add = |start: usize, codes: &[u8]| {
            for (slot, code) in mix[start..].iter_mut().zip(codes) {
                *slot += i32::from(sicha_audio::mulaw::decode(*code));
            }
        };
        add(self.caller_start_sample as usize, &self.caller_audio);
        for segment in &self.agent_audio {
            add(segment.start_sample as usize, &segment.codes);
        }
        mix.into_iter()
            .map(|s| s.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16)
            .collect()
    }

    /// [`Self::mixed_pcm`] as a WAV file's bytes.
    pub fn mixed_wav(&self) -> Vec<u8> {
        sicha_audio::wav::pcm16_to_wav_bytes(&self.mixed_pcm(), SAMPLE_RATE)
    }
}

/// Made-up traces for the tests of what reads them.
#[cfg(test)]
impl TraceEvent {
    pub fn at_ms(ms: u64, kind: TraceKind) -> Self {
        Self {
            at: Duration::from_millis(ms),
            kind,
        }
    }
}

#[cfg(test)]
impl CallTrace {
    pub fn of(events: Vec<TraceEvent>) -> Self {
        Self {
            call_sid: "CA1".into(),
            speed: 1.0,
            events,
            frames: Vec::new(),
            caller_audio: Vec::new(),
            caller_start_sample: 0,
            agent_audio: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ms: u64, kind: TraceKind) -> TraceEvent {
        TraceEvent::at_ms(ms, kind)
    }

    fn trace(events: Vec<TraceEvent>) -> CallTrace {
        CallTrace::of(events)
    }

    #[test]
    fn latencies_are_read_between_the_right_events() {
        let started = |line| TraceKind::LineStarted {
            line,
            text: String::new(),
        };
        let t = trace(vec![
            event(10, TraceKind::StartSent),
            event(130, TraceKind::AgentAudio { after_line: None }),
            event(2000, started(0)),
            event(4000, TraceKind::LineEnded { line: 0 }),
            event(
                5200,
                TraceKind::AgentAudio {
                    after_line: Some(0),
                },
            ),
            event(6000, started(1)),
            event(
                6300,
                TraceKind::Clear {
                    dropped_samples: 8000,
                    marks_echoed: 2,
                },
            ),
            event(7000, TraceKind::LineEnded { line: 1 }),
        ]);
        assert_eq!(t.greeting_latency(), Some(Duration::from_millis(120)));
        assert_eq!(
            t.voice_to_voice_all(),
            vec![Some(Duration::from_millis(1200)), None]
        );
        assert_eq!(
            t.barge_ins(),
            vec![BargeIn {
                line: 1,
                latency: Duration::from_millis(300)
            }]
        );
    }

    #[test]
    fn the_mix_places_each_side_at_its_time() {
        let mut t = trace(Vec::new());
        t.caller_start_sample = 2;
        t.caller_audio = vec![sicha_audio::mulaw::encode(1000); 2];
        t.agent_audio = vec![PlayedSegment {
            start_sample: 3,
            codes: vec![sicha_audio::mulaw::encode(-500); 3],
        }];
        let mix = t.mixed_pcm();
        assert_eq!(mix.len(), 6);
        assert_eq!(mix[0], 0);
        assert!((mix[2] - 1000).abs() < 40, "{mix:?}");
        assert!((mix[3] - 500).abs() < 40, "overlap sums: {mix:?}");
        assert!((mix[5] + 500).abs() < 40, "{mix:?}");
    }
}
