//! The end of a turn decided from its words over the real protocol: a caller dictating a phone
//! number with pauses is answered once, at the end, where silence alone cuts them off mid-number.

use std::time::Duration;

use crate::common;
use crate::common::databases::for_each_engine;
use crate::common::paced::speak_and_time_answer;
use common::listen;
use sicha_sim::openai::{ChatRule, SimEndpoint};

const QUIET: Duration = Duration::from_millis(1800);
/// "אפס חמש אפס … אחת שתיים שלוש … ארבע חמש שש שבע": pauses of 510 and 640 ms.
const DICTATION: &str = "pauses/n01_mobile.wav";
/// What the eager transcription hears at each pause, and at the end.
const HEARD: [&str; 3] = [
    "אפס חמש אפס",
    "אפס חמש אפס אחת שתיים שלוש",
    "אפס חמש אפס אחת שתיים שלוש ארבע חמש שש שבע",
];

/// One call dictating the number with the end of turn decided by `end_of_turn`; returns the caller
/// turns recorded.
async fn dictate(db: &str, end_of_turn: &str, call_sid: &str) -> Vec<String> {
    let settings = [
        ("SICHA_EAGER_STT_MS", "250"),
        ("SICHA_END_OF_TURN", end_of_turn),
    ];
    let world = common::ai_world(db, "openai", &settings).await;
    world.openai.push_transcripts(HEARD);
    world
        .openai
        .add_chat_rule(ChatRule::reply("שבע", "רשמתי את המספר, תודה."));
    let mut stream = world.app.connect_call(call_sid).await;
    listen(&mut stream, QUIET, true).await;
    speak_and_time_answer(&mut stream, DICTATION, Duration::from_secs(10))
        .await
        .expect("the caller is answered");
    listen(&mut stream, QUIET, true).await;
    stream.send_stop(call_sid).await.unwrap();
    world
        .app
        .wait_for_call(call_sid, |c| c.ended_at_ms.is_some())
        .await;
    let callers = world
        .app
        .store
        .turns_for_call(call_sid)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.role == "caller")
        .map(|t| t.text)
        .collect();
    if end_of_turn == "hebrew" {
        let chats = world.openai.count(SimEndpoint::ChatCompletions);
        assert!(chats >= 1, "answered");
        let events = world.app.event_kinds(call_sid).await;
        assert_eq!(
            events.iter().filter(|e| *e == "turn_ended").count(),
            1,
            "{events:?}"
        );
    }
    world.app.shutdown().await;
    callers
}

#[tokio::test]
async fn a_dictated_number_with_pauses_is_answered_once_at_the_end() {
    for_each_engine(|db| async move {
        assert_eq!(
            dictate(&db, "hebrew", "CA960").await,
            [HEARD[2]],
            "one caller turn, the whole number"
        );
    })
    .await;
}

#[tokio::test]
async fn silence_alone_cuts_the_same_dictation_in_the_middle() {
    let database = common::databases::TestDatabase::sqlite().unwrap();
    let callers = dictate(database.url(), "silence", "CA961").await;
    assert!(
        callers.len() >= 2,
        "the 640 ms pause ends the turn mid-number: {callers:?}"
    );
    database.remove().await;
}
