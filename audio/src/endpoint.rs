//! Utterance endpointing: quiet → starting → speaking → stopping, over the
//! frame classifier in [`crate::vad`].
//!
//! Time is counted in samples consumed, never read from a clock, so a test, a
//! simulation and a live call behave the same. Input may arrive in chunks of
//! any size; it is re-framed through a fixed buffer, so chunking never changes
//! the events. On a line with other talkers, speech the classifier is not
//! confident is the caller's keeps the turn open only `weak_speech_ms` past
//! the caller's last confident speech, so a background conversation cannot
//! hold the turn open. Audio from before the start is kept in a preallocated ring
//! (pre-roll); the only allocation is one buffer per utterance, sized up front
//! for the longest utterance allowed.
//!
//! Each utterance carries [`SpeechEvidence`], gathered while its frames go by:
//! how much of it the classifier was confident is the caller's speech, and how
//! far the loudest of that speech stood above the line's noise floor. A
//! transcript judge weighs it against what speech-to-text made of the audio.

use crate::vad::{FrameDecision, Vad, VadConfig};

/// Settings of the endpointer. Durations are in milliseconds and converted to samples once.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointConfig {
    /// Input sample rate in Hz; overrides `vad.sample_rate`.
    pub sample_rate: u32,
    /// Speech needed to open an utterance (and to emit `SpeechStarted`).
    pub start_ms: u32,
    /// Silence needed to close an utterance.
    pub hangover_ms: u32,
    /// Audio kept from before the detected start.
    pub preroll_ms: u32,
    /// Utterances with less speech than this are discarded (clicks, coughs).
    pub min_utterance_ms: u32,
    /// Utterances are cut here even if the caller keeps talking.
    pub max_utterance_ms: u32,
    /// Silence after which a `Tentative` utterance is offered early; below `hangover_ms`.
    pub eager_ms: Option<u32>,
    /// Speech the classifier is not confident is the caller's (quiet, on a line with other
    /// talkers) counts only this long after confident speech: enough for the fading end of a
    /// word, too short for a background conversation to hold the turn open for ever.
    pub weak_speech_ms: u32,
    /// The frame classifier. Its own hangover is not used: `hangover_ms` replaces it.
    pub vad: VadConfig,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            sample_rate: 8000,
            start_ms: 120,
            hangover_ms: 600,
            preroll_ms: 300,
            min_utterance_ms: 250,
            max_utterance_ms: 15_000,
            eager_ms: None,
            weak_speech_ms: 400,
            vad: VadConfig::default(),
        }
    }
}

/// One caller utterance, ready for speech-to-text.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    /// Pre-roll + speech + the silence heard before the decision.
    pub pcm: Vec<i16>,
    /// Stream position of `pcm[0]` (before `start_sample` by the pre-roll kept).
    pub pcm_start_sample: u64,
    /// Where the speech began.
    pub start_sample: u64,
    /// Where the speech ended (not the end of the hangover).
    pub end_sample: u64,
    /// Cut at `max_utterance_ms` rather than ended by silence.
    pub forced: bool,
    /// How surely this was the caller speaking, from the classifier's frames.
    pub evidence: SpeechEvidence,
}

/// What the classifier saw of one utterance, from its first speech frame to its decision.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpeechEvidence {
    /// Samples in frames the classifier was confident were the caller's speech (not quiet
    /// speech on a line with other talkers, not the silence after it).
    pub confident_samples: u64,
    /// How far the loudest 100 ms of that speech stood above the line's noise floor, in dB:
    /// the highest mean of the classifier's score (its best band against that band's floor)
    /// over [`LOUDEST_WINDOW_FRAMES`] frames in a row, other frames counting 0. A vowel peak
    /// rather than the mean, which a caller's quiet word ends pull down to the level of a
    /// breath; a window rather than one frame, so a click is no peak.
    pub level_over_floor_db: f32,
}

/// Frames in the window of [`SpeechEvidence::level_over_floor_db`]: 100 ms of 20 ms frames.
pub const LOUDEST_WINDOW_FRAMES: usize = 5;

impl SpeechEvidence {
    /// `confident_samples` as milliseconds at `sample_rate` Hz (saturating).
    pub fn confident_ms(&self, sample_rate: u32) -> u32 {
        let ms = self.confident_samples * 1000 / u64::from(sample_rate.max(1));
        u32::try_from(ms).unwrap_or(u32::MAX)
    }
}

/// Running state behind [`SpeechEvidence`]: a count, the latest scores and the loudest window
/// so far, a handful of adds per frame.
#[derive(Debug, Clone, Copy, Default)]
struct EvidenceSums {
    confident_frames: u32,
    /// Scores of the latest frames (0 for frames that are not confident speech), by frame % len.
    recent: [f32; LOUDEST_WINDOW_FRAMES],
    frames: u32,
    loudest: f32,
}

impl EvidenceSums {
    fn add(&mut self, decision: &FrameDecision) {
        let score = if decision.confident {
            self.confident_frames += 1;
            decision.score.max(0.0)
        } else {
            0.0
        };
        self.recent[self.frames as usize % LOUDEST_WINDOW_FRAMES] = score;
        self.frames = self.frames.wrapping_add(1);
        let window: f32 = self.recent.iter().sum::<f32>() / LOUDEST_WINDOW_FRAMES as f32;
        self.loudest = self.loudest.max(window);
    }

    fn summary(&self, frame_len: usize) -> SpeechEvidence {
        SpeechEvidence {
            confident_samples: u64::from(self.confident_frames) * frame_len as u64,
            level_over_floor_db: self.loudest,
        }
    }
}

/// What the endpointer reports, in stream order.
#[derive(Debug, Clone, PartialEq)]
pub enum EndpointEvent {
    /// `start_ms` of speech confirmed; the speech began at `start_sample`.
    SpeechStarted { start_sample: u64 },
    /// Silence reached `eager_ms`: the utterance as it stands, for early transcription.
    Tentative(Utterance),
    /// Speech came back after a `Tentative`, before the hangover ended: discard that guess.
    Resumed { at_sample: u64 },
    /// A finished utterance.
    Utterance(Utterance),
    /// Speech that was confirmed but ended shorter than `min_utterance_ms`.
    Discarded { start_sample: u64, end_sample: u64 },
}

/// Durations of the config, in samples.
#[derive(Debug, Clone, Copy)]
struct Limits {
    frame: usize,
    start: u64,
    /// How long a start may take to gather `start` samples of speech.
    start_window: u64,
    hangover: u64,
    preroll: u64,
    min_utterance: u64,
    max_utterance: u64,
    eager: Option<u64>,
    weak_speech: u64,
}

impl Limits {
    fn new(config: &EndpointConfig, frame: usize) -> Self {
        let samples = |ms: u32| u64::from(ms) * u64::from(config.sample_rate) / 1000;
        let start = samples(config.start_ms).max(1);
        Self {
            frame,
            start,
            start_window: 2 * start + frame as u64,
            hangover: samples(config.hangover_ms),
            preroll: samples(config.preroll_ms),
            min_utterance: samples(config.min_utterance_ms),
            max_utterance: samples(config.max_utterance_ms).max(start),
            eager: config
                .eager_ms
                .map(samples)
                .filter(|&eager| eager < samples(config.hangover_ms)),
            weak_speech: samples(config.weak_speech_ms),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Quiet,
    /// Speech began at `start`; `voiced` samples of speech seen so far.
    Starting {
        start: u64,
        voiced: u64,
    },
    /// Inside an utterance; speech last ended at `speech_end`, silence since then.
    Speaking {
        start: u64,
        speech_end: u64,
        tentative_sent: bool,
    },
}

/// Turns a stream of PCM into utterance events. Create one per call.
#[derive(Debug)]
pub struct Endpointer {
    vad: Vad,
    limits: Limits,
    state: State,
    /// Partial classifier frame carried between pushes.
    pending: Box<[i16]>,
    pending_len: usize,
    /// Samples of completed frames (the start of the next frame).
    framed: u64,
    /// The most recent audio: pre-roll plus the start window, indexed by position % len.
    ring: Box<[i16]>,
    /// Earliest position whose audio the ring may hand out as pre-roll.
    ring_valid_from: u64,
    /// The open utterance's audio, allocated when speech is confirmed.
    current: Vec<i16>,
    current_pcm_start: u64,
    /// End of the last frame the classifier was confident is the caller's speech.
    confident_end: u64,
    /// Evidence of the utterance being gathered, from the frame that left `Quiet`.
    evidence: EvidenceSums,
}

impl Endpointer {
    pub fn new(config: EndpointConfig) -> Self {
        let vad_config = VadConfig {
            sample_rate: config.sample_rate,
            hangover_frames: 0,
            ..config.vad.clone()
        };
        let frame = vad_config.frame_len().max(1);
        let limits = Limits::new(&config, frame);
        let ring_len = (limits.preroll + limits.start_window) as usize + frame;
        Self {
            vad: Vad::new(vad_config),
            limits,
            state: State::Quiet,
            pending: vec![0; frame].into_boxed_slice(),
            pending_len: 0,
            framed: 0,
            ring: vec![0; ring_len].into_boxed_slice(),
            ring_valid_from: 0,
            current: Vec::new(),
            current_pcm_start: 0,
            confident_end: 0,
            evidence: EvidenceSums::default(),
        }
    }

    /// Samples consumed since creation or the last reset.
    pub fn position(&self) -> u64 {
        self.framed + self.pending_len as u64
    }

    /// The open utterance's audio so far (pre-roll, speech and the silence since), while one is
    /// open: what a streaming recogniser is sent as the caller speaks.
    pub fn open_audio(&self) -> Option<&[i16]> {
        matches!(self.state, State::Speaking { .. }).then_some(self.current.as_slice())
    }

    /// Back to a fresh stream at position 0; an open utterance is dropped without an event.
    pub fn reset(&mut self) {
        self.vad.reset();
        self.state = State::Quiet;
        self.pending_len = 0;
        self.framed = 0;
        self.ring_valid_from = 0;
        self.current = Vec::new();
        self.confident_end = 0;
        self.evidence = EvidenceSums::default();
    }

    /// Consumes `pcm` (any length) and reports events as frames complete.
    pub fn push(&mut self, mut pcm: &[i16], mut on_event: impl FnMut(EndpointEvent)) {
        while !pcm.is_empty() {
            let take = (self.limits.frame - self.pending_len).min(pcm.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&pcm[..take]);
            self.pending_len += take;
            pcm = &pcm[take..];
            if self.pending_len == self.limits.frame {
                self.pending_len = 0;
                self.process_frame(&mut on_event);
            }
        }
    }

    fn process_frame(&mut self, on_event: &mut impl FnMut(EndpointEvent)) {
        let frame_start = self.framed;
        let frame_len = self.limits.frame as u64;
        let frame_end = frame_start + frame_len;
        let decision = self.vad.classify(&self.pending);
        if decision.confident {
            self.confident_end = frame_end;
        }
        let is_speech = decision.confident
            || (decision.is_speech && frame_end - self.confident_end <= self.limits.weak_speech);
        // Outside an utterance each frame may be the first of one: evidence starts afresh.
        if self.state == State::Quiet {
            self.evidence = EvidenceSums::default();
        }
        self.evidence.add(&decision);
        self.write_ring(frame_start);
        self.framed = frame_end;
        if matches!(self.state, State::Speaking { .. }) {
            self.current.extend_from_slice(&self.pending);
        }
        self.state = match self.state {
            State::Quiet if is_speech => self.starting(frame_start, frame_len, on_event),
            State::Quiet => State::Quiet,
            State::Starting { start, voiced } => {
                if is_speech {
                    self.starting(start, voiced + frame_len, on_event)
                } else if frame_end - start > self.limits.start_window {
                    State::Quiet
                } else {
                    State::Starting { start, voiced }
                }
            }
            State::Speaking {
                start,
                speech_end,
                tentative_sent,
            } => {
                let speech_end = if is_speech { frame_end } else { speech_end };
                if is_speech && tentative_sent {
                    on_event(EndpointEvent::Resumed {
                        at_sample: frame_start,
                    });
                }
                let tentative_sent = tentative_sent && !is_speech;
                self.speaking(start, speech_end, tentative_sent, on_event)
            }
        };
    }

    /// Counts speech towards `start_ms`; once reached, opens the utterance.
    fn starting(
        &mut self,
        start: u64,
        voiced: u64,
        on_event: &mut impl FnMut(EndpointEvent),
    ) -> State {
        if voiced < self.limits.start {
            return State::Starting { start, voiced };
        }
        on_event(EndpointEvent::SpeechStarted {
            start_sample: start,
        });
        self.open_utterance(start);
        // The frame that confirmed the start is speech, so speech ends with it for now.
        self.speaking(start, self.framed, false, on_event)
    }

    /// Decides what silence since `speech_end` means: nothing yet, a tentative, or the end.
    fn speaking(
        &mut self,
        start: u64,
        speech_end: u64,
        mut tentative_sent: bool,
        on_event: &mut impl FnMut(EndpointEvent),
    ) -> State {
        let silence = self.framed - speech_end;
        let long_enough = speech_end - start >= self.limits.min_utterance;
        if self.framed - start >= self.limits.max_utterance {
            on_event(EndpointEvent::Utterance(
                self.close_utterance(start, speech_end, true),
            ));
            // The next utterance must not repeat this one's audio as pre-roll.
            self.ring_valid_from = self.framed;
            return State::Quiet;
        }
        if silence >= self.limits.hangover {
            if long_enough {
                on_event(EndpointEvent::Utterance(
                    self.close_utterance(start, speech_end, false),
                ));
            } else {
                self.current = Vec::new();
                on_event(EndpointEvent::Discarded {
                    start_sample: start,
                    end_sample: speech_end,
                });
            }
            return State::Quiet;
        }
        if let Some(eager) = self.limits.eager
            && !tentative_sent
            && long_enough
            && silence >= eager
        {
            let guess = Utterance {
                pcm: self.current.clone(),
                pcm_start_sample: self.current_pcm_start,
                start_sample: start,
                end_sample: speech_end,
                forced: false,
                evidence: self.evidence.summary(self.limits.frame),
            };
            on_event(EndpointEvent::Tentative(guess));
            tentative_sent = true;
        }
        State::Speaking {
            start,
            speech_end,
            tentative_sent,
        }
    }

    /// Allocates the utterance buffer and fills it with pre-roll and the speech so far.
    fn open_utterance(&mut self, start: u64) {
        let pcm_start = start
            .saturating_sub(self.limits.preroll)
            .max(self.ring_valid_from);
        let capacity = (self.framed - pcm_start) + self.limits.max_utterance + self.limits.hangover;
        let mut pcm = Vec::with_capacity(capacity as usize + self.limits.frame);
        let ring_len = self.ring.len() as u64;
        let from = (pcm_start % ring_len) as usize;
        let to = (self.framed % ring_len) as usize;
        if from < to {
            pcm.extend_from_slice(&self.ring[from..to]);
        } else {
            pcm.extend_from_slice(&self.ring[from..]);
            pcm.extend_from_slice(&self.ring[..to]);
        }
        self.current = pcm;
        self.current_pcm_start = pcm_start;
    }

    fn close_utterance(&mut self, start: u64, speech_end: u64, forced: bool) -> Utterance {
        Utterance {
            pcm: std::mem::take(&mut self.current),
            pcm_start_sample: self.current_pcm_start,
            start_sample: start,
            end_sample: speech_end,
            forced,
            evidence: self.evidence.summary(self.limits.frame),
        }
    }

    fn write_ring(&mut self, frame_start: u64) {
        let at = (frame_start % self.ring.len() as u64) as usize;
        let first = (self.ring.len() - at).min(self.pending.len());
        self.ring[at..at + first].copy_from_slice(&self.pending[..first]);
        let rest = self.pending.len() - first;
        self.ring[..rest].copy_from_slice(&self.pending[first..]);
    }
}
