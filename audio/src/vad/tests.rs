use super::*;

const RATE: u32 = 8000;
const FRAME: usize = 160;

/// Deterministic white noise (xorshift), RMS about `amplitude / sqrt(3)`.
fn noise(length: usize, amplitude: f32, seed: u32) -> Vec<i16> {
    let mut state = seed.max(1);
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let unit = state as f32 / u32::MAX as f32 * 2.0 - 1.0;
            (unit * amplitude) as i16
        })
        .collect()
}

/// A vowel-like signal: harmonics of 140 Hz up to 3 kHz.
fn voiced(length: usize, amplitude: f32) -> Vec<i16> {
    (0..length)
        .map(|n| {
            let t = n as f32 / RATE as f32;
            let mut sum = 0.0;
            for k in 1..=21 {
                sum += (2.0 * std::f32::consts::PI * 140.0 * k as f32 * t).sin() / k as f32;
            }
            (sum * amplitude * 0.5) as i16
        })
        .collect()
}

fn decisions(vad: &mut Vad, signal: &[i16]) -> Vec<FrameDecision> {
    signal
        .chunks_exact(FRAME)
        .map(|frame| vad.classify(frame))
        .collect()
}

#[test]
fn frame_len_follows_sample_rate() {
    assert_eq!(VadConfig::default().frame_len(), 160);
    let wide = VadConfig {
        sample_rate: 16000,
        ..VadConfig::default()
    };
    assert_eq!(wide.frame_len(), 320);
}

#[test]
fn silence_and_steady_noise_are_not_speech() {
    let mut vad = Vad::new(VadConfig::default());
    assert!(
        decisions(&mut vad, &vec![0; FRAME * 50])
            .iter()
            .all(|d| !d.is_speech)
    );
    let mut vad = Vad::new(VadConfig::default());
    let hiss = noise(FRAME * 200, 3000.0, 7);
    assert!(decisions(&mut vad, &hiss).iter().all(|d| !d.is_speech));
}

#[test]
fn voice_over_noise_is_speech_and_ends_after_hangover() {
    let config = VadConfig::default();
    let hangover = config.hangover_frames as usize;
    let mut vad = Vad::new(config);
    let mut signal = noise(FRAME * 50, 300.0, 3);
    let voice = voiced(FRAME * 25, 6000.0);
    let bed = noise(FRAME * 25, 300.0, 5);
    signal.extend(voice.iter().zip(&bed).map(|(v, n)| v.saturating_add(*n)));
    signal.extend(noise(FRAME * 50, 300.0, 9));
    let flags: Vec<bool> = decisions(&mut vad, &signal)
        .iter()
        .map(|d| d.is_speech)
        .collect();
    assert!(flags[..50].iter().all(|s| !s), "noise before speech");
    assert!(flags[50..75].iter().all(|s| *s), "voiced frames");
    assert!(flags[75..75 + hangover].iter().all(|s| *s), "hangover");
    assert!(
        flags[75 + hangover + 2..].iter().all(|s| !s),
        "noise after speech"
    );
}

#[test]
fn quiet_word_end_on_a_clean_line_is_speech() {
    let mut vad = Vad::new(VadConfig::default());
    let mut signal = vec![0i16; FRAME * 50];
    signal.extend(voiced(FRAME * 25, 8000.0));
    // 36 dB down: below the speech gate, but far above the silent floor.
    signal.extend(voiced(FRAME * 5, 8000.0 / 63.0));
    signal.extend(vec![0i16; FRAME * 50]);
    let flags: Vec<bool> = decisions(&mut vad, &signal)
        .iter()
        .map(|d| d.is_speech)
        .collect();
    assert!(flags[50..80].iter().all(|s| *s), "word and its quiet end");
    assert!(!flags[90..].iter().any(|s| *s), "silence after");
}

#[test]
fn weak_sound_resumes_speech_only_just_after_it() {
    let config = VadConfig {
        hangover_frames: 0,
        ..VadConfig::default()
    };
    let resume = config.resume_frames as usize;
    // A voice over hiss, a short stop, then a weak tail scoring between resume_db and on_db.
    let bed = |frames, seed| noise(FRAME * frames, 1000.0, seed);
    let weak = |frames, seed: u32| -> Vec<i16> {
        voiced(FRAME * frames, 1300.0)
            .iter()
            .zip(bed(frames, seed))
            .map(|(v, n)| v.saturating_add(n))
            .collect()
    };
    let loud: Vec<i16> = voiced(FRAME * 20, 6000.0)
        .iter()
        .zip(bed(20, 3))
        .map(|(v, n)| v.saturating_add(n))
        .collect();
    let mut signal = bed(50, 1);
    signal.extend(&loud);
    signal.extend(bed(3, 5));
    signal.extend(weak(5, 7));
    signal.extend(bed(resume + 20, 9));
    signal.extend(weak(5, 11));
    let mut vad = Vad::new(config.clone());
    let decisions = decisions(&mut vad, &signal);
    let tail_at = 50 + 20 + 3;
    let late_at = tail_at + 5 + resume + 20;
    for d in &decisions[tail_at + 1..tail_at + 5] {
        assert!(
            d.score >= config.resume_db && d.score < config.on_db,
            "{d:?}"
        );
    }
    assert!(
        decisions[tail_at + 1..tail_at + 5]
            .iter()
            .all(|d| d.is_speech)
    );
    assert!(!decisions[late_at..].iter().any(|d| d.is_speech));
}

/// Hiss with a background talker: `bursts` of a quiet voice, three frames on, three off.
fn swinging_line(bursts: usize, seed: u32) -> Vec<i16> {
    let mut signal = Vec::new();
    for burst in 0..bursts {
        let bed = noise(FRAME * 6, 100.0, seed + burst as u32);
        let voice = voiced(FRAME * 3, 500.0);
        signal.extend(voice.iter().zip(&bed).map(|(v, n)| v.saturating_add(*n)));
        signal.extend(&bed[FRAME * 3..]);
    }
    signal
}

#[test]
fn learning_frames_are_never_speech() {
    let config = VadConfig::default();
    let learn = config.learn_frames as usize;
    let mut vad = Vad::new(config);
    let flags = decisions(&mut vad, &voiced(FRAME * (learn + 10), 8000.0));
    assert!(flags[..learn].iter().all(|d| !d.is_speech));
}

#[test]
fn background_talker_is_not_speech_but_the_caller_is() {
    let mut vad = Vad::new(VadConfig::default());
    let background = decisions(&mut vad, &swinging_line(20, 21));
    // The bursts stand well clear of the floor, yet the line swung like that from the start.
    assert!(
        background
            .iter()
            .any(|d| d.score > VadConfig::default().on_db + 6.0)
    );
    assert!(background.iter().all(|d| !d.is_speech), "{background:?}");
    let caller: Vec<i16> = voiced(FRAME * 20, 8000.0)
        .iter()
        .zip(noise(FRAME * 20, 100.0, 23))
        .map(|(v, n)| v.saturating_add(n))
        .collect();
    let flags = decisions(&mut vad, &caller);
    assert!(flags[1..].iter().all(|d| d.is_speech));
}

#[test]
fn background_burst_after_the_caller_gets_no_hangover() {
    let config = VadConfig::default();
    assert!(
        config.hangover_frames >= 2,
        "the test needs a hangover to withhold"
    );
    let mut vad = Vad::new(config);
    decisions(&mut vad, &swinging_line(10, 31));
    let caller: Vec<i16> = voiced(FRAME * 20, 8000.0)
        .iter()
        .zip(noise(FRAME * 20, 100.0, 33))
        .map(|(v, n)| v.saturating_add(n))
        .collect();
    decisions(&mut vad, &caller);
    // Let the caller's own hangover and the resume window pass.
    decisions(&mut vad, &noise(FRAME * 30, 100.0, 35));
    let after = decisions(&mut vad, &swinging_line(4, 37));
    for burst in after.chunks(6) {
        // Off frames 4..6 of each burst: at most one frame of grace, never the full hangover.
        assert!(!burst[4].is_speech && !burst[5].is_speech, "{after:?}");
    }
}

/// The caller (a loud voice over hiss) for `frames` frames.
fn caller(frames: usize, amplitude: f32, seed: u32) -> Vec<i16> {
    voiced(FRAME * frames, amplitude)
        .iter()
        .zip(noise(FRAME * frames, 100.0, seed))
        .map(|(v, n)| v.saturating_add(n))
        .collect()
}

#[test]
fn background_talker_stays_background_while_the_caller_listens() {
    let mut vad = Vad::new(VadConfig::default());
    decisions(&mut vad, &swinging_line(10, 41));
    decisions(&mut vad, &caller(20, 8000.0, 43));
    // Half a minute of the agent talking: the caller is silent, the other talker is not.
    let listening = decisions(&mut vad, &swinging_line(250, 45));
    let settled = &listening[listening.len() / 10..];
    assert!(settled.iter().all(|d| !d.confident), "{settled:?}");
    // The caller is still taken at once when they speak again.
    let again = decisions(&mut vad, &caller(20, 8000.0, 47));
    assert!(again[1..].iter().all(|d| d.confident), "{again:?}");
}

#[test]
fn caller_peak_is_held_between_turns_and_adapts_within_them() {
    let config = VadConfig::default();
    let mut vad = Vad::new(config.clone());
    decisions(&mut vad, &noise(FRAME * 30, 100.0, 51));
    decisions(&mut vad, &caller(20, 8000.0, 53));
    let loud_peak = vad.speech_peak.expect("the caller was heard");
    decisions(&mut vad, &noise(FRAME * 1500, 100.0, 55));
    let held = vad.speech_peak.expect("still remembered");
    // Only the end of the caller's own turn (their hangover, then about a second) lets the
    // peak sink; the thirty seconds after it do not.
    let turn_frames = config.hangover_frames + config.caller_turn_frames + 1;
    let turn_s = turn_frames as f32 * config.frame_ms as f32 / 1000.0;
    assert!(
        loud_peak - held <= config.speech_peak_decay_db_per_s * turn_s + 0.01,
        "{loud_peak} -> {held}"
    );
    // A caller who now talks 12 dB softer, in words with short pauses, pulls it down.
    for word in 0..25 {
        decisions(&mut vad, &caller(10, 2000.0, 57 + word));
        decisions(&mut vad, &noise(FRAME * 10, 100.0, 87 + word));
    }
    let adapted = vad.speech_peak.expect("still remembered");
    assert!(held - adapted > 2.0, "{held} -> {adapted}");
}

#[test]
fn floor_adapts_to_a_louder_line() {
    let mut vad = Vad::new(VadConfig::default());
    decisions(&mut vad, &noise(FRAME * 50, 200.0, 11));
    // Hiss jumps up by 20 dB: it may trigger at first, but the floor must catch up.
    let flags = decisions(&mut vad, &noise(FRAME * 600, 2000.0, 13));
    assert!(flags[500..].iter().all(|d| !d.is_speech));
}

#[test]
fn reset_forgets_the_noise_floor() {
    let mut vad = Vad::new(VadConfig::default());
    decisions(&mut vad, &noise(FRAME * 100, 50.0, 17));
    let loud_voice = voiced(FRAME, 6000.0);
    vad.reset();
    // After reset the first frame defines the floor, so it cannot be speech.
    assert!(!vad.classify(&loud_voice).is_speech);
}

#[test]
fn vad_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Vad>();
}

/// A handset knock: `samples` of full-scale noise of random sign, far louder than any voice.
fn bang(samples: usize, seed: u32) -> Vec<i16> {
    noise(samples, 32000.0, seed)
        .iter()
        .map(|x| if *x < 0 { -32000 } else { 32000 })
        .collect()
}

/// Hiss with a 10 ms knock every `every` frames, for `frames` frames.
fn clicks(frames: usize, every: usize, seed: u32) -> Vec<i16> {
    let mut signal = noise(FRAME * frames, 100.0, seed);
    for (index, click) in signal.chunks_mut(FRAME * every).enumerate() {
        click[..80].copy_from_slice(&bang(80, seed + index as u32));
    }
    signal
}

#[test]
fn a_bang_or_clicks_before_the_caller_do_not_set_their_peak() {
    // The handset knocks or clicks as it is picked up; then the caller talks at an ordinary
    // level, 25-30 dB below the knock, on a line with another talker. A peak taken from the
    // knock would leave the caller too far below it to count as confident for the whole call.
    let half = FRAME / 2;
    let knocks = [
        ("20 ms bang", 0, bang(FRAME, 61)),
        ("40 ms bang", 0, bang(2 * FRAME, 62)),
        ("60 ms bang", 0, bang(3 * FRAME, 63)),
        ("60 ms bang across frames", half, bang(3 * FRAME, 64)),
        ("click train", 0, clicks(40, 5, 65)),
    ];
    for (name, offset, knock) in knocks {
        let mut vad = Vad::new(VadConfig::default());
        decisions(&mut vad, &swinging_line(5, 71));
        // The knock, then the rest of the frame it ends in, then more of the talker.
        let mut signal = noise(offset, 100.0, 72);
        signal.extend(&knock);
        let tail = (FRAME - signal.len() % FRAME) % FRAME;
        signal.extend(noise(tail, 100.0, 73));
        let knock = decisions(&mut vad, &signal);
        decisions(&mut vad, &swinging_line(10, 74));
        let speech = decisions(&mut vad, &caller(25, 3000.0, 75));
        let loudest = knock.iter().map(|d| d.level_db).fold(f32::MIN, f32::max);
        let level = speech[5].level_db;
        assert!(
            (25.0..=32.0).contains(&(loudest - level)),
            "{name}: {loudest} vs {level}"
        );
        assert!(
            speech[1..].iter().all(|d| d.confident),
            "{name}: {speech:?}"
        );
        let peak = vad.speech_peak.expect("the caller was heard");
        assert!(peak - level < 3.0, "{name}: peak {peak}, caller {level}");
    }
}

#[test]
fn the_callers_first_word_sets_the_peak_at_once() {
    let config = VadConfig::default();
    let sustain = config.peak_sustain_frames as usize;
    let mut vad = Vad::new(config);
    decisions(&mut vad, &noise(FRAME * 30, 100.0, 81));
    let word = caller(10, 8000.0, 83);
    let mut speech = Vec::new();
    let mut peak_from = None;
    for (index, frame) in word.chunks_exact(FRAME).enumerate() {
        speech.push(vad.classify(frame));
        if peak_from.is_none() && vad.speech_peak.is_some() {
            peak_from = Some(index);
        }
    }
    // Speech from the first frame or the next; the peak once the level has been held.
    assert!(
        speech[1..].iter().all(|d| d.is_speech && d.confident),
        "{speech:?}"
    );
    assert!(
        peak_from.is_some_and(|index| index <= sustain),
        "{peak_from:?}"
    );
    let level = speech.iter().map(|d| d.level_db).fold(f32::MIN, f32::max);
    let peak = vad.speech_peak.expect("the caller was heard");
    assert!((peak - level).abs() < 0.5, "peak {peak}, caller {level}");
}

#[test]
fn a_bang_inside_the_callers_word_does_not_raise_the_peak() {
    // A steady level with a knock on top: only the held level counts, not the spike.
    let config = VadConfig::default();
    let mut vad = Vad::new(config.clone());
    decisions(&mut vad, &noise(FRAME * 30, 100.0, 91));
    let mut word = caller(10, 2000.0, 93);
    let knocked: Vec<i16> = bang(FRAME, 95)
        .iter()
        .zip(&word[FRAME * 5..FRAME * 6])
        .map(|(b, v)| b.saturating_add(*v))
        .collect();
    word[FRAME * 5..FRAME * 6].copy_from_slice(&knocked);
    word.extend(caller(10, 2000.0, 97));
    let speech = decisions(&mut vad, &word);
    let level = speech[15].level_db;
    let peak = vad.speech_peak.expect("the caller was heard");
    assert!(
        peak - level <= config.peak_spike_db + 0.5,
        "peak {peak}, caller {level}"
    );
}
