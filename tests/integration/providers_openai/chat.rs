//! The streaming chat client against the stand-in: deltas, tool calls in fragments, streams that
//! stall, are cut or are dropped.

use super::*;

#[tokio::test]
async fn a_stream_that_stops_mid_answer_stalls_rather_than_waiting_forever() {
    let sim = sim().await;
    sim.set_profile(SimProfile {
        llm_tokens_per_sec: 2.0,
        ..SimProfile::instant()
    });
    let chat =
        OpenAiChat::new(config(&sim), "gpt-4o").with_idle_timeout(Duration::from_millis(100));

    let deltas = collect(&chat, &user_says("שלום לכם")).await;

    assert!(
        matches!(deltas.first(), Some(Ok(ChatDelta::Text(_)))),
        "{deltas:?}"
    );
    assert!(
        matches!(deltas.last(), Some(Err(LlmError::Stalled(_)))),
        "{deltas:?}"
    );
}

#[tokio::test]
async fn streamed_text_arrives_in_several_deltas_before_the_finish() {
    let sim = sim().await;
    let reply = "אנחנו פתוחים מראשון עד חמישי, משמונה בבוקר עד שש בערב.";
    sim.add_chat_rule(ChatRule::reply("פתוחים", reply));
    sim.set_profile(SimProfile {
        llm_tokens_per_sec: 100.0,
        ..SimProfile::instant()
    });
    let chat = OpenAiChat::new(config(&sim), "gpt-4o");

    let started = Instant::now();
    let mut stream = chat.stream(&user_says("מתי אתם פתוחים?")).await.unwrap();
    let mut texts = Vec::new();
    let mut first_text_at = None;
    let finish = loop {
        match stream.next().await.expect("the stream finishes").unwrap() {
            ChatDelta::Text(text) => {
                first_text_at.get_or_insert(started.elapsed());
                texts.push(text);
            }
            ChatDelta::Finished(reason) => break (reason, started.elapsed()),
            other => panic!("unexpected {other:?}"),
        }
    };

    assert!(texts.len() >= 5, "{texts:?}");
    assert_eq!(texts.concat(), reply);
    assert_eq!(finish.0, "stop");
    // Tokens come 10 ms apart, so the first text is well ahead of the finish.
    assert!(
        first_text_at.unwrap() + Duration::from_millis(40) < finish.1,
        "{first_text_at:?} vs {:?}",
        finish.1
    );
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn a_tool_call_streamed_in_fragments_arrives_whole_with_parsed_arguments() {
    let sim = sim().await;
    let arguments = json!({"day": "יום שלישי", "time": "10:30", "service": "תספורת"});
    sim.add_chat_rule(
        ChatRule::tool_call("תור", "book_appointment", arguments.clone())
            .with_reply("רגע, אני בודקת."),
    );
    let chat = OpenAiChat::new(config(&sim), "gpt-4o");
    let mut request = user_says("אפשר לקבוע תור ליום שלישי?");
    request.tools.push(ToolSpec {
        name: "book_appointment".into(),
        description: "קובע תור".into(),
        parameters: json!({"type": "object", "properties": {"day": {"type": "string"}}}),
    });

    let deltas: Vec<ChatDelta> = collect(&chat, &request)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();

    let calls: Vec<_> = deltas
        .iter()
        .filter_map(|d| match d {
            ChatDelta::ToolCall(call) => Some(call),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 1, "{deltas:?}");
    assert_eq!(calls[0].name, "book_appointment");
    assert_eq!(calls[0].arguments, arguments);
    assert!(calls[0].id.starts_with("call_"));
    assert!(matches!(deltas.first(), Some(ChatDelta::Text(_))));
    assert_eq!(
        deltas.last(),
        Some(&ChatDelta::Finished("tool_calls".into()))
    );
    let sent = sim.requests()[0].json.clone().unwrap();
    assert_eq!(sent["tools"][0]["function"]["name"], "book_appointment");

    // The tool's result goes back and the stand-in answers in words, not with the same call again.
    request.messages.push(ChatMessage::Assistant {
        text: "רגע, אני בודקת.".into(),
        tool_calls: vec![calls[0].clone()],
    });
    request
        .messages
        .push(ChatMessage::tool_result(calls[0].id.clone(), "נקבע"));
    let after: Vec<ChatDelta> = collect(&chat, &request)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(
        after.iter().all(|d| !matches!(d, ChatDelta::ToolCall(_))),
        "{after:?}"
    );
    assert_eq!(after.last(), Some(&ChatDelta::Finished("stop".into())));
}

#[tokio::test]
async fn a_stream_cut_before_its_end_is_reported_as_truncated() {
    let sim = sim().await;
    sim.cut_next_streams(1, 2);
    let chat = OpenAiChat::new(config(&sim), "gpt-4o");

    let deltas = collect(&chat, &user_says("אני רוצה לדבר עם מישהו מהצוות")).await;

    assert_eq!(deltas.len(), 3, "{deltas:?}");
    assert!(
        deltas[..2]
            .iter()
            .all(|d| matches!(d, Ok(ChatDelta::Text(_))))
    );
    assert!(matches!(deltas[2], Err(LlmError::Truncated)), "{deltas:?}");
    // Only the next stream was cut.
    let whole = collect(&chat, &user_says("שוב")).await;
    assert!(
        matches!(whole.last(), Some(Ok(ChatDelta::Finished(_)))),
        "{whole:?}"
    );
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_request() {
    let sim = sim().await;
    sim.set_profile(SimProfile {
        llm_tokens_per_sec: 20.0,
        ..SimProfile::instant()
    });
    let chat = OpenAiChat::new(config(&sim), "gpt-4o");

    let mut stream = chat
        .stream(&user_says("אחת שתיים שלוש ארבע חמש שש"))
        .await
        .unwrap();
    assert!(matches!(stream.next().await, Some(Ok(ChatDelta::Text(_)))));
    drop(stream);

    let deadline = Instant::now() + Duration::from_secs(3);
    while sim.cancelled_streams() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sim.cancelled_streams(), 1);
}

#[tokio::test]
async fn complete_returns_the_whole_text_at_once() {
    let sim = sim().await;
    sim.add_chat_rule(ChatRule::reply("סכם", "הלקוח קבע תור ליום שלישי."));
    let chat = OpenAiChat::new(config(&sim), "gpt-4o-mini");

    let summary = chat.complete(&user_says("סכם את השיחה")).await.unwrap();

    assert_eq!(summary, "הלקוח קבע תור ליום שלישי.");
    let request = &sim.requests()[0];
    assert_eq!(request.json.as_ref().unwrap()["stream"], json!(false));
    assert_eq!(request.model.as_deref(), Some("gpt-4o-mini"));
}
