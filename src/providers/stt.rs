//! Speech to text through an OpenAI-compatible `POST /audio/transcriptions`: one WAV utterance in,
//! Hebrew text out, with Whisper's per-segment confidence when the model gives it, so the caller can
//! tell speech from the phrases Whisper invents on silence and noise.

use reqwest::Client;
use reqwest::multipart::{Form, Part};
use serde::Deserialize;

use super::http::{OpenAiConfig, failure};

/// OpenAI's Whisper model, the only hosted one with per-segment scores.
pub const DEFAULT_STT_MODEL: &str = "whisper-1";

#[derive(Debug, thiserror::Error)]
pub enum SttError {
    #[error("transcription took longer than the request timeout")]
    Timeout,
    #[error("transcription server answered {status}: {message}")]
    Http { status: u16, message: String },
    #[error("cannot read the transcription answer: {0}")]
    Decode(String),
    #[error("cannot reach the transcription server: {0}")]
    Transport(#[source] reqwest::Error),
}

impl SttError {
    fn from_reqwest(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            Self::Timeout
        } else if error.is_decode() {
            Self::Decode(error.to_string())
        } else {
            Self::Transport(error)
        }
    }
}

/// How the server should answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    /// Text only (the gpt-4o transcribe models accept nothing richer).
    Json,
    /// Text, duration and segments with confidence scores (Whisper models, hosted or local).
    VerboseJson,
}

impl ResponseFormat {
    /// `json` for the gpt-4o transcribe family, `verbose_json` for Whisper models, including local
    /// servers' Whisper variants, which all give segments.
    pub fn for_model(model: &str) -> Self {
        if model.starts_with("gpt-4o") {
            Self::Json
        } else {
            Self::VerboseJson
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::VerboseJson => "verbose_json",
        }
    }
}

/// One stretch of a Whisper transcript with the scores Whisper's own silence gate uses.
/// A server that omits a score gets the neutral value, so a filter never drops text for a missing one.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Segment {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub start: f32,
    #[serde(default)]
    pub end: f32,
    /// Probability that the window holds no speech.
    #[serde(default)]
    pub no_speech_prob: f32,
    /// Mean token log-probability; below about -1 the decode is unsure.
    #[serde(default)]
    pub avg_logprob: f32,
    /// gzip compression ratio of the text; above about 2.4 the decode repeated itself.
    #[serde(default = "neutral_compression_ratio")]
    pub compression_ratio: f32,
}

fn neutral_compression_ratio() -> f32 {
    1.0
}

/// What the server heard in one utterance.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct Transcript {
    pub text: String,
    /// Audio length as the server measured it (verbose_json only).
    #[serde(default, rename = "duration")]
    pub duration_secs: Option<f32>,
    /// Empty with the `json` format.
    #[serde(default)]
    pub segments: Vec<Segment>,
}

impl Transcript {
    /// True when nothing but whitespace was heard.
    pub fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
    }

    /// The highest no-speech probability of any segment; `None` without segments.
    pub fn max_no_speech_prob(&self) -> Option<f32> {
        self.segments
            .iter()
            .map(|s| s.no_speech_prob)
            .reduce(f32::max)
    }

    /// The least confident segment's mean log-probability; `None` without segments.
    pub fn min_avg_logprob(&self) -> Option<f32> {
        self.segments.iter().map(|s| s.avg_logprob).reduce(f32::min)
    }

    /// The most repetitive segment's compression ratio; `None` without segments.
    pub fn max_compression_ratio(&self) -> Option<f32> {
        self.segments
            .iter()
            .map(|s| s.compression_ratio)
            .reduce(f32::max)
    }

    /// Whisper's own test for a silent window, applied to every segment: all of them likely hold
    /// no speech (`no_speech_prob` above `no_speech_threshold`) and were decoded unsurely
    /// (`avg_logprob` below `logprob_threshold`). False without segments, since then nothing is known.
    pub fn all_segments_silent(&self, no_speech_threshold: f32, logprob_threshold: f32) -> bool {
        !self.segments.is_empty()
            && self.segments.iter().all(|s| {
                s.no_speech_prob > no_speech_threshold && s.avg_logprob < logprob_threshold
            })
    }
}

/// The transcription client. Cheap to clone; requests share one connection pool.
#[derive(Debug, Clone)]
pub struct OpenAiStt {
    config: OpenAiConfig,
    client: Client,
    model: String,
    language: String,
    response_format: ResponseFormat,
}

impl OpenAiStt {
    /// A client for `model` (such as [`DEFAULT_STT_MODEL`]) transcribing Hebrew, in the response
    /// format the model supports best.
    pub fn new(config: OpenAiConfig, model: impl Into<String>) -> Self {
        let model = model.into();
        Self {
            client: config.client(),
            response_format: ResponseFormat::for_model(&model),
            config,
            model,
            language: "he".to_string(),
        }
    }

    /// ISO-639-1 language of the audio; Hebrew by default.
    pub fn with_language(mut self, language: impl Into<String>) -> Self {
        self.language = language.into();
        self
    }

    /// Overrides the format chosen from the model name, for servers that name models differently.
    pub fn with_response_format(mut self, format: ResponseFormat) -> Self {
        self.response_format = format;
        self
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// Transcribes one WAV utterance. `prompt` is earlier text in the same language (recent turns,
    /// names) that steers spelling. The whole request, upload to answer, is bounded by the timeout.
    pub async fn transcribe(
        &self,
        wav: Vec<u8>,
        prompt: Option<&str>,
    ) -> Result<Transcript, SttError> {
        let file = Part::bytes(wav)
            .file_name("utterance.wav")
            .mime_str("audio/wav")
            .expect("audio/wav is a valid MIME type");
        let mut form = Form::new()
            .part("file", file)
            .text("model", self.model.clone())
            .text("language", self.language.clone())
            .text("temperature", "0")
            .text("response_format", self.response_format.as_str());
        if let Some(prompt) = prompt.filter(|p| !p.trim().is_empty()) {
            form = form.text("prompt", prompt.to_string());
        }
        let response = self
            .config
            .post(&self.client, "audio/transcriptions")
            .timeout(self.config.timeout)
            .multipart(form)
            .send()
            .await
            .map_err(SttError::from_reqwest)?;
        if !response.status().is_success() {
            let (status, message) = failure(response).await;
            return Err(SttError::Http { status, message });
        }
        let body = response.bytes().await.map_err(SttError::from_reqwest)?;
        parse_transcript(&body)
    }
}

fn parse_transcript(body: &[u8]) -> Result<Transcript, SttError> {
    serde_json::from_slice(body).map_err(|error| SttError::Decode(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(no_speech_prob: f32, avg_logprob: f32) -> Segment {
        Segment {
            text: "תודה".to_string(),
            start: 0.0,
            end: 1.0,
            no_speech_prob,
            avg_logprob,
            compression_ratio: 1.0,
        }
    }

    #[test]
    fn response_format_follows_the_model_family() {
        assert_eq!(
            ResponseFormat::for_model("whisper-1"),
            ResponseFormat::VerboseJson
        );
        assert_eq!(
            ResponseFormat::for_model("Systran/faster-whisper-large-v3"),
            ResponseFormat::VerboseJson
        );
        assert_eq!(
            ResponseFormat::for_model("gpt-4o-transcribe"),
            ResponseFormat::Json
        );
        assert_eq!(
            ResponseFormat::for_model("gpt-4o-mini-transcribe"),
            ResponseFormat::Json
        );
    }

    #[test]
    fn verbose_json_keeps_duration_and_scores() {
        let body = r#"{"task":"transcribe","language":"hebrew","duration":1.5,"text":"שלום",
            "segments":[{"id":0,"seek":0,"start":0.0,"end":1.5,"text":"שלום","tokens":[1],
            "temperature":0.0,"avg_logprob":-0.3,"compression_ratio":0.9,"no_speech_prob":0.05}]}"#;
        let transcript = parse_transcript(body.as_bytes()).unwrap();
        assert_eq!(transcript.text, "שלום");
        assert_eq!(transcript.duration_secs, Some(1.5));
        assert_eq!(transcript.segments.len(), 1);
        assert_eq!(transcript.max_no_speech_prob(), Some(0.05));
        assert_eq!(transcript.max_compression_ratio(), Some(0.9));
    }

    #[test]
    fn plain_json_has_no_segments_and_missing_scores_are_neutral() {
        let transcript = parse_transcript(br#"{"text":"  "}"#).unwrap();
        assert!(transcript.is_blank());
        assert_eq!(transcript.max_no_speech_prob(), None);
        assert!(!transcript.all_segments_silent(0.6, -1.0));

        let sparse = parse_transcript(br#"{"text":"x","segments":[{"text":"x"}]}"#).unwrap();
        assert_eq!(sparse.segments[0].compression_ratio, 1.0);
        assert_eq!(sparse.segments[0].no_speech_prob, 0.0);
    }

    #[test]
    fn silence_needs_every_segment_to_be_silent_and_unsure() {
        let mut transcript = Transcript {
            text: "תודה רבה".to_string(),
            duration_secs: Some(2.0),
            segments: vec![segment(0.9, -1.2), segment(0.8, -1.5)],
        };
        assert!(transcript.all_segments_silent(0.6, -1.0));
        assert_eq!(transcript.min_avg_logprob(), Some(-1.5));
        transcript.segments.push(segment(0.9, -0.2));
        assert!(!transcript.all_segments_silent(0.6, -1.0));
    }

    #[test]
    fn a_body_that_is_not_a_transcript_is_a_decode_error() {
        assert!(matches!(
            parse_transcript(b"<html>"),
            Err(SttError::Decode(_))
        ));
        assert!(matches!(
            parse_transcript(br#"{"segments":[]}"#),
            Err(SttError::Decode(_))
        ));
    }
}
