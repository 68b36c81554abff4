//! How many tool calls one phone call has made, against the file's limits: all tools together
//! (`max_calls_per_call`) and each tool on its own (`max_per_call`). Decisions only, no I/O.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::declaration::{BusinessTools, ToolDeclaration};

/// The tool calls of one phone call so far.
#[derive(Debug, Clone, Default)]
pub struct ToolCallCounter {
    made: u32,
    by_tool: HashMap<String, u32>,
}

/// Whether a tool call may go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolCallAdmission {
    /// Go ahead: this is the call's `sequence`th tool call (from 1), which names its idempotency key.
    Allowed { sequence: u32 },
    /// Refused: the model is told why and the tool is not called.
    Refused(ToolLimitReached),
}

/// A limit a tool call would pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolLimitReached {
    #[error("this call has already made {limit} tool calls, the most allowed")]
    PerCall { limit: u32 },
    #[error("{tool} has already been called {limit} times in this call, the most allowed")]
    PerTool { tool: String, limit: u32 },
}

impl ToolLimitReached {
    /// What the model is given as the tool's result.
    pub fn model_result(&self) -> Value {
        json!({
            "error": "limit_reached",
            "detail": format!("Not called: {self}. Do not try again in this call; tell the caller it cannot be done now and offer another way."),
        })
    }
}

impl ToolCallCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts a call of `tool` if the limits allow it. Every call admitted counts, whatever its
    /// outcome (arguments refused included), so a model that keeps failing still stops.
    pub fn admit(&mut self, tools: &BusinessTools, tool: &ToolDeclaration) -> ToolCallAdmission {
        let limit = tools.max_calls_per_call();
        if self.made >= limit {
            return ToolCallAdmission::Refused(ToolLimitReached::PerCall { limit });
        }
        let of_tool = self.by_tool.entry(tool.name().to_string()).or_default();
        if let Some(limit) = tool.max_per_call()
            && *of_tool >= limit
        {
            return ToolCallAdmission::Refused(ToolLimitReached::PerTool {
                tool: tool.name().to_string(),
                limit,
            });
        }
        *of_tool += 1;
        self.made += 1;
        ToolCallAdmission::Allowed {
            sequence: self.made,
        }
    }

    /// Tool calls admitted so far.
    pub fn made(&self) -> u32 {
        self.made
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::business_tools::samples::salon;

    #[test]
    fn calls_are_numbered_until_the_per_call_limit() {
        let tools = salon();
        let lookup = tools.get("check_availability").unwrap();
        let mut counter = ToolCallCounter::new();
        for sequence in 1..=6 {
            assert_eq!(
                counter.admit(&tools, lookup),
                ToolCallAdmission::Allowed { sequence }
            );
        }
        let refused = counter.admit(&tools, lookup);
        assert_eq!(
            refused,
            ToolCallAdmission::Refused(ToolLimitReached::PerCall { limit: 6 })
        );
        assert_eq!(counter.made(), 6, "a refused call is not counted");
    }

    #[test]
    fn a_tool_with_its_own_limit_stops_there_and_others_go_on() {
        let tools = salon();
        let book = tools.get("book_appointment").unwrap();
        let lookup = tools.get("check_availability").unwrap();
        let mut counter = ToolCallCounter::new();
        assert_eq!(
            counter.admit(&tools, book),
            ToolCallAdmission::Allowed { sequence: 1 }
        );
        assert_eq!(
            counter.admit(&tools, lookup),
            ToolCallAdmission::Allowed { sequence: 2 }
        );
        assert_eq!(
            counter.admit(&tools, book),
            ToolCallAdmission::Allowed { sequence: 3 }
        );
        let ToolCallAdmission::Refused(limit) = counter.admit(&tools, book) else {
            panic!("a third booking is refused");
        };
        assert_eq!(
            limit,
            ToolLimitReached::PerTool {
                tool: "book_appointment".into(),
                limit: 2
            }
        );
        assert_eq!(limit.model_result()["error"], "limit_reached");
        assert!(
            limit.model_result()["detail"]
                .as_str()
                .unwrap()
                .contains("book_appointment has already been called 2 times")
        );
        assert_eq!(
            counter.admit(&tools, lookup),
            ToolCallAdmission::Allowed { sequence: 4 }
        );
    }
}
