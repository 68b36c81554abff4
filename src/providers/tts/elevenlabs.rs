//! ElevenLabs `POST {base}/v1/text-to-speech/{voice_id}/stream?output_format=ulaw_8000`: raw μ-law at
//! the line rate, decoded chunk by chunk as it streams in. Hebrew needs the `eleven_v3` model.

use std::fmt;

use futures::StreamExt;
use serde::Serialize;
use url::Url;

use super::audio::decode_mulaw;
use super::request::{InputLimit, send};
use super::{PcmStream, TtsError, TtsTimeouts};
use crate::config::Secret;

pub const DEFAULT_BASE_URL: &str = "https://api.elevenlabs.io";

#[derive(Clone)]
pub struct ElevenLabsConfig {
    /// Without the version, like `https://api.elevenlabs.io`.
    pub base_url: Url,
    /// Sent in `xi-api-key`.
    pub api_key: Secret,
    /// Used when the caller names no voice.
    pub voice_id: String,
    pub model_id: String,
    /// Longer text is refused before any request; the limit depends on the model and plan, so it is
    /// configuration rather than a constant.
    pub max_input_chars: usize,
    pub timeouts: TtsTimeouts,
}

impl ElevenLabsConfig {
    /// The public endpoint with `eleven_v3`, the model that speaks Hebrew.
    pub fn new(api_key: Secret, voice_id: impl Into<String>) -> Self {
        Self {
            base_url: Url::parse(DEFAULT_BASE_URL).expect("a valid constant URL"),
            api_key,
            voice_id: voice_id.into(),
            model_id: "eleven_v3".to_string(),
            max_input_chars: 3000,
            timeouts: TtsTimeouts::default(),
        }
    }
}

impl fmt::Debug for ElevenLabsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ElevenLabsConfig")
            .field("base_url", &self.base_url.as_str())
            .field("api_key", &"***")
            .field("voice_id", &self.voice_id)
            .field("model_id", &self.model_id)
            .field("max_input_chars", &self.max_input_chars)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct ElevenLabsTts {
    config: ElevenLabsConfig,
    client: reqwest::Client,
}

#[derive(Serialize)]
struct StreamRequest<'a> {
    text: &'a str,
    model_id: &'a str,
}

impl ElevenLabsTts {
    pub fn new(config: ElevenLabsConfig) -> Self {
        Self::with_client(config, reqwest::Client::new())
    }

    pub fn with_client(config: ElevenLabsConfig, client: reqwest::Client) -> Self {
        Self { config, client }
    }

    pub fn timeouts(&self) -> TtsTimeouts {
        self.config.timeouts
    }

    /// The streaming URL for `voice_id`, escaped as one path segment.
    pub fn stream_url(&self, voice_id: &str) -> Result<Url, TtsError> {
        let mut url = self.config.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| TtsError::Unavailable("the base URL cannot take a path".to_string()))?
            .pop_if_empty()
            .extend(["v1", "text-to-speech", voice_id, "stream"]);
        url.set_query(Some("output_format=ulaw_8000"));
        Ok(url)
    }

    pub(super) async fn open(
        &self,
        text: &str,
        voice: Option<&str>,
    ) -> Result<PcmStream, TtsError> {
        InputLimit::Chars(self.config.max_input_chars).check(text)?;
        let voice_id = voice.unwrap_or(&self.config.voice_id);
        if voice_id.is_empty() {
            return Err(TtsError::Unavailable("no voice id configured".to_string()));
        }
        let body = StreamRequest {
            text,
            model_id: &self.config.model_id,
        };
        let request = self
            .client
            .post(self.stream_url(voice_id)?)
            .header("xi-api-key", self.config.api_key.expose())
            .json(&body);
        let response = send(request).await?;
        // μ-law is one byte per sample, so every chunk decodes on its own.
        let pcm = response.bytes_stream().map(|chunk| match chunk {
            Ok(bytes) => Ok(decode_mulaw(&bytes)),
            Err(error) => Err(TtsError::transport(error)),
        });
        Ok(Box::pin(pcm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_ids_are_escaped_into_one_path_segment() {
        let mut config = ElevenLabsConfig::new(Secret::new("xi-secret"), "abc");
        config.base_url = Url::parse("http://127.0.0.1:8/prefix/").unwrap();
        let tts = ElevenLabsTts::new(config);
        let url = tts.stream_url("a/b c").unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8/prefix/v1/text-to-speech/a%2Fb%20c/stream?output_format=ulaw_8000"
        );
        assert!(!format!("{tts:?}").contains("xi-secret"));
    }

    #[tokio::test]
    async fn input_over_the_configured_limit_is_refused() {
        let mut config = ElevenLabsConfig::new(Secret::new("k"), "voice");
        config.base_url = Url::parse("http://127.0.0.1:9").unwrap();
        config.max_input_chars = 10;
        let result = ElevenLabsTts::new(config)
            .open("שלום עולם, מה נשמע", None)
            .await;
        assert!(matches!(
            result,
            Err(TtsError::InputTooLong { limit: 10, .. })
        ));
    }
}
