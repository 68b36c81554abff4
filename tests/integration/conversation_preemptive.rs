//! Preemptive replies over the real protocol: the answer starts on the eager transcript, is heard
//! only once the hangover confirms the caller has finished, and is thrown away unheard when the
//! caller goes on after a pause, the longer words then answered.

use std::time::Duration;

use crate::common;
use crate::common::databases::for_each_engine;
use crate::common::paced::speak_and_time_answer;
use common::listen;
use sicha_sim::openai::ChatRule;

const QUIET: Duration = Duration::from_millis(1200);
/// Eager transcription on, as in production (the tests' default turns it off).
const EAGER: [(&str, &str); 1] = [("SICHA_EAGER_STT_MS", "250")];

#[tokio::test]
async fn an_answer_started_on_the_eager_transcript_is_adopted_and_heard_after_the_hangover() {
    for_each_engine(|db| async move {
        let world = common::ai_world(&db, "openai", &EAGER).await;
        world.openai.push_transcripts(["מה שעות הפתיחה שלכם?"]);
        world
            .openai
            .add_chat_rule(ChatRule::reply("שעות", "אנחנו פתוחים משמונה עד שש."));
        let mut stream = world.app.connect_call("CA950").await;
        listen(&mut stream, QUIET, true).await;
        let waited =
            speak_and_time_answer(&mut stream, "single/u01_hours.wav", Duration::from_secs(10))
                .await
                .expect("the caller is answered");
        // The reply was ready at the eager guess (250 ms into the silence); it was held until the
        // 600 ms hangover confirmed the end of the turn.
        assert!(
            waited >= Duration::from_millis(400),
            "heard {waited:?} after the speech"
        );
        listen(&mut stream, QUIET, true).await;
        stream.send_stop("CA950").await.unwrap();
        world
            .app
            .wait_for_call("CA950", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(
            world.chats(),
            ["מה שעות הפתיחה שלכם?"],
            "one request, adopted"
        );
        let events = world.app.event_kinds("CA950").await;
        assert!(
            events.contains(&"preemptive_adopted".to_string()),
            "{events:?}"
        );
        let turns = world.app.store.turns_for_call("CA950").await.unwrap();
        assert_eq!(turns[2].text, "אנחנו פתוחים משמונה עד שש.");
        world.app.shutdown().await;
    })
    .await;
}

/// The first half of `pauses/p03_but.wav` as a recogniser may well write it: a finished sentence,
/// so the turn looks due to end and an answer is started ahead.
pub const FIRST_HALF_FINISHED: &str = "ההזמנה הגיעה.";

/// What the stand-in hears and answers for `pauses/p03_but.wav`: `first_half` (the words before its
/// pause), then the whole sentence; a different answer to each.
pub fn script_a_mid_sentence_pause(openai: &sicha_sim::openai::OpenAiSim, first_half: &str) {
    openai.push_transcripts([first_half, "ההזמנה הגיעה אבל חסר בה מוצר אחד"]);
    openai.add_chat_rule(ChatRule::reply(
        "חסר",
        "מצטערת על זה, נשלח לך את המוצר החסר.",
    ));
    openai.add_chat_rule(ChatRule::reply("הגיעה", "מה קרה עם ההזמנה?"));
}

/// "ההזמנה הגיעה … חסר בה מוצר אחד": a 460 ms pause, past the eager threshold and inside the
/// hangover, after words that read as finished. The answer started on the first half is cancelled
/// and never heard.
#[tokio::test]
async fn an_answer_started_before_a_mid_sentence_pause_is_discarded_unheard() {
    for_each_engine(|db| async move {
        let world = common::ai_world(&db, "openai", &EAGER).await;
        script_a_mid_sentence_pause(&world.openai, FIRST_HALF_FINISHED);
        let mut stream = world.app.connect_call("CA951").await;
        listen(&mut stream, QUIET, true).await;
        speak_and_time_answer(&mut stream, "pauses/p03_but.wav", Duration::from_secs(10))
            .await
            .expect("the caller is answered");
        listen(&mut stream, QUIET, true).await;
        stream.send_stop("CA951").await.unwrap();
        world
            .app
            .wait_for_call("CA951", |c| c.ended_at_ms.is_some())
            .await;

        assert_eq!(
            world.chats(),
            [FIRST_HALF_FINISHED, "ההזמנה הגיעה אבל חסר בה מוצר אחד"],
            "started on the first half, then on the whole"
        );
        let events = world.app.event_kinds("CA951").await;
        assert!(
            events.contains(&"preemptive_discarded".to_string()),
            "{events:?}"
        );
        let turns = world.app.store.turns_for_call("CA951").await.unwrap();
        let said: Vec<(&str, &str)> = turns
            .iter()
            .map(|t| (t.role.as_str(), t.text.as_str()))
            .collect();
        assert_eq!(
            said[1..],
            [
                ("caller", "ההזמנה הגיעה אבל חסר בה מוצר אחד"),
                ("agent", "מצטערת על זה, נשלח לך את המוצר החסר."),
            ],
            "nothing of the first answer was heard"
        );
        world.app.shutdown().await;
    })
    .await;
}

/// The same pause after "אבל": words that stop on a connecting word make the turn wait 1.5 s, so no
/// answer is started ahead while the caller is likely to go on, and none is thrown away.
#[tokio::test]
async fn a_pause_after_a_connecting_word_starts_no_answer_ahead() {
    let database = common::databases::TestDatabase::sqlite().unwrap();
    let world = common::ai_world(database.url(), "openai", &EAGER).await;
    script_a_mid_sentence_pause(&world.openai, "ההזמנה הגיעה אבל");
    let mut stream = world.app.connect_call("CA952").await;
    listen(&mut stream, QUIET, true).await;
    speak_and_time_answer(&mut stream, "pauses/p03_but.wav", Duration::from_secs(10))
        .await
        .expect("the caller is answered");
    listen(&mut stream, QUIET, true).await;
    stream.send_stop("CA952").await.unwrap();
    world
        .app
        .wait_for_call("CA952", |c| c.ended_at_ms.is_some())
        .await;
    assert_eq!(world.chats(), ["ההזמנה הגיעה אבל חסר בה מוצר אחד"]);
    let events = world.app.event_kinds("CA952").await;
    assert!(
        !events.contains(&"preemptive_discarded".to_string()),
        "{events:?}"
    );
    world.app.shutdown().await;
    database.remove().await;
}
