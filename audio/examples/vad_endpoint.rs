//! Per-file endpoint timing: when the final `Utterance` fired against the labelled speech end
//! plus the hangover, and where the endpointer put the speech end, for one condition.
//!
//! Run: `cargo run --release -p sicha-audio --example vad_endpoint -- clean [name=value ...]`

#[path = "../tests/vad_common/mod.rs"]
mod vad_common;

use sicha_audio::endpoint::EndpointConfig;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let condition = args.first().map_or("clean", String::as_str).to_owned();
    let config = EndpointConfig {
        vad: vad_common::config_with(args.get(1..).unwrap_or_default()),
        ..EndpointConfig::default()
    };
    let hangover = u64::from(config.hangover_ms) * 8;
    let mut fixtures = vad_common::load_folder("single");
    fixtures.extend(vad_common::load_folder("noisy"));
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
