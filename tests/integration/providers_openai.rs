//! The OpenAI-compatible clients against the local stand-in: transcripts in both formats, typed failures
//! and timeouts, streamed chat text and tool calls, cut and cancelled streams, the key header, and the
//! stand-in's speech endpoint.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use sicha::config::Secret;
use sicha::providers::OpenAiConfig;
use sicha::providers::llm::{ChatDelta, ChatMessage, ChatRequest, LlmError, OpenAiChat, ToolSpec};
use sicha::providers::stt::{OpenAiStt, SttError};
use sicha_sim::openai::{ChatRule, OpenAiSim, SimEndpoint, SimProfile, SimTranscript};

mod chat;

async fn sim() -> OpenAiSim {
    OpenAiSim::start(SimProfile::instant())
        .await
        .expect("stand-in starts")
}

fn config(sim: &OpenAiSim) -> OpenAiConfig {
    OpenAiConfig::new(sim.base_url(), None).with_timeout(Duration::from_secs(5))
}

/// One second of a 16 kHz tone as a WAV upload.
fn utterance_wav() -> Vec<u8> {
    let samples: Vec<i16> = (0..16_000)
        .map(|n| ((n as f32 * 0.05).sin() * 8000.0) as i16)
        .collect();
    sicha_audio::wav::pcm16_to_wav_bytes(&samples, 16_000)
}

fn user_says(text: &str) -> ChatRequest {
    ChatRequest::new(vec![
        ChatMessage::system("אתה נציג שירות של מספרה."),
        ChatMessage::user(text),
    ])
}

async fn collect(chat: &OpenAiChat, request: &ChatRequest) -> Vec<Result<ChatDelta, LlmError>> {
    chat.stream(request)
        .await
        .expect("stream starts")
        .collect()
        .await
}

#[tokio::test]
async fn gpt4o_transcription_asks_for_json_and_gets_text_without_segments() {
    let sim = sim().await;
    sim.push_transcripts(["מתי אתם פתוחים?"]);
    let stt = OpenAiStt::new(config(&sim), "gpt-4o-transcribe");

    let transcript = stt.transcribe(utterance_wav(), None).await.unwrap();

    assert_eq!(transcript.text, "מתי אתם פתוחים?");
    assert!(transcript.segments.is_empty());
    assert_eq!(transcript.max_no_speech_prob(), None);
    let request = &sim.requests()[0];
    assert_eq!(request.field("response_format"), Some("json"));
    assert_eq!(request.field("language"), Some("he"));
    assert_eq!(request.field("temperature"), Some("0"));
    assert_eq!(request.field("prompt"), None);
}

#[tokio::test]
async fn whisper_transcription_gets_segments_with_scores_and_sends_the_prompt() {
    let sim = sim().await;
    sim.push_transcripts([
        SimTranscript::from("שלום. אני רוצה לקבוע תור."),
        SimTranscript::Hallucination,
    ]);
    let stt = OpenAiStt::new(config(&sim), "whisper-1");

    let speech = stt
        .transcribe(utterance_wav(), Some("מספרת רונית"))
        .await
        .unwrap();
    assert_eq!(speech.segments.len(), 2);
    let duration = speech.duration_secs.expect("verbose_json has a duration");
    assert!((duration - 1.0).abs() < 0.01, "{duration}");
    assert!(speech.max_no_speech_prob().unwrap() < 0.1);
    assert!(!speech.all_segments_silent(0.6, -1.0));

    let silence = stt.transcribe(utterance_wav(), None).await.unwrap();
    assert_eq!(silence.text, "תודה רבה");
    assert_eq!(silence.max_no_speech_prob(), Some(0.9));
    assert!(silence.all_segments_silent(0.6, -1.0));

    let first = &sim.requests()[0];
    assert_eq!(first.field("response_format"), Some("verbose_json"));
    assert_eq!(first.field("prompt"), Some("מספרת רונית"));
}

#[tokio::test]
async fn server_failures_and_refusals_are_typed_with_the_servers_message() {
    let sim = sim().await;
    sim.fail_next(SimEndpoint::Transcriptions, 1, 500);
    sim.push_transcripts([SimTranscript::Fail(503)]);
    let stt = OpenAiStt::new(config(&sim), "whisper-1");

    let injected = stt.transcribe(utterance_wav(), None).await.unwrap_err();
    assert!(
        matches!(&injected, SttError::Http { status: 500, message } if message == "Injected failure."),
        "{injected:?}"
    );
    let scripted = stt.transcribe(utterance_wav(), None).await.unwrap_err();
    assert!(
        matches!(scripted, SttError::Http { status: 503, .. }),
        "{scripted:?}"
    );
    let not_wav = stt
        .transcribe(b"not audio".to_vec(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&not_wav, SttError::Http { status: 400, message } if message.contains("Invalid file format")),
        "{not_wav:?}"
    );
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 503, 400]);
}

#[tokio::test]
async fn a_slow_server_times_out_instead_of_hanging_the_turn() {
    let sim = sim().await;
    sim.set_profile(SimProfile {
        stt_ms: 1500,
        llm_ttft_ms: 1500,
        ..SimProfile::instant()
    });
    let impatient = config(&sim).with_timeout(Duration::from_millis(150));

    let started = Instant::now();
    let stt = OpenAiStt::new(impatient.clone(), "whisper-1");
    let error = stt.transcribe(utterance_wav(), None).await.unwrap_err();
    assert!(matches!(error, SttError::Timeout), "{error:?}");

    let chat = OpenAiChat::new(impatient, "gpt-4o");
    let error = match chat.stream(&user_says("שלום")).await {
        Err(error) => error,
        Ok(mut stream) => stream.next().await.expect("an item").unwrap_err(),
    };
    assert!(matches!(error, LlmError::Timeout(_)), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_key_is_sent_as_a_bearer_header_only_when_configured() {
    let sim = sim().await;
    sim.require_api_key("sk-sim-test");
    let with_key = OpenAiConfig::new(sim.base_url(), Some(Secret::new("sk-sim-test")));
    let without_key = config(&sim);

    OpenAiStt::new(with_key.clone(), "whisper-1")
        .transcribe(utterance_wav(), None)
        .await
        .unwrap();
    collect(&OpenAiChat::new(with_key, "gpt-4o"), &user_says("שלום")).await;
    let refused = OpenAiChat::new(without_key, "gpt-4o")
        .stream(&user_says("שלום"))
        .await;

    assert!(matches!(refused, Err(LlmError::Http { status: 401, .. })));
    let seen: Vec<Option<String>> = sim
        .requests()
        .iter()
        .map(|r| r.authorization.as_ref().map(|a| a.expose().to_string()))
        .collect();
    assert_eq!(
        seen,
        [
            Some("Bearer sk-sim-test".to_string()),
            Some("Bearer sk-sim-test".to_string()),
            None
        ]
    );
}

#[tokio::test]
async fn the_speech_endpoint_answers_24khz_pcm_as_long_as_the_text() {
    let sim = sim().await;
    let http = reqwest::Client::new();
    let speech_url = format!("{}/audio/speech", sim.base_url());
    let text = "שלום, הגעתם למספרה של רונית. במה אפשר לעזור?";
    let ask = |format: &'static str| {
        http.post(&speech_url)
            .json(&json!({"model": "tts-1", "voice": "alloy", "input": text, "response_format": format}))
            .send()
    };

    let response = ask("pcm").await.unwrap();
    assert_eq!(response.status(), 200);
    let source = response.headers()["x-sim-audio"]
        .to_str()
        .unwrap()
        .to_string();
    let espeak_installed = std::process::Command::new("espeak-ng")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    assert_eq!(source, if espeak_installed { "espeak" } else { "tone" });
    let pcm = response.bytes().await.unwrap();
    assert_eq!(pcm.len() % 2, 0);
    let seconds = pcm.len() as f64 / 2.0 / 24_000.0;
    assert!((1.0..8.0).contains(&seconds), "{source}: {seconds} s");

    sim.set_espeak(false);
    let wav = ask("wav").await.unwrap();
    assert_eq!(wav.headers()["x-sim-audio"], "tone");
    let audio = sicha_audio::wav::read_wav(wav.bytes().await.unwrap().as_ref()).unwrap();
    assert_eq!(audio.sample_rate, 24_000);
    assert_eq!(audio.samples.len(), text.chars().count() * 65 * 24);

    sim.speech_empty_next(1);
    let empty = ask("pcm").await.unwrap();
    assert_eq!(empty.headers()["x-sim-audio"], "empty");
    assert!(empty.bytes().await.unwrap().is_empty());
    assert_eq!(ask("mp3").await.unwrap().status(), 400);
    assert_eq!(sim.count(SimEndpoint::Speech), 4);
}

#[tokio::test]
async fn the_stand_in_streams_server_sent_events_shaped_like_openai() {
    let sim = sim().await;
    let body = reqwest::Client::new()
        .post(format!("{}/chat/completions", sim.base_url()))
        .json(&json!({"model": "gpt-4o", "stream": true,
                      "messages": [{"role": "user", "content": "שלום"}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    let events: Vec<&str> = body.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert!(events.iter().all(|e| e.starts_with("data: ")), "{body}");
    assert_eq!(events.last(), Some(&"data: [DONE]"));
    let first: serde_json::Value = serde_json::from_str(&events[0]["data: ".len()..]).unwrap();
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    assert!(first["choices"][0]["finish_reason"].is_null());
    let finish: serde_json::Value =
        serde_json::from_str(&events[events.len() - 2]["data: ".len()..]).unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn the_typical_profile_delays_transcription_like_a_hosted_api() {
    let sim = OpenAiSim::start(SimProfile::typical()).await.unwrap();
    let stt = OpenAiStt::new(config(&sim), "whisper-1");

    let started = Instant::now();
    stt.transcribe(utterance_wav(), None).await.unwrap();
    let took = started.elapsed();

    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
}
