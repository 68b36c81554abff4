//! What can go wrong talking to Twilio, and what each failure says about whether Twilio acted on the
//! request: the question a retry of a non-idempotent request (an SMS) has to answer first.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    /// Twilio answered with an error; `code` and `message` come from its error JSON when it sent one.
    #[error("Twilio answered {status}{}: {message}", code.map(|c| format!(" (error {c})")).unwrap_or_default())]
    Api {
        status: u16,
        code: Option<u32>,
        message: String,
        more_info: Option<String>,
        /// The answer's Retry-After, when it had a readable one.
        retry_after: Option<Duration>,
    },
    #[error("Twilio did not answer within the request timeout")]
    Timeout,
    #[error("cannot reach Twilio: {0}")]
    Http(#[source] reqwest::Error),
    /// Twilio answered 2xx, so it acted on the request, but the answer could not be read.
    #[error("cannot decode Twilio's answer: {0}")]
    Decode(String),
    #[error("refused before sending: {0}")]
    InvalidInput(String),
}

#[cfg(test)]
impl TwilioError {
    /// An error answer with only a status and maybe a Retry-After in seconds, for tests that
    /// classify failures.
    pub(crate) fn api_status(status: u16, retry_after_secs: Option<u64>) -> Self {
        Self::Api {
            status,
            code: None,
            message: "x".into(),
            more_info: None,
            retry_after: retry_after_secs.map(Duration::from_secs),
        }
    }
}

/// Whether Twilio acted on a request that did not come back with a readable success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptance {
    /// Provably not: never sent (refused locally, no connection), or refused or throttled by
    /// Twilio. Sending it again cannot repeat it.
    NotAccepted,
    /// Maybe: the request may have reached Twilio and the answer was lost or says nothing either way
    /// (a timeout, a reset connection, most 5xx).
    Unknown,
    /// Yes: Twilio answered 2xx and only the body of its answer was unreadable.
    Accepted,
}

impl TwilioError {
    /// What this failure proves about Twilio having acted on the request.
    ///
    /// Twilio documents that a 429 is never processed; any other 4xx is a refusal. A 503 that
    /// carries Retry-After is the service deferring the request on purpose; a bare 503, like the
    /// other 5xx, may come from a proxy that lost an answer Twilio had already produced.
    pub fn acceptance(&self) -> Acceptance {
        match self {
            TwilioError::InvalidInput(_) => Acceptance::NotAccepted,
            TwilioError::Decode(_) => Acceptance::Accepted,
            TwilioError::Api { status, .. } if (400..500).contains(status) => {
                Acceptance::NotAccepted
            }
            TwilioError::Api {
                status: 503,
                retry_after: Some(_),
                ..
            } => Acceptance::NotAccepted,
            TwilioError::Api { .. } | TwilioError::Timeout => Acceptance::Unknown,
            // A connect error happens before the first byte of the request is written.
            TwilioError::Http(error) if error.is_connect() || error.is_builder() => {
                Acceptance::NotAccepted
            }
            TwilioError::Http(_) => Acceptance::Unknown,
        }
    }

    /// Whether a later try may succeed: throttling, server errors, timeouts and transport
    /// failures; never a refusal of the request itself.
    pub fn is_transient(&self) -> bool {
        match self {
            TwilioError::Api { status, .. } => *status == 429 || *status >= 500,
            TwilioError::Timeout => true,
            TwilioError::Http(error) => !error.is_builder(),
            TwilioError::Decode(_) | TwilioError::InvalidInput(_) => false,
        }
    }

    /// How long Twilio asked us to wait, when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TwilioError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Twilio's error body: `{"code": 20404, "message": "...", "more_info": "...", "status": 404}`.
#[derive(Deserialize)]
struct ErrorBody {
    code: Option<u32>,
    message: Option<String>,
    more_info: Option<String>,
}

/// The error for a non-2xx answer, from Twilio's error JSON or, failing that, the body's start.
pub(super) fn api_error(
    status: StatusCode,
    body: &[u8],
    retry_after: Option<Duration>,
) -> TwilioError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let fallback = || {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("no reason given")
                .to_string()
        } else {
            text.chars().take(200).collect()
        }
    };
    let (code, message, more_info) = match parsed {
        Some(body) => (
            body.code,
            body.message.unwrap_or_else(fallback),
            body.more_info,
        ),
        None => (None, fallback(), None),
    };
    TwilioError::Api {
        status: status.as_u16(),
        code,
        message,
        more_info,
        retry_after,
    }
}
