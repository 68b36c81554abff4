//! Synthetic signals with known boundaries and a driver for the endpointer, shared by the
//! endpointer's tests.

#![allow(dead_code)]

use sicha_audio::endpoint::{EndpointConfig, EndpointEvent, Endpointer, Utterance};

const RATE: u64 = 8000;

/// Samples in `ms` milliseconds at 8 kHz.
pub fn ms(ms: u64) -> usize {
    (ms * RATE / 1000) as usize
}

/// Deterministic low hiss (xorshift), a line that is never digitally silent.
pub fn hiss(length: usize, seed: u32) -> Vec<i16> {
    let mut state = seed.max(1);
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            ((state >> 24) as i16 - 128) / 4
        })
        .collect()
}

/// A vowel-like burst: harmonics of 150 Hz, loud against the hiss.
pub fn voice(length: usize) -> Vec<i16> {
    (0..length)
        .map(|n| {
            let t = n as f32 / RATE as f32;
            let sum: f32 = (1..=20)
                .map(|k| (2.0 * std::f32::consts::PI * 150.0 * k as f32 * t).sin() / k as f32)
                .sum();
            (sum * 4000.0) as i16
        })
        .collect()
}

/// `lead` ms of hiss, then alternating (voice ms, hiss ms) segments.
pub fn signal(lead: u64, segments: &[(u64, u64)]) -> Vec<i16> {
    let mut out = hiss(ms(lead), 1);
    for (index, &(speech, pause)) in segments.iter().enumerate() {
        out.extend(voice(ms(speech)));
        out.extend(hiss(ms(pause), index as u32 + 2));
    }
    out
}

/// Events plus the stream position at which each fired (end of the push).
pub fn run(config: EndpointConfig, input: &[i16], chunk: usize) -> Vec<(u64, EndpointEvent)> {
    let mut endpointer = Endpointer::new(config);
    let mut events = Vec::new();
    for piece in input.chunks(chunk) {
        let mut fired = Vec::new();
        endpointer.push(piece, |event| fired.push(event));
        events.extend(
            fired
                .into_iter()
                .map(|event| (endpointer.position(), event)),
        );
    }
    assert_eq!(endpointer.position(), input.len() as u64);
    events
}

pub fn utterances(events: &[(u64, EndpointEvent)]) -> Vec<(u64, &Utterance)> {
    events
        .iter()
        .filter_map(|(at, event)| match event {
            EndpointEvent::Utterance(utterance) => Some((*at, utterance)),
            _ => None,
        })
        .collect()
}
