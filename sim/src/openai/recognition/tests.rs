use std::path::{Path, PathBuf};

use sicha_audio::mulaw;

use super::*;
use crate::scenario::{Scenario, ScenarioLine};

fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(relative)
}

fn scripts() -> Vec<Scenario> {
    [
        "call1_booking",
        "call2_hours_address",
        "call3_prices",
        "call4_human",
    ]
    .iter()
    .map(|name| Scenario::from_fixture(&fixture(&format!("scripts/{name}.wav"))).unwrap())
    .collect()
}

fn decoded(line: &ScenarioLine) -> Vec<i16> {
    let mut samples = vec![0; line.codes.len()];
    mulaw::decode_into(&line.codes, &mut samples);
    samples
}

fn library_of(scenarios: &[Scenario]) -> UtteranceLibrary {
    let mut library = UtteranceLibrary::default();
    for line in scenarios.iter().flat_map(|s| &s.lines) {
        library.learn(&line.text, &decoded(line));
    }
    library
}

fn resampled(samples: &[i16], from_hz: u32, to_hz: u32) -> Vec<i16> {
    let mut resampler = StreamResampler::new(from_hz, to_hz).unwrap();
    let mut out = Vec::new();
    resampler.process(samples, &mut out);
    resampler.flush(&mut out);
    out
}

/// The samples after a level change and another trip through μ-law, as a second phone leg would.
fn requantised(samples: &[i16], gain: f32) -> Vec<i16> {
    let scaled: Vec<i16> = samples
        .iter()
        .map(|s| (f32::from(*s) * gain).round() as i16)
        .collect();
    let mut codes = vec![0u8; scaled.len()];
    mulaw::encode_into(&scaled, &mut codes);
    let mut out = vec![0i16; codes.len()];
    mulaw::decode_into(&codes, &mut out);
    out
}

fn with_silence(samples: &[i16], before_ms: usize, after_ms: usize) -> Vec<i16> {
    let mut out = vec![0i16; before_ms * 8];
    out.extend_from_slice(samples);
    out.resize(out.len() + after_ms * 8, 0);
    out
}

/// The line up to 200 ms before its last speech frame ends, as an eager endpointer may cut it.
fn cut_short(line: &ScenarioLine, samples: &[i16]) -> Vec<i16> {
    let last_voiced = line.voiced.iter().rposition(|v| *v).unwrap();
    let speech_end = (last_voiced + 1) * FRAME_SAMPLES;
    samples[..speech_end - 1600].to_vec()
}

#[test]
fn every_fixture_line_is_recognised_from_its_own_audio_however_it_reaches_the_stand_in() {
    let scenarios = scripts();
    let library = library_of(&scenarios);
    assert_eq!(library.len(), 16);
    for line in scenarios.iter().flat_map(|s| &s.lines) {
        let samples = decoded(line);
        let heard = |upload: &[i16], rate: u32| library.recognise(upload, rate);
        let text = Some(line.text.as_str());
        assert_eq!(heard(&samples, 8000), text, "as learned");
        let quieter = requantised(&samples, 0.5);
        assert_eq!(
            heard(&resampled(&quieter, 8000, 16_000), 16_000),
            text,
            "6 dB quieter, through μ-law again, at 16 kHz"
        );
        assert_eq!(
            heard(&with_silence(&quieter, 300, 700), 8000),
            text,
            "with the silence an endpointer keeps around it"
        );
        assert_eq!(
            heard(&with_silence(&cut_short(line, &samples), 300, 0), 8000),
            text,
            "with its last 200 ms cut"
        );
    }
}

#[test]
fn a_line_cut_from_the_whole_call_as_the_endpointer_would_is_recognised() {
    for scenario in scripts() {
        let wav = std::fs::read(fixture(&format!("scripts/{}.wav", scenario.name))).unwrap();
        let call = sicha_audio::wav::read_wav(wav.as_slice()).unwrap().samples;
        let sidecar = std::fs::read(fixture(&format!("scripts/{}.json", scenario.name))).unwrap();
        let sidecar: serde_json::Value = serde_json::from_slice(&sidecar).unwrap();
        let library = library_of(std::slice::from_ref(&scenario));
        for line in sidecar["lines"].as_array().unwrap() {
            // 300 ms of pre-roll before the speech, 600 ms of hangover after it.
            let start = line["start"].as_u64().unwrap() as usize;
            let end = line["end"].as_u64().unwrap() as usize;
            let upload = &call[start.saturating_sub(2400)..(end + 4800).min(call.len())];
            assert_eq!(
                library.recognise(upload, 8000),
                line["text"].as_str(),
                "{}",
                scenario.name
            );
        }
    }
}

#[test]
fn an_utterance_cut_at_a_pause_is_heard_as_what_it_holds() {
    // Every end-of-turn fixture with every run of its parts learned, as the bench teaches them.
    let scenarios: Vec<Scenario> = std::fs::read_dir(fixture("pauses"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "wav"))
        .map(|path| Scenario::from_fixture(&path).unwrap())
        .collect();
    let mut library = library_of(&scenarios);
    for (text, codes) in scenarios.iter().flat_map(|s| s.lines[0].part_runs()) {
        let mut samples = vec![0; codes.len()];
        mulaw::decode_into(codes, &mut samples);
        library.learn(&text, &samples);
    }
    for scenario in &scenarios {
        let line = &scenario.lines[0];
        let samples = decoded(line);
        let texts: Vec<&str> = line.parts.iter().map(|p| p.text.as_str()).collect();
        // From any part to any later one, with 300 ms before it and 250 ms of the pause after it,
        // as an eager upload after a pause is cut; a short last part (n04) makes the run up to it
        // sound almost like the whole line.
        for first in 0..texts.len() {
            for last in first..texts.len() {
                let from = (line.parts[first].first_frame * FRAME_SAMPLES).saturating_sub(2400);
                let to = (line.parts[last].last_frame + 1) * FRAME_SAMPLES;
                let upload = with_silence(&samples[from..to], 0, 250);
                let said = texts[first..=last].join(" ");
                assert_eq!(
                    library.recognise(&upload, 8000),
                    Some(said.as_str()),
                    "{} parts {first}..={last}",
                    scenario.name
                );
            }
        }
    }
}

#[test]
fn clips_without_speech_are_not_heard_as_any_line() {
    let library = library_of(&scripts());
    for clip in ["silence", "hum", "white", "cough"] {
        let wav = std::fs::read(fixture(&format!("nonspeech/{clip}.wav"))).unwrap();
        let audio = sicha_audio::wav::read_wav(wav.as_slice()).unwrap();
        assert_eq!(
            library.recognise(&audio.samples, audio.sample_rate),
            None,
            "{clip}"
        );
    }
}

#[test]
fn lines_the_library_does_not_know_are_not_taken_for_others() {
    let scenarios = scripts();
    // Each script's lines against a library of the other three.
    for (held_out, scenario) in scenarios.iter().enumerate() {
        let others: Vec<Scenario> = scenarios
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != held_out)
            .map(|(_, s)| s.clone())
            .collect();
        let library = library_of(&others);
        for line in &scenario.lines {
            let upload = with_silence(&decoded(line), 300, 600);
            assert_eq!(library.recognise(&upload, 8000), None, "{}", line.text);
        }
    }
    // Single lines, some close to a script's ("אני רוצה לדבר עם נציג, בבקשה").
    let library = library_of(&scenarios);
    for single in [
        "u01_hours",
        "u03_booking",
        "u07_address",
        "u09_agent",
        "u10_human",
    ] {
        let wav = std::fs::read(fixture(&format!("single/{single}.wav"))).unwrap();
        let audio = sicha_audio::wav::read_wav(wav.as_slice()).unwrap();
        assert_eq!(library.recognise(&audio.samples, 8000), None, "{single}");
    }
}

#[test]
fn a_line_offered_again_is_not_learned_twice() {
    let scenarios = scripts();
    let mut library = library_of(&scenarios);
    let line = &scenarios[0].lines[0];
    assert!(library.knows(&line.text, &decoded(line)));
    assert!(!library.learn(&line.text, &decoded(line)));
    assert_eq!(library.len(), 16);
    // The same words in another recording are another entry, and still one text.
    let other_take = requantised(&decoded(line), 0.8);
    assert!(library.learn(&line.text, &other_take));
    assert_eq!(library.len(), 17);
    assert_eq!(
        library.recognise(&decoded(line), 8000),
        Some(line.text.as_str()),
        "two takes of one text do not compete"
    );
}

#[test]
fn nothing_to_hear_is_not_an_error() {
    let scenarios = scripts();
    let mut library = library_of(&scenarios);
    let speech = decoded(&scenarios[0].lines[0]);
    assert_eq!(library.recognise(&speech, 0), None, "no sample rate");
    assert_eq!(library.recognise(&speech, 1), None, "an absurd rate");
    assert_eq!(library.recognise(&[], 8000), None);
    assert_eq!(library.recognise(&speech[..800], 8000), None, "100 ms");
    assert_eq!(library.recognise(&[0; 16_000], 8000), None, "silence");
    assert!(
        !library.learn("שקט", &[0; 16_000]),
        "silence is not learned"
    );
    assert!(!library.learn("", &[]));
    assert_eq!(library.len(), 16);
}

/// Prints how each line scores against every known line, for choosing the thresholds.
#[test]
#[ignore = "a diagnostic table, not a check"]
fn print_scores() {
    let scenarios = scripts();
    let lines: Vec<&ScenarioLine> = scenarios.iter().flat_map(|s| &s.lines).collect();
    let contours: Vec<Contour> = lines
        .iter()
        .map(|l| Contour::of(&decoded(l)).unwrap())
        .collect();
    for (i, line) in lines.iter().enumerate() {
        let upload = Contour::of(&with_silence(&cut_short(line, &decoded(line)), 300, 0)).unwrap();
        let row: Vec<String> = contours
            .iter()
            .map(|c| {
                upload
                    .best_match(c)
                    .map_or("  -  ".into(), |s| format!("{s:5.2}"))
            })
            .collect();
        println!("{i:2} {}", row.join(" "));
    }
    let library = library_of(&scenarios);
    let upload = with_silence(&decoded(lines[0]), 300, 1500);
    let started = std::time::Instant::now();
    const ROUNDS: u32 = 20;
    for _ in 0..ROUNDS {
        assert!(library.recognise(&upload, 8000).is_some());
    }
    println!(
        "{:.2} s upload against {} lines: {:?} each",
        upload.len() as f32 / 8000.0,
        library.len(),
        started.elapsed() / ROUNDS
    );
    for single in 1..=12 {
        let name = std::fs::read_dir(fixture("single"))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.extension().is_some_and(|e| e == "wav")
                    && p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with(&format!("u{single:02}_"))
            })
            .unwrap();
        let audio = sicha_audio::wav::read_wav(std::fs::File::open(&name).unwrap()).unwrap();
        let upload = Contour::of(&audio.samples).unwrap();
        let best = contours
            .iter()
            .filter_map(|c| upload.best_match(c))
            .fold(f32::NEG_INFINITY, f32::max);
        println!("u{single:02} best {best:.2}");
    }
}
