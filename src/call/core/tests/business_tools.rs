//! The business's own tools in a call: called over HTTP (by the session) with their results given
//! back to the model, a phrase while a slow one runs, honest failures, and bookings only after the
//! caller agreed to the read-back.

use serde_json::{Value, json};

use super::harness::*;
use crate::business_tools::samples::SALON_TOML;
use crate::business_tools::{BusinessTools, ToolsFileFormat};
use crate::call::core::*;
use crate::providers::llm::{ChatMessage, ToolCall};

fn salon() -> crate::store::Business {
    crate::store::Business {
        tools: Some(BusinessTools::parse(SALON_TOML, ToolsFileFormat::Toml).unwrap()),
        ..business(None, "")
    }
}

/// A greeted call to the salon whose caller asked something at 2000–2500 ms, answered as turn 1.
fn asking() -> Call {
    let (mut call, mark) = Call::with(AgentMode::Ai, Some(salon())).started();
    call.feed(1001, Input::MarkPlayed(mark));
    call.says(2000, 2500);
    call.feed(3000, heard(1, "יש תור פנוי ביום שלישי?"));
    call
}

fn tool_call(turn: TurnId, id: &str, name: &str, arguments: Value) -> Input {
    reply(
        turn,
        ReplyOutput::ToolCall(ToolCall {
            id: id.into(),
            name: name.into(),
            arguments,
        }),
    )
}

fn invoked(effects: &[Effect]) -> Vec<(String, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::InvokeTool { call, key, .. } => Some((call.name.clone(), key.clone())),
            _ => None,
        })
        .collect()
}

/// The model looks Tuesday up and its stream ends with that call.
fn looks_up_tuesday(call: &mut Call) {
    call.feed(
        3100,
        tool_call(
            1,
            "c1",
            "check_availability",
            json!({ "date": "2026-12-08" }),
        ),
    );
    call.feed(3110, finished(1, ""));
}

fn tool_results(request: &crate::providers::llm::ChatRequest) -> Vec<Value> {
    request
        .messages
        .iter()
        .filter_map(|m| match m {
            ChatMessage::Tool { content, .. } => Some(serde_json::from_str(content).unwrap()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_business_tools_are_offered_and_named_in_the_prompt() {
    let mut call = Call::with(AgentMode::Ai, Some(salon())).started().0;
    call.says(2000, 2500);
    let effects = call.feed(3000, heard(1, "שלום"));
    let request = request_of(&effects);
    let names: Vec<&str> = request.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["end_call", "check_availability", "book_appointment"]
    );
    let ChatMessage::System(prompt) = &request.messages[0] else {
        panic!("the system prompt first")
    };
    assert!(
        prompt.contains("Free appointment slots on a given day."),
        "{prompt}"
    );
}

#[test]
fn a_tools_result_goes_back_to_the_model_and_the_answer_goes_on() {
    let mut call = asking();
    let effects = call.feed(
        3100,
        tool_call(
            1,
            "c1",
            "check_availability",
            json!({ "date": "2026-12-08" }),
        ),
    );
    assert_eq!(
        invoked(&effects),
        [("check_availability".to_string(), "tool:CA1:1".to_string())]
    );
    // The model's stream ends with the call: the answer is not over.
    let finished_effects = call.feed(3110, finished(1, ""));
    assert!(replies(&finished_effects).is_empty());
    assert!(turns(&finished_effects).is_empty(), "no agent turn yet");
    let answered = call.feed(
        3400,
        Input::ToolResult {
            turn: 1,
            call_id: "c1".into(),
            result: Ok(json!({ "slots": ["10:00", "16:30"] })),
            ms: 300,
        },
    );
    assert_eq!(replies(&answered), [1], "asked again, under the same turn");
    let request = request_of(&answered);
    assert_eq!(
        tool_results(request),
        [json!({ "slots": ["10:00", "16:30"] })]
    );
    assert!(matches!(
        &request.messages[request.messages.len() - 2],
        ChatMessage::Assistant { tool_calls, .. } if tool_calls.len() == 1
    ));
    assert_eq!(event_detail(&answered, "tool_result")["ok"], json!(true));
    // The continuation speaks as any answer does.
    for input in sentence(1, "יש תור בעשר ובארבע וחצי.", 4000) {
        call.feed(3600, input);
    }
    call.feed(3700, finished(1, "יש תור בעשר ובארבע וחצי."));
    let effects = call.echo_marks_until(4500);
    assert_eq!(turns(&effects)[0].2, "יש תור בעשר ובארבע וחצי.");
}

#[test]
fn a_slow_tool_is_bridged_with_its_waiting_phrase() {
    let mut call = asking();
    looks_up_tuesday(&mut call);
    assert_eq!(
        call.core.next_deadline().map(|at| call.ms_of(at)),
        Some(4100)
    );
    let effects = call.feed(4100, Input::Tick);
    assert_eq!(phrases(&effects), ["רגע, אני בודקת ביומן"]);
}

#[test]
fn a_failed_tool_is_told_to_the_model_as_a_failure() {
    let mut call = asking();
    looks_up_tuesday(&mut call);
    let failure = json!({ "error": "timeout", "detail": "no answer within 3s" });
    let answered = call.feed(
        6200,
        Input::ToolResult {
            turn: 1,
            call_id: "c1".into(),
            result: Err(failure.clone()),
            ms: 3000,
        },
    );
    assert_eq!(tool_results(request_of(&answered)), [failure]);
    assert_eq!(event_detail(&answered, "tool_result")["ok"], json!(false));
}

#[test]
fn invalid_arguments_are_not_sent_and_the_model_is_told() {
    let mut call = asking();
    let effects = call.feed(3100, tool_call(1, "c1", "check_availability", json!({})));
    assert!(invoked(&effects).is_empty());
    let answered = call.feed(3110, finished(1, ""));
    assert_eq!(
        tool_results(request_of(&answered))[0]["error"],
        json!("invalid_arguments")
    );
}

#[test]
fn a_booking_is_made_only_after_the_caller_agreed_to_its_read_back() {
    let booking = json!({ "date": "2026-12-08", "time": "16:30", "name": "דנה" });
    let mut call = asking();
    let effects = call.feed(
        3100,
        tool_call(1, "c1", "book_appointment", booking.clone()),
    );
    assert!(invoked(&effects).is_empty(), "not before the caller agreed");
    let answered = call.feed(3110, finished(1, ""));
    assert_eq!(
        tool_results(request_of(&answered))[0]["status"],
        json!("not_done")
    );
    // Asked again at once, the model may not book either: the caller has not spoken.
    let again = call.feed(
        3200,
        tool_call(1, "c2", "book_appointment", booking.clone()),
    );
    assert!(invoked(&again).is_empty());
    call.feed(3210, finished(1, "לקבוע לדנה ביום שלישי בארבע וחצי?"));
    call.echo_marks_until(3300);
    // The caller agrees; the same booking is now made.
    call.says(4000, 4500);
    call.feed(5000, heard(2, "כן, בבקשה"));
    let booked = call.feed(5100, tool_call(2, "c3", "book_appointment", booking));
    assert_eq!(invoked(&booked).len(), 1);
}
