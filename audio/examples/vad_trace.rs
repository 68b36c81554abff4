//! Prints the classifier's per-frame score and decision for one fixture, beside the label.
//!
//! Run: `cargo run --release -p sicha-audio --example vad_trace -- noisy u01_hours_babble_20db`
//! (optionally followed by `name=value` settings, as in `vad_sweep`).

#[path = "../tests/vad_common/mod.rs"]
mod vad_common;

use sicha_audio::vad::Vad;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (folder, name) = match args.as_slice() {
        [_, folder, name, ..] => (folder.as_str(), name.as_str()),
        _ => {
            eprintln!("usage: vad_trace FOLDER NAME");
            std::process::exit(2);
        }
    };
    let fixture = vad_common::load_folder(folder)
        .into_iter()
        .find(|f| f.name == name)
        .expect("no such fixture");
    let config = vad_common::config_with(&args[3..]);
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
