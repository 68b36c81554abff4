//! Frame-level VAD evaluation on the Hebrew fixtures, ours against WebRTC VAD,
//! plus the endpointer's timing error, utterances per line on whole calls and
//! false utterances on non-speech clips. Prints markdown.
//!
//! Run: `cargo run --release -p sicha-audio --example vad_eval [-- --fixtures DIR]`
//!
//! Without `--fixtures` it scores the committed fixtures, which the classifier was
//! tuned on. `DIR` is any set with the same layout (`single/`, `noisy/`, and
//! optionally `scripts/`, `repeat/`, `nonspeech/`), such as the held-out set that
//! `fixtures/make_fixtures.py --held-out DIR` writes.

#[path = "support/options.rs"]
mod options;
#[path = "../tests/vad_common/mod.rs"]
mod vad_common;

use std::collections::BTreeMap;

use options::options;
use sicha_audio::endpoint::{EndpointConfig, EndpointEvent, Endpointer};
use sicha_audio::vad::{Vad, VadConfig};
use vad_common::{Counts, Fixture, run_endpointer, score_frames};
use webrtc_vad::{SampleRate, VadMode};

const FRAME: usize = 160;
/// Line noise after the last word of every single-utterance fixture, in ms.
const TAIL_MS: u64 = 1500;
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

fn score_fixture(fixture: &Fixture, config: &VadConfig, scores: &mut ConditionScores) {
    scores.files += 1;
    let mut ours = Vad::new(config.clone());
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

fn vad_table(fixtures: &[Fixture], config: &VadConfig, title: &str) {
    let mut by_condition: BTreeMap<(u32, String), ConditionScores> = BTreeMap::new();
    for fixture in fixtures {
        // Clean first, then by falling SNR.
        let order = fixture.snr_db.map_or(0, |snr| 100 - snr);
        let key = (order, fixture.condition());
        score_fixture(fixture, config, by_condition.entry(key).or_default());
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

/// Endpoint outcomes of one condition.
#[derive(Default)]
struct Endings {
    /// Timing errors (ms) of the files that gave exactly one utterance.
    errors: Vec<f64>,
    /// Files whose turn was still open when the file ended (the tail is 1.5 s of line noise).
    never_closed: usize,
    /// Files in which no speech was found at all.
    never_opened: usize,
    /// Files split into several utterances.
    split: usize,
}

/// Whether the endpointer confirmed a start of speech anywhere in the file.
fn opened(fixture: &Fixture, config: &EndpointConfig) -> bool {
    let mut endpointer = Endpointer::new(config.clone());
    let mut started = false;
    endpointer.push(&fixture.samples, |event| {
        started |= matches!(event, EndpointEvent::SpeechStarted { .. });
    });
    started
}

/// Emission time minus (labelled speech end + hangover), in ms, per condition.
fn endpoint_timing(fixtures: &[Fixture], config: &EndpointConfig) {
    let hangover = u64::from(config.hangover_ms) * 8;
    let mut by_condition: BTreeMap<(u32, String), Endings> = BTreeMap::new();
    for fixture in fixtures {
        let emitted = run_endpointer(fixture, config.clone(), FRAME);
        let order = fixture.snr_db.map_or(0, |snr| 100 - snr);
        let entry = by_condition
            .entry((order, fixture.condition()))
            .or_default();
        let label_end = fixture.speech.last().expect("labelled speech").1;
        match emitted.as_slice() {
            [] if opened(fixture, config) => entry.never_closed += 1,
            [] => entry.never_opened += 1,
            [only] => {
                let expected = label_end + hangover;
                entry
                    .errors
                    .push((only.emitted_at as f64 - expected as f64) / 8.0);
            }
            _ => entry.split += 1,
        }
    }
    println!("### Endpoint timing error (ms)\n");
    println!(
        "Emission of the final `Utterance` minus (labelled speech end + {} ms hangover), \
         single-utterance fixtures, 20 ms chunks. Median, p95 and max over the files that gave \
         exactly one utterance; \"never closed\" files were still in a turn when the file ended \
         (ending more than {} ms late), \"never opened\" ones had no speech \
         start at all, \"split\" ones gave several utterances.\n",
        config.hangover_ms,
        (TAIL_MS - u64::from(config.hangover_ms)),
    );
    println!(
        "| condition | files | not exactly one utterance | never closed | never opened | split \
         | median | p95 | max abs |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for ((_, condition), mut endings) in by_condition {
        let errors = &mut endings.errors;
        errors.sort_by(f64::total_cmp);
        let (closed, opened, split) = (endings.never_closed, endings.never_opened, endings.split);
        let wrong = closed + opened + split;
        let files = errors.len() + wrong;
        if errors.is_empty() {
            println!(
                "| {condition} | {files} | {wrong} | {closed} | {opened} | {split} | – | – | – |"
            );
            continue;
        }
        let max_abs = errors.iter().fold(0.0f64, |acc, e| acc.max(e.abs()));
        println!(
            "| {condition} | {files} | {wrong} | {closed} | {opened} | {split} | {:+.0} | {:+.0} \
             | {max_abs:.0} |",
            percentile(errors, 0.5),
            percentile(errors, 0.95),
        );
    }
    println!();
}

/// Whole calls: does each spoken line give exactly one utterance?
fn lines_table(fixtures: &[Fixture], config: &EndpointConfig) {
    println!("### Whole calls: one utterance per line\n");
    println!("| file | lines | utterances | largest end error (ms) |");
    println!("|---|---|---|---|");
    for fixture in fixtures {
        let emitted = run_endpointer(fixture, config.clone(), FRAME);
        let end_error = if emitted.len() == fixture.lines.len() {
            let worst = emitted
                .iter()
                .zip(&fixture.lines)
                .map(|(utterance, &(_, end))| utterance.end_sample.abs_diff(end) / 8)
                .max()
                .unwrap_or(0);
            worst.to_string()
        } else {
            "–".to_owned()
        };
        println!(
            "| {} | {} | {} | {end_error} |",
            fixture.name,
            fixture.lines.len(),
            emitted.len()
        );
    }
    println!();
}

/// Non-speech clips: any utterance at all is a false trigger.
fn nonspeech_table(fixtures: &[Fixture], config: &EndpointConfig) {
    println!("### Non-speech clips\n");
    println!("| file | utterances (should be 0) |");
    println!("|---|---|");
    for fixture in fixtures {
        let emitted = run_endpointer(fixture, config.clone(), FRAME);
        println!("| {} | {} |", fixture.name, emitted.len());
    }
    println!();
}

/// Whether `fixture` is one of `lines` (a clean line or one of its noisy copies).
fn belongs_to(fixture: &Fixture, lines: &[String]) -> bool {
    lines.iter().any(|line| {
        fixture.name == *line
            || fixture
                .name
                .strip_prefix(line.as_str())
                .is_some_and(|rest| rest.starts_with('_'))
    })
}

fn main() {
    let usage = "vad_eval [--fixtures DIR] [name=value ...]";
    let options = options(usage);
    if !options.positional.is_empty() {
        eprintln!("usage: {usage}");
        std::process::exit(2);
    }
    let endpoint = &options.endpoint;
    println!("Fixtures: `{}`\n", options.root.display());
    let clean = options.load("single");
    assert!(
        !clean.is_empty(),
        "no fixtures in {}",
        options.root.display()
    );
    let mut fixtures = clean.clone();
    fixtures.extend(options.load("noisy"));
    vad_table(
        &fixtures,
        &endpoint.vad,
        "Frame-level VAD, all single-utterance fixtures (20 ms frames)",
    );
    // Halves by spoken line: a result that hinges on a few lines shows up as a gap between them.
    let names: Vec<String> = clean.iter().map(|f| f.name.clone()).collect();
    let (first_names, second_names) = names.split_at(names.len() / 2);
    let (first, second): (Vec<Fixture>, Vec<Fixture>) = fixtures
        .iter()
        .cloned()
        .partition(|f| belongs_to(f, first_names));
    let span = |lines: &[String]| {
        let short = |name: &String| name.split('_').next().unwrap_or_default().to_owned();
        match (lines.first(), lines.last()) {
            (Some(a), Some(b)) => format!("{}–{}", short(a), short(b)),
            _ => String::new(),
        }
    };
    vad_table(
        &first,
        &endpoint.vad,
        &format!("Lines {} only", span(first_names)),
    );
    vad_table(
        &second,
        &endpoint.vad,
        &format!("Lines {} only", span(second_names)),
    );
    endpoint_timing(&fixtures, endpoint);
    let mut calls = options.load("scripts");
    calls.extend(options.load("repeat"));
    if !calls.is_empty() {
        lines_table(&calls, endpoint);
    }
    let nonspeech = options.load("nonspeech");
    if !nonspeech.is_empty() {
        nonspeech_table(&nonspeech, endpoint);
    }
}
