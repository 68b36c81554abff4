//! A whole AI call with Google Cloud TTS first and ElevenLabs second in the chain (each a local
//! stand-in speaking its real wire format), and the model's tools: `send_sms` reaches Twilio through
//! the outbox, `end_call` hangs up once the goodbye has played.

use crate::common;

use std::time::Duration;

use crate::common::databases::for_each_engine;
use common::{AUTH_TOKEN, BUSINESS_NUMBER, CALLER_NUMBER, line, listen, spawn_app_with};
use serde_json::json;
use sicha::call::agent::phrases;
use sicha::call::session::AgentMode;
use sicha::startup::ServeOptions;
use sicha::store::BusinessChanges;
use sicha::store::businesses::SmsPolicy;
use sicha_sim::elevenlabs::ElevenLabsSim;
use sicha_sim::google_tts::GoogleTtsSim;
use sicha_sim::openai::{ChatRule, OpenAiSim, SimProfile};
use sicha_sim::twilio_api::TwilioApiSim;

/// How long the server must stay quiet for an answer to count as finished: above the gap between
/// two sentences' synthesis on a loaded machine.
const QUIET: Duration = Duration::from_millis(1200);

#[tokio::test]
async fn google_then_elevenlabs_speak_and_the_tools_text_the_caller_and_hang_up() {
    for_each_engine(|db| async move {
        let openai = OpenAiSim::start(SimProfile::instant()).await.unwrap();
        let google = GoogleTtsSim::start_with_key("google-test-key")
            .await
            .unwrap();
        let elevenlabs = ElevenLabsSim::start_with_key("eleven-test-key")
            .await
            .unwrap();
        let twilio = TwilioApiSim::start_with("ACtest0000000000000000000000000000", AUTH_TOKEN)
            .await
            .unwrap();
        twilio.add_call("CA400", CALLER_NUMBER, BUSINESS_NUMBER);
        let (openai_url, google_url, eleven_url, twilio_url) = (
            openai.base_url().to_string(),
            google.base_url().to_string(),
            elevenlabs.base_url().to_string(),
            twilio.base_url().to_string(),
        );
        let settings = [
            ("OPENAI_BASE_URL", openai_url.as_str()),
            ("TWILIO_API_BASE", twilio_url.as_str()),
            ("SICHA_TTS", "google,elevenlabs"),
            ("GOOGLE_TTS_API_KEY", "google-test-key"),
            ("GOOGLE_TTS_BASE_URL", google_url.as_str()),
            ("ELEVENLABS_API_KEY", "eleven-test-key"),
            ("ELEVENLABS_BASE_URL", eleven_url.as_str()),
            ("ELEVENLABS_VOICE_ID", "voice-he-1"),
        ];
        let app = spawn_app_with(
            &db,
            &settings,
            ServeOptions {
                allow_unsigned: false,
                agent: AgentMode::Ai,
            },
        )
        .await;
        app.add_business(BUSINESS_NUMBER).await;
        app.store
            .update_business(
                BUSINESS_NUMBER,
                &BusinessChanges {
                    sms_policy: Some(Some(SmsPolicy::new(1, vec![]).unwrap())),
                    ..Default::default()
                },
                sicha::clock::now_ms(),
            )
            .await
            .unwrap();
        openai.push_transcripts(["מה הכתובת שלכם?", "תודה רבה, זה הכל, להתראות"]);
        openai.add_chat_rule(
            ChatRule::tool_call(
                "הכתובת",
                "send_sms",
                json!({ "text": "מספרת דני: הרצל 10, תל אביב" }),
            )
            .with_reply("אנחנו ברחוב הרצל עשר. שלחתי לך את הכתובת בהודעה."),
        );
        openai.add_chat_rule(
            ChatRule::tool_call("להתראות", "end_call", json!({}))
                .with_reply("תודה שהתקשרת, יום טוב!"),
        );

        let mut stream = app.connect_call("CA400").await;
        let greeting = listen(&mut stream, QUIET, true).await;
        assert!(
            greeting.media_bytes > 4000,
            "Google speaks the greeting: {greeting:?}"
        );
        // The fixed phrases warm up in the background; let that finish so the injected failure hits
        // the answer.
        for _ in 0..100 {
            if google.requests().len() > phrases::ALL.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        google.injections().fail_next(2, 503);
        stream
            .send_audio(&line("single/u07_address.wav"))
            .await
            .unwrap();
        let answer = listen(&mut stream, QUIET, true).await;
        assert!(
            answer.media_bytes > 4000,
            "ElevenLabs speaks when Google fails: {answer:?}"
        );
        assert!(!elevenlabs.requests().is_empty());

        stream
            .send_audio(&line("single/u09_agent.wav"))
            .await
            .unwrap();
        let goodbye = listen(&mut stream, QUIET, true).await;
        assert!(
            goodbye.media_bytes > 2000 && goodbye.closed,
            "the goodbye plays, then the call ends: {goodbye:?}"
        );
        let call = app
            .wait_for_call("CA400", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(call.end_reason.as_deref(), Some("agent_ended_call"));

        let mut texted = Vec::new();
        for _ in 0..100 {
            texted = twilio.messages();
            if !texted.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(texted.len(), 1, "one SMS through the outbox");
        assert_eq!(texted[0].to, CALLER_NUMBER);
        assert_eq!(texted[0].from, BUSINESS_NUMBER);
        assert!(texted[0].body.contains("הרצל 10"));
        let events = app.event_kinds("CA400").await;
        assert!(events.contains(&"tts_fallback".to_string()), "{events:?}");
        assert_eq!(
            events.iter().filter(|e| *e == "tool_call").count(),
            2,
            "{events:?}"
        );
        app.shutdown().await;
    })
    .await;
}
