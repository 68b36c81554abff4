//! Turns the `data:` payloads of a streamed chat completion into [`ChatDelta`]s: text as it comes,
//! tool calls once their argument fragments are complete, and the finish reason. Pure, so every
//! server quirk is tested without a network.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Deserializer};

use super::{ChatDelta, LlmError, ToolCall};

/// One `chat.completion.chunk`. Compatible servers differ: vLLM may send `"choices": null` in a final
/// usage chunk, and a server may report an error inside the stream.
#[derive(Deserialize)]
struct Chunk {
    #[serde(default, deserialize_with = "null_as_empty")]
    choices: Vec<Choice>,
    error: Option<StreamedError>,
}

#[derive(Deserialize)]
struct StreamedError {
    message: Option<String>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    index: u32,
    delta: Option<Delta>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    tool_calls: Vec<ToolCallFragment>,
}

#[derive(Deserialize)]
struct ToolCallFragment {
    index: Option<usize>,
    id: Option<String>,
    function: Option<FunctionFragment>,
}

#[derive(Deserialize)]
struct FunctionFragment {
    name: Option<String>,
    arguments: Option<String>,
}

fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// A tool call whose arguments are still arriving.
#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Accumulates one streamed answer (choice 0; sicha never asks for more than one).
#[derive(Default)]
pub(super) struct ChunkAssembler {
    calls: Vec<PartialCall>,
    /// The wire `index` of a tool call to its place in `calls`.
    slot_by_index: HashMap<usize, usize>,
    finished: bool,
}

impl ChunkAssembler {
    /// True once a finish reason (or `[DONE]`) closed the answer.
    pub(super) fn is_finished(&self) -> bool {
        self.finished
    }

    /// Reads one `data:` payload and queues the deltas it completes.
    pub(super) fn push_chunk(
        &mut self,
        data: &str,
        out: &mut VecDeque<ChatDelta>,
    ) -> Result<(), LlmError> {
        let chunk: Chunk = serde_json::from_str(data)
            .map_err(|error| LlmError::Decode(format!("{error} in chunk {}", preview(data))))?;
        if let Some(error) = chunk.error {
            return Err(LlmError::Remote(
                error
                    .message
                    .unwrap_or_else(|| "unspecified error".to_string()),
            ));
        }
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(delta) = choice.delta {
                if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                    out.push_back(ChatDelta::Text(text));
                }
                for fragment in delta.tool_calls {
                    self.add_fragment(fragment);
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.finish(reason, out)?;
            }
        }
        Ok(())
    }

    /// `data: [DONE]`: the server has nothing more. Without an earlier finish reason the answer
    /// still ended properly, so it counts as `stop`.
    pub(super) fn push_done(&mut self, out: &mut VecDeque<ChatDelta>) -> Result<(), LlmError> {
        if self.finished {
            Ok(())
        } else {
            self.finish("stop".to_string(), out)
        }
    }

    fn add_fragment(&mut self, fragment: ToolCallFragment) {
        let index = fragment.index.unwrap_or(0);
        let id = fragment.id.filter(|id| !id.is_empty());
        let slot = match self.slot_by_index.get(&index) {
            // Some servers (Ollama) reuse index 0 for parallel calls and tell them apart by id only.
            Some(&slot)
                if id.as_ref().is_none_or(|id| {
                    self.calls[slot].id.is_empty() || self.calls[slot].id == *id
                }) =>
            {
                slot
            }
            _ => {
                self.calls.push(PartialCall::default());
                let slot = self.calls.len() - 1;
                self.slot_by_index.insert(index, slot);
                slot
            }
        };
        let call = &mut self.calls[slot];
        if let Some(id) = id {
            call.id = id;
        }
        if let Some(function) = fragment.function {
            call.name
                .push_str(function.name.as_deref().unwrap_or_default());
            call.arguments
                .push_str(function.arguments.as_deref().unwrap_or_default());
        }
    }

    /// Emits the completed tool calls in the order they began, then the finish reason.
    fn finish(&mut self, reason: String, out: &mut VecDeque<ChatDelta>) -> Result<(), LlmError> {
        self.finished = true;
        for call in self.calls.drain(..) {
            // A function without parameters may arrive with no argument text at all.
            let raw = if call.arguments.trim().is_empty() {
                "{}"
            } else {
                call.arguments.as_str()
            };
            let arguments = serde_json::from_str(raw).map_err(|error| LlmError::ToolArguments {
                name: call.name.clone(),
                message: format!("{error} in {}", preview(raw)),
            })?;
            out.push_back(ChatDelta::ToolCall(ToolCall {
                id: call.id,
                name: call.name,
                arguments,
            }));
        }
        self.slot_by_index.clear();
        out.push_back(ChatDelta::Finished(reason));
        Ok(())
    }
}

/// The start of a payload for an error message; model output can be long.
fn preview(text: &str) -> String {
    const SHOWN_CHARS: usize = 120;
    let mut shown: String = text.chars().take(SHOWN_CHARS).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(chunks: &[serde_json::Value]) -> (Vec<ChatDelta>, ChunkAssembler) {
        let mut assembler = ChunkAssembler::default();
        let mut out = VecDeque::new();
        for chunk in chunks {
            assembler.push_chunk(&chunk.to_string(), &mut out).unwrap();
        }
        (out.into_iter().collect(), assembler)
    }

    fn delta(delta: serde_json::Value, finish: Option<&str>) -> serde_json::Value {
        json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    }

    #[test]
    fn text_arrives_as_it_comes_and_empty_content_is_skipped() {
        let (deltas, assembler) = run(&[
            delta(json!({"role": "assistant", "content": ""}), None),
            delta(json!({"content": "שלום"}), None),
            delta(json!({"content": " לך"}), None),
            delta(json!({}), Some("stop")),
        ]);
        assert_eq!(
            deltas,
            vec![
                ChatDelta::Text("שלום".into()),
                ChatDelta::Text(" לך".into()),
                ChatDelta::Finished("stop".into())
            ]
        );
        assert!(assembler.is_finished());
    }

    #[test]
    fn tool_call_fragments_are_joined_by_index_and_emitted_at_the_finish() {
        let fragments = [
            json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                "function": {"name": "book", "arguments": ""}}]}),
            json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                "function": {"name": "ping"}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"day\":"}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": " \"שני\"}"}}]}),
        ];
        let mut assembler = ChunkAssembler::default();
        let mut out = VecDeque::new();
        for fragment in fragments {
            assembler
                .push_chunk(&delta(fragment, None).to_string(), &mut out)
                .unwrap();
            assert!(
                out.is_empty(),
                "nothing is emitted before the calls are complete"
            );
        }
        assembler
            .push_chunk(&delta(json!({}), Some("tool_calls")).to_string(), &mut out)
            .unwrap();
        let deltas: Vec<_> = out.into_iter().collect();
        assert_eq!(
            deltas,
            vec![
                ChatDelta::ToolCall(ToolCall {
                    id: "call_a".into(),
                    name: "book".into(),
                    arguments: json!({"day": "שני"})
                }),
                ChatDelta::ToolCall(ToolCall {
                    id: "call_b".into(),
                    name: "ping".into(),
                    arguments: json!({})
                }),
                ChatDelta::Finished("tool_calls".into()),
            ]
        );
    }

    #[test]
    fn a_new_id_at_a_reused_index_is_a_new_call() {
        let (deltas, _) = run(&[
            delta(
                json!({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "one", "arguments": "{}"}}]}),
                None,
            ),
            delta(
                json!({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "two", "arguments": "{}"}}]}),
                None,
            ),
            delta(json!({}), Some("tool_calls")),
        ]);
        let names: Vec<_> = deltas
            .iter()
            .filter_map(|d| match d {
                ChatDelta::ToolCall(call) => Some(call.name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["one", "two"]);
    }

    #[test]
    fn done_without_a_finish_reason_counts_as_stop_and_null_choices_are_accepted() {
        let mut assembler = ChunkAssembler::default();
        let mut out = VecDeque::new();
        assembler
            .push_chunk(r#"{"choices":null,"usage":{"total_tokens":3}}"#, &mut out)
            .unwrap();
        assert!(!assembler.is_finished());
        assembler.push_done(&mut out).unwrap();
        assert_eq!(out.pop_front(), Some(ChatDelta::Finished("stop".into())));
        // A second end marker adds nothing.
        assembler.push_done(&mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn broken_arguments_errors_and_in_stream_errors_are_typed() {
        let mut assembler = ChunkAssembler::default();
        let mut out = VecDeque::new();
        let start = delta(
            json!({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "book", "arguments": "{\"day\""}}]}),
            Some("tool_calls"),
        );
        let error = assembler
            .push_chunk(&start.to_string(), &mut out)
            .unwrap_err();
        assert!(
            matches!(error, LlmError::ToolArguments { ref name, .. } if name == "book"),
            "{error:?}"
        );

        let mut assembler = ChunkAssembler::default();
        let remote = assembler
            .push_chunk(r#"{"error":{"message":"overloaded"}}"#, &mut out)
            .unwrap_err();
        assert!(matches!(remote, LlmError::Remote(ref m) if m == "overloaded"));
        assert!(matches!(
            assembler.push_chunk("not json", &mut out),
            Err(LlmError::Decode(_))
        ));
    }
}
