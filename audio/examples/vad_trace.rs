//! Prints the classifier's per-frame score and decision for one fixture, beside the label.
//!
//! Run: `cargo run --release -p sicha-audio --example vad_trace -- noisy u01_hours_babble_20db`
//! (optionally with `--fixtures DIR` and `name=value` settings, as in `vad_eval`).

#[path = "support/options.rs"]
mod options;
#[path = "../tests/vad_common/mod.rs"]
mod vad_common;

use sicha_audio::vad::Vad;

fn main() {
    let usage = "vad_trace [--fixtures DIR] FOLDER NAME [name=value ...]";
    let options = options::options(usage);
    let [folder, name] = options.positional.as_slice() else {
        eprintln!("usage: {usage}");
        std::process::exit(2);
    };
    let fixture = options
        .load(folder)
        .into_iter()
        .find(|f| f.name == *name)
        .expect("no such fixture");
    let config = options.endpoint.vad.clone();
    let frame_len = config.frame_len();
    let labels = vad_common::frame_labels(&fixture, frame_len);
    let mut vad = Vad::new(config);
    for (index, (frame, label)) in fixture
        .samples
        .chunks_exact(frame_len)
        .zip(labels)
        .enumerate()
    {
        let decision = vad.classify(frame);
        println!(
            "{:5} ms  label {}  ours {}  score {:5.1}  level {:6.1}  confident {}",
            index * 20,
            u8::from(label),
            u8::from(decision.is_speech),
            decision.score,
            decision.level_db,
            u8::from(decision.confident)
        );
    }
}
