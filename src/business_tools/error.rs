//! Why a tool call did not give a result, in words for the log and as the result the model reads, so
//! the caller hears what really happened and never an invented success.

use std::time::Duration;

use serde_json::{Value, json};

/// A tool call that gave no result. Where the request may have reached the business (a timeout, a
/// broken connection, an unreadable answer), the model is told the outcome is unknown.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    /// The arguments do not match the tool's schema; nothing was sent.
    #[error("invalid arguments: {}", .0.join("; "))]
    InvalidArguments(Vec<String>),
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The business answered with a status other than 2xx (redirects are not followed). `body` is
    /// its answer when that was JSON, for the model to explain the refusal (a slot already taken).
    #[error("answered HTTP {status}")]
    Status { status: u16, body: Option<Value> },
    #[error("the answer is longer than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the answer is not JSON: {0}")]
    NotJson(String),
    /// Could not connect, or the connection broke; the reason never holds the URL.
    #[error("unreachable: {0}")]
    Transport(String),
}

/// Told with every failure after which the business may have acted.
const OUTCOME_UNKNOWN: &str = "The request may or may not have been carried out. Do not tell the caller it succeeded; \
     say it could not be confirmed, and offer another way (a person, a callback).";

impl ToolError {
    /// A short, stable name of the failure, for the model, logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidArguments(_) => "invalid_arguments",
            Self::Timeout(_) => "timeout",
            Self::Status { .. } => "http_status",
            Self::TooLarge { .. } => "response_too_large",
            Self::NotJson(_) => "response_not_json",
            Self::Transport(_) => "unreachable",
        }
    }

    /// What the model is given as the tool's result: `{"error": kind, "detail": …}`.
    pub fn model_result(&self) -> Value {
        let detail = match self {
            Self::InvalidArguments(problems) => format!(
                "Nothing was sent: the arguments do not match the tool's parameters ({}). Ask the caller for what is missing or wrong, then call again.",
                problems.join("; ")
            ),
            Self::Timeout(after) => format!(
                "The business's system did not answer within {} ms. {OUTCOME_UNKNOWN}",
                after.as_millis()
            ),
            Self::Status { status, .. } if (400..500).contains(status) => format!(
                "The business's system refused the request (HTTP {status}); it was not carried out. Tell the caller, with the reason in `response` if there is one."
            ),
            Self::Status { status, .. } => {
                format!("The business's system failed (HTTP {status}). {OUTCOME_UNKNOWN}")
            }
            Self::TooLarge { .. } | Self::NotJson(_) => format!(
                "The business's system gave an answer that cannot be read. {OUTCOME_UNKNOWN}"
            ),
            Self::Transport(_) => {
                format!("The business's system could not be reached. {OUTCOME_UNKNOWN}")
            }
        };
        let mut result = json!({"error": self.kind(), "detail": detail});
        if let Self::Status {
            body: Some(body), ..
        } = self
        {
            result["response"] = body.clone();
        }
        result
    }
}
