//! The agent's timers in whole calls: a slow answer gets a filler so the caller never waits in
//! silence, and a quiet line gets "are you still there?" and then a goodbye.

use crate::common;

use std::time::Duration;

use crate::common::databases::for_each_engine;
use common::{AUTH_TOKEN, BUSINESS_NUMBER, fixture_mulaw, listen, silence, spawn_app_with};
use sicha::call::session::AgentMode;
use sicha::startup::ServeOptions;
use sicha_sim::openai::{OpenAiSim, SimProfile};
use sicha_sim::twilio_api::TwilioApiSim;

/// How long the server must stay quiet for an answer to count as finished: above the gap between
/// two sentences' synthesis on a loaded machine.
const QUIET: Duration = Duration::from_millis(1200);

async fn app_with(db: &str, openai: &OpenAiSim, more: &[(&str, &str)]) -> common::TestApp {
    let twilio = TwilioApiSim::start_with("ACtest0000000000000000000000000000", AUTH_TOKEN)
        .await
        .unwrap();
    let (openai_url, twilio_url) = (openai.base_url().to_string(), twilio.base_url().to_string());
    let mut settings = vec![
        ("OPENAI_BASE_URL", openai_url.as_str()),
        ("TWILIO_API_BASE", twilio_url.as_str()),
        ("SICHA_TTS", "openai"),
    ];
    settings.extend_from_slice(more);
    let app = spawn_app_with(
        db,
        &settings,
        ServeOptions {
            allow_unsigned: false,
            agent: AgentMode::Ai,
        },
    )
    .await;
    app.add_business(BUSINESS_NUMBER).await;
    app
}

#[tokio::test]
async fn a_slow_answer_gets_a_filler_before_three_seconds() {
    for_each_engine(|db| async move {
        let openai = OpenAiSim::start(SimProfile::instant()).await.unwrap();
        let app = app_with(&db, &openai, &[]).await;
        let mut stream = app.connect_call("CA600").await;
        listen(&mut stream, QUIET, true).await;
        openai.set_profile(SimProfile {
            llm_ttft_ms: 4000,
            ..SimProfile::instant()
        });
        openai.push_transcripts(["אפשר לדבר עם מישהו על החשבון שלי?"]);
        let mut audio = fixture_mulaw("single/u09_agent.wav");
        audio.extend(silence(900));
        stream.send_audio(&audio).await.unwrap();
        // The filler is due 2 s after the utterance; the answer only after 4 s.
        let heard = listen(&mut stream, Duration::from_millis(3200), true).await;
        assert!(
            heard.marks.len() >= 2,
            "a filler, then the answer: {heard:?}"
        );
        stream.send_stop("CA600").await.unwrap();
        app.wait_for_call("CA600", |c| c.ended_at_ms.is_some())
            .await;
        assert!(
            app.event_kinds("CA600")
                .await
                .contains(&"filler".to_string())
        );
        let turns = app.store.turns_for_call("CA600").await.unwrap();
        let answer = turns.iter().rev().find(|t| t.role == "agent").unwrap();
        assert!(
            answer.text.starts_with(sicha::call::agent::phrases::FILLER),
            "{answer:?}"
        );
        assert!(
            answer.v2v_ms.unwrap() < 3000,
            "the caller heard something within 3 s: {answer:?}"
        );
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_silent_caller_is_prompted_then_told_goodbye() {
    for_each_engine(|db| async move {
        let openai = OpenAiSim::start(SimProfile::instant()).await.unwrap();
        let quiet = [
            ("SICHA_SILENCE_PROMPT_SECS", "1"),
            ("SICHA_SILENCE_PROMPTS", "1"),
        ];
        let app = app_with(&db, &openai, &quiet).await;
        let mut stream = app.connect_call("CA610").await;
        // Greeting, then one prompt, then the goodbye and the end of the call: the caller says nothing.
        let heard = listen(&mut stream, Duration::from_millis(2500), true).await;
        assert!(
            heard.marks.len() >= 3 && heard.closed,
            "greeting, prompt, goodbye, hang-up: {heard:?}"
        );
        let call = app
            .wait_for_call("CA610", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(call.end_reason.as_deref(), Some("caller_silent"));
        let events = app.event_kinds("CA610").await;
        assert_eq!(
            events.iter().filter(|e| *e == "silence").count(),
            2,
            "{events:?}"
        );
        app.shutdown().await;
    })
    .await;
}

/// A transcription slower than the caller: their first words are still with STT when they speak
/// again after the filler. Nothing is lost and the records keep speech order: one caller turn with
/// both utterances in the order spoken, one answer after it, the filler as its own event.
#[tokio::test]
async fn a_slow_transcription_loses_no_words_and_keeps_the_turns_in_speech_order() {
    for_each_engine(|db| async move {
        let openai = OpenAiSim::start(SimProfile::instant()).await.unwrap();
        let app = app_with(&db, &openai, &[]).await;
        let mut stream = app.connect_call("CA620").await;
        listen(&mut stream, QUIET, true).await;
        openai.set_profile(SimProfile {
            stt_ms: 6000,
            ..SimProfile::instant()
        });
        openai.push_transcripts(["אני רוצה לקבוע תור", "למחר בבוקר"]);
        let mut first = fixture_mulaw("single/u03_booking.wav");
        first.extend(silence(900));
        stream.send_audio(&first).await.unwrap();
        // The filler comes 2 s after the speech; then the caller says more.
        let filler = listen(&mut stream, QUIET, true).await;
        assert!(
            !filler.marks.is_empty(),
            "a filler while STT is slow: {filler:?}"
        );
        let mut second = fixture_mulaw("single/u05_haircut_price.wav");
        second.extend(silence(900));
        stream.send_audio(&second).await.unwrap();
        let chats = || {
            openai
                .requests()
                .into_iter()
                .filter(|r| r.endpoint == sicha_sim::openai::SimEndpoint::ChatCompletions)
                .collect::<Vec<_>>()
        };
        // Both transcriptions take 6 s; meanwhile the caller may hear another filler.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while chats().is_empty() && tokio::time::Instant::now() < deadline {
            listen(&mut stream, Duration::from_millis(300), true).await;
        }
        let answer = listen(&mut stream, QUIET, true).await;
        assert!(answer.media_bytes > 0, "the caller is answered: {answer:?}");
        stream.send_stop("CA620").await.unwrap();
        app.wait_for_call("CA620", |c| c.ended_at_ms.is_some())
            .await;

        let chats = chats();
        assert_eq!(chats.len(), 1, "one answer, to both utterances");
        let asked = chats[0].json.as_ref().unwrap().to_string();
        let (first_at, second_at) = (asked.find("אני רוצה לקבוע תור"), asked.find("למחר בבוקר"));
        assert!(
            first_at.is_some() && first_at < second_at,
            "in speech order: {asked}"
        );
        let turns = app.store.turns_for_call("CA620").await.unwrap();
        let roles: Vec<(i64, &str)> = turns.iter().map(|t| (t.seq, t.role.as_str())).collect();
        assert_eq!(
            roles[..3],
            [(1, "agent"), (2, "caller"), (3, "agent")],
            "{turns:?}"
        );
        assert_eq!(turns[1].text, "אני רוצה לקבוע תור למחר בבוקר");
        assert!(
            app.event_kinds("CA620")
                .await
                .contains(&"filler".to_string())
        );
        app.shutdown().await;
    })
    .await;
}
