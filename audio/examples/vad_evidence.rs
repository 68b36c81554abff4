//! The speech evidence each utterance carries (confident speech, level over the noise floor), per
//! fixture condition, next to what non-speech makes of it: the fixtures' non-speech clips and
//! breath-like noise bursts a few dB over a hiss bed. A transcript judge's "clear speech"
//! thresholds are chosen from this table.
//!
//! Run: `cargo run -p sicha-audio --example vad_evidence [-- --fixtures DIR] [FILTER]` (FILTER
//! keeps the rows whose condition contains it).

#[path = "support/options.rs"]
mod options;
#[path = "../tests/vad_common/mod.rs"]
mod vad_common;

use std::collections::BTreeMap;

use sicha_audio::endpoint::{EndpointConfig, EndpointEvent, Endpointer, SpeechEvidence};

const RATE: u32 = 8000;

fn main() {
    let options = options::options("vad_evidence [--fixtures DIR] [FILTER] [name=value ...]");
    let config = options.endpoint.clone();
    let filter = options.positional.first().cloned().unwrap_or_default();
    let mut by_condition: BTreeMap<String, Vec<SpeechEvidence>> = BTreeMap::new();
    for folder in ["single", "noisy", "scripts", "repeat", "nonspeech"] {
        for fixture in options.load(folder) {
            let label = if folder == "nonspeech" {
                format!("nonspeech {}", fixture.name)
            } else {
                fixture.condition()
            };
            let found = evidence_of(&fixture.samples, config.clone());
            by_condition.entry(label).or_default().extend(found);
        }
    }
    for over_db in [6.0f32, 10.0, 14.0, 16.0, 20.0] {
        let found = evidence_of(&breath_bursts(over_db), config.clone());
        by_condition
            .entry(format!("breath bursts +{over_db} dB"))
            .or_default()
            .extend(found);
    }
    println!(
        "{:26} {:>5}  {:>26}  {:>26}",
        "condition", "utts", "confident ms min/med/max", "loudest dB over floor"
    );
    for (condition, evidence) in by_condition
        .into_iter()
        .filter(|(condition, _)| condition.contains(&filter))
    {
        let ms: Vec<f32> = evidence
            .iter()
            .map(|e| e.confident_ms(RATE) as f32)
            .collect();
        let db: Vec<f32> = evidence.iter().map(|e| e.level_over_floor_db).collect();
        println!(
            "{condition:26} {:>5}  {:>26}  {:>26}",
            evidence.len(),
            spread(ms),
            spread(db)
        );
    }
}

/// The evidence of every final utterance the endpointer finds in `samples`.
fn evidence_of(samples: &[i16], config: EndpointConfig) -> Vec<SpeechEvidence> {
    let mut endpointer = Endpointer::new(config);
    let mut found = Vec::new();
    endpointer.push(samples, |event| {
        if let EndpointEvent::Utterance(utterance) = event {
            found.push(utterance.evidence);
        }
    });
    found
}

/// "min / median / max", or "-" for none.
fn spread(mut values: Vec<f32>) -> String {
    if values.is_empty() {
        return "-".to_owned();
    }
    values.sort_by(f32::total_cmp);
    format!(
        "{:.0} / {:.0} / {:.0}",
        values[0],
        values[values.len() / 2],
        values[values.len() - 1]
    )
}

/// Two seconds of hiss, then four 800 ms bursts of low-passed noise that swell and fade, peaking
/// about `over_db` above the hiss, with 1.5 s of hiss between: the breathing and rustle a handset
/// picks up.
fn breath_bursts(over_db: f32) -> Vec<i16> {
    let mut noise = Xorshift(7);
    let bed = 60.0;
    // The low-pass below takes about 8 dB off white noise; the sine envelope's peak puts it back.
    let burst = bed * 10f32.powf(over_db / 20.0) * 2.5;
    let mut out = Vec::new();
    let mut low = 0.0f32;
    let mut push = |out: &mut Vec<i16>, ms: u32, amplitude: f32, swell: bool| {
        let len = ms * RATE / 1000;
        for n in 0..len {
            let x = noise.next() * amplitude;
            low = if swell {
                let envelope = (std::f32::consts::PI * n as f32 / len as f32).sin();
                0.7 * low + 0.3 * x * envelope
            } else {
                x
            };
            out.push(low.clamp(-32768.0, 32767.0) as i16);
        }
    };
    push(&mut out, 2000, bed, false);
    for _ in 0..4 {
        push(&mut out, 800, burst, true);
        push(&mut out, 1500, bed, false);
    }
    out
}

/// Uniform noise in -1..1, deterministic.
struct Xorshift(u32);

impl Xorshift {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        (self.0 as f32 / u32::MAX as f32) * 2.0 - 1.0
    }
}
