//! The classifier's settings and their measured defaults.

/// Settings of the frame classifier.
#[derive(Debug, Clone, PartialEq)]
pub struct VadConfig {
    /// Input sample rate in Hz (Twilio: 8000).
    pub sample_rate: u32,
    /// Frame length in milliseconds; `classify` expects exactly this many samples' worth.
    pub frame_ms: u32,
    /// Score (dB above the noise floor) at which a frame starts counting as speech.
    pub on_db: f32,
    /// Score below which speech ends (lower than `on_db`: hysteresis).
    pub off_db: f32,
    /// Frames that stay speech after the score falls below `off_db`.
    pub hangover_frames: u32,
    /// How fast a noise floor may rise, in dB per second (slow, so speech does not raise it).
    pub floor_rise_db_per_s: f32,
    /// Fraction of the distance a floor moves down per frame when energy is below it (fast).
    pub floor_fall: f32,
    /// Fraction of the distance a floor moves up per frame on frames judged not speech.
    pub floor_follow: f32,
    /// Absolute band level, in dBFS, below which a band never counts as speech.
    pub min_level_dbfs: f32,
    /// Frames quieter than the caller's recent speech peak by more than this are not speech
    /// (background talkers, television): the caller is the loudest voice on the line.
    pub speech_gate_db: f32,
    /// ... unless their score reaches this: so far above the floor, only a quiet line has
    /// such sound, and it is the fading end of the caller's word.
    pub gate_bypass_db: f32,
    /// Frames quieter than the speech peak by more than this are never speech.
    pub quiet_limit_db: f32,
    /// Frames after speech ends during which `resume_db`, not `on_db`, brings it back.
    pub resume_frames: u32,
    /// Score that resumes speech shortly after it ended (a weak word end after a stop).
    pub resume_db: f32,
    /// Frames at the start (and after `reset`) that only learn the line; never speech.
    pub learn_frames: u32,
    /// Background swing (score the line reaches without the caller) that needs nothing extra.
    pub swing_allow_db: f32,
    /// Until the caller is heard, `on_db` rises by this per dB of swing over `swing_allow_db`...
    pub swing_weight: f32,
    /// ... by at most this much.
    pub swing_cap_db: f32,
    /// How fast the swing estimate may rise outside speech after learning, in dB per second.
    pub swing_rise_db_per_s: f32,
    /// How fast it sinks when the background calms down, in dB per second.
    pub swing_decay_db_per_s: f32,
    /// On a swinging line, only frames within this of the speech peak arm the hangover.
    pub hangover_arm_db: f32,
    /// A line whose swing is at most this is steady: every speech frame arms the hangover.
    pub steady_swing_db: f32,
    /// How fast the remembered speech peak adapts down, in dB per second, during the caller's
    /// turn only (see `caller_turn_frames`): a caller's level on their own handset does not
    /// fade while they listen, so between turns the peak is held.
    pub speech_peak_decay_db_per_s: f32,
    /// Frames after the caller's last confident speech that still belong to their turn (word
    /// ends, pauses between words). Outside the turn the peak is held, and speech the
    /// classifier is not confident is the caller's counts as background for the swing.
    pub caller_turn_frames: u32,
    /// The peak learns only from runs of at least this many consecutive frames of
    /// onset-strength speech (1 to 8): a knock, a click or a bang into the mouthpiece lasts a
    /// frame or three, a syllable 100 ms and more.
    pub peak_sustain_frames: u32,
    /// ... and within such a run, no higher than this above the run's quietest frame of the
    /// last `peak_sustain_frames`: a level the caller held, not a spike on top of it.
    pub peak_spike_db: f32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            sample_rate: 8000,
            frame_ms: 20,
            on_db: 6.0,
            off_db: 3.0,
            hangover_frames: 6,
            floor_rise_db_per_s: 3.0,
            floor_fall: 0.3,
            floor_follow: 0.05,
            min_level_dbfs: -60.0,
            speech_gate_db: 30.0,
            gate_bypass_db: 25.0,
            quiet_limit_db: 44.0,
            resume_frames: 10,
            resume_db: 3.0,
            learn_frames: 20,
            swing_allow_db: 3.0,
            swing_weight: 2.0,
            swing_cap_db: 15.0,
            swing_rise_db_per_s: 10.0,
            swing_decay_db_per_s: 2.0,
            hangover_arm_db: 20.0,
            steady_swing_db: 3.0,
            speech_peak_decay_db_per_s: 1.0,
            caller_turn_frames: 50,
            peak_sustain_frames: 5,
            peak_spike_db: 8.0,
        }
    }
}

impl VadConfig {
    /// Samples per classifier frame at this sample rate.
    pub fn frame_len(&self) -> usize {
        (self.sample_rate as usize * self.frame_ms as usize) / 1000
    }
}
