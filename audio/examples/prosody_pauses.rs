//! How the prosody tracker reads each part's end in the end-of-turn fixtures (`fixtures/pauses/`):
//! per part, the verdict and the pitch and loudness slopes over the turn's audio up to 200 ms
//! after the part's labelled end, with whether the part was the turn's last (complete).
//!
//! Run: `cargo run --release -p sicha-audio --example prosody_pauses [-- name=value ...]`, where
//! `--trace=NAME` lists the voiced hops of that file's parts, and names are `pitch_window_ms`, `energy_window_ms`, `rise_st_per_s`, `fall_st_per_s`,
//! `fade_db_per_s`, `max_aperiodicity`.

use std::fs;
use std::path::Path;

use sicha_audio::prosody::{Ending, ProsodyConfig, ProsodyTracker, ending_of};
use sicha_audio::wav::read_wav;

fn main() {
    let mut config = ProsodyConfig::default();
    let mut trace = None;
    for argument in std::env::args().skip(1) {
        if let Some(name) = argument.strip_prefix("--trace=") {
            trace = Some(name.to_owned());
            continue;
        }
        let (name, value) = argument.split_once('=').expect("name=value");
        let number: f32 = value.parse().expect("a number");
        match name {
            "pitch_window_ms" => config.pitch_window_ms = number as u32,
            "energy_window_ms" => config.energy_window_ms = number as u32,
            "rise_st_per_s" => config.rise_st_per_s = number,
            "fall_st_per_s" => config.fall_st_per_s = number,
            "fade_db_per_s" => config.fade_db_per_s = number,
            "max_aperiodicity" => config.max_aperiodicity = number,
            other => panic!("unknown setting {other}"),
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/pauses");
    let mut paths: Vec<_> = fs::read_dir(&dir)
        .expect("fixtures/pauses")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wav"))
        .collect();
    paths.sort();
    // (split, complete) → counts of Falling, Level, Rising, Unknown
    let mut table = std::collections::BTreeMap::<(String, bool), [u32; 4]>::new();
    for path in paths {
        let audio = read_wav(fs::File::open(&path).expect("wav")).expect("WAV");
        let meta: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(path.with_extension("json")).expect("json"))
                .expect("sidecar");
        let split = meta["split"].as_str().unwrap_or_default().to_owned();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        for part in meta["parts"].as_array().expect("parts") {
            let end = part["end"].as_u64().unwrap() as usize + 1600;
            let complete = part["complete"].as_bool().unwrap();
            let heard = &audio.samples[..end.min(audio.samples.len())];
            let report = ending_of(heard, config.clone());
            if trace.as_deref() == Some(name.as_str()) {
                let mut tracker = ProsodyTracker::new(config.clone());
                tracker.push(heard);
                for hop in tracker.voiced_hops() {
                    println!(
                        "    {:>6} ms  {:>6.1} Hz  {:>6.1} dBFS",
                        hop.end_sample / 8,
                        hop.f0_hz,
                        hop.level_dbfs
                    );
                }
            }
            let column = match report.ending {
                Ending::Falling => 0,
                Ending::Level => 1,
                Ending::Rising => 2,
                Ending::Unknown => 3,
            };
            table.entry((split.clone(), complete)).or_default()[column] += 1;
            println!(
                "{name:<22} {split:<7} {:<10} {:<8?} pitch {:>6.1} st/s  energy {:>6.1} dB/s  f0 {:>5.0} Hz  voiced {:>3} ms  {}",
                if complete { "complete" } else { "unfinished" },
                report.ending,
                report.pitch_slope_st_per_s.unwrap_or(f32::NAN),
                report.energy_slope_db_per_s.unwrap_or(f32::NAN),
                report.final_f0_hz.unwrap_or(f32::NAN),
                report.voiced_samples / 8,
                part["text"].as_str().unwrap_or_default(),
            );
        }
    }
    println!("\nsplit    part        falling  level  rising  unknown");
    for ((split, complete), counts) in table {
        let part = if complete { "complete" } else { "unfinished" };
        println!(
            "{split:<8} {part:<10} {:>8} {:>6} {:>7} {:>8}",
            counts[0], counts[1], counts[2], counts[3]
        );
    }
}
