//! The prosody tracker on a 3 s Hebrew utterance: feeding it one 20 ms caller frame (a copy and
//! a level per hop, on every frame of every call), and its verdict (the pitch analysis of the
//! stretch before the last voiced hop, once per pause).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sicha_audio::prosody::{ProsodyConfig, ProsodyTracker};
use sicha_audio::wav::read_wav;

const FRAME: usize = 160;
const UTTERANCE_SAMPLES: usize = 3 * 8000;

/// Three seconds of a clean fixture line, from its labelled speech start.
fn utterance() -> Vec<i16> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/single/u03_booking.wav"
    );
    let audio = read_wav(std::fs::File::open(path).expect("fixture")).expect("fixture WAV");
    let start = 8000; // the fixtures' lead silence: 1 s
    audio.samples[start..start + UTTERANCE_SAMPLES].to_vec()
}

fn prosody(c: &mut Criterion) {
    let utterance = utterance();
    let frames: Vec<&[i16]> = utterance.chunks_exact(FRAME).collect();
    let mut tracker = ProsodyTracker::new(ProsodyConfig::default());
    let mut next = 0;
    c.bench_function("prosody_push_frame", |b| {
        b.iter(|| {
            if next == 0 {
                tracker.reset();
            }
            tracker.push(black_box(frames[next]));
            next = (next + 1) % frames.len();
        })
    });

    let mut whole = ProsodyTracker::new(ProsodyConfig::default());
    whole.push(&utterance);
    c.bench_function("prosody_ending_of_3s_utterance", |b| {
        b.iter(|| black_box(whole.ending()))
    });
}

criterion_group!(benches, prosody);
criterion_main!(benches);
