//! What every OpenAI-compatible client shares: where the server is, the optional key, the request
//! timeout, endpoint URLs that keep the base path (`…/v1` + `chat/completions`), and reading the
//! `{"error": {"message": …}}` body such servers send with a failure status.

use std::time::Duration;

use reqwest::{Client, RequestBuilder, Response};
use serde::Deserialize;
use url::Url;

use crate::config::Secret;

/// The hosted API; local servers (vLLM, llama.cpp, speaches, whisper.cpp) take its place by URL.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// Where an OpenAI-compatible server is and how to reach it. `Debug` never shows the key.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// The versioned root, such as `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1`.
    pub base_url: Url,
    /// Sent as `Authorization: Bearer …`; local servers usually need none, and then no header is sent.
    pub api_key: Option<Secret>,
    /// Bound on each whole request; for streams, on the wait for the first byte and between chunks.
    pub timeout: Duration,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            base_url: Url::parse(OPENAI_BASE_URL).expect("the OpenAI base URL parses"),
            api_key: None,
            // A caller on the line has given up long before this; it only stops a hung request.
            timeout: Duration::from_secs(10),
        }
    }
}

impl OpenAiConfig {
    /// A config for `base_url` with the given key and the default timeout.
    pub fn new(base_url: Url, api_key: Option<Secret>) -> Self {
        Self {
            base_url,
            api_key,
            ..Self::default()
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `path` under the base URL. `Url::join` would drop a base path without a trailing slash
    /// (`/v1` + `chat` = `/chat`), so the path is appended as text instead.
    pub fn endpoint(&self, path: &str) -> Url {
        let joined = format!(
            "{}/{}",
            self.base_url.as_str().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        Url::parse(&joined).expect("a valid base URL with a path appended stays valid")
    }

    /// `path` under the base URL as a WebSocket URL: `http` becomes `ws` and `https` becomes `wss`,
    /// so a local server over plain HTTP gets a plain socket and the hosted API a TLS one.
    pub fn websocket_endpoint(&self, path: &str) -> Url {
        let mut url = self.endpoint(path);
        let scheme = match url.scheme() {
            "https" | "wss" => "wss",
            _ => "ws",
        };
        url.set_scheme(scheme)
            .expect("http(s) and ws(s) are all special schemes, so one may replace another");
        url
    }

    /// An HTTP client for this server. No whole-request timeout here: streams live as long as the
    /// answer, so each call sets its own bound.
    pub(crate) fn client(&self) -> Client {
        Client::builder()
            .connect_timeout(self.timeout)
            .build()
            .expect("the HTTP client builds with the bundled TLS roots")
    }

    /// A POST to `path`, with the bearer header only when a key is configured.
    pub(crate) fn post(&self, client: &Client, path: &str) -> RequestBuilder {
        let request = client.post(self.endpoint(path));
        match &self.api_key {
            Some(key) => request.bearer_auth(key.expose()),
            None => request,
        }
    }
}

/// OpenAI's error body. Compatible servers vary, so every part is optional.
#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ErrorDetail>,
    /// Some local servers answer `{"message": …}` or `{"detail": …}` at the top level.
    message: Option<String>,
    detail: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
}

/// The status and the server's own words for a failed request: the error JSON's message when there
/// is one, otherwise the start of the body, otherwise the status's reason phrase.
pub(crate) async fn failure(response: Response) -> (u16, String) {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    (status.as_u16(), error_message(status, &body))
}

pub(crate) fn error_message(status: reqwest::StatusCode, body: &str) -> String {
    const SHOWN_CHARS: usize = 300;
    if let Ok(parsed) = serde_json::from_str::<ErrorBody>(body) {
        let detail = parsed.detail.map(|detail| match detail {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        });
        if let Some(message) = parsed
            .error
            .and_then(|e| e.message)
            .or(parsed.message)
            .or(detail)
        {
            return message;
        }
    }
    let trimmed = body.trim();
    if trimmed.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no reason given")
            .to_string()
    } else {
        trimmed.chars().take(SHOWN_CHARS).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn endpoint_keeps_the_base_path_with_or_without_a_trailing_slash() {
        for base in ["http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1/"] {
            let config = OpenAiConfig::new(Url::parse(base).unwrap(), None);
            assert_eq!(
                config.endpoint("chat/completions").as_str(),
                "http://127.0.0.1:9/v1/chat/completions"
            );
        }
    }

    #[test]
    fn websocket_endpoint_swaps_the_scheme_and_keeps_the_base_path() {
        let hosted = OpenAiConfig::default();
        assert_eq!(
            hosted.websocket_endpoint("realtime").as_str(),
            "wss://api.openai.com/v1/realtime"
        );
        let local = OpenAiConfig::new(Url::parse("http://127.0.0.1:9/v1/").unwrap(), None);
        assert_eq!(
            local.websocket_endpoint("realtime").as_str(),
            "ws://127.0.0.1:9/v1/realtime"
        );
    }

    #[test]
    fn debug_output_hides_the_key() {
        let config = OpenAiConfig::new(
            Url::parse(OPENAI_BASE_URL).unwrap(),
            Some(Secret::new("sk-very-secret")),
        );
        assert!(!format!("{config:?}").contains("sk-very-secret"));
    }

    #[test]
    fn error_message_prefers_the_openai_error_json() {
        let body = r#"{"error":{"message":"Invalid file format.","type":"invalid_request_error"}}"#;
        assert_eq!(
            error_message(StatusCode::BAD_REQUEST, body),
            "Invalid file format."
        );
        assert_eq!(
            error_message(StatusCode::BAD_REQUEST, r#"{"detail":"no model"}"#),
            "no model"
        );
        assert_eq!(
            error_message(StatusCode::BAD_GATEWAY, "upstream died"),
            "upstream died"
        );
        assert_eq!(error_message(StatusCode::BAD_GATEWAY, ""), "Bad Gateway");
    }
}
