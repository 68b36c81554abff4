//! What the model's tool calls do to the call.

use serde_json::json;

use super::harness::*;
use crate::call::core::*;
use crate::providers::llm::ToolCall;

fn answering(business: crate::store::Business) -> Call {
    let (mut call, mark) = Call::with(AgentMode::Ai, Some(business)).started();
    call.feed(1001, Input::MarkPlayed(mark));
    call.says(2000, 2500);
    call.feed(3000, heard(1, "תודה, זה הכל"));
    call
}

fn tool(name: &str, arguments: serde_json::Value) -> Input {
    reply(
        1,
        ReplyOutput::ToolCall(ToolCall {
            id: "c1".into(),
            name: name.into(),
            arguments,
        }),
    )
}

#[test]
fn end_call_hangs_up_once_the_goodbye_has_played() {
    let mut call = answering(business(None, ""));
    for input in sentence(1, "להתראות!", 800) {
        call.feed(3200, input);
    }
    assert_eq!(
        events(&call.feed(3300, tool("end_call", json!({})))),
        ["tool_call"]
    );
    assert!(
        ended(&call.feed(3310, finished(1, "להתראות!"))).is_none(),
        "the goodbye is still playing"
    );
    let effects = call.echo_marks_until(3500);
    assert_eq!(
        ended(&effects).unwrap(),
        (Ending::completed("agent_ended_call"), "resolved".into())
    );
}

#[test]
fn send_sms_texts_the_caller_once_per_call_when_the_business_allows_it() {
    let texting = crate::store::Business {
        sms_policy: Some(crate::store::businesses::SmsPolicy::new(1, vec![]).unwrap()),
        ..business(None, "")
    };
    let mut call = answering(business(None, ""));
    let effects = call.feed(3300, tool("send_sms", json!({ "text": "הכתובת: הרצל 1" })));
    assert_eq!(
        event_detail(&effects, "tool_refused")["why"],
        "unknown tool send_sms",
        "not allowed, not sent"
    );
    let mut call = answering(texting);
    let effects = call.feed(3300, tool("send_sms", json!({ "text": "הכתובת: הרצל 1" })));
    assert!(effects.contains(&Effect::Sms {
        to: "+972501234567".into(),
        text: "הכתובת: הרצל 1".into(),
        key: "sms-tool:CA1:1".into()
    }));
    let effects = call.feed(
        3400,
        tool("send_sms", json!({ "text": "קישור: http://example.com" })),
    );
    assert!(!effects.iter().any(|e| matches!(e, Effect::Sms { .. })));
    assert_eq!(events(&effects), ["tool_call", "tool_refused"]);
}

#[test]
fn transfer_to_human_hands_the_call_over() {
    let mut call = answering(business(Some("+972523334444"), ""));
    let effects = call.feed(3300, tool("transfer_to_human", json!({})));
    assert!(effects.contains(&Effect::Transfer {
        why: "tool".into(),
        to: "+972523334444".into()
    }));
}

#[test]
fn the_tools_offered_follow_what_the_business_can_do() {
    let mut call = Call::greeted();
    call.says(2000, 2500);
    let effects = call.feed(3000, heard(1, "אפשר נציג?"));
    let request = request_of(&effects);
    let names: Vec<&str> = request.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["end_call"],
        "no transfer number, no transfer tool; no texting allowed, no SMS tool"
    );
    let effects = call.feed(3300, tool("transfer_to_human", json!({})));
    assert_eq!(events(&effects), ["tool_call", "tool_refused"]);
    let effects = call.feed(3400, tool("book_appointment", json!({})));
    assert_eq!(
        event_detail(&effects, "tool_refused")["why"],
        "unknown tool book_appointment"
    );
}

#[test]
fn the_prompt_says_what_the_agent_can_do_and_forbids_claiming_anything_else() {
    let mut call = Call::greeted();
    call.says(2000, 2500);
    let effects = call.feed(3000, heard(1, "תקבעי לי תור למחר"));
    let request = request_of(&effects);
    let crate::providers::llm::ChatMessage::System(prompt) = &request.messages[0] else {
        panic!("the system prompt comes first")
    };
    assert!(
        prompt.contains("הפעולות היחידות שאת יכולה לבצע בשיחה: לסיים את השיחה."),
        "{prompt}"
    );
    assert!(
        !prompt.contains("להעביר את השיחה לנציג"),
        "no transfer number, no transfer"
    );
    assert!(
        prompt.contains("לעולם אל תאמרי שביצעת פעולה שלא ביצעת"),
        "{prompt}"
    );
}
