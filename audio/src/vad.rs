//! Frame classifier: speech or not, for one 20 ms frame at a time.
//!
//! Method (chosen on the fixture evaluation, `examples/vad_eval.rs`): the
//! frame is split into three telephone sub-bands by biquad band-passes; each
//! band's log energy is compared with that band's own noise floor, which falls
//! fast, follows the line outside speech and rises only slowly during speech,
//! so it settles on hum, hiss or comfort noise within a second. The score is
//! the largest per-band excess over its floor (in dB): speech concentrates
//! energy in some band, white noise spreads it, and hum in one band does not
//! hide speech in another. A frame quieter than the caller's speech peak by
//! more than `speech_gate_db` is not speech (background talkers)
//! unless it stands far above a quiet floor (the fading end of a word on a
//! clean line); nothing more than `quiet_limit_db` below the peak is.
//! Hysteresis (`on_db` to enter, `off_db` to stay), a short hangover and a
//! lower threshold to resume just after speech ended (a weak word end after a
//! stop closure) bridge the gaps inside words.
//!
//! Other talkers (babble, a television) are the hard case: their level swings
//! over the floor as speech does. Two things keep them out. First, the
//! classifier spends its first `learn_frames` learning the line (the caller
//! is not talking yet when a call connects) and measures its *swing*: how far
//! the background alone rises above its floor (under 2 dB for hiss, 15–25 dB
//! for babble). Until the caller has been heard, a start must beat that swing
//! as well (`swing_weight`, at most `swing_cap_db` more than `on_db`, so a
//! caller can never be locked out). Second, on a swinging line only frames
//! within `hangover_arm_db` of the caller's peak arm the hangover, so a
//! background burst ends as soon as it stops instead of 120 ms later.
//!
//! Both measures last the whole call. The caller's peak adapts (sinks) only
//! during their own turn, up to `caller_turn_frames` after their last
//! confident speech, and is held while they listen: a voice on its own
//! handset does not fade in a pause. And the swing keeps following every
//! frame that is not the caller's, background bursts included, so a talker
//! between turns keeps the line "swinging" instead of leaving only its quiet
//! gaps to the estimate. The state is a few floats per band; `classify` never
//! allocates.

mod biquad;
mod config;

use biquad::Biquad;
pub use config::VadConfig;

/// Number of analysis sub-bands.
const BANDS: usize = 3;
/// Band edges in Hz: [low, high) per band, inside the 300–3400 Hz telephone band.
const BAND_EDGES_HZ: [(f32, f32); BANDS] = [(250.0, 800.0), (800.0, 1800.0), (1800.0, 3400.0)];
/// Log energy given to an all-zero band, so digital silence has a finite floor.
const ENERGY_FLOOR_DB: f32 = -100.0;
/// Most frames `peak_sustain_frames` may ask for (the length of the fixed level history).
const MAX_SUSTAIN_FRAMES: usize = 8;

/// The classifier's verdict on one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameDecision {
    /// Speech after hysteresis and hangover.
    pub is_speech: bool,
    /// dB above the noise floor in the band that stands out most; larger is more speech-like.
    pub score: f32,
    /// Frame level in dBFS (sum of the bands).
    pub level_db: f32,
    /// Speech that is surely the caller: near the caller's peak, or on a steady line. On a line
    /// with background talkers, quieter "speech" may be them, so it should not hold a turn open.
    pub confident: bool,
}

/// Adaptive-floor sub-band speech classifier. `Send`, allocation-free per frame.
#[derive(Debug, Clone)]
pub struct Vad {
    config: VadConfig,
    filters: [Biquad; BANDS],
    /// Per-band noise floor in dB; `None` until the first frame sets it.
    floors: Option<[f32; BANDS]>,
    /// Rise limit per frame in dB, from the config.
    floor_rise_per_frame: f32,
    in_speech: bool,
    /// Loudest frame level (dB) of the caller's speech, adapted within their turns; `None`
    /// before the first.
    speech_peak: Option<f32>,
    /// Peak decay per frame in dB, from the config.
    peak_decay_per_frame: f32,
    hangover_left: u32,
    /// Frames left in which speech may resume at `resume_db`.
    resume_left: u32,
    /// Frames classified since creation or reset (saturating).
    frames_seen: u32,
    /// How far the background alone rises above its floor, in dB (see the module notes).
    swing: f32,
    /// Frames since the last confident speech (saturating); `u32::MAX` before any.
    since_confident: u32,
    /// Levels (dB) of the latest onset-strength speech frames, a ring of `sustain` entries.
    recent_levels: [f32; MAX_SUSTAIN_FRAMES],
    /// Consecutive onset-strength speech frames up to this one (saturating).
    strong_run: u32,
    /// `peak_sustain_frames`, clamped to the history's length.
    sustain: usize,
}

impl Vad {
    pub fn new(config: VadConfig) -> Self {
        let rate = config.sample_rate as f32;
        let filters = BAND_EDGES_HZ.map(|(low, high)| Biquad::band_pass(rate, low, high));
        let frame_s = config.frame_ms as f32 / 1000.0;
        let floor_rise_per_frame = config.floor_rise_db_per_s * frame_s;
        let peak_decay_per_frame = config.speech_peak_decay_db_per_s * frame_s;
        let sustain = (config.peak_sustain_frames as usize).clamp(1, MAX_SUSTAIN_FRAMES);
        Self {
            config,
            filters,
            floors: None,
            floor_rise_per_frame,
            in_speech: false,
            hangover_left: 0,
            resume_left: 0,
            frames_seen: 0,
            swing: 0.0,
            since_confident: u32::MAX,
            speech_peak: None,
            peak_decay_per_frame,
            recent_levels: [ENERGY_FLOOR_DB; MAX_SUSTAIN_FRAMES],
            strong_run: 0,
            sustain,
        }
    }

    pub fn config(&self) -> &VadConfig {
        &self.config
    }

    /// Classifies one frame (normally `config.frame_len()` samples; any length works).
    pub fn classify(&mut self, frame: &[i16]) -> FrameDecision {
        let levels = self.band_levels(frame);
        let floors = self.floors.get_or_insert(levels);
        // The best band decides: hum or hiss in one band must not hide speech in another.
        let mut score = 0.0f32;
        for (level, floor) in levels.iter().zip(floors.iter()) {
            if *level >= self.config.min_level_dbfs {
                score = score.max(level - floor);
            }
        }
        let total = total_level(&levels);
        let gated = self.speech_peak.is_some_and(|peak| {
            total < peak - self.config.quiet_limit_db
                || (total < peak - self.config.speech_gate_db && score < self.config.gate_bypass_db)
        });
        if gated {
            score = 0.0;
        }
        let learning = self.frames_seen < self.config.learn_frames;
        self.frames_seen = self.frames_seen.saturating_add(1);
        // Before the caller is heard, a start must also beat the background's own swing.
        let onset_extra = if self.speech_peak.is_none() {
            (self.config.swing_weight * (self.swing - self.config.swing_allow_db).max(0.0))
                .min(self.config.swing_cap_db)
        } else {
            0.0
        };
        // Strong enough to start speech on its own, over the background's swing.
        let strong = score >= self.config.on_db + onset_extra;
        // Near the caller's peak (or on a steady line) speech earns a hangover; quieter
        // frames on a swinging line are as likely a background burst. Before the peak is set,
        // only strong frames do: after a knock that set no peak, the background would
        // otherwise carry on as the caller's speech.
        let arms_hangover = self.swing <= self.config.steady_swing_db
            || self
                .speech_peak
                .map_or(strong, |peak| total >= peak - self.config.hangover_arm_db);
        let is_speech = !learning && self.decide(score, onset_extra, arms_hangover);
        let confident = is_speech && arms_hangover;
        self.since_confident = if confident {
            0
        } else {
            self.since_confident.saturating_add(1)
        };
        let in_caller_turn = self.since_confident <= self.config.caller_turn_frames;
        let strong = is_speech && strong;
        if !strong {
            self.strong_run = 0;
        }
        // Speech outside the caller's turn is the background's: it belongs in the swing, or a
        // talker between turns would leave only its quiet gaps there and the line would pass
        // for steady.
        self.update_swing(score, learning, is_speech && in_caller_turn);
        if strong {
            // Only a level held for `sustain` frames in a row reaches the peak: a knock as the
            // phone is picked up would otherwise leave a caller tens of dB below it for the
            // whole call, as the peak is held between turns.
            self.recent_levels[self.strong_run as usize % self.sustain] = total;
            self.strong_run = self.strong_run.saturating_add(1);
            if self.strong_run as usize >= self.sustain {
                let recent = &self.recent_levels[..self.sustain];
                let lowest = recent.iter().copied().fold(f32::INFINITY, f32::min);
                let highest = recent.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let held = highest.min(lowest + self.config.peak_spike_db);
                let peak = self.speech_peak.get_or_insert(held);
                *peak = peak.max(held);
            }
        } else if let Some(peak) = self.speech_peak.as_mut()
            && in_caller_turn
        {
            // The peak sinks in the caller's pauses and quieter sounds, so it follows a caller
            // who grows quieter; between turns it is held, so a background talker never nears
            // it while the caller listens.
            *peak -= self.peak_decay_per_frame;
        }
        self.update_floors(&levels, is_speech);
        FrameDecision {
            is_speech,
            score,
            level_db: total,
            confident,
        }
    }

    /// Forgets the line: floors, filter state, hysteresis and hangover.
    pub fn reset(&mut self) {
        self.filters.iter_mut().for_each(Biquad::clear);
        self.floors = None;
        self.in_speech = false;
        self.hangover_left = 0;
        self.resume_left = 0;
        self.frames_seen = 0;
        self.swing = 0.0;
        self.since_confident = u32::MAX;
        self.speech_peak = None;
        self.strong_run = 0;
    }

    /// Mean-square energy of each band in dBFS.
    fn band_levels(&mut self, frame: &[i16]) -> [f32; BANDS] {
        // Each band's filter and sum live in locals for the whole frame, three independent
        // recursions the processor overlaps. Written as a loop over the bank in place, some builds
        // (whole-program optimisation) stored and reloaded the state on every sample, which made
        // the classifier over twice as slow.
        let [mut low, mut mid, mut high] = self.filters;
        let (mut low_sum, mut mid_sum, mut high_sum) = (0.0f32, 0.0f32, 0.0f32);
        for &sample in frame {
            let x = sample as f32 * (1.0 / 32768.0);
            let (y_low, y_mid, y_high) = (low.process(x), mid.process(x), high.process(x));
            low_sum += y_low * y_low;
            mid_sum += y_mid * y_mid;
            high_sum += y_high * y_high;
        }
        let mut filters = [low, mid, high];
        filters.iter_mut().for_each(Biquad::flush_tiny_state);
        self.filters = filters;
        let sums = [low_sum, mid_sum, high_sum];
        let count = frame.len().max(1) as f32;
        sums.map(|sum| {
            let mean = sum / count;
            if mean > 0.0 {
                (10.0 * mean.log10()).max(ENERGY_FLOOR_DB)
            } else {
                ENERGY_FLOOR_DB
            }
        })
    }

    /// Fast fall; outside speech a quicker follow, inside speech only a slow rise.
    fn update_floors(&mut self, levels: &[f32; BANDS], is_speech: bool) {
        let Some(floors) = self.floors.as_mut() else {
            return;
        };
        for (floor, &level) in floors.iter_mut().zip(levels) {
            if level < *floor {
                *floor += self.config.floor_fall * (level - *floor);
            } else if !is_speech {
                *floor += self.config.floor_follow * (level - *floor);
            } else {
                *floor += (level - *floor).min(self.floor_rise_per_frame);
            }
        }
    }

    /// While learning, the swing is the largest score seen; afterwards it follows the
    /// scores of every frame that is not the caller's, rising and sinking slowly.
    fn update_swing(&mut self, score: f32, learning: bool, is_caller: bool) {
        let frame_s = self.config.frame_ms as f32 / 1000.0;
        if learning {
            self.swing = self.swing.max(score);
        } else if !is_caller {
            if score > self.swing {
                self.swing += (score - self.swing).min(self.config.swing_rise_db_per_s * frame_s);
            } else {
                self.swing = (self.swing - self.config.swing_decay_db_per_s * frame_s).max(score);
            }
        }
    }

    fn decide(&mut self, score: f32, onset_extra: f32, arms_hangover: bool) -> bool {
        let threshold = if self.in_speech {
            self.config.off_db
        } else if self.resume_left > 0 {
            self.config.resume_db
        } else {
            self.config.on_db + onset_extra
        };
        if score >= threshold {
            self.in_speech = true;
            if arms_hangover {
                self.hangover_left = self.config.hangover_frames;
            }
        } else if self.hangover_left > 0 {
            self.hangover_left -= 1;
        } else {
            self.resume_left = if self.in_speech {
                self.config.resume_frames
            } else {
                self.resume_left.saturating_sub(1)
            };
            self.in_speech = false;
        }
        self.in_speech
    }
}

/// Level of the whole frame in dB from the band levels.
fn total_level(levels: &[f32; BANDS]) -> f32 {
    let power: f32 = levels.iter().map(|db| 10f32.powf(db / 10.0)).sum();
    10.0 * power.max(1e-10).log10()
}

#[cfg(test)]
mod tests;
