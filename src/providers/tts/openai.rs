//! OpenAI `POST /v1/audio/speech` (and compatible local servers) with `response_format: pcm`: raw
//! 24 kHz 16-bit little-endian mono, streamed chunked, resampled to 8 kHz as it arrives.

use super::audio::{Pcm16Splitter, ToLineRate};
use super::request::{InputLimit, send};
use super::{PcmStream, TtsError, TtsTimeouts};
use crate::providers::OpenAiConfig;
use futures::StreamExt;
use serde::Serialize;

/// The rate of `response_format: pcm`.
pub const PCM_RATE_HZ: u32 = 24_000;
/// The endpoint's input limit, in characters.
pub const MAX_INPUT_CHARS: usize = 4096;

#[derive(Debug, Clone)]
pub struct OpenAiTtsConfig {
    /// The server (base URL including `/v1`, optional key), shared with speech-to-text and chat.
    pub server: OpenAiConfig,
    pub model: String,
    pub voice: String,
    /// Style guidance for models that take it (gpt-4o-mini-tts), such as the accent to use.
    pub instructions: Option<String>,
    pub timeouts: TtsTimeouts,
}

impl OpenAiTtsConfig {
    /// `gpt-4o-mini-tts` with the `alloy` voice and default timeouts.
    pub fn new(server: OpenAiConfig) -> Self {
        Self {
            server,
            model: "gpt-4o-mini-tts".to_string(),
            voice: "alloy".to_string(),
            instructions: None,
            timeouts: TtsTimeouts::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct OpenAiTts {
    config: OpenAiTtsConfig,
    client: reqwest::Client,
}

#[derive(Serialize)]
struct SpeechRequest<'a> {
    model: &'a str,
    input: &'a str,
    voice: &'a str,
    response_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    instructions: Option<&'a str>,
}

impl OpenAiTts {
    pub fn new(config: OpenAiTtsConfig) -> Self {
        let client = config.server.client();
        Self::with_client(config, client)
    }

    /// Shares a connection pool with other clients.
    pub fn with_client(config: OpenAiTtsConfig, client: reqwest::Client) -> Self {
        Self { config, client }
    }

    pub fn timeouts(&self) -> TtsTimeouts {
        self.config.timeouts
    }

    pub(super) async fn open(
        &self,
        text: &str,
        voice: Option<&str>,
    ) -> Result<PcmStream, TtsError> {
        InputLimit::Chars(MAX_INPUT_CHARS).check(text)?;
        let body = SpeechRequest {
            model: &self.config.model,
            input: text,
            voice: voice.unwrap_or(&self.config.voice),
            response_format: "pcm",
            instructions: self.config.instructions.as_deref(),
        };
        let request = self
            .config
            .server
            .post(&self.client, "audio/speech")
            .json(&body);
        let response = send(request).await?;
        let to_line = ToLineRate::new(PCM_RATE_HZ)?;
        Ok(pcm_body_to_line(response.bytes_stream(), to_line))
    }
}

/// Decodes a streamed body of 16-bit little-endian PCM, converting each piece to the line rate as it
/// arrives. A trailing odd byte (a truncated body) is dropped.
fn pcm_body_to_line<B, E>(body: B, to_line: ToLineRate) -> PcmStream
where
    B: futures::Stream<Item = Result<E, reqwest::Error>> + Send + 'static,
    E: AsRef<[u8]>,
{
    struct State<B> {
        body: std::pin::Pin<Box<B>>,
        splitter: Pcm16Splitter,
        to_line: ToLineRate,
        ended: bool,
    }
    let state = State {
        body: Box::pin(body),
        splitter: Pcm16Splitter::default(),
        to_line,
        ended: false,
    };
    Box::pin(futures::stream::unfold(state, |mut state| async move {
        if state.ended {
            return None;
        }
        let item = match state.body.next().await {
            Some(Ok(bytes)) => {
                let mut samples = Vec::with_capacity(bytes.as_ref().len() / 2 + 1);
                state.splitter.push(bytes.as_ref(), &mut samples);
                Ok(state.to_line.process(&samples))
            }
            Some(Err(error)) => {
                state.ended = true;
                Err(TtsError::transport(error))
            }
            None => {
                state.ended = true;
                Ok(state.to_line.finish())
            }
        };
        Some((item, state))
    }))
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::*;
    use crate::config::Secret;

    fn config(base: &str, key: Option<&str>) -> OpenAiTtsConfig {
        let url = Url::parse(base).unwrap();
        OpenAiTtsConfig::new(OpenAiConfig::new(url, key.map(Secret::new)))
    }

    #[test]
    fn debug_output_hides_the_key() {
        let config = config("http://localhost:1/v1", Some("sk-very-secret"));
        let shown = format!("{:?}", OpenAiTts::new(config));
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(shown.contains("***"));
    }

    #[tokio::test]
    async fn input_over_the_limit_is_refused_before_any_request() {
        // Port 9 on localhost would refuse a connection; the limit must be checked first.
        let tts = OpenAiTts::new(config("http://127.0.0.1:9/v1", None));
        let long = "א".repeat(MAX_INPUT_CHARS + 1);
        let result = tts.open(&long, None).await;
        assert!(matches!(
            result,
            Err(TtsError::InputTooLong {
                limit: MAX_INPUT_CHARS,
                ..
            })
        ));
    }
}
