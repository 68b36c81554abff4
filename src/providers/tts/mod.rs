//! Hebrew text-to-speech. Every provider yields the same thing: 8 kHz mono 16-bit PCM, streamed in
//! chunks as it arrives, so the caller hears the first words while the rest is still being synthesised.
//!
//! - [`openai`]     `/v1/audio/speech` (OpenAI or a compatible local server), 24 kHz PCM resampled.
//! - [`google`]     Google Cloud TTS, μ-law 8 kHz in a WAV container, one response.
//! - [`elevenlabs`] ElevenLabs streaming endpoint, raw μ-law 8 kHz.
//! - [`espeak`]     espeak-ng run locally: the always-available last resort.
//! - [`chain`]      tries providers in order until one produces audible speech.
//! - [`settings`]   the `SICHA_TTS` order and each provider's settings.
//! - [`audio`]      byte-level decoding shared by the providers (WAV header, split samples, μ-law, RMS).
//! - [`metered`]    deadlines and metrics wrapped around every provider's stream.
//! - `request`      what the network providers share: the input limit and sending a request.

pub mod audio;
pub mod chain;
pub mod elevenlabs;
pub mod espeak;
pub mod google;
pub mod metered;
pub mod openai;
mod request;
pub mod settings;

use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::Stream;

pub use chain::{ChainError, ChainOutput, TtsChain};
pub use elevenlabs::{ElevenLabsConfig, ElevenLabsTts};
pub use espeak::{EspeakConfig, EspeakTts};
pub use google::{GoogleTts, GoogleTtsConfig};
pub use openai::{OpenAiTts, OpenAiTtsConfig};
pub use settings::{ProviderKind, TtsConfigError, TtsSettings, parse_provider_list};

/// The line rate every provider's output is converted to.
pub const LINE_RATE_HZ: u32 = 8000;

/// 8 kHz mono PCM chunks in the order they are to be played; an error ends the stream.
pub type PcmStream = Pin<Box<dyn Stream<Item = Result<Vec<i16>, TtsError>> + Send>>;

/// Which deadline ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// No audio arrived in time (counted from the start of the request).
    FirstAudio,
    /// The whole synthesis took too long.
    Total,
}

/// Why a provider produced no (more) audio.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    #[error("timed out after {limit:?} waiting for {}", match phase {
        TimeoutPhase::FirstAudio => "the first audio",
        TimeoutPhase::Total => "the whole synthesis",
    })]
    Timeout {
        phase: TimeoutPhase,
        limit: Duration,
    },
    #[error("HTTP {status}: {message}")]
    Http { status: u16, message: String },
    #[error("request failed: {0}")]
    Transport(String),
    #[error("undecodable audio: {0}")]
    Decode(String),
    #[error("the provider returned no audio")]
    EmptyAudio,
    #[error("the provider returned only silence")]
    SilentAudio,
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    #[error("input of {actual} {unit} exceeds the limit of {limit}")]
    InputTooLong {
        actual: usize,
        limit: usize,
        unit: &'static str,
    },
    #[error("nothing to say: the text is empty")]
    EmptyInput,
}

impl TtsError {
    /// A short label for metrics and events.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Timeout { .. } => "timeout",
            Self::Http { .. } => "http_error",
            Self::Transport(_) => "transport",
            Self::Decode(_) => "decode",
            Self::EmptyAudio => "empty",
            Self::SilentAudio => "silent",
            Self::Unavailable(_) => "unavailable",
            Self::InputTooLong { .. } => "input_too_long",
            Self::EmptyInput => "empty_input",
        }
    }

    /// Network-level failure, without the URL (it may carry a voice id, never a key, but stay terse).
    pub(crate) fn transport(error: reqwest::Error) -> Self {
        Self::Transport(error.without_url().to_string())
    }
}

/// Deadlines applied to every synthesis, both counted from the start of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtsTimeouts {
    pub first_audio: Duration,
    pub total: Duration,
}

impl Default for TtsTimeouts {
    /// A sentence that has not started after 3 s is better served by the next provider; 30 s bounds a
    /// stalled stream without cutting a long sentence.
    fn default() -> Self {
        Self {
            first_audio: Duration::from_secs(3),
            total: Duration::from_secs(30),
        }
    }
}

/// One configured provider.
#[derive(Debug, Clone)]
pub enum Tts {
    OpenAi(OpenAiTts),
    Google(GoogleTts),
    ElevenLabs(ElevenLabsTts),
    Espeak(EspeakTts),
}

impl Tts {
    /// The provider's name in configuration, metrics and events.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    pub fn kind(&self) -> ProviderKind {
        match self {
            Self::OpenAi(_) => ProviderKind::OpenAi,
            Self::Google(_) => ProviderKind::Google,
            Self::ElevenLabs(_) => ProviderKind::ElevenLabs,
            Self::Espeak(_) => ProviderKind::Espeak,
        }
    }

    pub fn timeouts(&self) -> TtsTimeouts {
        match self {
            Self::OpenAi(p) => p.timeouts(),
            Self::Google(p) => p.timeouts(),
            Self::ElevenLabs(p) => p.timeouts(),
            Self::Espeak(p) => p.timeouts(),
        }
    }

    /// Starts synthesising `text` (in `voice`, or the provider's configured default). Returns once the
    /// provider has accepted the request; audio then arrives on the stream. Both deadlines are enforced
    /// here and on the stream, and the outcome is counted when the stream ends.
    pub async fn synthesize(&self, text: &str, voice: Option<&str>) -> Result<PcmStream, TtsError> {
        let started = Instant::now();
        let provider = self.name();
        let timeouts = self.timeouts();
        let opening = async {
            if text.trim().is_empty() {
                return Err(TtsError::EmptyInput);
            }
            match self {
                Self::OpenAi(p) => p.open(text, voice).await,
                Self::Google(p) => p.open(text, voice).await,
                Self::ElevenLabs(p) => p.open(text, voice).await,
                Self::Espeak(p) => p.open(text, voice).await,
            }
        };
        metered::guard(provider, timeouts, started, opening).await
    }
}
