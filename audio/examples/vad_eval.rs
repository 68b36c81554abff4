//! Frame-level VAD evaluation on the Hebrew fixtures, ours against WebRTC VAD,
//! plus the endpointer's timing error. Prints markdown.
//!
//! Run: `cargo run --release -p sicha-audio --example vad_eval`

#[path = "../tests/vad_common/mod.rs"]
mod vad_common;

use std::collections::BTreeMap;

use sicha_audio::endpoint::EndpointConfig;
use sicha_audio::vad::{Vad, VadConfig};
use vad_common::{Counts, Fixture, load_folder, run_endpointer, score_frames};
use webrtc_vad::{SampleRate, VadMode};

const FRAME: usize = 160;
const WEBRTC_MODES: [(VadMode, &str); 4] = [
    (VadMode::Quality, "quality"),
    (VadMode::LowBitrate, "low-bitrate"),
    (VadMode::Aggressive, "aggressive"),
    (VadMode::VeryAggressive, "very-aggr."),
];

/// Ours and every WebRTC mode, summed over the files of one condition.
#[derive(Default)]
struct ConditionScores {
    files: usize,
    ours: Counts,
    webrtc: [Counts; 4],
}

fn mode_value(mode: &VadMode) -> VadMode {
    match mode {
        VadMode::Quality => VadMode::Quality,
        VadMode::LowBitrate => VadMode::LowBitrate,
        VadMode::Aggressive => VadMode::Aggressive,
        VadMode::VeryAggressive => VadMode::VeryAggressive,
    }
}

fn score_fixture(fixture: &Fixture, scores: &mut ConditionScores) {
    scores.files += 1;
    let mut ours = Vad::new(VadConfig::default());
    scores.ours.merge(score_frames(fixture, FRAME, |frame| {
        ours.classify(frame).is_speech
    }));
    for (index, (mode, _)) in WEBRTC_MODES.iter().enumerate() {
        let mut webrtc =
            webrtc_vad::Vad::new_with_rate_and_mode(SampleRate::Rate8kHz, mode_value(mode));
        let counts = score_frames(fixture, FRAME, |frame| {
            webrtc
                .is_voice_segment(frame)
                .expect("valid 20 ms frame at 8 kHz")
        });
        scores.webrtc[index].merge(counts);
    }
}

fn vad_table(fixtures: &[Fixture], title: &str) {
    let mut by_condition: BTreeMap<(u32, String), ConditionScores> = BTreeMap::new();
    for fixture in fixtures {
        // Clean first, then by falling SNR.
        let order = fixture.snr_db.map_or(0, |snr| 100 - snr);
        let key = (order, fixture.condition());
        score_fixture(fixture, by_condition.entry(key).or_default());
    }
    println!("### {title}\n");
    print!("| condition | files | ours P | ours R | **ours F1** |");
    for (_, name) in WEBRTC_MODES {
        print!(" WebRTC {name} F1 |");
    }
    println!(" **best WebRTC F1** | ours − best |");
    println!(
        "|---|---|---|---|---|{}---|---|",
        "---|".repeat(WEBRTC_MODES.len())
    );
    for ((_, condition), scores) in &by_condition {
        let ours = &scores.ours;
        print!(
            "| {condition} | {} | {:.3} | {:.3} | **{:.3}** |",
            scores.files,
            ours.precision(),
            ours.recall(),
            ours.f1()
        );
        let mut best = 0.0f64;
        for counts in &scores.webrtc {
            print!(" {:.3} |", counts.f1());
            best = best.max(counts.f1());
        }
        println!(" **{best:.3}** | {:+.3} |", ours.f1() - best);
    }
    println!();
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Emission time minus (labelled speech end + hangover), in ms, per condition.
fn endpoint_timing(fixtures: &[Fixture]) {
    let config = EndpointConfig::default();
    let hangover = u64::from(config.hangover_ms) * 8;
    let mut by_condition: BTreeMap<(u32, String), (Vec<f64>, usize)> = BTreeMap::new();
    for fixture in fixtures {
        let emitted = run_endpointer(fixture, config.clone(), FRAME);
        let order = fixture.snr_db.map_or(0, |snr| 100 - snr);
        let entry = by_condition
            .entry((order, fixture.condition()))
            .or_default();
        let label_end = fixture.speech.last().expect("labelled speech").1;
        if emitted.len() != 1 {
            entry.1 += 1;
            continue;
        }
        let expected = label_end + hangover;
        entry
            .0
            .push((emitted[0].emitted_at as f64 - expected as f64) / 8.0);
    }
    println!("### Endpoint timing error (ms)\n");
    println!(
        "Emission of the final `Utterance` minus (labelled speech end + {} ms hangover), \
         single-utterance fixtures, 20 ms chunks.\n",
        config.hangover_ms
    );
    println!("| condition | files | not exactly one utterance | median | p95 | max abs |");
    println!("|---|---|---|---|---|---|");
    for ((_, condition), (mut errors, wrong_count)) in by_condition {
        errors.sort_by(f64::total_cmp);
        if errors.is_empty() {
            println!("| {condition} | {wrong_count} | {wrong_count} | – | – | – |");
            continue;
        }
        let max_abs = errors.iter().fold(0.0f64, |acc, e| acc.max(e.abs()));
        println!(
            "| {condition} | {} | {wrong_count} | {:+.0} | {:+.0} | {max_abs:.0} |",
            errors.len() + wrong_count,
            percentile(&errors, 0.5),
            percentile(&errors, 0.95),
        );
    }
    println!();
}

fn main() {
    let mut fixtures = load_folder("single");
    fixtures.extend(load_folder("noisy"));
    vad_table(
        &fixtures,
        "Frame-level VAD, all single-utterance fixtures (20 ms frames)",
    );
    // The classifier was tuned on all files together; the halves show it does not hinge on a few.
    let (first, second): (Vec<Fixture>, Vec<Fixture>) = fixtures
        .iter()
        .cloned()
        .partition(|f| f.name.as_str() < "u07");
    vad_table(&first, "Utterances u01–u06 only");
    vad_table(&second, "Utterances u07–u12 only");
    endpoint_timing(&fixtures);
}
