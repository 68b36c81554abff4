//! A call's tool calls, as the CRM interaction lists them and the call page shows them: each
//! `tool_call` event the call's core recorded, with what came of it (its `tool_result` or
//! `tool_refused`), paired by the model's call id (by name and order for events recorded before
//! they carried one).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::Event;

/// The model called a tool: `{"id", "name", "arguments"}`.
pub const TOOL_CALL: &str = "tool_call";
/// A tool answered: `{"id", "name", "ok", "ms", "result"}` (a failure's `result` is what the model
/// was told of it).
pub const TOOL_RESULT: &str = "tool_result";
/// A tool call was not carried out: `{"id", "name", "why"}`.
pub const TOOL_REFUSED: &str = "tool_refused";

/// One tool call of a call and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCallRecord {
    pub tool: String,
    pub arguments: Value,
    /// False when the tool failed or the call was refused. A built-in action the call carries out
    /// itself (ending it, a transfer, a text queued) has no result of its own and counts as done.
    pub ok: bool,
    /// What the tool answered: a business's JSON, or what the model was told of a call-back.
    pub result: Option<Value>,
    /// What went wrong: the failure the model was told of, or why the call was refused.
    pub error: Option<Value>,
    /// How long the tool took to answer, when it answered.
    pub ms: Option<u64>,
    /// When the model called it, epoch milliseconds.
    pub at_ms: i64,
}

/// The tool calls among `events` (in the order they were recorded), each with its outcome.
pub fn tool_calls(events: &[Event]) -> Vec<ToolCallRecord> {
    let mut calls: Vec<(Option<String>, ToolCallRecord, bool)> = Vec::new();
    for event in events {
        let detail = event.detail.as_ref().unwrap_or(&Value::Null);
        let id = detail["id"].as_str().map(str::to_string);
        let name = detail["name"].as_str().unwrap_or_default();
        if event.kind == TOOL_CALL {
            let record = ToolCallRecord {
                tool: name.to_string(),
                arguments: detail["arguments"].clone(),
                ok: true,
                result: None,
                error: None,
                ms: None,
                at_ms: event.at_ms,
            };
            calls.push((id, record, false));
            continue;
        }
        if event.kind != TOOL_RESULT && event.kind != TOOL_REFUSED {
            continue;
        }
        let Some((_, record, settled)) = calls.iter_mut().find(|(call_id, record, settled)| {
            !settled
                && match (&id, call_id) {
                    (Some(id), Some(call_id)) => id == call_id,
                    _ => record.tool == name,
                }
        }) else {
            continue;
        };
        *settled = true;
        if event.kind == TOOL_REFUSED {
            record.ok = false;
            record.error = Some(detail["why"].clone());
            continue;
        }
        record.ok = detail["ok"].as_bool().unwrap_or(false);
        record.ms = detail["ms"].as_u64();
        let answer = Some(detail["result"].clone());
        if record.ok {
            record.result = answer;
        } else {
            record.error = answer;
        }
    }
    calls.into_iter().map(|(_, record, _)| record).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(seq: i64, kind: &str, detail: Value) -> Event {
        Event {
            call_sid: "CA1".into(),
            seq,
            kind: kind.into(),
            detail: Some(detail),
            at_ms: 1_000 + seq,
        }
    }

    #[test]
    fn each_call_gets_its_own_outcome_by_id_whatever_order_they_came_in() {
        let events = [
            event(
                1,
                TOOL_CALL,
                json!({ "id": "a", "name": "check", "arguments": { "day": 1 } }),
            ),
            event(
                2,
                TOOL_CALL,
                json!({ "id": "b", "name": "check", "arguments": { "day": 2 } }),
            ),
            event(3, "filler", json!(null)),
            event(
                4,
                TOOL_RESULT,
                json!({ "id": "b", "name": "check", "ok": false, "ms": 2000, "result": { "error": "timeout" } }),
            ),
            event(
                5,
                TOOL_RESULT,
                json!({ "id": "a", "name": "check", "ok": true, "ms": 120, "result": { "slots": ["10:00"] } }),
            ),
            event(
                6,
                TOOL_CALL,
                json!({ "id": "c", "name": "transfer_to_human", "arguments": {} }),
            ),
            event(
                7,
                TOOL_REFUSED,
                json!({ "id": "c", "name": "transfer_to_human", "why": "no transfer number" }),
            ),
            event(
                8,
                TOOL_CALL,
                json!({ "id": "d", "name": "end_call", "arguments": {} }),
            ),
        ];
        let calls = tool_calls(&events);
        assert_eq!(
            calls[0],
            ToolCallRecord {
                tool: "check".into(),
                arguments: json!({ "day": 1 }),
                ok: true,
                result: Some(json!({ "slots": ["10:00"] })),
                error: None,
                ms: Some(120),
                at_ms: 1_001,
            }
        );
        assert_eq!(
            (calls[1].ok, &calls[1].error, calls[1].ms),
            (false, &Some(json!({ "error": "timeout" })), Some(2000))
        );
        assert_eq!(
            (calls[2].ok, &calls[2].error),
            (false, &Some(json!("no transfer number")))
        );
        assert_eq!(
            (calls[3].tool.as_str(), calls[3].ok, &calls[3].result),
            ("end_call", true, &None),
            "an action of the call itself, with no result of its own"
        );
        assert_eq!(calls.len(), 4);
    }

    #[test]
    fn events_without_ids_pair_by_name_in_order() {
        let events = [
            event(1, TOOL_CALL, json!({ "name": "book", "arguments": {} })),
            event(
                2,
                TOOL_RESULT,
                json!({ "name": "book", "ok": true, "ms": 5, "result": { "booked": true } }),
            ),
        ];
        assert_eq!(
            tool_calls(&events)[0].result,
            Some(json!({ "booked": true }))
        );
    }
}
