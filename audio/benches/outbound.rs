//! Outbound chain per 20 ms of agent audio: 480 samples of 24 kHz TTS PCM → 8 kHz → μ-law →
//! base64 of the 160-byte Twilio media payload. Target: median ≤ 10 µs.

use std::f64::consts::PI;
use std::hint::black_box;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sicha_audio::frame::FRAME_SAMPLES;
use sicha_audio::mulaw;
use sicha_audio::resample::StreamResampler;

const TTS_RATE: u32 = 24_000;
const TTS_FRAME: usize = 480;
/// base64 of 160 bytes is 216 characters.
const PAYLOAD_LEN: usize = FRAME_SAMPLES.div_ceil(3) * 4;

/// Speech-like test audio: two tones at a moderate level.
fn tts_audio(len: usize) -> Vec<i16> {
    (0..len)
        .map(|n| {
            let t = n as f64 / f64::from(TTS_RATE);
            (6000.0 * (2.0 * PI * 220.0 * t).sin() + 3000.0 * (2.0 * PI * 1730.0 * t).sin()) as i16
        })
        .collect()
}

fn outbound_chain(c: &mut Criterion) {
    let audio = tts_audio(TTS_FRAME * 100);
    let mut resampler = StreamResampler::new(TTS_RATE, 8_000).unwrap();
    let mut pcm_8k = Vec::with_capacity(resampler.output_len_hint(TTS_FRAME));
    let mut codes = [0u8; FRAME_SAMPLES];
    let mut payload = [0u8; PAYLOAD_LEN];
    let mut frames = audio.chunks_exact(TTS_FRAME).cycle();

    let mut group = c.benchmark_group("outbound");
    group.throughput(Throughput::Elements(TTS_FRAME as u64));
    group.bench_function("24k_pcm_to_base64_mulaw_20ms", |b| {
        b.iter(|| {
            pcm_8k.clear();
            resampler.process(black_box(frames.next().unwrap()), &mut pcm_8k);
            // Block-aligned input: every 480 samples yield exactly one 160-sample frame.
            mulaw::encode_into(&pcm_8k, &mut codes);
            let written = STANDARD.encode_slice(codes, &mut payload).unwrap();
            black_box(&payload[..written]);
        })
    });
    group.bench_function("resample_24k_to_8k_20ms", |b| {
        b.iter(|| {
            pcm_8k.clear();
            resampler.process(black_box(frames.next().unwrap()), &mut pcm_8k);
            black_box(&pcm_8k);
        })
    });
    group.finish();
}

/// A new resampler per sentence (TTS) or per utterance (the STT upload): what setting one up costs,
/// against reusing one with `reset`.
fn resampler_setup(c: &mut Criterion) {
    let mut group = c.benchmark_group("resampler_setup");
    group.bench_function("new_24k_to_8k", |b| {
        b.iter(|| black_box(StreamResampler::new(TTS_RATE, 8_000).unwrap()))
    });
    group.bench_function("new_8k_to_16k", |b| {
        b.iter(|| black_box(StreamResampler::new(8_000, 16_000).unwrap()))
    });
    let mut reused = StreamResampler::new(TTS_RATE, 8_000).unwrap();
    group.bench_function("reset_24k_to_8k", |b| {
        b.iter(|| {
            reused.reset();
            black_box(&reused);
        })
    });
    group.finish();
}

fn mulaw_codec(c: &mut Criterion) {
    let pcm: Vec<i16> = tts_audio(FRAME_SAMPLES);
    let mut codes = [0u8; FRAME_SAMPLES];
    mulaw::encode_into(&pcm, &mut codes);
    let mut decoded = [0i16; FRAME_SAMPLES];

    let mut group = c.benchmark_group("mulaw");
    group.throughput(Throughput::Elements(FRAME_SAMPLES as u64));
    group.bench_function("encode_160", |b| {
        b.iter(|| mulaw::encode_into(black_box(&pcm), black_box(&mut codes)))
    });
    group.bench_function("decode_160", |b| {
        b.iter(|| mulaw::decode_into(black_box(&codes), black_box(&mut decoded)))
    });
    group.finish();
}

criterion_group!(benches, outbound_chain, resampler_setup, mulaw_codec);
criterion_main!(benches);
