//! How an utterance ends, by its sound: whether the pitch of its last voiced stretch falls, stays
//! level or rises, and whether its loudness fades. A falling pitch on fading energy is how a
//! statement ends; a level or rising one is how a talker holds the floor before going on (or asks).
//!
//! Pure DSP, no model: hops of `hop_ms` aligned to the stream, each loud enough to be speech given
//! a YIN pitch estimate ([`pitch`]) over the `window_ms` ending there, at the input rate (the
//! upper harmonics of a telephone voice keep the estimate off a formant's harmonic). Robust slopes
//! ([`slope`]) are fitted to the voiced hops of the last `pitch_window_ms` before the last voiced
//! hop, in semitones and dB per second.
//!
//! Like the endpointer it is fed any chunk sizes and counts time in samples; chunking never changes
//! the result. Feeding it costs a copy into a ring and a sum of squares per hop for its level; the
//! pitch analysis runs only when the ending is asked for, over the hops it needs. The ring and the
//! analysis buffers are allocated in [`ProsodyTracker::new`]; asking allocates the short track.

mod pitch;
mod slope;

use pitch::PitchEstimator;
use slope::{Point, octave_corrected, theil_sen};

/// Settings of the tracker. Durations in milliseconds are converted to samples once.
#[derive(Debug, Clone, PartialEq)]
pub struct ProsodyConfig {
    /// Input sample rate in Hz.
    pub sample_rate: u32,
    /// Lowest and highest F0 searched, in Hz: a deep male voice to a child's.
    pub min_f0_hz: f32,
    pub max_f0_hz: f32,
    /// Step between analyses.
    pub hop_ms: u32,
    /// Audio compared with itself at each lag; a little over the period of `min_f0_hz` plus one.
    pub window_ms: u32,
    /// YIN's threshold: a hop is voiced when its normalised difference at the period dips below
    /// this (0 is a perfect repeat, about 1 is noise).
    pub max_aperiodicity: f32,
    /// Hops quieter than the loudest hop so far by more than this are not analysed (breath,
    /// line noise between words).
    pub voiced_range_db: f32,
    /// Hops quieter than this (dBFS) are never analysed.
    pub voiced_floor_dbfs: f32,
    /// The stretch before the last voiced hop whose pitch trend is the verdict.
    pub pitch_window_ms: u32,
    /// The stretch before the last voiced hop whose loudness trend is reported.
    pub energy_window_ms: u32,
    /// PCM kept for the analysis: the pitch window plus the silence after it when the ending is
    /// asked for (a tentative cut comes a few hundred ms into the silence).
    pub history_ms: u32,
    /// Voiced audio needed inside `pitch_window_ms` for a verdict other than `Unknown`.
    pub min_voiced_ms: u32,
    /// Pitch slope (semitones per second) from which the ending is `Rising`.
    pub rise_st_per_s: f32,
    /// Pitch slope (negative) at or below which the ending is `Falling`.
    pub fall_st_per_s: f32,
    /// Energy slope (negative, dB per second) at or below which loudness counts as fading; a
    /// fading end needs only half of `fall_st_per_s` to count as `Falling`.
    pub fade_db_per_s: f32,
}

impl Default for ProsodyConfig {
    fn default() -> Self {
        Self {
            sample_rate: 8000,
            min_f0_hz: 60.0,
            max_f0_hz: 400.0,
            hop_ms: 10,
            window_ms: 30,
            max_aperiodicity: 0.4,
            voiced_range_db: 35.0,
            voiced_floor_dbfs: -60.0,
            pitch_window_ms: 300,
            energy_window_ms: 300,
            history_ms: 2000,
            min_voiced_ms: 80,
            rise_st_per_s: 4.0,
            fall_st_per_s: -4.0,
            fade_db_per_s: -20.0,
        }
    }
}

/// How the utterance's last voiced stretch moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Pitch falls (or falls a little while loudness fades): a statement's end.
    Falling,
    /// Pitch holds: a talker keeping the floor, or a flat ending.
    Level,
    /// Pitch rises: more is coming, or a question.
    Rising,
    /// Too little voiced audio to tell.
    Unknown,
}

/// The verdict with the numbers behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EndingReport {
    pub ending: Ending,
    /// Trend of pitch over the last `pitch_window_ms` of voiced hops, in semitones per second.
    pub pitch_slope_st_per_s: Option<f32>,
    /// Trend of loudness over the last `energy_window_ms` of voiced hops, in dB per second.
    pub energy_slope_db_per_s: Option<f32>,
    /// Pitch of the last voiced hop, in Hz.
    pub final_f0_hz: Option<f32>,
    /// Voiced audio inside the pitch window, in samples.
    pub voiced_samples: u64,
    /// Stream position at the end of the last voiced hop.
    pub last_voiced_sample: Option<u64>,
}

/// One voiced hop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoicedHop {
    /// Stream position at the end of the hop (the analysis window ends here).
    pub end_sample: u64,
    pub f0_hz: f32,
    /// Level of the analysis window in dB below full scale.
    pub level_dbfs: f32,
}

/// Durations of the config, in samples.
#[derive(Debug, Clone, Copy)]
struct Limits {
    hop: u64,
    pitch_window: u64,
    energy_window: u64,
    min_voiced: u64,
    history: usize,
}

impl Limits {
    fn new(config: &ProsodyConfig, span: usize) -> Self {
        let samples = |ms: u32| u64::from(ms) * u64::from(config.sample_rate) / 1000;
        let hop = samples(config.hop_ms).max(1);
        let longest = samples(config.pitch_window_ms).max(samples(config.energy_window_ms));
        Self {
            hop,
            pitch_window: samples(config.pitch_window_ms),
            energy_window: samples(config.energy_window_ms),
            min_voiced: samples(config.min_voiced_ms),
            // Room for the longer window and one analysis span behind it, at the least; whole
            // hops, so that no hop wraps around the ring.
            history: (samples(config.history_ms).max(longest + hop) + span as u64).div_ceil(hop)
                as usize
                * hop as usize,
        }
    }
}

/// Follows a caller's audio and tells, when asked, how the latest voiced stretch ends. One per
/// stream; `reset` between utterances (or not: only the latest stretch is judged), or judge a
/// whole utterance's PCM with [`ending_of`].
///
/// [`push`](Self::push) only keeps the latest `history_ms` of PCM and the level of the loudest hop
/// so far: a copy, and a sum of squares per hop. The pitch analysis runs in
/// [`ending`](Self::ending), over the hops it needs (the voiced stretch before the last voiced hop,
/// quiet hops skipped), once per pause rather than on every frame of every call.
#[derive(Debug, Clone)]
pub struct ProsodyTracker {
    config: ProsodyConfig,
    limits: Limits,
    estimator: PitchEstimator,
    /// The latest PCM, by stream position % len.
    history: Box<[i16]>,
    /// Samples consumed.
    position: u64,
    loudest_dbfs: f32,
    /// One analysis span as floats, reused by each hop analysed.
    span: Box<[f32]>,
}

impl ProsodyTracker {
    pub fn new(config: ProsodyConfig) -> Self {
        let rate = config.sample_rate as f32;
        let window = (rate * config.window_ms as f32 / 1000.0).round() as usize;
        let estimator = PitchEstimator::new(
            window.max(8),
            (rate / config.max_f0_hz).floor() as usize,
            (rate / config.min_f0_hz).ceil() as usize,
            config.max_aperiodicity,
        );
        let limits = Limits::new(&config, estimator.span());
        Self {
            history: vec![0; limits.history].into_boxed_slice(),
            span: vec![0.0; estimator.span()].into_boxed_slice(),
            estimator,
            config,
            limits,
            position: 0,
            loudest_dbfs: f32::NEG_INFINITY,
        }
    }

    /// Samples consumed since creation or the last reset.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Back to a fresh stream at position 0.
    pub fn reset(&mut self) {
        self.position = 0;
        self.loudest_dbfs = f32::NEG_INFINITY;
    }

    /// Consumes `pcm` (any length).
    pub fn push(&mut self, mut pcm: &[i16]) {
        let len = self.history.len();
        let hop = self.limits.hop as usize;
        while !pcm.is_empty() {
            // Runs up to the end of the hop being filled: hops are aligned to the stream and the
            // ring holds whole hops, so a run never wraps.
            let at = (self.position % len as u64) as usize;
            let take = pcm.len().min(hop - at % hop);
            let (run, rest) = pcm.split_at(take);
            self.history[at..at + take].copy_from_slice(run);
            self.position += take as u64;
            if (at + take).is_multiple_of(hop) {
                let hop_samples = &self.history[at + take - hop..at + take];
                let power = hop_samples
                    .iter()
                    .map(|&sample| (f32::from(sample) / 32768.0).powi(2))
                    .sum::<f32>();
                self.loudest_dbfs = self.loudest_dbfs.max(level_dbfs(power / hop as f32));
            }
            pcm = rest;
        }
    }

    /// How the audio so far ends: the trends of the voiced stretch before the last voiced hop
    /// still in the history.
    pub fn ending(&mut self) -> EndingReport {
        let voiced = self.latest_voiced_hops(true);
        self.report(&voiced)
    }

    /// Every voiced hop still in the history, oldest first: the pitch track, for inspection.
    pub fn voiced_hops(&mut self) -> Vec<VoicedHop> {
        self.latest_voiced_hops(false)
    }

    /// Voiced hops, oldest first, found walking back from the newest hop; with `enough`, the walk
    /// stops once it is past both windows before the last voiced hop.
    fn latest_voiced_hops(&mut self, enough: bool) -> Vec<VoicedHop> {
        let span = self.span.len() as u64;
        let oldest_held = self.position.saturating_sub(self.history.len() as u64);
        let reach = self.limits.pitch_window.max(self.limits.energy_window);
        let mut hops = Vec::new();
        let mut end = self.position - self.position % self.limits.hop;
        while end >= oldest_held + span && end >= span {
            if enough
                && hops
                    .first()
                    .is_some_and(|last: &VoicedHop| last.end_sample - end >= reach)
            {
                break;
            }
            if let Some(hop) = self.analyse_hop(end) {
                hops.push(hop);
            }
            end -= self.limits.hop;
        }
        hops.reverse();
        hops
    }

    /// The hop whose analysis window ends at stream position `end`, when it is loud enough to be
    /// speech and periodic.
    fn analyse_hop(&mut self, end: u64) -> Option<VoicedHop> {
        let len = self.history.len() as u64;
        let start = end - self.span.len() as u64;
        for (offset, value) in self.span.iter_mut().enumerate() {
            let at = ((start + offset as u64) % len) as usize;
            *value = f32::from(self.history[at]) / 32768.0;
        }
        let newest = &self.span[self.span.len() - self.estimator.window()..];
        let level = level_dbfs(newest.iter().map(|x| x * x).sum::<f32>() / newest.len() as f32);
        if level < self.config.voiced_floor_dbfs
            || level < self.loudest_dbfs - self.config.voiced_range_db
        {
            return None;
        }
        let period = self.estimator.estimate(&self.span)?;
        Some(VoicedHop {
            end_sample: end,
            f0_hz: self.config.sample_rate as f32 / period.lag,
            level_dbfs: level,
        })
    }

    fn report(&self, voiced: &[VoicedHop]) -> EndingReport {
        let Some(&last) = voiced.last() else {
            return EndingReport {
                ending: Ending::Unknown,
                pitch_slope_st_per_s: None,
                energy_slope_db_per_s: None,
                final_f0_hz: None,
                voiced_samples: 0,
                last_voiced_sample: None,
            };
        };
        let rate = self.config.sample_rate as f32;
        let points = |window: u64, value: fn(&VoicedHop) -> f32| -> Vec<Point> {
            voiced
                .iter()
                .filter(|hop| last.end_sample - hop.end_sample < window)
                .map(|hop| {
                    (
                        -((last.end_sample - hop.end_sample) as f32) / rate,
                        value(hop),
                    )
                })
                .collect()
        };
        let mut pitch = points(self.limits.pitch_window, |hop| semitones(hop.f0_hz));
        let energy = points(self.limits.energy_window, |hop| hop.level_dbfs);
        let voiced_samples = pitch.len() as u64 * self.limits.hop;
        octave_corrected(&mut pitch);
        let pitch_slope = theil_sen(&pitch);
        let energy_slope = theil_sen(&energy);
        let ending = if voiced_samples < self.limits.min_voiced {
            Ending::Unknown
        } else {
            classify(&self.config, pitch_slope, energy_slope)
        };
        EndingReport {
            ending,
            pitch_slope_st_per_s: pitch_slope,
            energy_slope_db_per_s: energy_slope,
            final_f0_hz: Some(last.f0_hz),
            voiced_samples,
            last_voiced_sample: Some(last.end_sample),
        }
    }
}

/// A mean square of samples scaled to ±1 as dB below full scale (a floor instead of −∞).
fn level_dbfs(power: f32) -> f32 {
    10.0 * power.max(1e-12).log10()
}

/// The ending of a whole utterance's PCM (for example a tentative utterance's audio).
pub fn ending_of(pcm: &[i16], config: ProsodyConfig) -> EndingReport {
    let config = ProsodyConfig {
        history_ms: config
            .history_ms
            .max(duration_ms(pcm.len(), config.sample_rate)),
        ..config
    };
    let mut tracker = ProsodyTracker::new(config);
    tracker.push(pcm);
    tracker.ending()
}

/// The verdict from the two trends: pitch decides; fading loudness tips a slight fall into a fall.
fn classify(config: &ProsodyConfig, pitch_slope: Option<f32>, energy_slope: Option<f32>) -> Ending {
    let Some(pitch) = pitch_slope else {
        return Ending::Unknown;
    };
    let fading = energy_slope.is_some_and(|energy| energy <= config.fade_db_per_s);
    if pitch >= config.rise_st_per_s {
        Ending::Rising
    } else if pitch <= config.fall_st_per_s || (fading && pitch <= config.fall_st_per_s / 2.0) {
        Ending::Falling
    } else {
        Ending::Level
    }
}

fn duration_ms(samples: usize, sample_rate: u32) -> u32 {
    u32::try_from(samples as u64 * 1000 / u64::from(sample_rate.max(1))).unwrap_or(u32::MAX)
}

/// Pitch on a musical scale (semitones above 100 Hz), where a rise of a given interval is the
/// same number for a low and a high voice.
fn semitones(f0_hz: f32) -> f32 {
    12.0 * (f0_hz / 100.0).log2()
}

#[cfg(test)]
mod tests;
