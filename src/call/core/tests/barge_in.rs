//! The caller talking over the agent.

use super::harness::*;
use crate::call::core::*;

/// A greeted call whose answer to "מה יש לכם" has its first sentence played and its second streaming:
/// "אחת שתיים" (1 s, marked and echoed at 4100) and "שלוש ארבע חמש שש" (2 s, streaming since 3200).
fn answering() -> Call {
    let mut call = Call::greeted();
    call.says(2000, 2500);
    call.feed(3000, heard(1, "מה יש לכם"));
    for input in sentence(1, "אחת שתיים", 8000) {
        call.feed(3100, input);
    }
    call.feed(
        3200,
        reply(
            1,
            ReplyOutput::SentenceStarted {
                text: "שלוש ארבע חמש שש".into(),
                first_audio_ms: 100,
            },
        ),
    );
    call.feed(3200, reply(1, ReplyOutput::Audio(vec![0xFF; 16000])));
    call.feed(4100, Input::MarkPlayed("p2".into()));
    call
}

#[test]
fn a_barge_in_mid_sentence_clears_cancels_and_keeps_what_was_heard() {
    let mut call = answering();
    let effects = call.feed(5100, speech_started(4980));
    assert!(
        matches!(effects[0], Effect::Clear),
        "the clear goes first: {effects:?}"
    );
    assert_eq!(
        event_detail(&effects, "barge_in")["cleared"],
        serde_json::json!(["p3"])
    );
    assert_eq!(cancelled(&effects), [1]);
    // The marked sentence was heard whole; of the cut one, the half that played before the cut.
    assert_eq!(
        turns(&effects),
        [(
            3,
            "agent".into(),
            "אחת שתיים שלוש ארבע חמש שש".into(),
            Some("אחת שתיים שלוש ארבע".into()),
            true
        )]
    );
    assert!(!call.core.agent_audible());
    // The cut reply's late audio never reaches the line.
    assert!(
        call.feed(5200, reply(1, ReplyOutput::Audio(vec![0xFF; 800])))
            .is_empty()
    );
}

#[test]
fn the_model_remembers_only_the_heard_part_of_a_cut_answer() {
    let mut call = answering();
    call.feed(5100, speech_started(4980));
    call.feed(5800, sicha_audio_utterance(4980, 5200, 5800));
    let effects = call.feed(6000, heard(2, "ומה המחירים"));
    let request = request_of(&effects);
    let assistant: Vec<&crate::providers::llm::ChatMessage> = request
        .messages
        .iter()
        .filter(|m| matches!(m, crate::providers::llm::ChatMessage::Assistant { .. }))
        .collect();
    let remembered = assistant
        .last()
        .map(|m| format!("{m:?}"))
        .unwrap_or_default();
    assert!(
        remembered.contains("אחת שתיים שלוש ארבע\""),
        "{assistant:?}"
    );
}

fn sicha_audio_utterance(from: u64, to: u64, at: u64) -> Input {
    Input::Speech(sicha_audio::endpoint::EndpointEvent::Utterance(utterance(
        from, to, at,
    )))
}

#[test]
fn phrases_still_being_fetched_are_dropped_by_a_barge_in() {
    let mut call = Call::ai();
    let effects = call.feed(
        0,
        Input::StreamAttached {
            stream_sid: "MZ1".into(),
        },
    );
    let greeting = phrase_ids(&effects)[0];
    assert!(
        call.core.agent_audible(),
        "a phrase on its way counts as audible"
    );
    call.feed(300, speech_started(200));
    assert!(
        call.feed(400, phrase_audio(greeting, 8000)).is_empty(),
        "too late to be played"
    );
}

#[test]
fn a_goodbye_cut_short_does_not_hang_up_on_the_caller() {
    let mut call = Call::with(AgentMode::Ai, Some(business(None, "9=goodbye")));
    let (c, mark) = {
        let (c, mark) = call.started();
        (c, mark)
    };
    call = c;
    call.feed(1001, Input::MarkPlayed(mark));
    let effects = call.feed(2000, Input::Dtmf("9".into()));
    let id = phrase_ids(&effects)[0];
    call.feed(2001, phrase_audio(id, 8000));
    let effects = call.feed(2300, speech_started(2200));
    assert!(matches!(effects[0], Effect::Clear));
    assert!(ended(&effects).is_none());
    assert!(ended(&call.feed(2400, Input::MarkPlayed("p2".into()))).is_none());
    assert!(!call.core.has_ended());
}

#[test]
fn speech_over_a_quiet_line_is_no_barge_in() {
    let mut call = Call::greeted();
    let effects = call.feed(2120, speech_started(2000));
    assert!(effects.is_empty(), "{effects:?}");
}

#[test]
fn a_reply_that_starts_while_the_caller_speaks_is_cut_when_their_next_utterance_ends() {
    let mut call = Call::greeted();
    call.says(2000, 2500);
    call.feed(3000, heard(1, "מה יש לכם"));
    call.feed(3400, speech_started(3300));
    call.feed(
        3500,
        reply(
            1,
            ReplyOutput::SentenceStarted {
                text: "יש לנו".into(),
                first_audio_ms: 100,
            },
        ),
    );
    call.feed(3500, reply(1, ReplyOutput::Audio(vec![0xFF; 8000])));
    let effects = call.feed(4600, sicha_audio_utterance(3300, 4000, 4600));
    assert!(effects.iter().any(|e| matches!(e, Effect::Clear)));
    assert_eq!(cancelled(&effects), [1]);
    assert_eq!(transcribed(&effects), [2]);
}
