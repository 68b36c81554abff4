//! Fixture loading and frame-level scoring shared by the VAD regression test and
//! the `vad_eval` example (included there by path).

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use sicha_audio::endpoint::{EndpointConfig, EndpointEvent, Endpointer};
use sicha_audio::vad::VadConfig;
use sicha_audio::wav::read_wav;

/// One fixture: decoded audio plus its sidecar labels.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub name: String,
    pub samples: Vec<i16>,
    /// Labelled speech spans `[start, end)` in samples.
    pub speech: Vec<(u64, u64)>,
    pub snr_db: Option<u32>,
    pub noise: Option<String>,
    pub kind: String,
    /// Per-line bounds for scripts and repeats.
    pub lines: Vec<(u64, u64)>,
}

impl Fixture {
    /// "clean", "white 20 dB", "babble 5 dB", ...
    pub fn condition(&self) -> String {
        match (&self.noise, self.snr_db) {
            (Some(noise), Some(snr)) => format!("{noise} {snr} dB"),
            _ => "clean".to_owned(),
        }
    }
}

/// The repository's `fixtures/` folder, found from this crate's manifest.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
}

/// Every fixture in `fixtures/<folder>/`, sorted by name.
pub fn load_folder(folder: &str) -> Vec<Fixture> {
    let dir = fixtures_dir().join(folder);
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wav"))
        .collect();
    paths.sort();
    paths.iter().map(|path| load_fixture(path)).collect()
}

fn load_fixture(wav_path: &Path) -> Fixture {
    let file = fs::File::open(wav_path).expect("open fixture");
    let audio = read_wav(std::io::BufReader::new(file)).expect("read fixture WAV");
    assert_eq!(audio.sample_rate, 8000, "{}", wav_path.display());
    let sidecar = fs::read_to_string(wav_path.with_extension("json")).expect("fixture sidecar");
    let meta: serde_json::Value = serde_json::from_str(&sidecar).expect("sidecar JSON");
    let pairs = |value: &serde_json::Value| -> Vec<(u64, u64)> {
        value
            .as_array()
            .map(|spans| {
                spans
                    .iter()
                    .map(|span| (span[0].as_u64().unwrap(), span[1].as_u64().unwrap()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let lines = meta["lines"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .map(|line| {
                    (
                        line["start"].as_u64().unwrap(),
                        line["end"].as_u64().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Fixture {
        name: wav_path.file_stem().unwrap().to_string_lossy().into_owned(),
        samples: audio.samples,
        speech: pairs(&meta["speech"]),
        snr_db: meta["snr_db"].as_u64().map(|snr| snr as u32),
        noise: meta["noise"].as_str().map(str::to_owned),
        kind: meta["kind"].as_str().unwrap_or_default().to_owned(),
        lines,
    }
}

/// Ground truth per frame: speech when at least half of the frame is inside a labelled span.
pub fn frame_labels(fixture: &Fixture, frame_len: usize) -> Vec<bool> {
    let frames = fixture.samples.len() / frame_len;
    (0..frames)
        .map(|index| {
            let start = (index * frame_len) as u64;
            let end = start + frame_len as u64;
            let covered: u64 = fixture
                .speech
                .iter()
                .map(|&(s, e)| e.min(end).saturating_sub(s.max(start)))
                .sum();
            covered * 2 >= frame_len as u64
        })
        .collect()
}

/// Frame-level confusion counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub true_pos: u64,
    pub false_pos: u64,
    pub false_neg: u64,
    pub true_neg: u64,
}

impl Counts {
    pub fn add(&mut self, predicted: bool, actual: bool) {
        match (predicted, actual) {
            (true, true) => self.true_pos += 1,
            (true, false) => self.false_pos += 1,
            (false, true) => self.false_neg += 1,
            (false, false) => self.true_neg += 1,
        }
    }

    pub fn merge(&mut self, other: Counts) {
        self.true_pos += other.true_pos;
        self.false_pos += other.false_pos;
        self.false_neg += other.false_neg;
        self.true_neg += other.true_neg;
    }

    pub fn precision(&self) -> f64 {
        ratio(self.true_pos, self.true_pos + self.false_pos)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.true_pos, self.true_pos + self.false_neg)
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

/// Scores a per-frame classifier on one fixture.
pub fn score_frames(
    fixture: &Fixture,
    frame_len: usize,
    mut classify: impl FnMut(&[i16]) -> bool,
) -> Counts {
    let labels = frame_labels(fixture, frame_len);
    let mut counts = Counts::default();
    for (frame, actual) in fixture.samples.chunks_exact(frame_len).zip(labels) {
        counts.add(classify(frame), actual);
    }
    counts
}

/// An utterance as the endpointer reported it, with the input position at emission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Emitted {
    pub start_sample: u64,
    pub end_sample: u64,
    /// Samples consumed when the `Utterance` event fired.
    pub emitted_at: u64,
}

/// Feeds a fixture through an endpointer in `chunk` sized pieces; returns final utterances.
pub fn run_endpointer(fixture: &Fixture, config: EndpointConfig, chunk: usize) -> Vec<Emitted> {
    let mut endpointer = Endpointer::new(config);
    let mut emitted = Vec::new();
    for piece in fixture.samples.chunks(chunk) {
        let consumed_before = endpointer.position();
        let mut found = Vec::new();
        endpointer.push(piece, |event| {
            if let EndpointEvent::Utterance(utterance) = event {
                found.push((utterance.start_sample, utterance.end_sample));
            }
        });
        // Events fire inside push; with chunk == one frame the emission time is exact.
        for (start_sample, end_sample) in found {
            let emitted_at = consumed_before + piece.len() as u64;
            emitted.push(Emitted {
                start_sample,
                end_sample,
                emitted_at,
            });
        }
    }
    emitted
}

/// The default classifier settings with `name=value` overrides applied (for sweeps and traces).
pub fn config_with(settings: &[String]) -> VadConfig {
    let mut config = VadConfig::default();
    for arg in settings {
        let (key, value) = arg.split_once('=').expect("key=value");
        let value: f32 = value.parse().expect("number");
        match key {
            "on_db" => config.on_db = value,
            "off_db" => config.off_db = value,
            "floor_rise_db_per_s" => config.floor_rise_db_per_s = value,
            "floor_fall" => config.floor_fall = value,
            "floor_follow" => config.floor_follow = value,
            "min_level_dbfs" => config.min_level_dbfs = value,
            "speech_gate_db" => config.speech_gate_db = value,
            "gate_bypass_db" => config.gate_bypass_db = value,
            "quiet_limit_db" => config.quiet_limit_db = value,
            "resume_db" => config.resume_db = value,
            "speech_peak_decay_db_per_s" => config.speech_peak_decay_db_per_s = value,
            "swing_allow_db" => config.swing_allow_db = value,
            "swing_weight" => config.swing_weight = value,
            "swing_cap_db" => config.swing_cap_db = value,
            "swing_rise_db_per_s" => config.swing_rise_db_per_s = value,
            "swing_decay_db_per_s" => config.swing_decay_db_per_s = value,
            "hangover_arm_db" => config.hangover_arm_db = value,
            "steady_swing_db" => config.steady_swing_db = value,
            "hangover_frames" => config.hangover_frames = value as u32,
            "resume_frames" => config.resume_frames = value as u32,
            "learn_frames" => config.learn_frames = value as u32,
            "caller_turn_frames" => config.caller_turn_frames = value as u32,
            "peak_sustain_frames" => config.peak_sustain_frames = value as u32,
            "peak_spike_db" => config.peak_spike_db = value,
            _ => panic!("unknown setting {key}"),
        }
    }
    config
}
