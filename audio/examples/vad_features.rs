//! Where the classifier errs, by condition: false positives before the first labelled frame
//! (the line before the caller speaks), after the last one, and between; misses; and the score
//! deciles of labelled speech and non-speech frames. For tuning; settings as in `vad_sweep`.
//!
//! Run: `cargo run --release -p sicha-audio --example vad_features -- [name=value ...]`
//! With `WEBRTC=1` the error breakdown is for WebRTC VAD (very aggressive) instead.

#[path = "../tests/vad_common/mod.rs"]
mod vad_common;

use std::collections::BTreeMap;

use sicha_audio::vad::Vad;

fn deciles(values: &mut [f32]) -> String {
    values.sort_by(f32::total_cmp);
    (1..10)
        .map(|d| format!("{:5.1}", values[(values.len() - 1) * d / 10]))
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Default)]
struct Breakdown {
    fp_lead: u32,
    fp_tail: u32,
    fp_inner: u32,
    missed: u32,
    hit: u32,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = vad_common::config_with(&args);
    let use_webrtc = std::env::var("WEBRTC").is_ok();
    let mut fixtures = vad_common::load_folder("single");
    fixtures.extend(vad_common::load_folder("noisy"));
    let mut scores: BTreeMap<(String, bool), Vec<f32>> = BTreeMap::new();
    let mut regions: BTreeMap<String, Breakdown> = BTreeMap::new();
    for fixture in &fixtures {
        let frame_len = config.frame_len();
        let labels = vad_common::frame_labels(fixture, frame_len);
        let first = labels.iter().position(|&l| l).unwrap_or(0);
        let last = labels.iter().rposition(|&l| l).unwrap_or(0);
        let mut vad = Vad::new(config.clone());
        let mut webrtc = webrtc_vad::Vad::new_with_rate_and_mode(
            webrtc_vad::SampleRate::Rate8kHz,
            webrtc_vad::VadMode::VeryAggressive,
        );
        let entry = regions.entry(fixture.condition()).or_default();
        for (index, (frame, &label)) in fixture
            .samples
            .chunks_exact(frame_len)
            .zip(&labels)
            .enumerate()
        {
            let decision = vad.classify(frame);
            scores
                .entry((fixture.condition(), label))
                .or_default()
                .push(decision.score);
            let speech = if use_webrtc {
                webrtc.is_voice_segment(frame).expect("20 ms frame")
            } else {
                decision.is_speech
            };
            match (speech, label) {
                (true, false) if index < first => entry.fp_lead += 1,
                (true, false) if index > last => entry.fp_tail += 1,
                (true, false) => entry.fp_inner += 1,
                (false, true) => entry.missed += 1,
                (true, true) => entry.hit += 1,
                (false, false) => {}
            }
        }
    }
    for (condition, b) in &regions {
        println!(
            "{condition:>13}  FP lead {:4} tail {:4} inner {:4}  FN {:4}  TP {:4}",
            b.fp_lead, b.fp_tail, b.fp_inner, b.missed, b.hit
        );
    }
    for ((condition, label), mut values) in scores {
        println!(
            "{condition:>13} label {} frames {:5}  score deciles {}",
            u8::from(label),
            values.len(),
            deciles(&mut values)
        );
    }
}
