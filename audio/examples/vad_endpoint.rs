//! Per-file endpoint timing: when the final `Utterance` fired against the labelled speech end
//! plus the hangover, and where the endpointer put the speech end, for one condition.
//!
//! Run: `cargo run --release -p sicha-audio --example vad_endpoint -- clean [name=value ...]`
//! (a condition such as `"babble 20 dB"`; `--fixtures DIR` and settings as in `vad_eval`).

#[path = "support/options.rs"]
mod options;
#[path = "../tests/vad_common/mod.rs"]
mod vad_common;

fn main() {
    let options = options::options("vad_endpoint [--fixtures DIR] [CONDITION] [name=value ...]");
    let condition = options
        .positional
        .first()
        .map_or("clean", String::as_str)
        .to_owned();
    let config = options.endpoint.clone();
    let hangover = u64::from(config.hangover_ms) * 8;
    let mut fixtures = options.load("single");
    fixtures.extend(options.load("noisy"));
    for fixture in fixtures.iter().filter(|f| f.condition() == condition) {
        let emitted = vad_common::run_endpointer(fixture, config.clone(), 160);
        let label_end = fixture.speech.last().expect("labelled speech").1;
        let spans: Vec<String> = emitted
            .iter()
            .map(|e| {
                format!(
                    "[{}..{} ms, fired {:+} ms]",
                    e.start_sample / 8,
                    e.end_sample / 8,
                    (e.emitted_at as i64 - (label_end + hangover) as i64) / 8
                )
            })
            .collect();
        println!(
            "{:28} label {:5}..{:5} ms  {}",
            fixture.name,
            fixture.speech[0].0 / 8,
            label_end / 8,
            spans.join(" ")
        );
    }
}
