//! `POST /v1/audio/speech`: Hebrew speech from espeak-ng (22.05 kHz, resampled to 24 kHz) when it is
//! installed, else a tone as long as the text would take to say. `pcm` (raw 24 kHz s16le mono) is
//! streamed in chunks paced by the profile; `wav` comes whole. The `x-sim-audio` header says which
//! audio was made, so tests and the bench know what they measured.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::{Shared, SimEndpoint, SimRequest, preview};
use sicha::providers::tts::audio::Pcm16Splitter;

/// OpenAI's `pcm` rate.
pub const SPEECH_SAMPLE_RATE: u32 = 24_000;
const MAX_INPUT_CHARS: usize = 4096;
/// 100 ms of audio per streamed chunk.
const CHUNK_SAMPLES: usize = SPEECH_SAMPLE_RATE as usize / 10;
/// Roughly how long one character of Hebrew takes to say, for the tone and for silence.
const SPOKEN_MS_PER_CHAR: u64 = 65;
const MIN_SPOKEN_MS: u64 = 300;

/// Which audio a speech request got, as named in the `x-sim-audio` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimAudioSource {
    Espeak,
    Tone,
    Silence,
    Empty,
}

impl SimAudioSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Espeak => "espeak",
            Self::Tone => "tone",
            Self::Silence => "silence",
            Self::Empty => "empty",
        }
    }
}

pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = SimRequest::new(SimEndpoint::Speech, &headers);
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(error) => return shared.refuse_unparseable(request, &error),
    };
    let model = body["model"].as_str().unwrap_or_default().to_string();
    let input = body["input"].as_str().unwrap_or_default().to_string();
    let voice = body["voice"].as_str().unwrap_or_default();
    // OpenAI's default is mp3, which the stand-in does not make.
    let format = body["response_format"]
        .as_str()
        .unwrap_or("mp3")
        .to_string();
    request.model = Some(model.clone()).filter(|m| !m.is_empty());
    request.summary = format!(
        "{model} {voice} {format} {} chars: {}",
        input.chars().count(),
        preview(&input)
    );
    request.json = Some(body.clone());
    let invalid = if model.is_empty() {
        Some("you must provide a model parameter".to_string())
    } else if voice.is_empty() {
        Some("you must provide a voice parameter".to_string())
    } else if input.trim().is_empty() || input.chars().count() > MAX_INPUT_CHARS {
        Some(format!("input must be 1 to {MAX_INPUT_CHARS} characters"))
    } else if !matches!(format.as_str(), "pcm" | "wav") {
        Some(format!(
            "response_format '{format}': the stand-in makes pcm and wav only"
        ))
    } else {
        None
    };
    if let Some(refused) = shared.admit(request, invalid) {
        return refused;
    }

    let (source, profile) = {
        let mut state = shared.state();
        let source = if state.speech_empty_left > 0 {
            state.speech_empty_left -= 1;
            SimAudioSource::Empty
        } else if state.speech_silence_left > 0 {
            state.speech_silence_left -= 1;
            SimAudioSource::Silence
        } else if state.espeak_enabled {
            SimAudioSource::Espeak
        } else {
            SimAudioSource::Tone
        };
        (source, state.profile)
    };
    let (source, pcm) = synthesize(&shared, source, &input).await;
    let first_byte = profile.tts_first_byte_delay();
    let generation = profile.tts_generation_time(duration_of(pcm.len() / 2));
    let source_header = HeaderValue::from_static(source.as_str());

    if format == "wav" {
        tokio::time::sleep(first_byte + generation).await;
        let mut samples = Vec::with_capacity(pcm.len() / 2);
        Pcm16Splitter::default().push(&pcm, &mut samples);
        let wav = sicha_audio::wav::pcm16_to_wav_bytes(&samples, SPEECH_SAMPLE_RATE);
        return (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("audio/wav")),
                (
                    header::HeaderName::from_static("x-sim-audio"),
                    source_header,
                ),
            ],
            wav,
        )
            .into_response();
    }
    let (sender, receiver) = mpsc::channel::<Bytes>(8);
    tokio::spawn(async move {
        tokio::time::sleep(first_byte).await;
        let chunk_bytes = CHUNK_SAMPLES * 2;
        let chunk_count = pcm.len().div_ceil(chunk_bytes).max(1);
        let per_chunk = generation / chunk_count as u32;
        for (index, start) in (0..pcm.len()).step_by(chunk_bytes).enumerate() {
            if index > 0 {
                tokio::time::sleep(per_chunk).await;
            }
            let chunk = pcm.slice(start..(start + chunk_bytes).min(pcm.len()));
            if sender.send(chunk).await.is_err() {
                shared.state().cancelled_streams += 1;
                return;
            }
        }
    });
    let body = Body::from_stream(futures::stream::unfold(
        receiver,
        |mut receiver| async move {
            receiver
                .recv()
                .await
                .map(|bytes| (Ok::<_, std::io::Error>(bytes), receiver))
        },
    ));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("audio/pcm")),
            (
                header::HeaderName::from_static("x-sim-audio"),
                source_header,
            ),
        ],
        body,
    )
        .into_response()
}

fn duration_of(samples: usize) -> Duration {
    Duration::from_secs_f64(samples as f64 / f64::from(SPEECH_SAMPLE_RATE))
}

/// 16-bit little-endian samples, the form `pcm` carries: audio is kept so, and a streamed answer
/// is sliced into chunks rather than converted chunk by chunk.
fn le_bytes(samples: &[i16]) -> Bytes {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// The audio for `input` as [`le_bytes`]; espeak-ng falls back to the tone when it is missing or
/// fails.
async fn synthesize(
    shared: &Shared,
    wanted: SimAudioSource,
    input: &str,
) -> (SimAudioSource, Bytes) {
    let spoken_samples = spoken_length(input);
    match wanted {
        SimAudioSource::Empty => (wanted, Bytes::new()),
        SimAudioSource::Silence => (wanted, Bytes::from(vec![0; spoken_samples * 2])),
        SimAudioSource::Tone => (wanted, le_bytes(&tone(spoken_samples))),
        SimAudioSource::Espeak => {
            if let Some(cached) = shared.state().speech_cache.get(input).cloned() {
                return (SimAudioSource::Espeak, cached);
            }
            match espeak(input).await {
                Ok(samples) => {
                    let samples = le_bytes(&samples);
                    let mut state = shared.state();
                    // A bound on memory for long benches; phrases repeat, so clearing now and then is enough.
                    if state.speech_cache.len() >= 256 {
                        state.speech_cache.clear();
                    }
                    state
                        .speech_cache
                        .insert(input.to_string(), samples.clone());
                    (SimAudioSource::Espeak, samples)
                }
                Err(reason) => {
                    tracing::debug!(%reason, "espeak-ng unavailable; the stand-in speaks a tone");
                    shared.state().espeak_enabled = false;
                    (SimAudioSource::Tone, le_bytes(&tone(spoken_samples)))
                }
            }
        }
    }
}

/// How many 24 kHz samples saying `input` takes, roughly.
fn spoken_length(input: &str) -> usize {
    let millis = (input.chars().count() as u64 * SPOKEN_MS_PER_CHAR).max(MIN_SPOKEN_MS);
    (millis * u64::from(SPEECH_SAMPLE_RATE) / 1000) as usize
}

/// A soft two-partial tone with 10 ms fades, so it clicks neither in nor out.
fn tone(samples: usize) -> Vec<i16> {
    let rate = f64::from(SPEECH_SAMPLE_RATE);
    let fade = (rate * 0.010) as usize;
    (0..samples)
        .map(|n| {
            let t = n as f64 / rate;
            let wave = 0.7 * (2.0 * std::f64::consts::PI * 220.0 * t).sin()
                + 0.3 * (2.0 * std::f64::consts::PI * 440.0 * t).sin();
            let edge = n.min(samples - 1 - n);
            let gain = if edge < fade {
                edge as f64 / fade as f64
            } else {
                1.0
            };
            (wave * gain * 6000.0) as i16
        })
        .collect()
}

/// Hebrew speech from `espeak-ng -v he`, text on stdin so it is never read as options, at 24 kHz.
async fn espeak(input: &str) -> Result<Vec<i16>, String> {
    let mut child = tokio::process::Command::new("espeak-ng")
        .args(["-v", "he", "--stdin", "--stdout"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start espeak-ng: {e}"))?;
    let mut stdin = child.stdin.take().expect("stdin was piped");
    stdin
        .write_all(input.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    drop(stdin);
    let output = child.wait_with_output().await.map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!("espeak-ng exited with {}", output.status));
    }
    let mut wav = output.stdout;
    fix_streamed_wav_lengths(&mut wav);
    let audio = sicha_audio::wav::read_wav(wav.as_slice()).map_err(|e| e.to_string())?;
    let mut resampler =
        sicha_audio::resample::StreamResampler::new(audio.sample_rate, SPEECH_SAMPLE_RATE)
            .map_err(|e| e.to_string())?;
    let mut samples = Vec::with_capacity(resampler.output_len_hint(audio.samples.len()));
    resampler.process(&audio.samples, &mut samples);
    resampler.flush(&mut samples);
    Ok(samples)
}

/// espeak-ng writes to a pipe it cannot seek back on, so its WAV header carries placeholder lengths.
/// For its plain 44-byte header, put in the real ones.
fn fix_streamed_wav_lengths(wav: &mut [u8]) {
    if wav.len() >= 44 && &wav[0..4] == b"RIFF" && &wav[36..40] == b"data" {
        let riff_len = u32::try_from(wav.len() - 8).unwrap_or(u32::MAX);
        let data_len = u32::try_from(wav.len() - 44).unwrap_or(u32::MAX);
        wav[4..8].copy_from_slice(&riff_len.to_le_bytes());
        wav[40..44].copy_from_slice(&data_len.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spoken_length_grows_with_the_text_and_has_a_floor() {
        assert_eq!(spoken_length(""), 300 * 24);
        assert_eq!(spoken_length(&"א".repeat(20)), 20 * 65 * 24);
    }

    #[test]
    fn the_tone_fades_in_and_out_and_is_audible() {
        let samples = tone(24_000);
        assert_eq!(samples[0], 0);
        assert!(samples.last().unwrap().unsigned_abs() < 100);
        let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak > 3000, "{peak}");
    }

    #[test]
    fn placeholder_lengths_are_replaced_with_real_ones() {
        let mut wav = sicha_audio::wav::pcm16_to_wav_bytes(&[1, 2, 3, 4], 22_050);
        wav[40..44].copy_from_slice(&0x7fff_f000u32.to_le_bytes());
        wav[4..8].copy_from_slice(&0x7fff_f024u32.to_le_bytes());
        fix_streamed_wav_lengths(&mut wav);
        let audio = sicha_audio::wav::read_wav(wav.as_slice()).unwrap();
        assert_eq!(audio.samples, vec![1, 2, 3, 4]);
    }
}
