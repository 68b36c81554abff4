//! Text-to-speech providers against their local stand-ins; the fallback chain across them is in
//! [`chain`].

mod chain;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt;
use serde_json::Value;
use sicha::config::Secret;
use sicha::providers::OpenAiConfig;
use sicha::providers::tts::audio::rms;
use sicha::providers::tts::{
    ElevenLabsConfig, ElevenLabsTts, EspeakConfig, EspeakTts, GoogleTts, GoogleTtsConfig,
    OpenAiTts, OpenAiTtsConfig, PcmStream, Tts, TtsChain, TtsError,
};
use sicha_sim::elevenlabs::ElevenLabsSim;
use sicha_sim::google_tts::GoogleTtsSim;
use sicha_sim::openai::{OpenAiSim, SimEndpoint, SimProfile};
use url::Url;

const SENTENCE: &str = "שלום, הגעתם למספרה של דני. במה אפשר לעזור?";

/// Every chunk of a stream, and the error that ended it if any.
async fn collect_chunks(mut stream: PcmStream) -> (Vec<Vec<i16>>, Option<TtsError>) {
    let mut chunks = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => chunks.push(chunk),
            Err(error) => return (chunks, Some(error)),
        }
    }
    (chunks, None)
}

async fn collect(stream: PcmStream) -> Vec<i16> {
    let (chunks, error) = collect_chunks(stream).await;
    assert!(error.is_none(), "stream ended with {error:?}");
    chunks.concat()
}

/// The status and message of the HTTP error a synthesis must have been refused with.
fn http_error(result: Result<PcmStream, TtsError>) -> (u16, String) {
    match result {
        Err(TtsError::Http { status, message }) => (status, message),
        other => panic!("expected an HTTP error, got {:?}", other.err()),
    }
}

fn espeak_installed() -> bool {
    std::process::Command::new("espeak-ng")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Google pointed at its stand-in, with the stand-in's key.
fn google_config(sim: &GoogleTtsSim) -> GoogleTtsConfig {
    GoogleTtsConfig {
        base_url: sim.base_url(),
        ..GoogleTtsConfig::new(Secret::new(sim.api_key()))
    }
}

fn google(sim: &GoogleTtsSim) -> Tts {
    Tts::Google(GoogleTts::new(google_config(sim)))
}

/// ElevenLabs pointed at its stand-in, with the stand-in's key and the voice `sim-voice`.
fn elevenlabs_config(sim: &ElevenLabsSim) -> ElevenLabsConfig {
    ElevenLabsConfig {
        base_url: sim.base_url(),
        ..ElevenLabsConfig::new(Secret::new(sim.api_key()), "sim-voice")
    }
}

fn elevenlabs(sim: &ElevenLabsSim) -> Tts {
    Tts::ElevenLabs(ElevenLabsTts::new(elevenlabs_config(sim)))
}

#[tokio::test]
async fn google_audio_is_exactly_the_data_chunk_of_the_returned_wav() {
    let sim = GoogleTtsSim::start().await.unwrap();
    let pcm = collect(google(&sim).synthesize(SENTENCE, None).await.unwrap()).await;

    // Ask the stand-in again directly and read the WAV's data chunk independently of the provider.
    let body = serde_json::json!({
        "input": {"text": SENTENCE},
        "voice": {"languageCode": "he-IL", "name": "he-IL-Wavenet-A"},
        "audioConfig": {"audioEncoding": "MULAW", "sampleRateHertz": 8000},
    });
    let answer: Value = reqwest::Client::new()
        .post(format!("{}v1/text:synthesize", sim.base_url()))
        .header("X-goog-api-key", sim.api_key())
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let wav = STANDARD
        .decode(answer["audioContent"].as_str().unwrap())
        .unwrap();
    let expected = sicha_audio::wav::read_wav(wav.as_slice()).unwrap();
    assert_eq!(expected.sample_rate, 8000);
    assert_eq!(
        pcm.len(),
        expected.samples.len(),
        "header bytes must not become samples"
    );
    assert_eq!(pcm, expected.samples);
    assert!(
        wav.len() - pcm.len() > 44,
        "the header is not the canonical 44 bytes"
    );
    assert!(rms(&pcm) > 300.0, "speech, not silence: rms {}", rms(&pcm));

    let request = &sim.requests()[0];
    assert!(request.authorized);
    assert_eq!(request.language_code.as_deref(), Some("he-IL"));
    assert_eq!(request.voice_name.as_deref(), Some("he-IL-Wavenet-A"));
    assert_eq!(request.audio_encoding.as_deref(), Some("MULAW"));
    assert_eq!(request.sample_rate_hertz, Some(8000));
    assert_eq!(request.text.as_deref(), Some(SENTENCE));
}

#[tokio::test]
async fn google_refusals_are_typed() {
    let sim = GoogleTtsSim::start().await.unwrap();
    let wrong_key = Tts::Google(GoogleTts::new(GoogleTtsConfig {
        api_key: Secret::new("not-the-key"),
        ..google_config(&sim)
    }));
    let (status, message) = http_error(wrong_key.synthesize(SENTENCE, None).await);
    assert_eq!(status, 400);
    assert!(message.contains("API key not valid"), "{message}");
    // 2,501 Hebrew letters are 5,002 bytes: over Google's limit although under 5,000 characters.
    let too_long = "ש".repeat(2501);
    let result = google(&sim).synthesize(&too_long, None).await;
    assert!(matches!(
        result,
        Err(TtsError::InputTooLong {
            limit: 5000,
            unit: "bytes",
            ..
        })
    ));
    assert_eq!(
        sim.requests().len(),
        1,
        "the long text never left the process"
    );
}

#[tokio::test]
async fn elevenlabs_audio_arrives_in_chunks_and_decodes_as_it_streams() {
    let sim = ElevenLabsSim::start().await.unwrap();
    let started = Instant::now();
    let mut stream = elevenlabs(&sim).synthesize(SENTENCE, None).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    let first_at = started.elapsed();
    let (rest, error) = collect_chunks(stream).await;
    assert!(error.is_none(), "{error:?}");
    let total_at = started.elapsed();
    assert!(!rest.is_empty(), "more than one chunk");
    assert!(first_at < total_at, "the first chunk came before the end");
    let total: usize = first.len() + rest.iter().map(Vec::len).sum::<usize>();

    // Raw μ-law: one byte per sample, so the decoded length equals the streamed byte count.
    let bytes = reqwest::Client::new()
        .post(format!(
            "{}v1/text-to-speech/sim-voice/stream?output_format=ulaw_8000",
            sim.base_url()
        ))
        .header("xi-api-key", sim.api_key())
        .json(&serde_json::json!({"text": SENTENCE, "model_id": "eleven_v3"}))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(total, bytes.len());
    let all: Vec<i16> = [first, rest.concat()].concat();
    assert!(rms(&all) > 300.0, "speech, not silence");

    let request = &sim.requests()[0];
    assert!(request.authorized);
    assert_eq!(request.voice_id, "sim-voice");
    assert_eq!(request.model_id.as_deref(), Some("eleven_v3"));
    assert_eq!(request.output_format.as_deref(), Some("ulaw_8000"));
}

#[tokio::test]
async fn elevenlabs_key_errors_carry_the_service_message() {
    let sim = ElevenLabsSim::start().await.unwrap();
    let wrong_key = Tts::ElevenLabs(ElevenLabsTts::new(ElevenLabsConfig {
        api_key: Secret::new("nope"),
        ..elevenlabs_config(&sim)
    }));
    let (status, message) = http_error(wrong_key.synthesize(SENTENCE, None).await);
    assert_eq!(status, 401);
    assert_eq!(message, "Invalid API key");
}

/// What the local OpenAI-format server received.
#[derive(Debug, Clone)]
struct SpeechCall {
    body: Value,
    authorization: Option<String>,
}

/// A local server speaking `/v1/audio/speech` with `pcm`: 24 kHz s16le, sent in odd-sized chunks so
/// samples straddle chunk boundaries. With `cut_after` it aborts the body after that many bytes.
async fn openai_speech_server(
    audio: Vec<i16>,
    cut_after: Option<usize>,
) -> (Url, Arc<Mutex<Vec<SpeechCall>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let recorded = calls.clone();
    let bytes: Vec<u8> = audio.iter().flat_map(|s| s.to_le_bytes()).collect();
    let handler = move |headers: HeaderMap, body: Bytes| {
        let recorded = recorded.clone();
        let bytes = bytes.clone();
        async move {
            recorded.lock().unwrap().push(SpeechCall {
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                authorization: headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_string()),
            });
            let limit = cut_after.unwrap_or(bytes.len());
            let mut pieces: Vec<Result<Bytes, std::io::Error>> = bytes[..limit]
                .chunks(1001)
                .map(|piece| Ok(Bytes::copy_from_slice(piece)))
                .collect();
            if cut_after.is_some() {
                pieces.push(Err(std::io::Error::other("upstream died")));
            }
            let paced = futures::stream::iter(pieces).then(|piece| async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                piece
            });
            Body::from_stream(paced)
        }
    };
    let app = Router::new().route("/v1/audio/speech", post(handler));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (Url::parse(&format!("http://{address}/v1")).unwrap(), calls)
}

fn sine_24k(seconds: f64, amplitude: f64) -> Vec<i16> {
    let len = (seconds * 24_000.0) as usize;
    (0..len)
        .map(|i| {
            (amplitude * (2.0 * std::f64::consts::PI * 300.0 * i as f64 / 24_000.0).sin()) as i16
        })
        .collect()
}

fn openai(base_url: Url, key: Option<&str>) -> Tts {
    let server = OpenAiConfig::new(base_url, key.map(Secret::new));
    Tts::OpenAi(OpenAiTts::new(OpenAiTtsConfig::new(server)))
}

#[tokio::test]
async fn openai_pcm_is_resampled_to_a_third_of_its_length_while_streaming() {
    let (base_url, calls) = openai_speech_server(sine_24k(1.5, 10_000.0), None).await;
    let stream = openai(base_url, Some("sk-test"))
        .synthesize(SENTENCE, None)
        .await
        .unwrap();
    let (chunks, error) = collect_chunks(stream).await;
    assert!(error.is_none(), "{error:?}");
    assert!(
        chunks.len() > 3,
        "audio came out as it arrived: {} chunks",
        chunks.len()
    );
    let pcm = chunks.concat();
    // 1.5 s at 8 kHz; the resampler's flushed tail may add a block at most.
    assert!(
        (12_000..=12_000 + 160).contains(&pcm.len()),
        "{} samples",
        pcm.len()
    );
    let steady = &pcm[1000..11_000];
    assert!(
        (rms(steady) - 7071.0).abs() < 300.0,
        "a 300 Hz tone keeps its level: {}",
        rms(steady)
    );

    let call = calls.lock().unwrap()[0].clone();
    assert_eq!(call.authorization.as_deref(), Some("Bearer sk-test"));
    assert_eq!(call.body["model"], "gpt-4o-mini-tts");
    assert_eq!(call.body["voice"], "alloy");
    assert_eq!(call.body["response_format"], "pcm");
    assert_eq!(call.body["input"], SENTENCE);
}

#[tokio::test]
async fn espeak_speaks_hebrew_at_the_line_rate() {
    let tts = Tts::Espeak(EspeakTts::new(EspeakConfig::default()));
    if !espeak_installed() {
        let result = tts.synthesize(SENTENCE, None).await;
        assert!(matches!(result, Err(TtsError::Unavailable(_))));
        return;
    }
    let pcm = collect(tts.synthesize(SENTENCE, None).await.unwrap()).await;
    let seconds = pcm.len() as f64 / 8000.0;
    assert!(
        (1.5..8.0).contains(&seconds),
        "{seconds:.2} s for one sentence"
    );
    assert!(rms(&pcm) > 500.0, "speech, not silence: rms {}", rms(&pcm));
    // Text that looks like an option is spoken, not obeyed: it goes in on stdin.
    let dashed = collect(tts.synthesize("--help", None).await.unwrap()).await;
    assert!(!dashed.is_empty());
}

#[tokio::test]
async fn openai_against_its_stand_in_streams_a_third_of_the_samples() {
    let sim = OpenAiSim::start(SimProfile::instant()).await.unwrap();
    sim.require_api_key("sk-sim");
    // The tone is deterministic: as long as the text would take to say, at 24 kHz.
    sim.set_espeak(false);
    let stream = openai(sim.base_url(), Some("sk-sim"))
        .synthesize(SENTENCE, None)
        .await
        .unwrap();
    let (chunks, error) = collect_chunks(stream).await;
    assert!(error.is_none(), "{error:?}");
    let pcm = chunks.concat();
    let expected_24k = (SENTENCE.chars().count() as u64 * 65).max(300) * 24;
    let expected = expected_24k as usize / 3;
    assert!(
        pcm.len().abs_diff(expected) <= 160,
        "{} samples, expected about {expected}",
        pcm.len()
    );
    assert!(rms(&pcm) > 300.0);

    sim.fail_next(SimEndpoint::Speech, 1, 500);
    let google_sim = GoogleTtsSim::start().await.unwrap();
    let chain = TtsChain::new(vec![
        openai(sim.base_url(), Some("sk-sim")),
        google(&google_sim),
    ]);
    let output = chain.synthesize(SENTENCE, None).await.unwrap();
    assert_eq!(output.provider, "google");
    assert!(matches!(
        output.failures[..],
        [("openai", TtsError::Http { status: 500, .. })]
    ));
}
