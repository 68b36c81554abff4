//! A call-back: the agent opens with why it calls instead of the greeting, and the model knows the
//! earlier call.

use super::harness::*;
use crate::call::core::*;
use crate::providers::llm::ChatMessage;

const OPENING: &str = "שלום, כאן המספרה. אנחנו חוזרים אליכם בעקבות השיחה הקודמת שלכם איתנו.";
const EARLIER: &str = "הלקוח ביקש לבטל את ההזמנה שלו ליום שלישי.";

fn calling_back() -> Call {
    Call::configured(AgentMode::Ai, Some(business(None, "")), |config| {
        config.opening = Some(OPENING.into());
        config.earlier_call_summary = Some(EARLIER.into());
    })
}

#[test]
fn a_call_back_opens_with_why_it_calls_instead_of_the_greeting() {
    let mut call = calling_back();
    let effects = call.feed(
        0,
        Input::StreamAttached {
            stream_sid: "MZ1".into(),
        },
    );
    assert_eq!(phrases(&effects), [OPENING]);
    let id = phrase_ids(&effects)[0];
    let effects = call.feed(1, phrase_audio(id, 8000));
    let mark = marks(&effects).remove(0);
    let effects = call.feed(1001, Input::MarkPlayed(mark));
    assert_eq!(
        turns(&effects),
        [(1, "agent".into(), OPENING.into(), None, false)],
        "the opening is the agent's first turn"
    );
}

/// The system prompt of the first reply of `call`, once the caller has said something.
fn system_prompt_of(call: &mut Call) -> (String, Vec<ChatMessage>) {
    call.says(2000, 3000);
    let effects = call.feed(3900, heard(1, "כן, לגבי ההזמנה"));
    let request = request_of(&effects);
    let ChatMessage::System(system) = &request.messages[0] else {
        panic!("the system prompt comes first: {:?}", request.messages);
    };
    (system.clone(), request.messages.clone())
}

#[test]
fn the_model_is_told_of_the_earlier_call_and_a_plain_call_is_not() {
    let mut call = calling_back();
    let effects = call.feed(
        0,
        Input::StreamAttached {
            stream_sid: "MZ1".into(),
        },
    );
    let id = phrase_ids(&effects)[0];
    let mark = marks(&call.feed(1, phrase_audio(id, 8000))).remove(0);
    call.feed(1001, Input::MarkPlayed(mark));
    let (system, messages) = system_prompt_of(&mut call);
    assert!(system.contains(EARLIER), "{system}");
    assert!(system.contains("שיחה יוצאת"), "{system}");
    assert!(
        messages.contains(&ChatMessage::assistant(OPENING)),
        "the opening is remembered as what the agent said: {messages:?}"
    );

    let (system, _) = system_prompt_of(&mut Call::greeted());
    assert!(!system.contains("שיחה יוצאת"), "{system}");
    assert!(!system.contains(EARLIER));
}
