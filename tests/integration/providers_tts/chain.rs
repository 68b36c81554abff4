//! The fallback chain: which failures move a sentence to the next provider, which end it, and how
//! `SICHA_TTS` names the chain.

use std::time::{Duration, Instant};

use sicha::providers::tts::audio::rms;
use sicha::providers::tts::{
    GoogleTts, GoogleTtsConfig, ProviderKind, TimeoutPhase, Tts, TtsChain, TtsError, TtsSettings,
    TtsTimeouts, parse_provider_list,
};
use sicha_sim::elevenlabs::ElevenLabsSim;
use sicha_sim::google_tts::GoogleTtsSim;

use super::{
    SENTENCE, collect, collect_chunks, elevenlabs, google, google_config, openai,
    openai_speech_server, sine_24k,
};

/// Google first, ElevenLabs second, with a short first-audio deadline on Google.
async fn two_provider_chain() -> (TtsChain, GoogleTtsSim, ElevenLabsSim) {
    let google_sim = GoogleTtsSim::start().await.unwrap();
    let eleven_sim = ElevenLabsSim::start().await.unwrap();
    let google = Tts::Google(GoogleTts::new(GoogleTtsConfig {
        timeouts: TtsTimeouts {
            first_audio: Duration::from_millis(1500),
            total: Duration::from_secs(10),
        },
        ..google_config(&google_sim)
    }));
    let chain = TtsChain::new(vec![google, elevenlabs(&eleven_sim)]);
    (chain, google_sim, eleven_sim)
}

async fn assert_falls_back(chain: &TtsChain, expected_failure: fn(&TtsError) -> bool) {
    let output = chain.synthesize(SENTENCE, None).await.unwrap();
    assert_eq!(output.provider, "elevenlabs");
    assert_eq!(output.failures.len(), 1, "{:?}", output.failures);
    assert_eq!(output.failures[0].0, "google");
    assert!(
        expected_failure(&output.failures[0].1),
        "{:?}",
        output.failures[0].1
    );
    let pcm = collect(output.pcm).await;
    assert!(rms(&pcm) > 300.0, "the fallback's speech is audible");
}

#[tokio::test]
async fn chain_falls_back_on_an_http_error() {
    let (chain, google_sim, _eleven) = two_provider_chain().await;
    google_sim.injections().fail_next(1, 503);
    assert_falls_back(&chain, |e| matches!(e, TtsError::Http { status: 503, .. })).await;
    // The injection is used up: Google serves the next sentence itself.
    let output = chain.synthesize(SENTENCE, None).await.unwrap();
    assert_eq!(output.provider, "google");
    assert!(output.failures.is_empty());
}

#[tokio::test]
async fn chain_falls_back_on_a_timeout_without_waiting_for_the_slow_provider() {
    let (chain, google_sim, _eleven) = two_provider_chain().await;
    google_sim.injections().set_delay(Duration::from_secs(3));
    let started = Instant::now();
    assert_falls_back(&chain, |e| {
        matches!(
            e,
            TtsError::Timeout {
                phase: TimeoutPhase::FirstAudio,
                ..
            }
        )
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn chain_falls_back_on_empty_audio() {
    let (chain, google_sim, _eleven) = two_provider_chain().await;
    google_sim.injections().empty_next(1);
    assert_falls_back(&chain, |e| matches!(e, TtsError::EmptyAudio)).await;
}

#[tokio::test]
async fn chain_falls_back_on_silent_audio() {
    let (chain, google_sim, _eleven) = two_provider_chain().await;
    google_sim.injections().silence_next(1);
    assert_falls_back(&chain, |e| matches!(e, TtsError::SilentAudio)).await;
}

#[tokio::test]
async fn chain_reports_every_failure_when_all_fail() {
    let (chain, google_sim, eleven_sim) = two_provider_chain().await;
    google_sim.injections().fail_next(1, 429);
    eleven_sim.injections().silence_next(1);
    let error = chain.synthesize(SENTENCE, None).await.unwrap_err();
    let names: Vec<_> = error.failures.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, vec!["google", "elevenlabs"]);
    assert!(matches!(
        error.failures[0].1,
        TtsError::Http { status: 429, .. }
    ));
    assert!(matches!(error.failures[1].1, TtsError::SilentAudio));
    assert!(error.to_string().contains("google: HTTP 429"), "{error}");
}

#[tokio::test]
async fn a_failure_after_audio_started_ends_the_stream_instead_of_switching_voices() {
    let audio = sine_24k(2.0, 10_000.0);
    let (base_url, _calls) = openai_speech_server(audio, Some(24_000)).await;
    let google_sim = GoogleTtsSim::start().await.unwrap();
    let chain = TtsChain::new(vec![openai(base_url, None), google(&google_sim)]);
    let output = chain.synthesize(SENTENCE, None).await.unwrap();
    assert_eq!(output.provider, "openai");
    let (chunks, error) = collect_chunks(output.pcm).await;
    assert!(
        !chunks.concat().is_empty(),
        "the first half second was played"
    );
    assert!(matches!(error, Some(TtsError::Transport(_))), "{error:?}");
    assert!(
        google_sim.requests().is_empty(),
        "no silent switch to another voice"
    );
}

#[tokio::test]
async fn sicha_tts_names_the_chain_in_order() {
    assert_eq!(
        parse_provider_list("google,openai,espeak").unwrap(),
        vec![
            ProviderKind::Google,
            ProviderKind::OpenAi,
            ProviderKind::Espeak
        ]
    );
    let unknown = parse_provider_list("google,azure").unwrap_err();
    assert!(unknown.to_string().contains("azure"), "{unknown}");

    let google_sim = GoogleTtsSim::start().await.unwrap();
    let settings = TtsSettings {
        google: Some(google_config(&google_sim)),
        ..TtsSettings::default()
    };
    let chain = TtsChain::from_spec("espeak, google", &settings).unwrap();
    let names: Vec<_> = chain.providers().iter().map(Tts::name).collect();
    assert_eq!(names, vec!["espeak", "google"]);
    assert!(
        TtsChain::from_spec("google,openai", &settings).is_err(),
        "openai has no settings"
    );
}
