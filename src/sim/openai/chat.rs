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

use super::{Shared, SimEndpoint, SimRequest, preview, unix_secs};

/// Said after a tool result when the matching rule gives nothing to say.
const AFTER_TOOL_REPLY: &str = "בוצע. יש עוד משהו שאפשר לעזור בו?";
/// Said when the caller's words were empty.
const EMPTY_INPUT_REPLY: &str = "סליחה, לא שמעתי. אפשר לחזור על זה?";
/// How many of the caller's words the default reply repeats.
const ECHOED_WORDS: usize = 6;
/// Characters of tool-call arguments per streamed fragment, about one token's worth.
const ARGUMENT_FRAGMENT_CHARS: usize = 6;

/// A tool call the stand-in makes, when the request offered a tool of that name.
#[derive(Debug, Clone, PartialEq)]
pub struct SimToolCall {
    pub name: String,
    pub arguments: Value,
}

/// "When the caller says something containing `when_contains`, answer like this."
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRule {
    pub when_contains: String,
    /// Spoken text, streamed before any tool call.
    pub reply: Option<String>,
    pub tool_call: Option<SimToolCall>,
    /// Said once the tool's result comes back; [`AFTER_TOOL_REPLY`] otherwise.
    pub after_tool: Option<String>,
}

impl ChatRule {
    pub fn reply(when_contains: &str, reply: &str) -> Self {
        Self {
            when_contains: when_contains.to_string(),
            reply: Some(reply.to_string()),
            tool_call: None,
            after_tool: None,
        }
    }

    pub fn tool_call(when_contains: &str, name: &str, arguments: Value) -> Self {
        Self {
            when_contains: when_contains.to_string(),
            reply: None,
            tool_call: Some(SimToolCall {
                name: name.to_string(),
                arguments,
            }),
            after_tool: None,
        }
    }

    /// Text streamed before the tool call.
    pub fn with_reply(mut self, reply: &str) -> Self {
        self.reply = Some(reply.to_string());
        self
    }

    /// What to say once the tool's result comes back.
    pub fn then_say(mut self, after_tool: &str) -> Self {
        self.after_tool = Some(after_tool.to_string());
        self
    }
}

/// The answer decided for one request.
struct Answer {
    text: String,
    tool_call: Option<(String, SimToolCall)>,
}

impl Answer {
    fn finish_reason(&self) -> &'static str {
        if self.tool_call.is_some() {
            "tool_calls"
        } else {
            "stop"
        }
    }
}

pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = SimRequest::new(SimEndpoint::ChatCompletions, &headers);
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(error) => {
            request.summary = "unparseable JSON body".to_string();
            return shared.refuse(
                request,
                format!("We could not parse the JSON body of your request: {error}"),
            );
        }
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

    let after_tool = messages.last().is_some_and(|m| m["role"] == "tool");
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
            compose(rule, &last_user, after_tool, &offered_tools),
            state.profile,
            cut_after,
        )
    };
    let id = shared.next_id();
    let answer = Answer {
        tool_call: answer
            .tool_call
            .map(|(_, call)| (format!("call_sim{id}"), call)),
        ..answer
    };
    let completion_id = format!("chatcmpl-sim{id}");
    if !stream {
        let tokens = words(&answer.text).len();
        let think = profile.llm_first_token_delay() + profile.llm_token_interval() * tokens as u32;
        tokio::time::sleep(think).await;
        return axum::Json(whole_answer(&completion_id, &model, &answer, &messages))
            .into_response();
    }

    let (sender, receiver) = mpsc::channel::<Bytes>(32);
    let pacing = Pacing {
        first: profile.llm_first_token_delay(),
        interval: profile.llm_token_interval(),
    };
    let chunks = stream_chunks(&completion_id, &model, &answer, cut_after);
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

/// What to answer. A tool call is made only when the request offered that tool, as a real model would.
fn compose(
    rule: Option<ChatRule>,
    last_user: &str,
    after_tool: bool,
    offered_tools: &[String],
) -> Answer {
    if after_tool {
        let text = rule
            .and_then(|r| r.after_tool)
            .unwrap_or_else(|| AFTER_TOOL_REPLY.to_string());
        return Answer {
            text,
            tool_call: None,
        };
    }
    match rule {
        Some(rule) => {
            let tool_call = rule
                .tool_call
                .filter(|call| offered_tools.contains(&call.name));
            let text = rule.reply.unwrap_or_else(|| {
                if tool_call.is_some() {
                    String::new()
                } else {
                    echo_reply(last_user)
                }
            });
            Answer {
                text,
                tool_call: tool_call.map(|call| (String::new(), call)),
            }
        }
        None => Answer {
            text: echo_reply(last_user),
            tool_call: None,
        },
    }
}

/// "I heard you say: …. How can I help?", so a transcript shows a real exchange.
fn echo_reply(last_user: &str) -> String {
    let echoed: Vec<&str> = last_user.split_whitespace().take(ECHOED_WORDS).collect();
    if echoed.is_empty() {
        return EMPTY_INPUT_REPLY.to_string();
    }
    let echoed = echoed.join(" ");
    let echoed = echoed.trim_end_matches(['.', ',', '?', '!']);
    format!("שמעתי שאמרת: {echoed}. איך אפשר לעזור?")
}

/// The reply as tokens: words, each after the first with its leading space, as tokenizers split text.
fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .enumerate()
        .map(|(i, word)| {
            if i == 0 {
                word.to_string()
            } else {
                format!(" {word}")
            }
        })
        .collect()
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
    model: &str,
    answer: &Answer,
    cut_after: Option<usize>,
) -> Vec<(String, bool)> {
    let mut tokens = Vec::new();
    for word in words(&answer.text) {
        tokens.push(chunk(id, model, json!({"content": word}), None));
    }
    if let Some((call_id, call)) = &answer.tool_call {
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

fn whole_answer(id: &str, model: &str, answer: &Answer, messages: &[Value]) -> Value {
    let mut message = json!({"role": "assistant", "content": answer.text, "refusal": null});
    if let Some((call_id, call)) = &answer.tool_call {
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
    use super::*;

    fn answer(text: &str, call: Option<SimToolCall>) -> Answer {
        Answer {
            text: text.to_string(),
            tool_call: call.map(|c| ("call_1".to_string(), c)),
        }
    }

    #[test]
    fn the_default_reply_echoes_the_first_words() {
        let reply = echo_reply("אני רוצה לקבוע תור למחר בבוקר בבקשה תודה");
        assert_eq!(
            reply,
            "שמעתי שאמרת: אני רוצה לקבוע תור למחר בבוקר. איך אפשר לעזור?"
        );
        assert_eq!(echo_reply("  "), EMPTY_INPUT_REPLY);
    }

    #[test]
    fn a_tool_call_needs_the_tool_to_be_offered_and_is_not_repeated_after_its_result() {
        let rule = ChatRule::tool_call("להעביר", "transfer_call", json!({"reason": "x"}));
        let offered = ["transfer_call".to_string()];
        let called = compose(
            Some(rule.clone()),
            "תעביר אותי בבקשה להעביר",
            false,
            &offered,
        );
        assert!(called.tool_call.is_some());
        assert_eq!(called.finish_reason(), "tool_calls");
        let not_offered = compose(Some(rule.clone()), "להעביר", false, &[]);
        assert!(not_offered.tool_call.is_none());
        assert!(!not_offered.text.is_empty());
        let after = compose(Some(rule.then_say("מעביר אותך")), "להעביר", true, &offered);
        assert_eq!(
            (after.text.as_str(), after.tool_call.is_none()),
            ("מעביר אותך", true)
        );
    }

    #[test]
    fn a_stream_ends_with_finish_and_done_unless_cut() {
        let whole = stream_chunks("c", "m", &answer("אחת שתיים שלוש", None), None);
        assert_eq!(whole.iter().filter(|(_, token)| *token).count(), 3);
        assert!(
            whole[whole.len() - 2]
                .0
                .contains(r#""finish_reason":"stop""#)
        );
        assert_eq!(whole.last().unwrap().0, "data: [DONE]\n\n");

        let cut = stream_chunks("c", "m", &answer("אחת שתיים שלוש", None), Some(2));
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
        let events = stream_chunks("c", "m", &answer("", Some(call.clone())), None);
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
