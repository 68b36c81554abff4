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

/// A greeted call to a business that can be called back (no transfer number, `*` for a call-back).
fn can_call_back() -> Call {
    let business = business(None, "*=callback");
    let (mut call, mark) = Call::configured(AgentMode::Ai, Some(business), |config| {
        config.can_place_callbacks = true;
    })
    .started();
    call.feed(1001, Input::MarkPlayed(mark));
    call
}

fn system_prompt(request: &crate::providers::llm::ChatRequest) -> &str {
    match &request.messages[0] {
        crate::providers::llm::ChatMessage::System(prompt) => prompt,
        other => panic!("the system prompt comes first: {other:?}"),
    }
}

fn tool_results(request: &crate::providers::llm::ChatRequest) -> Vec<serde_json::Value> {
    request
        .messages
        .iter()
        .filter_map(|m| match m {
            crate::providers::llm::ChatMessage::Tool { content, .. } => {
                Some(serde_json::from_str(content).unwrap())
            }
            _ => None,
        })
        .collect()
}

fn request_callback(turn: TurnId, id: &str, arguments: serde_json::Value) -> Input {
    reply(
        turn,
        ReplyOutput::ToolCall(ToolCall {
            id: id.into(),
            name: "request_callback".into(),
            arguments,
        }),
    )
}

#[test]
fn a_call_back_is_offered_and_promised_only_through_its_tool_when_one_can_be_placed() {
    let mut call = can_call_back();
    call.says(2000, 2500);
    let request = request_of(&call.feed(3000, heard(1, "אפשר שיחזרו אליי?"))).clone();
    assert!(request.tools.iter().any(|t| t.name == "request_callback"));
    let prompt = system_prompt(&request);
    assert!(
        prompt.contains("לרשום שנציג מהעסק יחזור ללקוח") && prompt.contains("רק בעזרת הכלי"),
        "{prompt}"
    );

    let mut call = Call::greeted();
    call.says(2000, 2500);
    let request = request_of(&call.feed(3000, heard(1, "אפשר שיחזרו אליי?"))).clone();
    assert!(!request.tools.iter().any(|t| t.name == "request_callback"));
    let prompt = system_prompt(&request);
    assert!(
        prompt.contains("אל תבטיחי שיחזרו ללקוח") && !prompt.contains("והציעי שנציג יחזור"),
        "without the tool no call-back is offered: {prompt}"
    );
}

#[test]
fn request_callback_records_the_promise_and_the_answer_goes_on_to_confirm_it() {
    let mut call = can_call_back();
    call.says(2000, 2500);
    call.feed(3000, heard(1, "תחזרו אליי מחר בבוקר לגבי צבע"));
    let asked = json!({ "reason": "לקבוע צבע לשיער", "when": "מחר בבוקר" });
    let effects = call.feed(3100, request_callback(1, "c1", asked));
    assert_eq!(
        events(&effects),
        ["tool_call", "callback_requested", "tool_result"]
    );
    assert_eq!(
        event_detail(&effects, "callback_requested"),
        json!({ "why": "tool", "reason": "לקבוע צבע לשיער", "when": "מחר בבוקר" })
    );
    assert_eq!(event_detail(&effects, "tool_result")["ok"], json!(true));
    assert!(
        phrases(&effects).is_empty(),
        "no fixed phrase: the model says it"
    );
    // The model's stream ends with the call; it is asked again with the promise's result.
    let answered = call.feed(3110, finished(1, ""));
    assert_eq!(replies(&answered), [1], "the answer goes on, same turn");
    let told = tool_results(request_of(&answered));
    assert_eq!(told[0]["status"], "done");
    assert!(told[0]["first_try"].is_string(), "{told:?}");
    for input in sentence(1, "רשמתי, נציג יחזור אליך.", 4000) {
        call.feed(3300, input);
    }
    call.feed(3400, finished(1, "רשמתי, נציג יחזור אליך."));
    call.echo_marks_until(4000);

    // Asked again later in the call: refused, and the model told it is already arranged.
    call.says(5000, 5500);
    call.feed(6000, heard(2, "אז תחזרו אליי, כן?"));
    let again = call.feed(
        6100,
        request_callback(2, "c2", json!({ "reason": "לקבוע צבע" })),
    );
    assert_eq!(events(&again), ["tool_call", "tool_refused"]);
    let answered = call.feed(6110, finished(2, ""));
    assert_eq!(
        tool_results(request_of(&answered))[0]["status"],
        "already_done"
    );
    let effects = call.feed(7000, Input::Shutdown);
    assert_eq!(ended(&effects).unwrap().1, "callback_requested");
}

#[test]
fn a_call_back_promised_by_a_key_is_not_promised_again_by_the_model() {
    let mut call = can_call_back();
    call.feed(1500, Input::Dtmf("*".into()));
    call.echo_marks_until(1600);
    call.says(2000, 2500);
    call.feed(3000, heard(1, "תחזרו אליי"));
    let effects = call.feed(3100, request_callback(1, "c1", json!({ "reason": "שאלה" })));
    assert_eq!(events(&effects), ["tool_call", "tool_refused"]);
}
