//! Whole AI calls through the real WebSocket protocol: the real app on port 0, the simulated
//! OpenAI-compatible server (transcriptions, streaming chat with tool calls, speech) and the Twilio
//! REST stand-in; on SQLite and (with SICHA_TEST_POSTGRES_URL) on PostgreSQL.

use crate::common;

use std::time::Duration;

use crate::common::databases::for_each_engine;
use common::{AUTH_TOKEN, BUSINESS_NUMBER, TestApp, fixture_mulaw, line, listen, silence};
use sicha::call::agent::phrases;
use sicha::store::CallStatus;
use sicha::twilio::stream::Outbound;
use sicha_sim::openai::{ChatRule, SimEndpoint, SimProfile, SimTranscript};
use sicha_sim::twilio_caller::{MediaStreamClient, Received, stream_target};

/// How long the server must stay quiet for an answer to count as finished: above the gap between
/// two sentences' synthesis on a loaded machine.
const QUIET: Duration = Duration::from_millis(1200);

mod failures;
mod hebrew;

type World = common::AiWorld;

async fn world(db: &str, tts: &str) -> World {
    common::ai_world(db, tts, &[]).await
}

async fn world_with(db: &str, tts: &str, more: &[(&str, &str)]) -> World {
    common::ai_world(db, tts, more).await
}

async fn agent_turns(app: &TestApp, call_sid: &str) -> Vec<sicha::store::Turn> {
    app.store
        .turns_for_call(call_sid)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.role == "agent")
        .collect()
}

#[tokio::test]
async fn a_normal_multi_turn_call_is_answered_and_recorded_turn_by_turn() {
    for_each_engine(|db| async move {
        let w = world(&db, "openai,espeak").await;
        w.twilio
            .add_call("CA300", common::CALLER_NUMBER, BUSINESS_NUMBER);
        w.openai
            .push_transcripts(["מה שעות הפתיחה שלכם?", "ואיפה אתם נמצאים?"]);
        w.openai.add_chat_rule(ChatRule::reply(
            "שעות",
            "אנחנו פתוחים מתשע עד שש. אפשר לעזור במשהו נוסף?",
        ));
        w.openai
            .add_chat_rule(ChatRule::reply("איפה", "אנחנו ברחוב הרצל עשר בתל אביב."));
        let mut stream = w.app.connect_call("CA300").await;

        let greeting = listen(&mut stream, QUIET, true).await;
        assert!(
            greeting.media_bytes > 4000,
            "the greeting plays at once: {greeting:?}"
        );
        for fixture in ["single/u01_hours.wav", "single/u02_friday.wav"] {
            stream.send_audio(&line(fixture)).await.unwrap();
            let answer = listen(&mut stream, QUIET, true).await;
            assert!(
                answer.media_bytes > 4000 && !answer.marks.is_empty(),
                "an answer was heard: {answer:?}"
            );
        }
        stream.send_stop("CA300").await.unwrap();
        let call = w
            .app
            .wait_for_call("CA300", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(call.status, CallStatus::Completed);

        let turns = w.app.store.turns_for_call("CA300").await.unwrap();
        let roles: Vec<&str> = turns.iter().map(|t| t.role.as_str()).collect();
        assert_eq!(
            roles,
            ["agent", "caller", "agent", "caller", "agent"],
            "{turns:#?}"
        );
        assert_eq!(turns[1].text, "מה שעות הפתיחה שלכם?");
        assert!(turns[2].text.contains("מתשע עד שש"));
        let answer = &turns[2];
        assert!(
            answer.stt_ms.is_some() && answer.v2v_ms.is_some() && answer.tts_ttfb_ms.is_some(),
            "{answer:?}"
        );
        assert!(answer.llm_ttft_ms.is_some() && answer.endpoint_ms.is_some());
        // The second request carried the first exchange: the agent remembers.
        let chats: Vec<_> = w
            .openai
            .requests()
            .into_iter()
            .filter(|r| r.endpoint == SimEndpoint::ChatCompletions)
            .collect();
        let last = chats.last().unwrap().json.as_ref().unwrap().to_string();
        assert!(
            last.contains("מתשע עד שש") && last.contains("שעות הפתיחה"),
            "{last}"
        );
        let tools = chats[0].json.as_ref().unwrap()["tools"].to_string();
        assert!(
            tools.contains("transfer_to_human") && tools.contains("end_call"),
            "{tools}"
        );

        let customer = w
            .app
            .store
            .call_by_sid("CA300")
            .await
            .unwrap()
            .unwrap()
            .customer_id
            .unwrap();
        let interactions = wait_for_interactions(&w.app, &customer).await;
        assert_eq!(interactions.len(), 1, "the call is in the CRM");
        assert!(interactions[0].transcript.contains("ברחוב הרצל"));
        w.app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn barge_in_clears_the_answer_and_keeps_only_what_was_heard() {
    for_each_engine(|db| async move {
        let w = world(&db, "openai").await;
        w.openai.push_transcripts(["ספרי לי על כל השירותים", "רגע, רק המחיר"]);
        let long = "יש לנו תספורת לגברים. יש לנו תספורת לנשים. יש צבע ופסים. יש טיפולי שיער. יש החלקה. יש תסרוקות ערב.";
        w.openai.add_chat_rule(ChatRule::reply("השירותים", long));
        let mut stream = w.app.connect_call("CA310").await;
        listen(&mut stream, QUIET, true).await;
        stream.send_audio(&line("single/u03_booking.wav")).await.unwrap();
        // The answer arrives but is "still playing": no marks echoed.
        let answer = listen(&mut stream, QUIET, false).await;
        assert!(answer.marks.len() >= 2, "{answer:?}");
        stream.send_mark(&answer.marks[0]).await.unwrap(); // the first sentence was heard
        tokio::time::sleep(Duration::from_millis(100)).await;
        stream.send_audio(&fixture_mulaw("single/u05_haircut_price.wav")).await.unwrap();
        let cut = listen(&mut stream, QUIET, true).await;
        assert!(cut.clears >= 1, "barge-in sends clear: {cut:?}");
        stream.send_audio(&silence(900)).await.unwrap();
        listen(&mut stream, QUIET, true).await;
        stream.send_stop("CA310").await.unwrap();
        w.app.wait_for_call("CA310", |c| c.ended_at_ms.is_some()).await;

        let agent = agent_turns(&w.app, "CA310").await;
        let cut_turn = agent.iter().find(|t| t.interrupted).expect("an interrupted agent turn");
        assert_eq!(cut_turn.text, long);
        let heard = cut_turn.heard_text.as_deref().unwrap();
        assert!(heard.starts_with("יש לנו תספורת לגברים.") && heard.len() < long.len(), "heard: {heard}");
        assert!(w.app.event_kinds("CA310").await.contains(&"barge_in".to_string()));
        // The model is told only what the caller heard.
        let chats: Vec<_> = w.openai.requests().into_iter().filter(|r| r.endpoint == SimEndpoint::ChatCompletions).collect();
        let last = chats.last().unwrap().json.as_ref().unwrap().to_string();
        assert!(last.contains("תספורת לגברים") && !last.contains("תסרוקות ערב"), "{last}");
        w.app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn barge_in_cuts_a_sentence_still_streaming_before_its_mark() {
    for_each_engine(|db| async move {
        let w = world(&db, "openai").await;
        w.openai
            .push_transcripts(["ספרי לי על כל השירותים", "רגע, רק המחיר"]);
        let first = "יש לנו תספורת לגברים ולנשים, צבע, פסים, החלקה ותסרוקות ערב לכל אירוע.";
        let long = format!("{first} אפשר לקבוע תור בכל יום.");
        w.openai.add_chat_rule(ChatRule::reply("השירותים", &long));
        let mut stream = w.app.connect_call("CA311").await;
        listen(&mut stream, QUIET, true).await;
        // Synthesis as slow as speech: the first sentence streams for seconds before its mark.
        w.openai.set_profile(SimProfile {
            tts_realtime_factor: 1.0,
            ..SimProfile::instant()
        });
        stream
            .send_audio(&line("single/u03_booking.wav"))
            .await
            .unwrap();
        let mut audio_heard = false;
        while !audio_heard {
            match stream.recv(Duration::from_secs(15)).await.unwrap() {
                Some(Received::Message(Outbound::Media { .. })) => audio_heard = true,
                Some(Received::Message(Outbound::Mark { mark, .. })) => {
                    panic!(
                        "the sentence was marked ({}) before it had streamed",
                        mark.name
                    )
                }
                Some(_) => {}
                None => panic!("no answer"),
            }
        }
        stream
            .send_audio(&fixture_mulaw("single/u05_haircut_price.wav"))
            .await
            .unwrap();
        let cut = listen(&mut stream, QUIET, true).await;
        assert!(
            cut.clears >= 1,
            "barge-in mid-sentence sends clear: {cut:?}"
        );
        stream.send_audio(&silence(900)).await.unwrap();
        listen(&mut stream, QUIET, true).await;
        stream.send_stop("CA311").await.unwrap();
        w.app
            .wait_for_call("CA311", |c| c.ended_at_ms.is_some())
            .await;

        let agent = agent_turns(&w.app, "CA311").await;
        let cut_turn = agent
            .iter()
            .find(|t| t.interrupted)
            .expect("an interrupted agent turn");
        // The words of the piece being said when it was cut (the splitter may cut a long sentence).
        let said = cut_turn.text.as_str();
        assert!(!said.is_empty() && first.starts_with(said), "said: {said}");
        let heard = cut_turn.heard_text.as_deref().unwrap();
        assert!(
            !heard.is_empty() && said.starts_with(heard) && heard.len() < said.len(),
            "heard: {heard}"
        );
        w.app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_caller_repeating_themselves_three_times_is_transferred_not_looped() {
    for_each_engine(|db| async move {
        let w = world(&db, "openai").await;
        w.twilio
            .add_call("CA320", common::CALLER_NUMBER, BUSINESS_NUMBER);
        w.openai.push_transcripts([
            "אני רוצה לבטל את ההזמנה",
            "אני רוצה לבטל ת'הזמנה",
            "אני רוצה לבטל את ההזמנה!",
        ]);
        let mut stream = w.app.connect_call("CA320").await;
        listen(&mut stream, QUIET, true).await;
        for _ in 0..3 {
            stream
                .send_audio(&line("repeat/repeat_cancel.wav")[..40_000])
                .await
                .unwrap();
            stream.send_audio(&silence(900)).await.unwrap();
            listen(&mut stream, QUIET, true).await;
        }
        let chats = w.openai.count(SimEndpoint::ChatCompletions);
        assert_eq!(chats, 2, "the third repetition is not fed to the LLM");
        let updates: Vec<_> = w
            .twilio
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/Calls/CA320.json"))
            .collect();
        let twiml = updates
            .last()
            .and_then(|r| r.field("Twiml").map(str::to_string))
            .expect("a transfer update");
        assert!(
            twiml.contains("<Dial") && twiml.contains("+972529999999"),
            "{twiml}"
        );
        let events = w.app.event_kinds("CA320").await;
        assert!(
            events.contains(&"loop_detected".to_string())
                && events.contains(&"transferred".to_string()),
            "{events:?}"
        );
        stream.send_stop("CA320").await.unwrap();
        let call = w
            .app
            .wait_for_call("CA320", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(call.end_reason.as_deref(), Some("transferred"));
        w.app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn eager_transcription_answers_once_and_drops_its_guess_when_the_caller_goes_on() {
    for_each_engine(|db| async move {
        let w = world_with(&db, "openai", &[("SICHA_EAGER_STT_MS", "250")]).await;
        w.openai
            .set_default_transcript("מה שעות הפתיחה שלכם ביום שישי?");
        let mut stream = w.app.connect_call("CA360").await;
        listen(&mut stream, QUIET, true).await;
        // A pause longer than the eager threshold but shorter than the hangover, then more speech.
        let mut audio = fixture_mulaw("single/u01_hours.wav");
        audio.extend(silence(400));
        audio.extend(line("single/u02_friday.wav"));
        stream.send_audio(&audio).await.unwrap();
        let answer = listen(&mut stream, QUIET, true).await;
        assert!(answer.media_bytes > 2000, "{answer:?}");
        stream.send_stop("CA360").await.unwrap();
        w.app
            .wait_for_call("CA360", |c| c.ended_at_ms.is_some())
            .await;
        let turns = w.app.store.turns_for_call("CA360").await.unwrap();
        let caller_turns = turns.iter().filter(|t| t.role == "caller").count();
        assert_eq!(
            caller_turns, 1,
            "one utterance, one caller turn: {turns:#?}"
        );
        assert_eq!(
            w.openai.count(SimEndpoint::ChatCompletions),
            1,
            "the dropped guess never reached the LLM"
        );
        assert!(
            w.openai.count(SimEndpoint::Transcriptions) >= 2,
            "the first guess was transcribed eagerly"
        );
        w.app.shutdown().await;
    })
    .await;
}

/// The interaction is written just after the call's end is committed.
async fn wait_for_interactions(app: &TestApp, customer: &str) -> Vec<sicha::store::Interaction> {
    for _ in 0..100 {
        let found = app.store.interactions_for_customer(customer).await.unwrap();
        if !found.is_empty() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Vec::new()
}

#[test]
fn fixed_phrases_are_hebrew() {
    for phrase in phrases::ALL {
        assert!(
            sicha::call::hebrew::hebrew_letter_ratio(phrase) > 0.9,
            "{phrase}"
        );
    }
}
