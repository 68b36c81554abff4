//! `POST /v1/audio/transcriptions`: checks the upload as OpenAI would (model, language, a WAV file),
//! then answers after the profile's delay with the next scripted transcript, or else the text of
//! the known line the audio is recognised as, or else the default.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sicha_audio::wav::WavAudio;

use super::recognition::UtteranceLibrary;
use super::{Shared, SimEndpoint, SimRequest, openai_error, preview};

/// Heard when nothing is queued: a caller asking for an appointment.
pub(super) const DEFAULT_TRANSCRIPT: &str = "שלום, אני רוצה לקבוע תור";

/// What Whisper typically invents on silence or line noise.
pub(super) const HALLUCINATION: &str = "תודה רבה";

/// What one transcription request hears.
#[derive(Debug, Clone, PartialEq)]
pub enum SimTranscript {
    /// Clear speech with this text.
    Heard(String),
    /// Whisper on silence: "תודה רבה" with no_speech_prob 0.9 and a low log-probability.
    Hallucination,
    /// The request fails with this HTTP status.
    Fail(u16),
}

impl From<&str> for SimTranscript {
    fn from(text: &str) -> Self {
        Self::Heard(text.to_string())
    }
}

impl From<String> for SimTranscript {
    fn from(text: String) -> Self {
        Self::Heard(text)
    }
}

/// What the next transcription (an upload, or a realtime commit) hears, taken in two steps: the
/// queue in the order requests arrive, then the audio compared outside the state's lock.
pub(super) enum Hearing {
    /// Scripted transcripts come first: tests state exact texts and failures with them.
    Scripted(SimTranscript),
    /// Then what the audio says, if it is a known line; then the default.
    ByAudio {
        utterances: Arc<UtteranceLibrary>,
        default: String,
    },
}

impl Hearing {
    pub(super) fn next(shared: &Shared) -> Self {
        let mut state = shared.state();
        match state.transcripts.pop_front() {
            Some(queued) => Self::Scripted(queued),
            None => Self::ByAudio {
                utterances: state.utterances.clone(),
                default: state.default_transcript.clone(),
            },
        }
    }

    /// What `audio` (samples and their rate), if any, is heard as.
    pub(super) fn hear(self, audio: Option<(&[i16], u32)>) -> SimTranscript {
        match self {
            Self::Scripted(transcript) => transcript,
            Self::ByAudio {
                utterances,
                default,
            } => {
                let recognised =
                    audio.and_then(|(samples, rate)| utterances.recognise(samples, rate));
                SimTranscript::Heard(recognised.map_or(default, str::to_string))
            }
        }
    }
}

/// The upload, as far as the stand-in reads it.
#[derive(Default)]
struct Upload {
    fields: Vec<(String, String)>,
    file_name: Option<String>,
    file: Option<Vec<u8>>,
}

impl Upload {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

async fn read_upload(mut multipart: Multipart) -> Result<Upload, MultipartError> {
    let mut upload = Upload::default();
    while let Some(field) = multipart.next_field().await? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            upload.file_name = field.file_name().map(str::to_string);
            upload.file = Some(field.bytes().await?.to_vec());
        } else {
            let value = field.text().await?;
            upload.fields.push((name, value));
        }
    }
    Ok(upload)
}

pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let mut request = SimRequest::new(SimEndpoint::Transcriptions, &headers);
    let upload = match multipart {
        Ok(multipart) => read_upload(multipart).await.map_err(|e| e.body_text()),
        Err(rejection) => Err(rejection.body_text()),
    };
    let upload = match upload {
        Ok(upload) => upload,
        Err(message) => {
            request.summary = "unreadable multipart body".to_string();
            return shared.refuse(request, message);
        }
    };
    let format = upload
        .field("response_format")
        .unwrap_or("json")
        .to_string();
    let model = upload.field("model").unwrap_or_default().to_string();
    let audio = upload
        .file
        .as_deref()
        .map(|bytes| sicha_audio::wav::read_wav(bytes).map_err(|e| e.to_string()));
    let duration_secs = match &audio {
        Some(Ok(wav)) if wav.sample_rate > 0 => wav.samples.len() as f32 / wav.sample_rate as f32,
        _ => 0.0,
    };
    request.model = Some(model.clone()).filter(|m| !m.is_empty());
    request.summary = format!(
        "{model} {} {format} {duration_secs:.2} s{}",
        upload.field("language").unwrap_or("(no language)"),
        upload
            .field("prompt")
            .map(|p| format!(" prompt: {}", preview(p)))
            .unwrap_or_default(),
    );
    request.fields = upload.fields.clone();
    let invalid = validate(&upload, &model, &format, audio.as_ref());
    if let Some(refused) = shared.admit(request, invalid) {
        return refused;
    }

    let hearing = Hearing::next(&shared);
    let delay = shared.state().profile.stt_delay();
    let heard = hearing.hear(match &audio {
        Some(Ok(wav)) => Some((&wav.samples, wav.sample_rate)),
        _ => None,
    });
    tokio::time::sleep(delay).await;
    let (text, no_speech_prob, avg_logprob) = match heard {
        SimTranscript::Heard(text) => (text, 0.02, -0.25),
        SimTranscript::Hallucination => (HALLUCINATION.to_string(), 0.9, -1.2),
        SimTranscript::Fail(status) => {
            shared.set_last_status(SimEndpoint::Transcriptions, status);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return openai_error(status, "Scripted transcription failure.", "server_error");
        }
    };
    match format.as_str() {
        "text" => text.into_response(),
        "verbose_json" => {
            axum::Json(verbose(&text, duration_secs, no_speech_prob, avg_logprob)).into_response()
        }
        _ => axum::Json(
            json!({"text": text, "usage": {"type": "duration", "seconds": duration_secs.ceil()}}),
        )
        .into_response(),
    }
}

/// What OpenAI would refuse, in its words; `audio` is the decoded file, if one was sent.
fn validate(
    upload: &Upload,
    model: &str,
    format: &str,
    audio: Option<&Result<WavAudio, String>>,
) -> Option<String> {
    if model.is_empty() {
        return Some("you must provide a model parameter".to_string());
    }
    // OpenAI does not require a language, but sicha always sends one: its absence is a bug here.
    if upload.field("language").is_none_or(str::is_empty) {
        return Some("the stand-in expects a language parameter".to_string());
    }
    if !matches!(format, "json" | "verbose_json" | "text") {
        return Some(format!(
            "response_format '{format}' is not supported by the stand-in"
        ));
    }
    if format == "verbose_json" && model.starts_with("gpt-4o") {
        return Some(format!(
            "response_format 'verbose_json' is not compatible with model '{model}'"
        ));
    }
    match audio {
        None => Some("a file is required".to_string()),
        Some(Err(error)) => Some(format!("Invalid file format: {error}")),
        Some(Ok(_))
            if !upload
                .file_name
                .as_deref()
                .unwrap_or_default()
                .ends_with(".wav") =>
        {
            Some("Invalid file format: the file name must end in .wav".to_string())
        }
        Some(Ok(_)) => None,
    }
}

/// Whisper's verbose answer: one segment per sentence, time shared out by length.
fn verbose(text: &str, duration_secs: f32, no_speech_prob: f32, avg_logprob: f32) -> Value {
    let sentences = split_sentences(text);
    let total_chars: usize = sentences
        .iter()
        .map(|s| s.chars().count())
        .sum::<usize>()
        .max(1);
    let mut start = 0.0f32;
    let segments: Vec<Value> = sentences
        .iter()
        .enumerate()
        .map(|(id, sentence)| {
            let end = start + duration_secs * sentence.chars().count() as f32 / total_chars as f32;
            let segment = json!({
                "id": id, "seek": 0, "start": start, "end": end, "text": format!(" {sentence}"),
                "tokens": [], "temperature": 0.0, "avg_logprob": avg_logprob,
                "compression_ratio": 1.1, "no_speech_prob": no_speech_prob,
            });
            start = end;
            segment
        })
        .collect();
    json!({"task": "transcribe", "language": "hebrew", "duration": duration_secs, "text": text, "segments": segments})
}

fn split_sentences(text: &str) -> Vec<String> {
    let mut sentences = Vec::new();
    let mut current = String::new();
    for ch in text.chars() {
        current.push(ch);
        if matches!(ch, '.' | '?' | '!') {
            sentences.push(current.trim().to_string());
            current.clear();
        }
    }
    if !current.trim().is_empty() || sentences.is_empty() {
        sentences.push(current.trim().to_string());
    }
    sentences.retain(|s| !s.is_empty() || text.trim().is_empty());
    sentences
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_become_segments_that_cover_the_audio() {
        let answer = verbose("שלום. מה שלומך? טוב", 3.0, 0.02, -0.25);
        let segments = answer["segments"].as_array().unwrap();
        assert_eq!(segments.len(), 3);
        assert_eq!(segments[0]["start"], json!(0.0));
        let end = segments[2]["end"].as_f64().unwrap();
        assert!((end - 3.0).abs() < 1e-4, "{end}");
        assert_eq!(answer["duration"], json!(3.0));
    }

    /// Each line's upload is heard as that line once the queue is empty, in any order; a queued
    /// transcript still comes first, and audio that is no known line gets the default.
    #[tokio::test]
    async fn a_taught_line_is_heard_by_its_audio_once_the_queue_is_empty() {
        use crate::openai::{OpenAiSim, SimProfile};
        use crate::scenario::Scenario;
        use sicha::providers::{OpenAiConfig, stt::OpenAiStt};

        let sim = OpenAiSim::start(SimProfile::instant()).await.unwrap();
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/scripts/call2_hours_address.wav"
        );
        let scenario = Scenario::from_fixture(std::path::Path::new(fixture)).unwrap();
        scenario.teach(&sim);
        scenario.teach(&sim);
        assert_eq!(sim.known_utterances(), scenario.lines.len(), "taught once");
        let config = OpenAiConfig::new(sim.base_url(), None);
        let stt = OpenAiStt::new(config, "gpt-4o-transcribe");
        let upload = |index: usize| {
            let codes = &scenario.lines[index].codes;
            let mut samples = vec![0i16; codes.len()];
            sicha_audio::mulaw::decode_into(codes, &mut samples);
            sicha_audio::wav::pcm16_to_wav_bytes(&samples, 8000)
        };

        for index in (0..scenario.lines.len()).rev() {
            let heard = stt.transcribe(upload(index), None).await.unwrap();
            assert_eq!(heard.text, scenario.lines[index].text);
        }
        sim.push_transcripts(["מה שעות הפתיחה?"]);
        let queued = stt.transcribe(upload(0), None).await.unwrap();
        assert_eq!(queued.text, "מה שעות הפתיחה?", "the queue comes first");
        let tone: Vec<i16> = (0..16_000)
            .map(|n| ((n as f32 * 0.05).sin() * 8000.0) as i16)
            .collect();
        let unknown = stt
            .transcribe(sicha_audio::wav::pcm16_to_wav_bytes(&tone, 16_000), None)
            .await
            .unwrap();
        assert_eq!(unknown.text, DEFAULT_TRANSCRIPT);
    }

    #[test]
    fn blank_text_still_has_one_segment() {
        assert_eq!(split_sentences(""), vec![String::new()]);
        assert_eq!(split_sentences("אחת. שתיים."), vec!["אחת.", "שתיים."]);
    }
}
