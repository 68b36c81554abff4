//! The rules a tools file must meet beyond its shape: names, descriptions, schemas, URLs, timeouts
//! and limits. Each refusal says where in the file it is, as a path the locator turns into a line.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use url::{Host, Url};

use super::arguments::compile_schema;
use super::declaration::{
    BusinessTools, CompiledSchema, DEFAULT_MAX_CALLS_PER_CALL, DEFAULT_TIMEOUT,
    MAX_CALLS_PER_CALL_CEILING, MAX_TIMEOUT, MAX_TOOLS, MIN_TIMEOUT, RESERVED_TOOL_NAMES,
    ToolDeclaration,
};
use super::tools_file::{FileContent, FileTool};

/// One step from the file's top level down to a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PathStep {
    Key(Cow<'static, str>),
    Index(usize),
}

impl PathStep {
    pub fn key(key: &'static str) -> Self {
        Self::Key(Cow::Borrowed(key))
    }
}

/// What is wrong, and at which value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Problem {
    pub at: Vec<PathStep>,
    pub message: String,
}

/// The longest tool name the chat APIs take.
const MAX_NAME_CHARS: usize = 64;

pub(super) fn check(content: FileContent) -> Result<BusinessTools, Problem> {
    let max_calls_per_call = content
        .max_calls_per_call
        .unwrap_or(DEFAULT_MAX_CALLS_PER_CALL);
    if !(1..=MAX_CALLS_PER_CALL_CEILING).contains(&max_calls_per_call) {
        return Err(Problem {
            at: vec![PathStep::key("max_calls_per_call")],
            message: format!(
                "max_calls_per_call must be between 1 and {MAX_CALLS_PER_CALL_CEILING}, not {max_calls_per_call}"
            ),
        });
    }
    if content.tools.is_empty() {
        return Err(Problem {
            at: Vec::new(),
            message: "the file declares no tools: add a [[tools]] table (\"tools\" in JSON)".into(),
        });
    }
    if content.tools.len() > MAX_TOOLS {
        return Err(Problem {
            at: vec![PathStep::key("tools"), PathStep::Index(MAX_TOOLS)],
            message: format!(
                "at most {MAX_TOOLS} tools, not {}: the model reads every one on every turn",
                content.tools.len()
            ),
        });
    }
    let mut names = HashSet::new();
    let mut tools = Vec::with_capacity(content.tools.len());
    for (index, tool) in content.tools.into_iter().enumerate() {
        let refuse = |within: Vec<PathStep>, message: String| Problem {
            at: [vec![PathStep::key("tools"), PathStep::Index(index)], within].concat(),
            message,
        };
        let name = || vec![PathStep::key("name")];
        check_name(&tool.name).map_err(|message| refuse(name(), message))?;
        if !names.insert(tool.name.clone()) {
            return Err(refuse(
                name(),
                format!("a tool named {:?} is already declared above", tool.name),
            ));
        }
        tools.push(check_tool(tool).map_err(|(within, message)| refuse(within, message))?);
    }
    Ok(BusinessTools {
        tools,
        max_calls_per_call,
    })
}

/// Everything but the name (checked with the other names), or where in the tool the fault is and why.
fn check_tool(tool: FileTool) -> Result<ToolDeclaration, (Vec<PathStep>, String)> {
    let at = |key: &'static str| move |message: String| (vec![PathStep::key(key)], message);
    let description = tool.description.trim();
    if description.is_empty() {
        return Err(at("description")(
            "the description is empty: the model reads it to know when to call the tool".into(),
        ));
    }
    let parameters = tool.parameters.unwrap_or_else(
        || serde_json::json!({"type": "object", "properties": {}, "additionalProperties": false}),
    );
    let schema = compile_schema(&parameters).map_err(|problem| {
        let at = [vec![PathStep::key("parameters")], problem.within].concat();
        (at, problem.message)
    })?;
    let url = check_url(&tool.url).map_err(at("url"))?;
    let timeout = match tool.timeout_ms {
        None => DEFAULT_TIMEOUT,
        Some(ms) => check_timeout(ms).map_err(at("timeout_ms"))?,
    };
    let waiting_phrase = match tool.waiting_phrase.as_deref().map(str::trim) {
        None => None,
        Some("") => {
            return Err(at("waiting_phrase")(
                "the waiting phrase is empty: leave it out to say nothing while waiting".into(),
            ));
        }
        Some(phrase) => Some(phrase.to_string()),
    };
    if tool.max_per_call == Some(0) {
        return Err(at("max_per_call")(
            "max_per_call must be at least 1 (leave the tool out to never offer it)".into(),
        ));
    }
    Ok(ToolDeclaration {
        name: tool.name,
        description: description.to_string(),
        parameters,
        schema: CompiledSchema(Arc::new(schema)),
        url,
        timeout,
        waiting_phrase,
        confirm: tool.confirm,
        max_per_call: tool.max_per_call,
    })
}

/// A letter, then up to 63 letters, digits or underscores; none of sicha's own tool names.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_is_word = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !starts_with_letter || !rest_is_word || name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "the tool name {name:?} must be a letter followed by at most {} letters, digits or underscores",
            MAX_NAME_CHARS - 1
        ));
    }
    if RESERVED_TOOL_NAMES.contains(&name) {
        return Err(format!(
            "the tool name {name:?} is one of sicha's own tools ({}); choose another",
            RESERVED_TOOL_NAMES.join(", ")
        ));
    }
    Ok(())
}

/// https anywhere, or http to this machine only (for development): a tool call carries the
/// caller's number and words, which must not cross a network in clear text.
fn check_url(text: &str) -> Result<Url, String> {
    let url =
        Url::parse(text).map_err(|error| format!("the url {text:?} is not a URL: {error}"))?;
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if url.host().as_ref().is_some_and(is_loopback) => Ok(url),
        "http" => Err(format!(
            "the url {text:?} is plain http to another machine: use https (http only to localhost, 127.0.0.0/8 or ::1)"
        )),
        _ => Err(format!("the url {text:?} must be https")),
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(address) => IpAddr::V4(*address).is_loopback(),
        Host::Ipv6(address) => IpAddr::V6(*address).is_loopback(),
    }
}

fn check_timeout(ms: u64) -> Result<Duration, String> {
    let timeout = Duration::from_millis(ms);
    if (MIN_TIMEOUT..=MAX_TIMEOUT).contains(&timeout) {
        Ok(timeout)
    } else {
        Err(format!(
            "timeout_ms must be between {} and {}, not {ms}",
            MIN_TIMEOUT.as_millis(),
            MAX_TIMEOUT.as_millis()
        ))
    }
}
