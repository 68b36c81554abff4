//! Frame F1 per condition for one classifier setting given on the command line, one line of
//! output, for parameter sweeps: `vad_sweep on_db=6 off_db=3 speech_gate_db=30`.
//! The WebRTC column of `vad_eval` is the target; this prints only ours.

#[path = "../tests/vad_common/mod.rs"]
mod vad_common;

use std::collections::BTreeMap;

use sicha_audio::vad::Vad;
use vad_common::{Counts, score_frames};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = vad_common::config_with(&args);
    let mut fixtures = vad_common::load_folder("single");
    fixtures.extend(vad_common::load_folder("noisy"));
    let mut by_condition: BTreeMap<(u32, String), Counts> = BTreeMap::new();
    for fixture in &fixtures {
        let order = fixture.snr_db.map_or(0, |snr| 100 - snr);
        let mut vad = Vad::new(config.clone());
        let counts = score_frames(fixture, config.frame_len(), |frame| {
            vad.classify(frame).is_speech
        });
        by_condition
            .entry((order, fixture.condition()))
            .or_default()
            .merge(counts);
    }
    let line: Vec<String> = by_condition
        .iter()
        .map(|((_, condition), counts)| {
            format!("{}:{:.3}", condition.replace(' ', ""), counts.f1())
        })
        .collect();
    println!("{}", line.join(" "));
}
