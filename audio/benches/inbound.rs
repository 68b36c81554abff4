//! The inbound chain per 20 ms Twilio media frame: base64 payload → μ-law bytes → PCM →
//! classifier → endpointer. Frames cycle through a fixture call, so speech, pauses and
//! utterance emissions all occur in their natural proportions.

use std::hint::black_box;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use sicha_audio::endpoint::{EndpointConfig, EndpointEvent, Endpointer};
use sicha_audio::mulaw;
use sicha_audio::vad::{Vad, VadConfig};
use sicha_audio::wav::read_wav;

const FRAME: usize = 160;

/// A whole caller script as Twilio would send it: one base64 payload per 20 ms.
fn payloads() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/scripts/call1_booking.wav"
    );
    let audio = read_wav(std::fs::File::open(path).expect("fixture")).expect("fixture WAV");
    audio
        .samples
        .chunks_exact(FRAME)
        .map(|frame| {
            let codes: Vec<u8> = frame.iter().map(|&s| mulaw::encode(s)).collect();
            STANDARD.encode(codes)
        })
        .collect()
}

fn inbound(c: &mut Criterion) {
    let payloads = payloads();
    let mut endpointer = Endpointer::new(EndpointConfig::default());
    let mut codes = [0u8; FRAME];
    let mut pcm = [0i16; FRAME];
    let mut next = 0;
    let mut utterances = 0u64;
    c.bench_function("inbound_frame_base64_mulaw_vad_endpoint", |b| {
        b.iter(|| {
            let payload = &payloads[next];
            next = (next + 1) % payloads.len();
            let len = STANDARD
                .decode_slice(black_box(payload.as_bytes()), &mut codes)
                .expect("base64");
            mulaw::decode_into(&codes[..len], &mut pcm[..len]);
            endpointer.push(&pcm[..len], |event| {
                if let EndpointEvent::Utterance(utterance) = event {
                    utterances += black_box(utterance.pcm.len() as u64);
                }
            });
        })
    });
    black_box(utterances);

    let mut vad = Vad::new(VadConfig::default());
    let frames: Vec<[i16; FRAME]> = payloads
        .iter()
        .map(|payload| {
            let bytes = STANDARD.decode(payload).expect("base64");
            let mut frame = [0i16; FRAME];
            mulaw::decode_into(&bytes, &mut frame);
            frame
        })
        .collect();
    let mut next = 0;
    c.bench_function("vad_classify_frame", |b| {
        b.iter(|| {
            let frame = &frames[next];
            next = (next + 1) % frames.len();
            black_box(vad.classify(black_box(frame)))
        })
    });
}

criterion_group!(benches, inbound);
criterion_main!(benches);
