//! The language model through an OpenAI-compatible `POST /chat/completions`, streamed: text deltas
//! as tokens arrive so speech can start on the first sentence, whole tool calls, and a finish reason.
//! An answer that stops without one is an error ([`LlmError::Truncated`]), never a short reply.

mod chunks;

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use reqwest::Client;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::{Instant, timeout_at};

use self::chunks::ChunkAssembler;
use super::http::{OpenAiConfig, failure};

pub const DEFAULT_CHAT_MODEL: &str = "gpt-4o";

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the answer stalled: nothing for {0:?}")]
    Stalled(Duration),
    #[error("chat server answered {status}: {message}")]
    Http { status: u16, message: String },
    #[error("chat server reported an error mid-answer: {0}")]
    Remote(String),
    #[error("cannot read the chat answer: {0}")]
    Decode(String),
    #[error("tool call `{name}` has arguments that are not JSON: {message}")]
    ToolArguments { name: String, message: String },
    #[error("cannot reach the chat server: {0}")]
    Transport(#[source] reqwest::Error),
    #[error("the answer was cut off before it finished")]
    Truncated,
}

impl LlmError {
    fn from_reqwest(error: reqwest::Error, timeout: Duration) -> Self {
        if error.is_timeout() {
            Self::Timeout(timeout)
        } else if error.is_decode() {
            Self::Decode(error.to_string())
        } else {
            Self::Transport(error)
        }
    }
}

/// One message of the conversation, in the shapes the chat API accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatMessage {
    System(String),
    User(String),
    /// What the agent said, and the tools it called in the same turn.
    Assistant {
        text: String,
        tool_calls: Vec<ToolCall>,
    },
    /// A tool's result, answering the call with `tool_call_id`.
    Tool {
        tool_call_id: String,
        content: String,
    },
}

impl ChatMessage {
    pub fn system(text: impl Into<String>) -> Self {
        Self::System(text.into())
    }
    pub fn user(text: impl Into<String>) -> Self {
        Self::User(text.into())
    }
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::Assistant {
            text: text.into(),
            tool_calls: Vec::new(),
        }
    }
    pub fn tool_result(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self::Tool {
            tool_call_id: tool_call_id.into(),
            content: content.into(),
        }
    }

    fn to_wire(&self) -> Value {
        match self {
            Self::System(text) => json!({"role": "system", "content": text}),
            Self::User(text) => json!({"role": "user", "content": text}),
            Self::Assistant { text, tool_calls } if tool_calls.is_empty() => {
                json!({"role": "assistant", "content": text})
            }
            Self::Assistant { text, tool_calls } => {
                // The API wants each call's arguments as a JSON string, and null content when silent.
                let calls: Vec<Value> = tool_calls
                    .iter()
                    .map(|call| {
                        json!({"id": call.id, "type": "function",
                               "function": {"name": call.name, "arguments": call.arguments.to_string()}})
                    })
                    .collect();
                let content = if text.is_empty() {
                    Value::Null
                } else {
                    json!(text)
                };
                json!({"role": "assistant", "content": content, "tool_calls": calls})
            }
            Self::Tool {
                tool_call_id,
                content,
            } => json!({"role": "tool", "tool_call_id": tool_call_id, "content": content}),
        }
    }
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: Value,
}

/// A call the model made, its arguments parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<ToolSpec>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
}

impl ChatRequest {
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self {
            messages,
            ..Self::default()
        }
    }
}

/// One piece of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatDelta {
    Text(String),
    /// A tool call, whole, once all of its argument fragments have arrived.
    ToolCall(ToolCall),
    /// The server's finish reason (`stop`, `length`, `tool_calls`, `content_filter`); always last.
    Finished(String),
}

/// A streamed answer. Dropping it closes the HTTP response, which cancels the request on the server:
/// that is how a barge-in stops generation.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatDelta, LlmError>> + Send>>;

/// The chat client. Cheap to clone; requests share one connection pool.
#[derive(Debug, Clone)]
pub struct OpenAiChat {
    config: OpenAiConfig,
    client: Client,
    model: String,
    idle_timeout: Duration,
}

impl OpenAiChat {
    /// A client for `model` (such as [`DEFAULT_CHAT_MODEL`]). The config's timeout bounds the wait for
    /// the first chunk of a stream, the pause between chunks, and a whole [`Self::complete`] call.
    pub fn new(config: OpenAiConfig, model: impl Into<String>) -> Self {
        Self {
            client: config.client(),
            idle_timeout: config.timeout,
            config,
            model: model.into(),
        }
    }

    /// A separate bound on the pause between chunks once the answer has started.
    pub fn with_idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// Starts a streamed answer. Returns once the server accepted the request; the deltas follow.
    pub async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, LlmError> {
        let first_byte_timeout = self.config.timeout;
        let first_byte_deadline = Instant::now() + first_byte_timeout;
        let send = self
            .config
            .post(&self.client, "chat/completions")
            .json(&self.body(request, true))
            .send();
        let response = timeout_at(first_byte_deadline, send)
            .await
            .map_err(|_| LlmError::Timeout(first_byte_timeout))?
            .map_err(|error| LlmError::from_reqwest(error, first_byte_timeout))?;
        if !response.status().is_success() {
            let (status, message) = failure(response).await;
            return Err(LlmError::Http { status, message });
        }
        let reading = Reading {
            events: Box::pin(response.bytes_stream().eventsource()),
            assembler: ChunkAssembler::default(),
            pending: VecDeque::new(),
            first_byte: Some((first_byte_deadline, first_byte_timeout)),
            idle_timeout: self.idle_timeout,
            ended: false,
        };
        Ok(Box::pin(futures::stream::unfold(
            reading,
            Reading::next_delta,
        )))
    }

    /// The whole answer's text at once (summaries and other work off the call path). A reply that
    /// only calls tools has no text, so it comes back empty.
    pub async fn complete(&self, request: &ChatRequest) -> Result<String, LlmError> {
        let timeout = self.config.timeout;
        let response = self
            .config
            .post(&self.client, "chat/completions")
            .timeout(timeout)
            .json(&self.body(request, false))
            .send()
            .await
            .map_err(|error| LlmError::from_reqwest(error, timeout))?;
        if !response.status().is_success() {
            let (status, message) = failure(response).await;
            return Err(LlmError::Http { status, message });
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| LlmError::from_reqwest(error, timeout))?;
        parse_completion(&body)
    }

    fn body(&self, request: &ChatRequest, stream: bool) -> Value {
        let mut body = json!({
            "model": self.model,
            "messages": request.messages.iter().map(ChatMessage::to_wire).collect::<Vec<_>>(),
            "stream": stream,
        });
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|tool| {
                    json!({"type": "function", "function": {
                        "name": tool.name, "description": tool.description, "parameters": tool.parameters}})
                })
                .collect();
        }
        if let Some(temperature) = request.temperature {
            body["temperature"] = json!(temperature);
        }
        // `max_tokens` rather than `max_completion_tokens`: the gpt-4o family and the local servers all
        // accept it.
        if let Some(max_tokens) = request.max_tokens {
            body["max_tokens"] = json!(max_tokens);
        }
        body
    }
}

type EventResult = Result<Event, EventStreamError<reqwest::Error>>;

/// The state of a stream being read.
struct Reading {
    events: Pin<Box<dyn Stream<Item = EventResult> + Send>>,
    assembler: ChunkAssembler,
    pending: VecDeque<ChatDelta>,
    /// Until the first event arrives, the deadline counted from sending the request.
    first_byte: Option<(Instant, Duration)>,
    idle_timeout: Duration,
    ended: bool,
}

impl Reading {
    async fn next_delta(mut self) -> Option<(Result<ChatDelta, LlmError>, Self)> {
        loop {
            if let Some(delta) = self.pending.pop_front() {
                return Some((Ok(delta), self));
            }
            if self.ended {
                return None;
            }
            let (deadline, limit, is_first) = match self.first_byte.take() {
                Some((deadline, limit)) => (deadline, limit, true),
                None => (Instant::now() + self.idle_timeout, self.idle_timeout, false),
            };
            let outcome = match timeout_at(deadline, self.events.next()).await {
                Ok(Some(Ok(event))) => self.read_event(&event),
                Ok(Some(Err(EventStreamError::Transport(error)))) => {
                    Err(LlmError::Transport(error))
                }
                Ok(Some(Err(error))) => Err(LlmError::Decode(error.to_string())),
                Ok(None) => {
                    self.ended = true;
                    Err(LlmError::Truncated)
                }
                Err(_) if is_first => Err(LlmError::Timeout(limit)),
                Err(_) => Err(LlmError::Stalled(limit)),
            };
            if let Err(error) = outcome {
                self.ended = true;
                // After the finish reason the answer is whole; trouble while draining is not the caller's.
                if self.assembler.is_finished() {
                    return None;
                }
                return Some((Err(error), self));
            }
        }
    }

    fn read_event(&mut self, event: &Event) -> Result<(), LlmError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.ended = true;
            return self.assembler.push_done(&mut self.pending);
        }
        if data.is_empty() {
            return Ok(());
        }
        self.assembler.push_chunk(data, &mut self.pending)
    }
}

/// The text of a non-streamed completion.
fn parse_completion(body: &[u8]) -> Result<String, LlmError> {
    #[derive(Deserialize)]
    struct Completion {
        choices: Vec<CompletionChoice>,
    }
    #[derive(Deserialize)]
    struct CompletionChoice {
        message: CompletionMessage,
    }
    #[derive(Deserialize)]
    struct CompletionMessage {
        content: Option<String>,
    }
    let completion: Completion =
        serde_json::from_slice(body).map_err(|error| LlmError::Decode(error.to_string()))?;
    let first = completion
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| LlmError::Decode("the answer has no choices".to_string()))?;
    Ok(first.message.content.unwrap_or_default())
}

#[cfg(test)]
mod tests;
