//! The speech evidence each utterance carries: confident speech and its loudest level over the
//! line's noise floor, told apart for a clear voice and for faint noise.

use sicha_audio::endpoint::{EndpointConfig, EndpointEvent, SpeechEvidence};

mod synthetic;

use synthetic::{hiss, ms, run, signal, utterances};

const RATE: u32 = 8000;

/// The hiss of `synthetic`, louder by `factor`: ×4 a noisier line, ×12 breath or rustle about
/// 10 dB above it.
fn louder_hiss(length: usize, seed: u32, factor: i16) -> Vec<i16> {
    hiss(length, seed).iter().map(|s| s * factor).collect()
}

fn evidence_of(input: &[i16]) -> Vec<SpeechEvidence> {
    let events = run(EndpointConfig::default(), input, 160);
    utterances(&events)
        .into_iter()
        .map(|(_, utterance)| utterance.evidence)
        .collect()
}

#[test]
fn a_clear_voice_is_confident_speech_far_above_the_floor() {
    let found = evidence_of(&signal(1000, &[(800, 1500)]));
    assert_eq!(found.len(), 1);
    let evidence = found[0];
    // All of the voice, give or take the classifier's first and last frame.
    let speech_ms = evidence.confident_ms(RATE);
    assert!((760..=840).contains(&speech_ms), "{evidence:?}");
    assert!(evidence.level_over_floor_db > 40.0, "{evidence:?}");
}

#[test]
fn faint_noise_is_near_the_floor() {
    let mut input = louder_hiss(ms(1000), 1, 4);
    input.extend(louder_hiss(ms(600), 2, 12));
    input.extend(louder_hiss(ms(1500), 3, 4));
    let found = evidence_of(&input);
    assert_eq!(found.len(), 1, "the burst is taken for speech");
    let evidence = found[0];
    assert!(evidence.confident_ms(RATE) > 0, "{evidence:?}");
    assert!(
        (5.0..15.0).contains(&evidence.level_over_floor_db),
        "{evidence:?}"
    );
}

#[test]
fn each_utterance_has_its_own_evidence() {
    let mut input = signal(1000, &[(800, 1500)]);
    input.extend(louder_hiss(ms(600), 4, 8));
    input.extend(hiss(ms(1500), 5));
    let found = evidence_of(&input);
    assert_eq!(found.len(), 2);
    assert!(found[0].level_over_floor_db > 40.0, "{found:?}");
    // Noise 18 dB over the hiss stands about that far over the floor, nowhere near the voice.
    assert!(
        (15.0..22.0).contains(&found[1].level_over_floor_db),
        "{found:?}"
    );
    assert!(found[1].confident_ms(RATE) <= 620, "{found:?}");
}

#[test]
fn a_tentative_carries_the_evidence_so_far() {
    let config = EndpointConfig {
        eager_ms: Some(300),
        ..EndpointConfig::default()
    };
    // A short voice, a pause long enough for a tentative, more voice, then the end.
    let events = run(config, &signal(1000, &[(400, 400), (400, 1500)]), 160);
    let tentatives: Vec<SpeechEvidence> = events
        .iter()
        .filter_map(|(_, event)| match event {
            EndpointEvent::Tentative(utterance) => Some(utterance.evidence),
            _ => None,
        })
        .collect();
    let finals = utterances(&events);
    assert_eq!(finals.len(), 1);
    let last = finals[0].1.evidence;
    assert_eq!(tentatives.len(), 2, "{events:?}");
    // The first guess saw half the voice; the last one all of it, as the final utterance does.
    let first_ms = tentatives[0].confident_ms(RATE);
    assert!((360..=440).contains(&first_ms), "{tentatives:?}");
    assert_eq!(tentatives[1], last);
    assert!(last.confident_ms(RATE) >= 2 * first_ms - 40, "{last:?}");
}
