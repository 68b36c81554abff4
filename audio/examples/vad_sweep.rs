//! Frame F1 per condition for one classifier setting given on the command line, on one line,
//! for parameter sweeps: `vad_sweep on_db=6 off_db=3 speech_gate_db=30`. With `MARGIN=1` it
//! also prints, for all files and for each half (u01–u06, u07–u12), the smallest margin over
//! the best WebRTC VAD mode across conditions, so a setting can be judged on both halves.

#[path = "../tests/vad_common/mod.rs"]
mod vad_common;

use std::collections::BTreeMap;

use sicha_audio::vad::Vad;
use vad_common::{Counts, Fixture, score_frames};
use webrtc_vad::{SampleRate, VadMode};

type ByCondition = BTreeMap<(u32, String), Counts>;

fn key(fixture: &Fixture) -> (u32, String) {
    (
        fixture.snr_db.map_or(0, |snr| 100 - snr),
        fixture.condition(),
    )
}

/// The four WebRTC VAD modes (the type is neither `Copy` nor `Clone`).
fn webrtc_mode(index: usize) -> VadMode {
    match index {
        0 => VadMode::Quality,
        1 => VadMode::LowBitrate,
        2 => VadMode::Aggressive,
        _ => VadMode::VeryAggressive,
    }
}

fn best_webrtc(fixtures: &[&Fixture]) -> BTreeMap<(u32, String), f64> {
    let mut best: BTreeMap<(u32, String), f64> = BTreeMap::new();
    for mode in 0..4 {
        let mut counts = ByCondition::new();
        for fixture in fixtures {
            let mut webrtc =
                webrtc_vad::Vad::new_with_rate_and_mode(SampleRate::Rate8kHz, webrtc_mode(mode));
            let c = score_frames(fixture, 160, |frame| {
                webrtc.is_voice_segment(frame).expect("20 ms frame")
            });
            counts.entry(key(fixture)).or_default().merge(c);
        }
        for (k, c) in counts {
            let entry = best.entry(k).or_default();
            *entry = entry.max(c.f1());
        }
    }
    best
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = vad_common::config_with(&args);
    let mut fixtures = vad_common::load_folder("single");
    fixtures.extend(vad_common::load_folder("noisy"));
    let mut ours: BTreeMap<(bool, (u32, String)), Counts> = BTreeMap::new();
    for fixture in &fixtures {
        let mut vad = Vad::new(config.clone());
        let counts = score_frames(fixture, config.frame_len(), |frame| {
            vad.classify(frame).is_speech
        });
        let first_half = fixture.name.as_str() < "u07";
        ours.entry((first_half, key(fixture)))
            .or_default()
            .merge(counts);
    }
    let mut all = ByCondition::new();
    for ((_, k), c) in &ours {
        all.entry(k.clone()).or_default().merge(*c);
    }
    let line: Vec<String> = all
        .iter()
        .map(|((_, condition), counts)| {
            format!("{}:{:.3}", condition.replace(' ', ""), counts.f1())
        })
        .collect();
    print!("{}", line.join(" "));
    if std::env::var("MARGIN").is_ok() {
        let everything: Vec<&Fixture> = fixtures.iter().collect();
        let (first, second): (Vec<&Fixture>, Vec<&Fixture>) =
            fixtures.iter().partition(|f| f.name.as_str() < "u07");
        let min_margin = |counts: &ByCondition, best: &BTreeMap<(u32, String), f64>| {
            counts
                .iter()
                .map(|(k, c)| c.f1() - best[k])
                .fold(f64::INFINITY, f64::min)
        };
        let half = |first_half: bool| -> ByCondition {
            ours.iter()
                .filter(|((h, _), _)| *h == first_half)
                .map(|((_, k), c)| (k.clone(), *c))
                .collect()
        };
        print!(
            "  min margin all {:+.3} first {:+.3} second {:+.3}",
            min_margin(&all, &best_webrtc(&everything)),
            min_margin(&half(true), &best_webrtc(&first)),
            min_margin(&half(false), &best_webrtc(&second)),
        );
    }
    println!();
}
