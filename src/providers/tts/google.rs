//! Google Cloud Text-to-Speech `POST {base}/v1/text:synthesize` asking for μ-law at 8 kHz. The answer
//! is one JSON document whose base64 `audioContent` is a WAV file (header included), so the audio
//! arrives whole and is yielded as one chunk.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use url::Url;

use super::audio::{Pcm16Splitter, ToLineRate, WavEncoding, decode_mulaw, parse_wav_header};
use super::request::{InputLimit, send};
use super::{LINE_RATE_HZ, PcmStream, TtsError, TtsTimeouts};
use crate::config::Secret;

pub const DEFAULT_BASE_URL: &str = "https://texttospeech.googleapis.com";
/// The API's input limit is in bytes of UTF-8, which Hebrew letters use two of.
pub const MAX_INPUT_BYTES: usize = 5000;

#[derive(Clone)]
pub struct GoogleTtsConfig {
    /// Without the version, like `https://texttospeech.googleapis.com`.
    pub base_url: Url,
    /// Sent in `X-goog-api-key`.
    pub api_key: Secret,
    /// A he-IL voice name, used when the caller names none.
    pub voice: String,
    pub language_code: String,
    pub timeouts: TtsTimeouts,
}

impl GoogleTtsConfig {
    /// The public endpoint with a he-IL WaveNet voice.
    pub fn new(api_key: Secret) -> Self {
        Self {
            base_url: Url::parse(DEFAULT_BASE_URL).expect("a valid constant URL"),
            api_key,
            voice: "he-IL-Wavenet-A".to_string(),
            language_code: "he-IL".to_string(),
            timeouts: TtsTimeouts::default(),
        }
    }
}

impl fmt::Debug for GoogleTtsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleTtsConfig")
            .field("base_url", &self.base_url.as_str())
            .field("api_key", &"***")
            .field("voice", &self.voice)
            .field("language_code", &self.language_code)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct GoogleTts {
    config: GoogleTtsConfig,
    client: reqwest::Client,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SynthesizeRequest<'a> {
    input: TextInput<'a>,
    voice: VoiceSelection<'a>,
    audio_config: AudioConfig,
}

#[derive(Serialize)]
struct TextInput<'a> {
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VoiceSelection<'a> {
    language_code: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AudioConfig {
    audio_encoding: &'static str,
    sample_rate_hertz: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SynthesizeResponse {
    #[serde(default)]
    audio_content: String,
}

impl GoogleTts {
    pub fn new(config: GoogleTtsConfig) -> Self {
        Self::with_client(config, reqwest::Client::new())
    }

    pub fn with_client(config: GoogleTtsConfig, client: reqwest::Client) -> Self {
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
        InputLimit::Bytes(MAX_INPUT_BYTES).check(text)?;
        let url = format!(
            "{}/v1/text:synthesize",
            self.config.base_url.as_str().trim_end_matches('/')
        );
        let body = SynthesizeRequest {
            input: TextInput { text },
            voice: VoiceSelection {
                language_code: &self.config.language_code,
                name: voice.unwrap_or(&self.config.voice),
            },
            audio_config: AudioConfig {
                audio_encoding: "MULAW",
                sample_rate_hertz: LINE_RATE_HZ,
            },
        };
        let request = self
            .client
            .post(url)
            .header("X-goog-api-key", self.config.api_key.expose())
            .json(&body);
        let response = send(request).await?;
        let answer: SynthesizeResponse = response
            .json()
            .await
            .map_err(|error| TtsError::Decode(error.without_url().to_string()))?;
        if answer.audio_content.is_empty() {
            return Err(TtsError::EmptyAudio);
        }
        let wav = STANDARD
            .decode(answer.audio_content.as_bytes())
            .map_err(|error| TtsError::Decode(format!("audioContent is not base64: {error}")))?;
        let pcm = wav_to_line_pcm(&wav)?;
        Ok(Box::pin(futures::stream::iter([Ok(pcm)])))
    }
}

/// A whole WAV file (μ-law or 16-bit PCM, any header layout) to 8 kHz PCM: only the `data` chunk's
/// samples, never header bytes played as noise.
pub fn wav_to_line_pcm(wav: &[u8]) -> Result<Vec<i16>, TtsError> {
    let header = parse_wav_header(wav)?
        .ok_or_else(|| TtsError::Decode("the WAV header is truncated".to_string()))?;
    let available = wav.len() - header.data_offset;
    let data_len = header.data_len.map_or(available, |len| len.min(available));
    let data = &wav[header.data_offset..header.data_offset + data_len];
    let samples = match header.encoding {
        WavEncoding::MuLaw => decode_mulaw(data),
        WavEncoding::Pcm16 => {
            let mut samples = Vec::with_capacity(data.len() / 2);
            Pcm16Splitter::default().push(data, &mut samples);
            samples
        }
    };
    if header.sample_rate == LINE_RATE_HZ {
        return Ok(samples);
    }
    let mut to_line = ToLineRate::new(header.sample_rate)?;
    let mut line = to_line.process(&samples);
    line.extend(to_line.finish());
    Ok(line)
}

#[cfg(test)]
mod tests {
    use sicha_audio::mulaw;
    use sicha_audio::wav::{mulaw_wav_bytes, pcm16_to_wav_bytes};

    use super::*;

    #[test]
    fn mulaw_wav_decodes_to_exactly_its_data_chunk() {
        let codes: Vec<u8> = (0..=255u8).cycle().take(1601).collect();
        let wav = mulaw_wav_bytes(&codes);
        let pcm = wav_to_line_pcm(&wav).unwrap();
        assert_eq!(pcm.len(), codes.len(), "the pad byte is not a sample");
        let expected: Vec<i16> = codes.iter().map(|&c| mulaw::decode(c)).collect();
        assert_eq!(pcm, expected);
    }

    #[test]
    fn linear16_at_another_rate_is_converted_to_the_line_rate() {
        let wav = pcm16_to_wav_bytes(&vec![1000; 24_000], 24_000);
        let pcm = wav_to_line_pcm(&wav).unwrap();
        assert!((7_900..=8_100).contains(&pcm.len()), "{}", pcm.len());
    }

    #[test]
    fn headerless_audio_is_a_decode_error() {
        assert!(matches!(
            wav_to_line_pcm(&[0xFF; 400]),
            Err(TtsError::Decode(_))
        ));
    }

    #[test]
    fn request_body_has_the_documented_shape() {
        let body = SynthesizeRequest {
            input: TextInput { text: "שלום" },
            voice: VoiceSelection {
                language_code: "he-IL",
                name: "he-IL-Wavenet-A",
            },
            audio_config: AudioConfig {
                audio_encoding: "MULAW",
                sample_rate_hertz: 8000,
            },
        };
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "input": {"text": "שלום"},
                "voice": {"languageCode": "he-IL", "name": "he-IL-Wavenet-A"},
                "audioConfig": {"audioEncoding": "MULAW", "sampleRateHertz": 8000}
            })
        );
    }

    #[test]
    fn debug_output_hides_the_key() {
        let config = GoogleTtsConfig::new(Secret::new("AIza-secret-key"));
        assert!(!format!("{config:?}").contains("AIza-secret-key"));
    }
}
