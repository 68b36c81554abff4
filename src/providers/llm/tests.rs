use super::*;

fn chat() -> OpenAiChat {
    OpenAiChat::new(OpenAiConfig::default(), DEFAULT_CHAT_MODEL)
}

#[test]
fn messages_take_the_wire_shapes_including_tool_calls_as_json_strings() {
    let call = ToolCall {
        id: "call_1".into(),
        name: "transfer".into(),
        arguments: json!({"to": "sales"}),
    };
    let silent_call = ChatMessage::Assistant {
        text: String::new(),
        tool_calls: vec![call],
    };
    assert_eq!(
        silent_call.to_wire(),
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "transfer", "arguments": "{\"to\":\"sales\"}"}}]})
    );
    assert_eq!(
        ChatMessage::tool_result("call_1", "done").to_wire(),
        json!({"role": "tool", "tool_call_id": "call_1", "content": "done"})
    );
    assert_eq!(
        ChatMessage::assistant("היי").to_wire(),
        json!({"role": "assistant", "content": "היי"})
    );
}

#[test]
fn the_body_carries_only_what_was_asked_for() {
    let mut request = ChatRequest::new(vec![ChatMessage::system("s"), ChatMessage::user("u")]);
    let plain = chat().body(&request, true);
    assert_eq!(plain["stream"], json!(true));
    assert_eq!(plain["model"], json!("gpt-4o"));
    assert!(
        plain.get("tools").is_none()
            && plain.get("temperature").is_none()
            && plain.get("max_tokens").is_none()
    );

    request.tools.push(ToolSpec {
        name: "hang_up".into(),
        description: "end the call".into(),
        parameters: json!({"type": "object", "properties": {}}),
    });
    request.temperature = Some(0.5);
    request.max_tokens = Some(200);
    let full = chat().body(&request, false);
    assert_eq!(full["tools"][0]["function"]["name"], json!("hang_up"));
    assert_eq!(full["tools"][0]["type"], json!("function"));
    assert_eq!(full["temperature"], json!(0.5));
    assert_eq!(full["max_tokens"], json!(200));
    assert_eq!(full["messages"][1], json!({"role": "user", "content": "u"}));
}

#[test]
fn a_completion_gives_its_first_choice_text() {
    let body = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"סיכום"},"finish_reason":"stop"}]}"#;
    assert_eq!(parse_completion(body.as_bytes()).unwrap(), "סיכום");
    let tools_only =
        br#"{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[]}}]}"#;
    assert_eq!(parse_completion(tools_only).unwrap(), "");
    assert!(matches!(
        parse_completion(br#"{"choices":[]}"#),
        Err(LlmError::Decode(_))
    ));
}
