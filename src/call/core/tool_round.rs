//! A reply's round of business tool calls: the calls the model made, their results as they come
//! back, and the model's text before them. Once the reply has finished and every call has its result,
//! the model is asked again with the results, and the answer goes on under the same turn.

use std::time::Instant;

use crate::providers::llm::{ChatMessage, ToolCall};

use super::TurnId;

#[derive(Debug)]
pub struct ToolRound {
    pub turn: TurnId,
    calls: Vec<ToolCall>,
    /// Results by call id, as given to the model.
    results: Vec<(String, String)>,
    /// The reply's own text, once it finished.
    text: Option<String>,
    /// When to say something while a tool is slow, and what.
    pub waiting: Option<(Instant, String)>,
}

impl ToolRound {
    pub fn new(turn: TurnId) -> Self {
        Self {
            turn,
            calls: Vec::new(),
            results: Vec::new(),
            text: None,
            waiting: None,
        }
    }

    pub fn called(&mut self, call: ToolCall) {
        self.calls.push(call);
    }

    /// The result of the call `id`, as the model will read it.
    pub fn answered(&mut self, id: &str, content: String) {
        if self.calls.iter().any(|c| c.id == id) && !self.results.iter().any(|(r, _)| r == id) {
            self.results.push((id.to_string(), content));
        }
    }

    /// The name of the call `id`.
    pub fn name_of(&self, id: &str) -> Option<&str> {
        self.calls
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.name.as_str())
    }

    pub fn reply_finished(&mut self, text: &str) {
        self.text = Some(text.to_string());
    }

    /// A call is still out.
    pub fn waiting_for_results(&self) -> bool {
        self.results.len() < self.calls.len()
    }

    /// The reply finished and every call has its result: the messages that give them to the model.
    pub fn messages_if_complete(&self) -> Option<Vec<ChatMessage>> {
        let text = self.text.as_ref()?;
        if self.waiting_for_results() {
            return None;
        }
        let mut messages = vec![ChatMessage::Assistant {
            text: text.clone(),
            tool_calls: self.calls.clone(),
        }];
        for call in &self.calls {
            let content = self
                .results
                .iter()
                .find(|(id, _)| *id == call.id)
                .map(|(_, content)| content.clone())
                .unwrap_or_default();
            messages.push(ChatMessage::tool_result(call.id.clone(), content));
        }
        Some(messages)
    }
}
