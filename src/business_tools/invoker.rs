//! Calling a business's tool: one POST of the call's context and the model's arguments, signed and
//! carrying an idempotency key; the JSON answer is the tool's result.
//!
//! The request is bounded every way a business's server could hold the call up: the tool's timeout
//! over the whole exchange, no redirects (a redirected POST could leave the declared host or turn
//! into a GET), and an answer read piece by piece and refused once past [`MAX_RESPONSE_BYTES`].

use std::error::Error as _;

use reqwest::header::CONTENT_TYPE;
use serde::Serialize;
use serde_json::Value;

use super::declaration::{MAX_TIMEOUT, ToolDeclaration};
use super::error::ToolError;
use super::signature::{SIGNATURE_HEADER, ToolsSecret};

/// The header carrying the tool call's idempotency key (also in the signed body).
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// The longest answer read from a tool; a tool result is read by the model on every later turn.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// One tool call: which tool, for which call, with what.
#[derive(Debug, Clone, Copy)]
pub struct ToolRequest<'a> {
    pub tool: &'a ToolDeclaration,
    /// The business's tools secret, which signs the body.
    pub secret: &'a ToolsSecret,
    pub call_sid: &'a str,
    /// The business's Twilio number, E.164.
    pub business: &'a str,
    /// The caller's number as Twilio gave it.
    pub caller: &'a str,
    /// The model's arguments, checked against the tool's schema before anything is sent.
    pub arguments: &'a Value,
    /// One per tool call, the same on any retry of it: see [`idempotency_key`].
    pub idempotency_key: &'a str,
}

/// The JSON body POSTed to the tool. The idempotency key is in it as well as in its header so that
/// it is signed: a replayed body cannot pass for a new call.
#[derive(Serialize)]
struct RequestBody<'a> {
    call_sid: &'a str,
    business: &'a str,
    caller: &'a str,
    tool: &'a str,
    arguments: &'a Value,
    idempotency_key: &'a str,
}

/// The idempotency key of the `sequence`th tool call (from 1) of the call `call_sid`.
pub fn idempotency_key(call_sid: &str, sequence: u32) -> String {
    format!("tool:{call_sid}:{sequence}")
}

/// Calls businesses' tools. One per server, shared by every call: it holds the connection pool.
#[derive(Debug, Clone)]
pub struct ToolInvoker {
    http: reqwest::Client,
}

impl Default for ToolInvoker {
    fn default() -> Self {
        Self::new()
    }
}

impl ToolInvoker {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(MAX_TIMEOUT)
            .user_agent(concat!("sicha/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds with the bundled TLS roots");
        Self { http }
    }

    /// Checks the arguments, POSTs the call to the tool and returns its JSON answer (an empty
    /// answer is `null`). Every failure is a [`ToolError`], whose
    /// [`model_result`](ToolError::model_result) is what the model should be told.
    pub async fn invoke(&self, request: &ToolRequest<'_>) -> Result<Value, ToolError> {
        let tool = request.tool;
        tool.check_arguments(request.arguments)
            .map_err(ToolError::InvalidArguments)?;
        let body = serde_json::to_vec(&RequestBody {
            call_sid: request.call_sid,
            business: request.business,
            caller: request.caller,
            tool: tool.name(),
            arguments: request.arguments,
            idempotency_key: request.idempotency_key,
        })
        .expect("a tool request serialises to JSON");
        let signature = request.secret.sign(&body);
        let sent = self
            .http
            .post(tool.url().clone())
            .timeout(tool.timeout())
            .header(CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_HEADER, request.idempotency_key)
            .header(SIGNATURE_HEADER, signature)
            .body(body);
        let exchange = async {
            let response = sent.send().await.map_err(|error| failure(error, tool))?;
            let status = response.status();
            let answer = read_capped(response, tool).await;
            if !status.is_success() {
                let body = answer
                    .ok()
                    .and_then(|bytes| serde_json::from_slice(&bytes).ok());
                return Err(ToolError::Status {
                    status: status.as_u16(),
                    body,
                });
            }
            let answer = answer?;
            if answer.iter().all(u8::is_ascii_whitespace) {
                return Ok(Value::Null);
            }
            serde_json::from_slice(&answer).map_err(|error| ToolError::NotJson(error.to_string()))
        };
        tokio::time::timeout(tool.timeout(), exchange)
            .await
            .unwrap_or(Err(ToolError::Timeout(tool.timeout())))
    }
}

/// The answer's body, refused as soon as it passes [`MAX_RESPONSE_BYTES`], without reading on.
async fn read_capped(
    mut response: reqwest::Response,
    tool: &ToolDeclaration,
) -> Result<Vec<u8>, ToolError> {
    let too_large = ToolError::TooLarge {
        limit: MAX_RESPONSE_BYTES,
    };
    if response
        .content_length()
        .is_some_and(|length| length > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_large);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| failure(error, tool))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A transport failure, told without the URL (it may carry a token) but with its causes.
fn failure(error: reqwest::Error, tool: &ToolDeclaration) -> ToolError {
    if error.is_timeout() {
        return ToolError::Timeout(tool.timeout());
    }
    let error = error.without_url();
    let mut reason = error.to_string();
    let mut cause = error.source();
    while let Some(source) = cause {
        reason.push_str(": ");
        reason.push_str(&source.to_string());
        cause = source.source();
    }
    ToolError::Transport(reason)
}
