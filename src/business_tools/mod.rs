//! Business tools: actions a business declares in a file rather than code (check a diary, book,
//! cancel), which the model may call during a phone call, each a signed HTTPS POST to the business.
//!
//! Layout, from the file to the request:
//! - [`tools_file`]  a tools file (TOML or JSON) read into [`BusinessTools`], and the canonical JSON
//!   the database keeps; a refused file's [`ToolsFileError`] names its line and column.
//! - `checks`        the rules beyond the file's shape (names, URLs, timeouts, limits), each refusal
//!   with the path of the value at fault; `locate` turns that path into a line and column.
//! - [`declaration`] the validated [`BusinessTools`] and [`ToolDeclaration`], and the
//!   [`ToolSpec`](crate::providers::llm::ToolSpec)s the model is offered.
//! - [`arguments`]   the arguments' JSON Schema: compiled with the file, checked on every call.
//! - [`counter`]     [`ToolCallCounter`]: the per-call and per-tool limits on how often the model calls.
//! - [`signature`]   the per-business [`ToolsSecret`] and the HMAC-SHA256 signature of each request.
//! - [`invoker`]     [`ToolInvoker`]: the POST itself, bounded in time and size, never redirected.
//! - [`error`]       [`ToolError`]: why a call gave no result, and what the model is told of it.
//!
//! The store keeps each business's tools and secret on [`Business`](crate::store::Business); a live
//! call needs only that and one shared [`ToolInvoker`].

pub mod arguments;
mod checks;
pub mod counter;
pub mod declaration;
pub mod error;
pub mod invoker;
mod locate;
#[cfg(test)]
pub(crate) mod samples;
pub mod signature;
pub mod tools_file;

pub use counter::{ToolCallAdmission, ToolCallCounter, ToolLimitReached};
pub use declaration::{BusinessTools, ToolDeclaration};
pub use error::ToolError;
pub use invoker::{
    IDEMPOTENCY_HEADER, MAX_RESPONSE_BYTES, ToolInvoker, ToolRequest, idempotency_key,
};
pub use signature::{InvalidToolsSecret, SIGNATURE_HEADER, ToolsSecret};
pub use tools_file::{ToolsFileError, ToolsFileFormat};
