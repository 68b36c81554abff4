//! `POST /v1/chat/completions`, streamed as OpenAI streams it (role chunk, content chunks, tool-call
//! fragments, a finish chunk, `data: [DONE]`) or answered whole. Replies come from rules matched
//! against the last user message, else a Hebrew reply that echoes the caller's first words.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::chat_script::{Answer, compose, words};
use super::{Shared, SimEndpoint, SimRequest, preview, unix_secs};

/// Characters of tool-call arguments per streamed fragment, about one token's worth.
const ARGUMENT_FRAGMENT_CHARS: usize = 6;

pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = SimRequest::new(SimEndpoint::ChatCompletions, &headers);
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(error) => return shared.refuse_unparseable(request, &error),
    };
    let model = body["model"].as_str().unwrap_or_default().to_string();
    let stream = body["stream"].as_bool().unwrap_or(false);
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let offered_tools: Vec<String> = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|tool| tool["function"]["name"].as_str().map(str::to_string))
        .collect();
    let last_user = last_user_text(&messages);
    request.model = Some(model.clone()).filter(|m| !m.is_empty());
    request.summary = format!(
        "{model} stream={stream} messages={} tools={} user: {}",
        messages.len(),
        offered_tools.len(),
        preview(&last_user)
    );
    request.json = Some(body.clone());
    if let Some(refused) = shared.admit(request, validate(&model, &messages)) {
        return refused;
    }

    let tool_result = messages
        .last()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_string());
    let (answer, profile, cut_after) = {
        let mut state = shared.state();
        let rule = state
            .chat_rules
            .iter()
            .find(|r| last_user.contains(&r.when_contains))
            .cloned();
        let cut_after = match &mut state.cut_streams {
            (left, after) if stream && *left > 0 => {
                *left -= 1;
                Some(*after)
            }
            _ => None,
        };
        (
            compose(rule, &last_user, tool_result.as_deref(), &offered_tools),
            state.profile,
            cut_after,
        )
    };
    let id = shared.next_id();
    let call_id = format!("call_sim{id}");
    let completion_id = format!("chatcmpl-sim{id}");
    if !stream {
        let tokens = words(&answer.text).len();
        let think = profile.llm_first_token_delay() + profile.llm_token_interval() * tokens as u32;
        tokio::time::sleep(think).await;
        return axum::Json(whole_answer(
            &completion_id,
            &call_id,
            &model,
            &answer,
            &messages,
        ))
        .into_response();
    }

    let (sender, receiver) = mpsc::channel::<Bytes>(32);
    let pacing = Pacing {
        first: profile.llm_first_token_delay(),
        interval: profile.llm_token_interval(),
    };
    let chunks = stream_chunks(&completion_id, &call_id, &model, &answer, cut_after);
    tokio::spawn(async move {
        if !send_paced(&sender, chunks, pacing).await {
            shared.state().cancelled_streams += 1;
        }
    });
    let body = Body::from_stream(futures::stream::unfold(
        receiver,
        |mut receiver| async move {
            receiver
                .recv()
                .await
                .map(|bytes| (Ok::<_, std::io::Error>(bytes), receiver))
        },
    ));
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn validate(model: &str, messages: &[Value]) -> Option<String> {
    if model.is_empty() {
        return Some("you must provide a model parameter".to_string());
    }
    if messages.is_empty() {
        return Some("'messages' must contain at least one message".to_string());
    }
    for (index, message) in messages.iter().enumerate() {
        match message["role"].as_str() {
            Some("system" | "user" | "assistant") => {}
            Some("tool") if message["tool_call_id"].is_string() => {}
            Some("tool") => {
                return Some(format!(
                    "messages[{index}]: a tool message needs tool_call_id"
                ));
            }
            other => return Some(format!("messages[{index}]: invalid role {other:?}")),
        }
    }
    None
}

fn last_user_text(messages: &[Value]) -> String {
    messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn chunk(id: &str, model: &str, delta: Value, finish_reason: Option<&str>) -> Value {
    json!({
        "id": id, "object": "chat.completion.chunk", "created": unix_secs(), "model": model,
        "system_fingerprint": "fp_sim",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
    })
}

/// Every event of a streamed answer, each marked as one token (paced) or not. A cut stream stops
/// after `cut_after` tokens with neither a finish reason nor `[DONE]`.
fn stream_chunks(
    id: &str,
    call_id: &str,
    model: &str,
    answer: &Answer,
    cut_after: Option<usize>,
) -> Vec<(String, bool)> {
    let mut tokens = Vec::new();
    for word in words(&answer.text) {
        tokens.push(chunk(id, model, json!({"content": word}), None));
    }
    if let Some(call) = &answer.tool_call {
        tokens.push(chunk(
            id,
            model,
            json!({"tool_calls": [{"index": 0, "id": call_id, "type": "function",
            "function": {"name": call.name, "arguments": ""}}]}),
            None,
        ));
        let arguments: Vec<char> = call.arguments.to_string().chars().collect();
        for piece in arguments.chunks(ARGUMENT_FRAGMENT_CHARS) {
            let piece: String = piece.iter().collect();
            tokens.push(chunk(
                id,
                model,
                json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                None,
            ));
        }
    }
    let cut = cut_after.is_some_and(|after| after < tokens.len());
    let kept = cut_after.unwrap_or(usize::MAX).min(tokens.len());
    let mut events = vec![(
        event(&chunk(
            id,
            model,
            json!({"role": "assistant", "content": ""}),
            None,
        )),
        false,
    )];
    events.extend(
        tokens
            .into_iter()
            .take(kept)
            .map(|token| (event(&token), true)),
    );
    if !cut {
        events.push((
            event(&chunk(id, model, json!({}), Some(answer.finish_reason()))),
            false,
        ));
        events.push(("data: [DONE]\n\n".to_string(), false));
    }
    events
}

fn event(chunk: &Value) -> String {
    format!("data: {chunk}\n\n")
}

struct Pacing {
    first: Duration,
    interval: Duration,
}

/// Sends the events with the profile's timing; false when the client went away first.
async fn send_paced(
    sender: &mpsc::Sender<Bytes>,
    events: Vec<(String, bool)>,
    pacing: Pacing,
) -> bool {
    tokio::time::sleep(pacing.first).await;
    let mut first_token = true;
    for (event, is_token) in events {
        if is_token && !first_token {
            tokio::time::sleep(pacing.interval).await;
        }
        first_token &= !is_token;
        if sender.send(Bytes::from(event)).await.is_err() {
            return false;
        }
    }
    true
}

fn whole_answer(
    id: &str,
    call_id: &str,
    model: &str,
    answer: &Answer,
    messages: &[Value],
) -> Value {
    let mut message = json!({"role": "assistant", "content": answer.text, "refusal": null});
    if let Some(call) = &answer.tool_call {
        if answer.text.is_empty() {
            message["content"] = Value::Null;
        }
        message["tool_calls"] = json!([{"id": call_id, "type": "function",
            "function": {"name": call.name, "arguments": call.arguments.to_string()}}]);
    }
    let prompt_tokens: usize = messages
        .iter()
        .map(|m| words(m["content"].as_str().unwrap_or_default()).len())
        .sum();
    let completion_tokens = words(&answer.text).len();
    json!({
        "id": id, "object": "chat.completion", "created": unix_secs(), "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": answer.finish_reason()}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    })
}

#[cfg(test)]
mod tests {
    use super::super::chat_script::SimToolCall;
    use super::*;

    fn answer(text: &str, call: Option<SimToolCall>) -> Answer {
        Answer {
            text: text.to_string(),
            tool_call: call,
        }
    }

    #[test]
    fn a_stream_ends_with_finish_and_done_unless_cut() {
        let whole = stream_chunks("c", "call_1", "m", &answer("אחת שתיים שלוש", None), None);
        assert_eq!(whole.iter().filter(|(_, token)| *token).count(), 3);
        assert!(
            whole[whole.len() - 2]
                .0
                .contains(r#""finish_reason":"stop""#)
        );
        assert_eq!(whole.last().unwrap().0, "data: [DONE]\n\n");

        let cut = stream_chunks("c", "call_1", "m", &answer("אחת שתיים שלוש", None), Some(2));
        assert_eq!(cut.iter().filter(|(_, token)| *token).count(), 2);
        assert!(
            cut.iter().all(|(event, _)| !event.contains("[DONE]")
                && !event.contains(r#""finish_reason":"stop""#))
        );
    }

    #[test]
    fn tool_arguments_are_streamed_in_fragments_that_join_to_the_json() {
        let call = SimToolCall {
            name: "book".into(),
            arguments: json!({"day": "שני", "hour": 10}),
        };
        let events = stream_chunks("c", "call_1", "m", &answer("", Some(call.clone())), None);
        let mut joined = String::new();
        let mut fragments = 0;
        for (event, _) in &events {
            let Some(data) = event
                .strip_prefix("data: ")
                .filter(|d| !d.starts_with("[DONE]"))
            else {
                continue;
            };
            let chunk: Value = serde_json::from_str(data.trim()).unwrap();
            if let Some(args) =
                chunk["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
            {
                joined.push_str(args);
                fragments += 1;
            }
        }
        assert!(fragments > 2, "{fragments}");
        assert_eq!(
            serde_json::from_str::<Value>(&joined).unwrap(),
            call.arguments
        );
    }
}
