//! A business's declared tools, validated: what the model is offered, where each call goes, how long
//! it may take, and the limits on how often the model may call them in one call.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use url::Url;

use crate::providers::llm::ToolSpec;

/// Tool calls one phone call may make, all tools together, when the file does not say.
pub const DEFAULT_MAX_CALLS_PER_CALL: u32 = 8;
/// The most a tools file may allow per call: past this a looping model costs the business real
/// requests long before a caller could need them.
pub const MAX_CALLS_PER_CALL_CEILING: u32 = 50;
/// How long a tool may take when the file does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The shortest timeout a tool may have: less is below a round trip across the internet.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(100);
/// The longest timeout a tool may have: the caller waits on the line in silence meanwhile.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);
/// Tools one business may declare; every one is sent to the model on every turn.
pub const MAX_TOOLS: usize = 32;
/// Names of sicha's own tools, which a business's tool may not take.
pub const RESERVED_TOOL_NAMES: [&str; 4] = [
    "end_call",
    "transfer_to_human",
    "send_sms",
    "request_callback",
];

/// Every tool one business declares, checked: unique names, a compiled schema per tool, URLs that
/// may be called. Made only by parsing a tools file (see [`BusinessTools::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessTools {
    pub(super) tools: Vec<ToolDeclaration>,
    pub(super) max_calls_per_call: u32,
}

/// One declared tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolDeclaration {
    pub(super) name: String,
    pub(super) description: String,
    pub(super) parameters: Value,
    pub(super) schema: CompiledSchema,
    pub(super) url: Url,
    pub(super) timeout: Duration,
    pub(super) waiting_phrase: Option<String>,
    pub(super) confirm: bool,
    pub(super) max_per_call: Option<u32>,
}

/// The arguments' schema compiled once, when the file is read. Two are equal when their source
/// schemas are, which [`ToolDeclaration`] compares already.
#[derive(Clone)]
pub(super) struct CompiledSchema(pub(super) Arc<jsonschema::Validator>);

impl PartialEq for CompiledSchema {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for CompiledSchema {}

impl std::fmt::Debug for CompiledSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompiledSchema")
    }
}

impl BusinessTools {
    /// The tools in the order the file declares them.
    pub fn tools(&self) -> &[ToolDeclaration] {
        &self.tools
    }

    /// The tool named `name`, if declared.
    pub fn get(&self, name: &str) -> Option<&ToolDeclaration> {
        self.tools.iter().find(|tool| tool.name == name)
    }

    /// Tool calls one phone call may make, all tools together.
    pub fn max_calls_per_call(&self) -> u32 {
        self.max_calls_per_call
    }

    /// What the model is offered, one spec per tool, in the file's order.
    pub fn specs(&self) -> Vec<ToolSpec> {
        self.tools.iter().map(ToolDeclaration::spec).collect()
    }
}

impl ToolDeclaration {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the model reads to decide when to call the tool.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The JSON Schema of the arguments (an object schema).
    pub fn parameters(&self) -> &Value {
        &self.parameters
    }

    /// Where a call is POSTed: https, or http to this machine only.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The whole request's bound: connecting, sending and reading the answer.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Said to the caller while the request is out, if the business gave one.
    pub fn waiting_phrase(&self) -> Option<&str> {
        self.waiting_phrase.as_deref()
    }

    /// Whether the agent must read the action back and hear the caller agree before calling.
    pub fn confirm(&self) -> bool {
        self.confirm
    }

    /// Calls of this tool one phone call may make, if limited beyond the per-call total.
    pub fn max_per_call(&self) -> Option<u32> {
        self.max_per_call
    }

    /// The tool as the model is offered it.
    pub fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: self.name.clone(),
            description: self.description.clone(),
            parameters: self.parameters.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::samples::salon;

    #[test]
    fn the_model_is_offered_each_tool_as_declared() {
        let tools = salon();
        let specs = tools.specs();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[1].name, "book_appointment");
        assert_eq!(
            specs[1].description,
            "Book an appointment once the caller agreed to the day, time and name."
        );
        assert_eq!(&specs[1].parameters, tools.tools()[1].parameters());
        assert_eq!(specs[0], tools.tools()[0].spec());
    }
}
