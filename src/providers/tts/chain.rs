//! The fallback chain: providers tried in configured order (`SICHA_TTS=google,openai,espeak`) until one
//! produces audible speech.
//!
//! A provider fails over when it errors, has no audible audio within its first-audio deadline, or
//! produces nothing or only silence. Silence is judged without waiting for the whole sentence:
//! chunks are held back until one 20 ms block is louder than the threshold, then everything held is
//! released and the rest streams straight through. Once audio has been handed on, a later failure cannot be hidden: the stream ends with the
//! error and the caller decides what to do. Every failure is reported with the provider's name, so
//! the session can record fallback events.

use std::fmt;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::settings::ProviderKind;
use super::{PcmStream, TimeoutPhase, Tts, TtsError};

/// Below this RMS (16-bit scale, about −50 dBFS) a 20 ms block is silence, not speech.
pub const DEFAULT_SILENCE_RMS: f64 = 100.0;
/// The block over which loudness is judged: 20 ms at the line rate.
const BLOCK_SAMPLES: usize = 160;

/// The provider that served, when its first audible audio was in hand, and the audio.
pub struct ChainOutput {
    pub provider: &'static str,
    /// From the start of the chain call (failed attempts included) to the first audible chunk.
    pub first_audio: Duration,
    pub pcm: PcmStream,
    /// Providers that failed before this one, in order.
    pub failures: Vec<(&'static str, TtsError)>,
}

impl fmt::Debug for ChainOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainOutput")
            .field("provider", &self.provider)
            .field("first_audio", &self.first_audio)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

/// Every provider failed.
#[derive(Debug)]
pub struct ChainError {
    pub failures: Vec<(&'static str, TtsError)>,
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("every text-to-speech provider failed")?;
        for (index, (provider, error)) in self.failures.iter().enumerate() {
            let separator = if index == 0 { ": " } else { "; " };
            write!(f, "{separator}{provider}: {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ChainError {}

#[derive(Debug, Clone)]
pub struct TtsChain {
    providers: Vec<Tts>,
    silence_rms: f64,
}

impl TtsChain {
    pub fn new(providers: Vec<Tts>) -> Self {
        Self {
            providers,
            silence_rms: DEFAULT_SILENCE_RMS,
        }
    }

    /// Loudness (RMS of a 20 ms block) that counts as speech rather than silence.
    pub fn with_silence_threshold(mut self, rms: f64) -> Self {
        self.silence_rms = rms;
        self
    }

    pub fn providers(&self) -> &[Tts] {
        &self.providers
    }

    /// Synthesises `text` with the first provider that produces audible speech.
    ///
    /// `voice` is a comma-separated list: `provider:voice` entries choose that provider's voice, and
    /// a bare entry applies to the first provider only (a voice name means nothing to the others,
    /// which then use their configured defaults).
    pub async fn synthesize(
        &self,
        text: &str,
        voice: Option<&str>,
    ) -> Result<ChainOutput, ChainError> {
        let started = Instant::now();
        let mut failures = Vec::new();
        for (index, provider) in self.providers.iter().enumerate() {
            let name = provider.name();
            let provider_voice =
                voice.and_then(|spec| voice_for(spec, provider.kind(), index == 0));
            // The first-audio deadline covers audible audio here, not just any samples, so a
            // provider trickling silence cannot hold the caller past it.
            let limit = provider.timeouts().first_audio;
            let attempt = tokio::time::timeout(limit, async {
                let stream = provider.synthesize(text, provider_voice).await?;
                wait_for_speech(stream, self.silence_rms).await
            })
            .await
            .unwrap_or(Err(TtsError::Timeout {
                phase: TimeoutPhase::FirstAudio,
                limit,
            }));
            match attempt {
                Ok(pcm) => {
                    return Ok(ChainOutput {
                        provider: name,
                        first_audio: started.elapsed(),
                        pcm,
                        failures,
                    });
                }
                Err(error) => {
                    metrics::counter!("sicha_tts_fallbacks_total", "provider" => name, "reason" => error.kind())
                        .increment(1);
                    tracing::warn!(provider = name, %error, "text-to-speech provider failed");
                    failures.push((name, error));
                }
            }
        }
        Err(ChainError { failures })
    }
}

/// The voice `spec` names for `kind` (see [`TtsChain::synthesize`]).
fn voice_for(spec: &str, kind: ProviderKind, first: bool) -> Option<&str> {
    let mut bare = None;
    for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match entry.split_once(':') {
            Some((provider, voice))
                if provider.trim().parse::<ProviderKind>().ok() == Some(kind) =>
            {
                return Some(voice.trim());
            }
            Some((provider, _)) if provider.trim().parse::<ProviderKind>().is_ok() => {}
            _ => bare = bare.or(Some(entry)),
        }
    }
    bare.filter(|_| first)
}

/// Holds chunks back until one 20 ms block is louder than `silence_rms`, then returns a stream of the
/// held chunks followed by the rest. An error before that, or an end with only silence, is a failure.
async fn wait_for_speech(mut stream: PcmStream, silence_rms: f64) -> Result<PcmStream, TtsError> {
    let mut held: Vec<Vec<i16>> = Vec::new();
    let mut detector = SpeechDetector::new(silence_rms);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let heard = detector.push(&chunk);
        held.push(chunk);
        if heard {
            return Ok(Box::pin(
                futures::stream::iter(held.into_iter().map(Ok)).chain(stream),
            ));
        }
    }
    match (detector.samples_seen, detector.finish()) {
        (0, _) => Err(TtsError::EmptyAudio),
        (_, true) => Ok(Box::pin(futures::stream::iter(held.into_iter().map(Ok)))),
        (_, false) => Err(TtsError::SilentAudio),
    }
}

/// Judges loudness per 20 ms block regardless of how the audio was chunked.
struct SpeechDetector {
    threshold_energy: f64,
    block_energy: f64,
    block_len: usize,
    samples_seen: usize,
}

impl SpeechDetector {
    fn new(silence_rms: f64) -> Self {
        Self {
            threshold_energy: silence_rms * silence_rms,
            block_energy: 0.0,
            block_len: 0,
            samples_seen: 0,
        }
    }

    /// Whether a block completed by `samples` was loud enough.
    fn push(&mut self, samples: &[i16]) -> bool {
        self.samples_seen += samples.len();
        for &sample in samples {
            self.block_energy += f64::from(sample) * f64::from(sample);
            self.block_len += 1;
            if self.block_len == BLOCK_SAMPLES {
                if self.block_is_loud() {
                    return true;
                }
                self.block_energy = 0.0;
                self.block_len = 0;
            }
        }
        false
    }

    /// At the end of the audio: whether the last, partial block was loud enough.
    fn finish(&self) -> bool {
        self.block_len > 0 && self.block_is_loud()
    }

    fn block_is_loud(&self) -> bool {
        self.block_energy / self.block_len as f64 >= self.threshold_energy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voices_go_to_their_provider_and_bare_names_to_the_first_only() {
        let spec = "he-IL-Wavenet-B, openai:nova";
        assert_eq!(
            voice_for(spec, ProviderKind::Google, true),
            Some("he-IL-Wavenet-B")
        );
        assert_eq!(voice_for(spec, ProviderKind::OpenAi, false), Some("nova"));
        assert_eq!(voice_for(spec, ProviderKind::Espeak, false), None);
        assert_eq!(voice_for("openai:nova", ProviderKind::Google, true), None);
    }

    #[test]
    fn loudness_is_judged_per_block_whatever_the_chunking() {
        let mut signal = vec![0i16; 800];
        signal.extend([60; 800]); // faint hiss, below the threshold
        signal.extend([2000; 160]);
        for piece in [1usize, 7, 333, signal.len()] {
            let mut detector = SpeechDetector::new(100.0);
            let heard_in = signal.chunks(piece).position(|chunk| detector.push(chunk));
            // Heard in the chunk holding the last sample of the first loud block, not before.
            assert_eq!(
                heard_in,
                Some((signal.len() - 1) / piece),
                "pieces of {piece}"
            );
        }
        let mut hiss = SpeechDetector::new(100.0);
        assert!(!hiss.push(&[60; 1600]));
        assert!(!hiss.finish());
        let mut tail_only = SpeechDetector::new(100.0);
        assert!(!tail_only.push(&[500; 50]));
        assert!(tail_only.finish(), "a short loud ending still counts");
    }

    #[tokio::test]
    async fn held_chunks_are_released_in_order_with_the_rest() {
        let chunks = vec![Ok(vec![0i16; 200]), Ok(vec![4000; 200]), Ok(vec![7; 5])];
        let stream: PcmStream = Box::pin(futures::stream::iter(chunks));
        let released = wait_for_speech(stream, 100.0).await.unwrap();
        let all: Vec<Vec<i16>> = released.map(Result::unwrap).collect().await;
        assert_eq!(all, vec![vec![0; 200], vec![4000; 200], vec![7; 5]]);
    }

    #[tokio::test]
    async fn only_silence_or_nothing_is_a_failure() {
        let silent: PcmStream = Box::pin(futures::stream::iter([Ok(vec![3i16; 4000])]));
        assert!(matches!(
            wait_for_speech(silent, 100.0).await,
            Err(TtsError::SilentAudio)
        ));
        let empty: PcmStream = Box::pin(futures::stream::empty());
        assert!(matches!(
            wait_for_speech(empty, 100.0).await,
            Err(TtsError::EmptyAudio)
        ));
    }

    #[test]
    fn chain_error_lists_every_failure() {
        let error = ChainError {
            failures: vec![
                (
                    "google",
                    TtsError::Http {
                        status: 503,
                        message: "down".into(),
                    },
                ),
                ("espeak", TtsError::SilentAudio),
            ],
        };
        let shown = error.to_string();
        assert!(
            shown.contains("google: HTTP 503: down") && shown.contains("espeak: "),
            "{shown}"
        );
    }
}
