//! Realtime transcription (`SICHA_STT=realtime`) over the real protocol: the caller's speech streams
//! to the Realtime API stand-in as it is spoken and each turn is committed where it ends, so no
//! utterance is uploaded; a guess the caller talks past is sent again whole; and when the stream
//! breaks, the turn in flight is uploaded instead, the stream is opened again, and no word is lost.

use std::time::Duration;

use crate::common;
use crate::common::databases::for_each_engine;
use crate::common::paced::speak_and_time_answer;
use crate::conversation_preemptive::{FIRST_HALF_FINISHED, script_a_mid_sentence_pause};
use common::listen;
use sicha_sim::openai::{ChatRule, SimEndpoint};
use sicha_sim::twilio_caller::MediaStreamClient;

const QUIET: Duration = Duration::from_millis(1200);
const ANSWER_WAIT: Duration = Duration::from_secs(10);
const REALTIME: (&str, &str) = ("SICHA_STT", "realtime");
/// Eager transcription on, as in production (the tests' default turns it off).
const EAGER: (&str, &str) = ("SICHA_EAGER_STT_MS", "250");

/// The caller's and the agent's words after the greeting.
async fn said_after_greeting(world: &common::AiWorld, call_sid: &str) -> Vec<(String, String)> {
    let turns = world.app.store.turns_for_call(call_sid).await.unwrap();
    turns[1..]
        .iter()
        .map(|t| (t.role.as_str().to_string(), t.text.clone()))
        .collect()
}

async fn hang_up(world: &common::AiWorld, stream: &mut MediaStreamClient, call_sid: &str) {
    listen(stream, QUIET, true).await;
    stream.send_stop(call_sid).await.unwrap();
    world
        .app
        .wait_for_call(call_sid, |c| c.ended_at_ms.is_some())
        .await;
}

#[tokio::test]
async fn a_turn_streamed_as_it_is_spoken_is_answered_without_an_upload() {
    for_each_engine(|db| async move {
        let world = common::ai_world(&db, "openai", &[REALTIME, EAGER]).await;
        world.openai.push_transcripts(["מה שעות הפתיחה שלכם?"]);
        world
            .openai
            .add_chat_rule(ChatRule::reply("שעות", "אנחנו פתוחים משמונה עד שש."));
        let mut stream = world.app.connect_call("CA960").await;
        listen(&mut stream, QUIET, true).await;
        speak_and_time_answer(&mut stream, "single/u01_hours.wav", ANSWER_WAIT)
            .await
            .expect("the caller is answered");
        hang_up(&world, &mut stream, "CA960").await;

        assert_eq!(world.openai.count(SimEndpoint::Transcriptions), 0);
        // The eager guess was committed at once and stood: one commit, one answer, adopted.
        assert_eq!(world.openai.count(SimEndpoint::RealtimeCommit), 1);
        assert_eq!(world.chats(), ["מה שעות הפתיחה שלכם?"]);
        let sessions: Vec<_> = world
            .openai
            .requests()
            .into_iter()
            .filter(|r| r.endpoint == SimEndpoint::RealtimeSession)
            .collect();
        assert_eq!(
            sessions.len(),
            1,
            "one stream for the call's one media stream"
        );
        let session = sessions[0].json.as_ref().unwrap().to_string();
        assert!(session.contains("gpt-4o-transcribe"), "{session}");
        assert!(session.contains("שיחת טלפון עם"), "the prompt: {session}");
        assert_eq!(
            said_after_greeting(&world, "CA960").await,
            [
                ("caller".to_string(), "מה שעות הפתיחה שלכם?".to_string()),
                (
                    "agent".to_string(),
                    "אנחנו פתוחים משמונה עד שש.".to_string()
                ),
            ]
        );
        world.app.shutdown().await;
    })
    .await;
}

/// "ההזמנה הגיעה … חסר בה מוצר אחד": the guess at the pause is committed and answered
/// preemptively; when the caller goes on, the whole utterance is streamed again and committed at its
/// end, and only that is answered.
#[tokio::test]
async fn a_guess_the_caller_talks_past_is_committed_again_whole() {
    let database = common::databases::TestDatabase::sqlite().unwrap();
    let world = common::ai_world(database.url(), "openai", &[REALTIME, EAGER]).await;
    script_a_mid_sentence_pause(&world.openai, FIRST_HALF_FINISHED);
    let mut stream = world.app.connect_call("CA961").await;
    listen(&mut stream, QUIET, true).await;
    speak_and_time_answer(&mut stream, "pauses/p03_but.wav", ANSWER_WAIT)
        .await
        .expect("the caller is answered");
    hang_up(&world, &mut stream, "CA961").await;

    assert_eq!(world.openai.count(SimEndpoint::Transcriptions), 0);
    assert_eq!(world.openai.count(SimEndpoint::RealtimeCommit), 2);
    assert_eq!(
        world.chats(),
        [FIRST_HALF_FINISHED, "ההזמנה הגיעה אבל חסר בה מוצר אחד"]
    );
    assert_eq!(
        said_after_greeting(&world, "CA961").await,
        [
            (
                "caller".to_string(),
                "ההזמנה הגיעה אבל חסר בה מוצר אחד".to_string()
            ),
            (
                "agent".to_string(),
                "מצטערת על זה, נשלח לך את המוצר החסר.".to_string()
            ),
        ],
        "nothing of the first answer was heard"
    );
    world.app.shutdown().await;
    database.remove().await;
}

#[tokio::test]
async fn a_broken_stream_uploads_its_lost_turn_and_is_opened_again() {
    for_each_engine(|db| async move {
        let world = common::ai_world(&db, "openai", &[REALTIME]).await;
        world
            .openai
            .push_transcripts(["מה שעות הפתיחה שלכם?", "ואתם פתוחים ביום שישי?"]);
        world
            .openai
            .add_chat_rule(ChatRule::reply("שישי", "בשישי עד אחת בצהריים."));
        world
            .openai
            .add_chat_rule(ChatRule::reply("שעות", "אנחנו פתוחים משמונה עד שש."));
        // The first commit is acknowledged, then the socket drops without a transcript.
        world.openai.break_realtime_next(1);
        let mut stream = world.app.connect_call("CA962").await;
        listen(&mut stream, QUIET, true).await;
        speak_and_time_answer(&mut stream, "single/u01_hours.wav", ANSWER_WAIT)
            .await
            .expect("the turn the stream lost is uploaded and answered");
        listen(&mut stream, QUIET, true).await;
        speak_and_time_answer(&mut stream, "single/u02_friday.wav", ANSWER_WAIT)
            .await
            .expect("a later turn is answered");
        hang_up(&world, &mut stream, "CA962").await;

        // The lost turn was uploaded; the stream was opened again for the next one.
        assert_eq!(world.openai.count(SimEndpoint::Transcriptions), 1);
        assert_eq!(world.openai.count(SimEndpoint::Realtime), 2);
        assert_eq!(world.openai.count(SimEndpoint::RealtimeCommit), 2);
        assert_eq!(
            said_after_greeting(&world, "CA962").await,
            [
                ("caller".to_string(), "מה שעות הפתיחה שלכם?".to_string()),
                (
                    "agent".to_string(),
                    "אנחנו פתוחים משמונה עד שש.".to_string()
                ),
                ("caller".to_string(), "ואתם פתוחים ביום שישי?".to_string()),
                ("agent".to_string(), "בשישי עד אחת בצהריים.".to_string()),
            ]
        );
        world.app.shutdown().await;
    })
    .await;
}
