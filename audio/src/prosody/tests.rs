use super::*;

const RATE: f32 = 8000.0;

/// How the synthetic voice's pitch and loudness move over its last `glide_s` seconds.
#[derive(Debug, Clone, Copy)]
struct Voice {
    /// F0 over the steady part, Hz.
    f0_hz: f32,
    /// Change of F0 over the glide, in semitones (negative falls).
    glide_st: f32,
    /// Change of loudness over the glide, in dB (negative fades).
    fade_db: f32,
    /// Seconds of steady voice before the glide, and of the glide.
    steady_s: f32,
    glide_s: f32,
    /// White noise below the voice's RMS by this many dB; `None` for a clean line.
    snr_db: Option<f32>,
}

impl Voice {
    fn steady(f0_hz: f32) -> Self {
        Self {
            f0_hz,
            glide_st: 0.0,
            fade_db: 0.0,
            steady_s: 0.8,
            glide_s: 0.4,
            snr_db: None,
        }
    }

    fn glide(self, glide_st: f32, fade_db: f32) -> Self {
        Self {
            glide_st,
            fade_db,
            ..self
        }
    }

    fn noisy(self, snr_db: f32) -> Self {
        Self {
            snr_db: Some(snr_db),
            ..self
        }
    }

    /// A vowel-like harmonic tone as a phone line passes it: harmonics of F0 only between 300 and
    /// 3400 Hz (a voice under 300 Hz loses its fundamental), at about −20 dBFS, 100 ms of
    /// silence (or noise) before and after.
    fn pcm(&self) -> Vec<i16> {
        let pad = (0.1 * RATE) as usize;
        let steady = (self.steady_s * RATE) as usize;
        let glide = (self.glide_s * RATE) as usize;
        let mut phase = 0.0f64;
        let mut voice = vec![0.0f32; pad];
        for n in 0..steady + glide {
            let progress = n.saturating_sub(steady) as f32 / glide.max(1) as f32;
            let f0 = self.f0_hz * 2f32.powf(self.glide_st * progress / 12.0);
            let gain = 10f32.powf(self.fade_db * progress / 20.0);
            phase += f64::from(f0) / f64::from(RATE);
            let mut sample = 0.0f32;
            let mut k = 1u32;
            while f0 * k as f32 <= 3400.0 {
                if f0 * k as f32 >= 300.0 {
                    let angle = std::f64::consts::TAU * phase * f64::from(k);
                    sample += angle.sin() as f32 / (k as f32).sqrt();
                }
                k += 1;
            }
            voice.push(sample * gain);
        }
        voice.extend(std::iter::repeat_n(0.0, pad));
        let voiced = &voice[pad..pad + steady];
        let rms = (voiced.iter().map(|x| x * x).sum::<f32>() / voiced.len() as f32).sqrt();
        let scale = 3300.0 / rms;
        let noise_rms = self.snr_db.map(|snr| 3300.0 * 10f32.powf(-snr / 20.0));
        let mut noise = Noise(0x9E37_79B9);
        voice
            .iter()
            .map(|&x| {
                let hiss = noise_rms.map_or(0.0, |level| level * noise.gaussian());
                (x * scale + hiss).round().clamp(-32768.0, 32767.0) as i16
            })
            .collect()
    }
}

/// Deterministic noise (xorshift32), Gaussian by the sum of twelve uniforms.
struct Noise(u32);

impl Noise {
    fn uniform(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0 as f32 / u32::MAX as f32
    }

    fn gaussian(&mut self) -> f32 {
        (0..12).map(|_| self.uniform()).sum::<f32>() - 6.0
    }
}

fn report(voice: Voice) -> EndingReport {
    ending_of(&voice.pcm(), ProsodyConfig::default())
}

#[test]
fn a_steady_tone_is_level_at_its_pitch_for_low_and_high_voices() {
    for f0 in [75.0, 110.0, 160.0, 230.0, 320.0] {
        let report = report(Voice::steady(f0));
        assert_eq!(report.ending, Ending::Level, "{f0} Hz: {report:?}");
        let found = report.final_f0_hz.expect("voiced");
        assert!((found / f0 - 1.0).abs() < 0.01, "{f0} Hz: found {found}");
        let slope = report.pitch_slope_st_per_s.expect("slope");
        assert!(slope.abs() < 1.0, "{f0} Hz: {slope} st/s");
    }
}

#[test]
fn a_falling_fading_end_is_falling() {
    for f0 in [90.0, 140.0, 220.0] {
        // Four semitones down and 12 dB quieter over the last 400 ms: a statement's end.
        let report = report(Voice::steady(f0).glide(-4.0, -12.0));
        assert_eq!(report.ending, Ending::Falling, "{f0} Hz: {report:?}");
        let slope = report.pitch_slope_st_per_s.expect("slope");
        assert!((slope + 10.0).abs() < 2.0, "{f0} Hz: {slope} st/s");
        let energy = report.energy_slope_db_per_s.expect("energy slope");
        assert!((energy + 30.0).abs() < 8.0, "{f0} Hz: {energy} dB/s");
    }
}

#[test]
fn a_rising_end_is_rising_even_when_it_fades() {
    for f0 in [90.0, 140.0, 220.0] {
        let report = report(Voice::steady(f0).glide(4.0, -6.0));
        assert_eq!(report.ending, Ending::Rising, "{f0} Hz: {report:?}");
        let slope = report.pitch_slope_st_per_s.expect("slope");
        assert!((slope - 10.0).abs() < 2.0, "{f0} Hz: {slope} st/s");
    }
}

#[test]
fn a_slight_fall_counts_as_falling_only_when_loudness_fades() {
    // Two semitones over 400 ms: 5 st/s at the glide, less over the window.
    let steady_level = report(Voice::steady(140.0).glide(-1.2, 0.0));
    assert_eq!(steady_level.ending, Ending::Level, "{steady_level:?}");
    let fading = report(Voice::steady(140.0).glide(-1.2, -15.0));
    assert_eq!(fading.ending, Ending::Falling, "{fading:?}");
}

#[test]
fn verdicts_hold_in_white_noise_at_10_db() {
    let cases = [
        (Voice::steady(120.0), Ending::Level),
        (Voice::steady(120.0).glide(-4.0, -12.0), Ending::Falling),
        (Voice::steady(120.0).glide(4.0, 0.0), Ending::Rising),
        (Voice::steady(210.0).glide(-4.0, -12.0), Ending::Falling),
        (Voice::steady(210.0).glide(4.0, 0.0), Ending::Rising),
    ];
    for (voice, expected) in cases {
        let report = report(voice.noisy(10.0));
        assert_eq!(report.ending, expected, "{voice:?}: {report:?}");
    }
}

#[test]
fn too_little_voice_is_unknown() {
    let short = Voice {
        steady_s: 0.05,
        glide_s: 0.0,
        ..Voice::steady(140.0)
    };
    assert_eq!(report(short).ending, Ending::Unknown);
    let silence = ending_of(&vec![0; 8000], ProsodyConfig::default());
    assert_eq!(silence.ending, Ending::Unknown);
    assert_eq!(silence.last_voiced_sample, None);
    let mut noise = Noise(7);
    let hiss: Vec<i16> = (0..8000)
        .map(|_| (noise.gaussian() * 2000.0) as i16)
        .collect();
    let report = ending_of(&hiss, ProsodyConfig::default());
    assert_eq!(report.ending, Ending::Unknown, "{report:?}");
}

#[test]
fn chunk_sizes_do_not_change_the_report() {
    let pcm = Voice::steady(130.0).glide(-3.0, -10.0).noisy(20.0).pcm();
    let whole = ending_of(&pcm, ProsodyConfig::default());
    for chunk in [1, 7, 160, 333] {
        let mut tracker = ProsodyTracker::new(ProsodyConfig::default());
        for piece in pcm.chunks(chunk) {
            tracker.push(piece);
        }
        assert_eq!(tracker.ending(), whole, "chunk {chunk}");
        assert_eq!(tracker.position(), pcm.len() as u64);
    }
}

#[test]
fn reset_forgets_the_previous_utterance() {
    let mut tracker = ProsodyTracker::new(ProsodyConfig::default());
    tracker.push(&Voice::steady(130.0).glide(5.0, 0.0).pcm());
    assert_eq!(tracker.ending().ending, Ending::Rising);
    tracker.reset();
    assert_eq!(tracker.position(), 0);
    assert_eq!(tracker.ending().ending, Ending::Unknown);
    let falling = Voice::steady(130.0).glide(-5.0, -12.0).pcm();
    tracker.push(&falling);
    assert_eq!(
        tracker.ending(),
        ending_of(&falling, ProsodyConfig::default())
    );
}

#[test]
fn the_trend_is_taken_from_the_last_voiced_audio_only() {
    // A rise, then half a second of silence: the silence neither hides the rise nor adds to it.
    let mut pcm = Voice::steady(150.0).glide(4.0, 0.0).pcm();
    let rise = ending_of(&pcm, ProsodyConfig::default());
    pcm.extend(std::iter::repeat_n(0, 4000));
    let later = ending_of(&pcm, ProsodyConfig::default());
    assert_eq!(later.ending, Ending::Rising);
    assert_eq!(later.last_voiced_sample, rise.last_voiced_sample);
}

/// A committed fixture's PCM and its sidecar.
fn fixture(path: &str) -> (Vec<i16>, serde_json::Value) {
    let wav = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(path);
    let audio = crate::wav::read_wav(std::fs::File::open(&wav).expect("fixture")).expect("WAV");
    let sidecar = std::fs::read_to_string(wav.with_extension("json")).expect("sidecar");
    (
        audio.samples,
        serde_json::from_str(&sidecar).expect("sidecar JSON"),
    )
}

/// The ending of a fixture's turn heard up to 250 ms after the end of its part `part`, when a
/// tentative cut would ask.
fn part_ending(path: &str, part: usize) -> EndingReport {
    let (pcm, meta) = fixture(path);
    let heard = meta["parts"][part]["end"].as_u64().expect("part end") as usize + 2000;
    ending_of(&pcm[..heard], ProsodyConfig::default())
}

#[test]
fn espeak_continuations_rise_and_statements_fall_in_the_pauses_fixtures() {
    // Train-split turns only: the held-out ones are for the end-of-turn evaluation.
    let cases = [
        ("pauses/p01_with.wav", 0, Ending::Rising),
        ("pauses/p04_if.wav", 0, Ending::Rising),
        ("pauses/p10_filler_alone.wav", 0, Ending::Rising),
        ("pauses/n01_mobile.wav", 1, Ending::Rising),
        ("pauses/p04_if.wav", 1, Ending::Falling),
        ("pauses/p14_and_then.wav", 1, Ending::Falling),
        ("pauses/c01_yes.wav", 0, Ending::Falling),
        ("pauses/c10_long.wav", 0, Ending::Falling),
        ("pauses/n01_mobile.wav", 2, Ending::Falling),
        // A question rises.
        ("pauses/c11_when.wav", 0, Ending::Rising),
    ];
    for (path, part, expected) in cases {
        let report = part_ending(path, part);
        assert_eq!(report.ending, expected, "{path} part {part}: {report:?}");
    }
}

#[test]
fn pitch_tracks_of_fixture_lines_stay_in_their_voices_range() {
    // (file, lowest and highest median F0 of the espeak voice used); the middle 80 % of the
    // track within half an octave of itself: octave errors are rare.
    let cases = [
        ("single/u03_booking.wav", 180.0, 250.0),
        ("single/u11_phone_number.wav", 90.0, 130.0),
        ("pauses/c06_cancel.wav", 180.0, 250.0),
        ("pauses/p01_with.wav", 85.0, 120.0),
        ("pauses/c10_long.wav", 70.0, 100.0),
    ];
    for (path, low, high) in cases {
        let (pcm, _) = fixture(path);
        let mut tracker = ProsodyTracker::new(ProsodyConfig {
            history_ms: 10_000,
            ..ProsodyConfig::default()
        });
        tracker.push(&pcm);
        let mut pitches: Vec<f32> = tracker.voiced_hops().iter().map(|hop| hop.f0_hz).collect();
        pitches.sort_by(f32::total_cmp);
        let at = |fraction: f32| pitches[(pitches.len() as f32 * fraction) as usize];
        let median = at(0.5);
        assert!((low..=high).contains(&median), "{path}: median {median} Hz");
        assert!(
            at(0.9) / at(0.1) < 1.41,
            "{path}: {} to {} Hz",
            at(0.1),
            at(0.9)
        );
    }
}

#[test]
fn a_committed_statement_falls_at_its_end() {
    // "אני רוצה לקבוע תור ליום שלישי בשעה ארבע", as the VAD fixtures have it.
    let (pcm, _) = fixture("single/u03_booking.wav");
    let report = ending_of(&pcm, ProsodyConfig::default());
    assert_eq!(report.ending, Ending::Falling, "{report:?}");
}
