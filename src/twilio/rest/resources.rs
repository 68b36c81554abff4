//! The JSON Twilio answers with, reduced to the fields sicha reads. Unknown fields are ignored and
//! most known ones may be missing or null, as they are in Twilio's own answers.

use serde::Deserialize;

/// A call as Twilio reports it; only the fields sicha reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CallResource {
    pub sid: String,
    pub status: String,
    #[serde(default)]
    pub account_sid: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub direction: Option<String>,
    /// Whole seconds as a string, set once the call has ended.
    #[serde(default)]
    pub duration: Option<String>,
    /// RFC 2822 times, as Twilio writes them.
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    #[serde(default)]
    pub parent_call_sid: Option<String>,
}

impl CallResource {
    /// True once the call can no longer be redirected.
    pub fn has_ended(&self) -> bool {
        matches!(
            self.status.as_str(),
            "completed" | "busy" | "failed" | "no-answer" | "canceled"
        )
    }
}

/// A message as Twilio reports it, on creation or in a list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MessageResource {
    pub sid: String,
    pub status: String,
    #[serde(default)]
    pub account_sid: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default)]
    pub num_segments: Option<String>,
    #[serde(default)]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub error_message: Option<String>,
    /// RFC 2822 times. `date_sent` stays null while the message waits in Twilio's queue.
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_sent: Option<String>,
}

impl MessageResource {
    /// When Twilio created it, in epoch milliseconds; `None` when absent or unreadable.
    pub fn created_at_ms(&self) -> Option<i64> {
        self.date_created.as_deref().and_then(rfc2822_ms)
    }
}

/// One page of a message list. Twilio's paging: `next_page_uri` (a path with its query, relative to
/// the API host) fetches the next page, and is null on the last one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MessagePage {
    #[serde(default)]
    pub messages: Vec<MessageResource>,
    #[serde(default)]
    pub page: Option<u32>,
    #[serde(default)]
    pub page_size: Option<u32>,
    #[serde(default)]
    pub uri: Option<String>,
    #[serde(default)]
    pub next_page_uri: Option<String>,
}

/// Epoch milliseconds of an RFC 2822 time such as `Tue, 31 Aug 2010 20:36:29 +0000`.
pub(super) fn rfc2822_ms(text: &str) -> Option<i64> {
    static PARSER: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
    Some(PARSER.parse_timestamp(text.trim()).ok()?.as_millisecond())
}
