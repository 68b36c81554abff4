//! The business's own tools within a reply: each call carried out (or answered at once when it may
//! not be made), a phrase while a slow one runs, and the model asked again with the results once the
//! reply has finished, the answer going on under the same turn.

use std::time::Duration;

use serde_json::{Value, json};

use crate::business_tools::ToolDeclaration;
use crate::call::core::tool_round::ToolRound;
use crate::call::core::{CallCore, Effect, Now, TurnId};
use crate::call::phrases;
use crate::deliveries::tool_calls::TOOL_RESULT;
use crate::providers::llm::{ChatRequest, ToolCall};

/// A tool answering within this is not bridged with a phrase.
pub const TOOL_WAIT_BEFORE_PHRASE: Duration = Duration::from_secs(1);

impl CallCore {
    /// Starts the reply of `turn`, remembering its request for a tool round to continue from.
    pub(super) fn start_reply(&mut self, turn: TurnId, request: ChatRequest) {
        self.last_request = Some((turn, request.clone()));
        self.tool_round = None;
        self.emit(Effect::Reply { turn, request });
    }

    fn round(&mut self, turn: TurnId) -> &mut ToolRound {
        if self.tool_round.as_ref().is_none_or(|r| r.turn != turn) {
            self.tool_round = Some(ToolRound::new(turn));
        }
        self.tool_round.as_mut().expect("just set")
    }

    /// The model called the business's `tool`: carry it out.
    pub(super) fn invoke_tool(
        &mut self,
        turn: TurnId,
        call: ToolCall,
        tool: Box<ToolDeclaration>,
        key: String,
        now: Now,
    ) {
        let phrase = tool.waiting_phrase().unwrap_or(phrases::FILLER).to_string();
        let round = self.round(turn);
        round.called(call.clone());
        round
            .waiting
            .get_or_insert((now.at + TOOL_WAIT_BEFORE_PHRASE, phrase));
        self.emit(Effect::InvokeTool {
            turn,
            call,
            tool,
            key,
        });
    }

    /// The model called a tool it may not call now: it is told why at once.
    pub(super) fn answer_tool_call(&mut self, turn: TurnId, call: ToolCall, result: Value) {
        let id = call.id.clone();
        let round = self.round(turn);
        round.called(call);
        round.answered(&id, result.to_string());
    }

    /// A business tool answered.
    pub(super) fn tool_result(
        &mut self,
        turn: TurnId,
        call_id: &str,
        result: Result<Value, Value>,
        ms: u64,
        now: Now,
    ) {
        let Some(round) = self
            .tool_round
            .as_mut()
            .filter(|r| r.turn == turn && self.turns.is_answering(turn))
        else {
            return; // the answer was cut off or superseded meanwhile
        };
        let name = round.name_of(call_id).unwrap_or_default().to_string();
        let (ok, content) = match result {
            Ok(value) => (true, value),
            Err(told) => (false, told),
        };
        round.answered(call_id, content.to_string());
        if !round.waiting_for_results() {
            round.waiting = None;
        }
        let detail = json!({ "id": call_id, "name": name, "ok": ok, "ms": ms, "result": content });
        self.event(now, TOOL_RESULT, Some(detail));
        self.continue_after_tools(turn);
    }

    /// The reply of `turn` finished with `text`: true when it made tool calls, so the answer goes on
    /// (now or once their results are in) rather than ending.
    pub(super) fn reply_finished_with_tools(&mut self, turn: TurnId, text: &str) -> bool {
        let Some(round) = self.tool_round.as_mut().filter(|r| r.turn == turn) else {
            return false;
        };
        round.reply_finished(text);
        self.continue_after_tools(turn);
        true
    }

    /// Every result is in and the reply has finished: the model is asked again with them.
    fn continue_after_tools(&mut self, turn: TurnId) {
        let Some(messages) = self
            .tool_round
            .as_ref()
            .and_then(|r| r.messages_if_complete())
        else {
            return;
        };
        let Some((_, mut request)) = self.last_request.take().filter(|(t, _)| *t == turn) else {
            self.tool_round = None;
            return;
        };
        request.messages.extend(messages);
        self.start_reply(turn, request);
    }

    /// A tool is slow: the caller hears its waiting phrase (or the filler) once.
    pub(super) fn tool_wait_due(&mut self, now: Now) {
        let Some(round) = self.tool_round.as_mut() else {
            return;
        };
        let Some((_, phrase)) = round.waiting.take_if(|(at, _)| *at <= now.at) else {
            return;
        };
        if !self.agent_audible() {
            self.say(&phrase, now);
        }
    }
}
