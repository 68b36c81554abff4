//! Regression floors for the classifier and endpointer on the committed Hebrew fixtures.
//! The floors sit a little below what `examples/vad_eval.rs` measured, so a change that
//! makes detection worse fails here.

mod vad_common;

use sicha_audio::endpoint::EndpointConfig;
use sicha_audio::vad::{Vad, VadConfig};
use vad_common::{Counts, Fixture, load_folder, run_endpointer, score_frames};

/// (condition, minimum frame-level F1); measured: 0.970, 0.971, 0.898, 0.827, 0.847, 0.720, 0.709
/// (best WebRTC VAD mode on the same files: 0.961, 0.878, 0.841, 0.729, 0.831, 0.680, 0.668).
const F1_FLOORS: [(&str, f64); 7] = [
    ("clean", 0.96),
    ("white 20 dB", 0.96),
    ("white 10 dB", 0.88),
    ("white 5 dB", 0.80),
    ("babble 20 dB", 0.83),
    ("babble 10 dB", 0.70),
    ("babble 5 dB", 0.69),
];

fn single_utterances() -> Vec<Fixture> {
    let mut fixtures = load_folder("single");
    fixtures.extend(load_folder("noisy"));
    fixtures
}

#[test]
fn frame_f1_stays_above_the_measured_floors() {
    let fixtures = single_utterances();
    for (condition, floor) in F1_FLOORS {
        let mut counts = Counts::default();
        let mut files = 0;
        for fixture in fixtures.iter().filter(|f| f.condition() == condition) {
            let mut vad = Vad::new(VadConfig::default());
            counts.merge(score_frames(fixture, 160, |frame| {
                vad.classify(frame).is_speech
            }));
            files += 1;
        }
        assert_eq!(files, 12, "{condition}: fixture set changed");
        assert!(
            counts.f1() >= floor,
            "{condition}: F1 {:.3} below {floor} ({counts:?})",
            counts.f1()
        );
    }
}

#[test]
fn every_clean_single_line_is_one_utterance() {
    for fixture in load_folder("single") {
        let emitted = run_endpointer(&fixture, EndpointConfig::default(), 160);
        assert_eq!(emitted.len(), 1, "{}: {emitted:?}", fixture.name);
    }
}

#[test]
fn clean_lines_end_one_hangover_after_the_labelled_speech() {
    let config = EndpointConfig::default();
    let hangover = u64::from(config.hangover_ms) * 8;
    for fixture in load_folder("single") {
        let emitted = run_endpointer(&fixture, config.clone(), 160);
        let label_end = fixture.speech.last().expect("labelled speech").1;
        let error_ms = (emitted[0].emitted_at as i64 - (label_end + hangover) as i64) / 8;
        // One 20 ms frame against 10 ms labels, plus a frame of slack.
        assert!(error_ms.abs() <= 40, "{}: {error_ms} ms", fixture.name);
    }
}

#[test]
fn babble_at_20_db_does_not_hold_the_turn_open() {
    let fixtures: Vec<Fixture> = load_folder("noisy")
        .into_iter()
        .filter(|f| f.condition() == "babble 20 dB")
        .collect();
    assert_eq!(fixtures.len(), 12);
    for fixture in fixtures {
        let emitted = run_endpointer(&fixture, EndpointConfig::default(), 160);
        assert_eq!(emitted.len(), 1, "{}: {emitted:?}", fixture.name);
    }
}

#[test]
fn scripts_give_one_utterance_per_line() {
    let mut fixtures = load_folder("scripts");
    fixtures.extend(load_folder("repeat"));
    assert_eq!(fixtures.len(), 5);
    for fixture in fixtures {
        let emitted = run_endpointer(&fixture, EndpointConfig::default(), 160);
        assert_eq!(
            emitted.len(),
            fixture.lines.len(),
            "{}: {emitted:?}",
            fixture.name
        );
        for (utterance, &(line_start, line_end)) in emitted.iter().zip(&fixture.lines) {
            // Each utterance covers its own line, give or take a couple of frames.
            assert!(
                utterance.start_sample.abs_diff(line_start) <= 480,
                "{}: {utterance:?}",
                fixture.name
            );
            assert!(
                utterance.end_sample.abs_diff(line_end) <= 1600,
                "{}: {utterance:?}",
                fixture.name
            );
        }
    }
}

#[test]
fn non_speech_clips_give_no_utterance() {
    let fixtures = load_folder("nonspeech");
    assert_eq!(fixtures.len(), 4);
    for fixture in fixtures {
        let emitted = run_endpointer(&fixture, EndpointConfig::default(), 160);
        assert!(emitted.is_empty(), "{}: {emitted:?}", fixture.name);
    }
}
