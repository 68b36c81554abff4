//! sicha-audio: pure, synchronous DSP for a phone voice agent.
//!
//! No tokio, no network, no clock: time is counted in samples, and I/O is
//! whatever `Read`/`Write` the caller hands in.
//!
//! Layout:
//! - [`mulaw`]    G.711 μ-law, table-driven, bit-exact with the ITU-T G.191 reference.
//! - [`resample`] streaming resamplers over rubato (8k↔16k, 24k→8k, 22.05k→8k, 48k↔8k) with
//!   declared delay and reset.
//! - [`frame`]    PCM types and Twilio framing (160 μ-law bytes = 20 ms at 8 kHz).
//! - [`vad`]      frame classifier (speech / non-speech) that adapts to the line's noise floor.
//! - [`endpoint`] the utterance state machine (quiet → starting → speaking → stopping), each
//!   utterance with the evidence that it was the caller speaking.
//! - [`prosody`]  how an utterance ends by its sound: pitch (YIN, telephone band) and loudness
//!   trends over its last voiced stretch → falling, level, rising or unknown.
//! - [`wav`]      WAV helpers: utterances to WAV bytes for STT, fixtures (PCM or μ-law WAV) in.
//! - [`opus`]     two-track call recordings as Ogg Opus.

pub mod endpoint;
pub mod frame;
pub mod mulaw;
pub mod opus;
pub mod prosody;
pub mod resample;
pub mod vad;
pub mod wav;
