//! The Twilio REST client sicha needs: redirect a live call to new TwiML, end it, fetch it, send an SMS.
//! HTTP Basic with the account SID and auth token, form bodies, a timeout per request, and retries with
//! exponential backoff and jitter on 429, 5xx and connection failures (never on other 4xx, never on a
//! timeout, since a timed-out request may already have taken effect and the caller is waiting live).

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::config::Secret;
use crate::twilio::twiml::MAX_TWIML_CHARS;

/// Twilio refuses longer SMS bodies.
pub const MAX_SMS_CHARS: usize = 1600;

#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    /// Twilio answered with an error; `code` and `message` come from its error JSON when it sent one.
    #[error("Twilio answered {status}{}: {message}", code.map(|c| format!(" (error {c})")).unwrap_or_default())]
    Api {
        status: u16,
        code: Option<u32>,
        message: String,
        more_info: Option<String>,
    },
    #[error("Twilio did not answer within the request timeout")]
    Timeout,
    #[error("cannot reach Twilio: {0}")]
    Http(#[source] reqwest::Error),
    #[error("cannot decode Twilio's answer: {0}")]
    Decode(String),
    #[error("refused before sending: {0}")]
    InvalidInput(String),
}

/// How hard to try. Attempt `n` (from 1) that fails retryably waits `base_delay * 2^(n-1)`, capped at
/// `max_delay`, with jitter down to half; a Retry-After from Twilio replaces that wait, but one longer than
/// `max_retry_after` ends the retries instead of stalling a live call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, attempt: u32) -> Duration {
        let exponential = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let capped = exponential.min(self.max_delay);
        // Jitter in [capped/2, capped], so concurrent calls do not retry in lockstep.
        capped / 2 + capped.mul_f64(random_fraction() / 2.0)
    }
}

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

/// A message as Twilio reports it after accepting it.
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
    pub num_segments: Option<String>,
    #[serde(default)]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
}

/// Twilio's error body: `{"code": 20404, "message": "...", "more_info": "...", "status": 404}`.
#[derive(Deserialize)]
struct ErrorBody {
    code: Option<u32>,
    message: Option<String>,
    more_info: Option<String>,
}

/// The REST client. Cheap to clone; the auth token stays out of `Debug` and logs.
#[derive(Debug, Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    api_base: Url,
    account_sid: String,
    auth_token: Secret,
    retry: RetryPolicy,
    request_timeout: Duration,
}

impl TwilioClient {
    /// `api_base` is Twilio's versioned root, such as `https://api.twilio.com/2010-04-01`.
    pub fn new(api_base: Url, account_sid: String, auth_token: Secret) -> Self {
        Self {
            http: reqwest::Client::new(),
            api_base,
            account_sid,
            auth_token,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(10),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Each attempt, from connecting to the whole answer, gets this long.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Replaces what the call is doing with `twiml` (this ends a running Media Stream).
    pub async fn update_call_twiml(
        &self,
        call_sid: &str,
        twiml: &str,
    ) -> Result<CallResource, TwilioError> {
        if twiml.chars().count() > MAX_TWIML_CHARS {
            return Err(TwilioError::InvalidInput(format!(
                "TwiML is longer than {MAX_TWIML_CHARS} characters"
            )));
        }
        let url = self.call_url(call_sid)?;
        self.send(Method::POST, url, &[("Twiml", twiml)]).await
    }

    /// Hangs the call up.
    pub async fn end_call(&self, call_sid: &str) -> Result<CallResource, TwilioError> {
        let url = self.call_url(call_sid)?;
        self.send(Method::POST, url, &[("Status", "completed")])
            .await
    }

    pub async fn fetch_call(&self, call_sid: &str) -> Result<CallResource, TwilioError> {
        let url = self.call_url(call_sid)?;
        self.send(Method::GET, url, &[]).await
    }

    /// Sends an SMS. A retried request after a 5xx may, rarely, send the message twice: Twilio's Messages
    /// API has no idempotency key, and a lost message is the worse outcome.
    pub async fn send_sms(
        &self,
        to: &str,
        from: &str,
        body: &str,
    ) -> Result<MessageResource, TwilioError> {
        let chars = body.chars().count();
        if chars > MAX_SMS_CHARS {
            return Err(TwilioError::InvalidInput(format!(
                "SMS body has {chars} characters; Twilio accepts at most {MAX_SMS_CHARS}"
            )));
        }
        if body.trim().is_empty() || to.trim().is_empty() || from.trim().is_empty() {
            return Err(TwilioError::InvalidInput(
                "SMS needs a body, a To and a From".into(),
            ));
        }
        let url = self.endpoint(&["Accounts", &self.account_sid, "Messages.json"])?;
        self.send(
            Method::POST,
            url,
            &[("To", to), ("From", from), ("Body", body)],
        )
        .await
    }

    fn call_url(&self, call_sid: &str) -> Result<Url, TwilioError> {
        check_sid("CallSid", call_sid)?;
        self.endpoint(&[
            "Accounts",
            &self.account_sid,
            "Calls",
            &format!("{call_sid}.json"),
        ])
    }

    fn endpoint(&self, segments: &[&str]) -> Result<Url, TwilioError> {
        check_sid("AccountSid", &self.account_sid)?;
        let mut url = self.api_base.clone();
        url.path_segments_mut()
            .map_err(|()| {
                TwilioError::InvalidInput(format!(
                    "API base `{}` cannot take a path",
                    self.api_base
                ))
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        form: &[(&str, &str)],
    ) -> Result<T, TwilioError> {
        let mut attempt = 1;
        loop {
            let failure = match self.attempt(method.clone(), url.clone(), form).await {
                Ok(body) => return decode(&body),
                Err(failure) => failure,
            };
            let wait = match &failure {
                Failure::Retryable {
                    retry_after: Some(asked),
                    ..
                } if *asked > self.retry.max_retry_after => None,
                Failure::Retryable { retry_after, .. } => {
                    Some(retry_after.unwrap_or_else(|| self.retry.backoff(attempt)))
                }
                Failure::Final(_) => None,
            };
            match wait {
                Some(wait) if attempt < self.retry.max_attempts => {
                    tracing::warn!(%method, path = url.path(), attempt, wait_ms = wait.as_millis() as u64,
                        error = %failure.error(), "Twilio request failed; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return Err(failure.into_error()),
            }
        }
    }

    async fn attempt(
        &self,
        method: Method,
        url: Url,
        form: &[(&str, &str)],
    ) -> Result<Vec<u8>, Failure> {
        let mut request = self
            .http
            .request(method, url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .timeout(self.request_timeout);
        if !form.is_empty() {
            request = request.form(form);
        }
        let response = request.send().await.map_err(Failure::from_transport)?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response.bytes().await.map_err(Failure::from_transport)?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        let error = api_error(status, &body);
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Err(Failure::Retryable { error, retry_after })
        } else {
            Err(Failure::Final(error))
        }
    }
}

/// One attempt's failure, sorted by whether another attempt may help.
enum Failure {
    Retryable {
        error: TwilioError,
        retry_after: Option<Duration>,
    },
    Final(TwilioError),
}

impl Failure {
    fn from_transport(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            Failure::Final(TwilioError::Timeout)
        } else if error.is_connect() {
            Failure::Retryable {
                error: TwilioError::Http(error),
                retry_after: None,
            }
        } else {
            Failure::Final(TwilioError::Http(error))
        }
    }
    fn error(&self) -> &TwilioError {
        match self {
            Failure::Retryable { error, .. } | Failure::Final(error) => error,
        }
    }
    fn into_error(self) -> TwilioError {
        match self {
            Failure::Retryable { error, .. } | Failure::Final(error) => error,
        }
    }
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, TwilioError> {
    serde_json::from_slice(body).map_err(|error| TwilioError::Decode(error.to_string()))
}

fn api_error(status: StatusCode, body: &[u8]) -> TwilioError {
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
    match parsed {
        Some(body) => TwilioError::Api {
            status: status.as_u16(),
            code: body.code,
            message: body.message.unwrap_or_else(fallback),
            more_info: body.more_info,
        },
        None => TwilioError::Api {
            status: status.as_u16(),
            code: None,
            message: fallback(),
            more_info: None,
        },
    }
}

/// Retry-After in whole seconds; an HTTP-date is rare from Twilio and falls back to our own backoff.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// SIDs go into the URL path: letters and digits only, so nothing can change the path.
fn check_sid(what: &str, sid: &str) -> Result<(), TwilioError> {
    if sid.is_empty() || !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(TwilioError::InvalidInput(format!(
            "{what} `{sid}` is not a Twilio SID"
        )));
    }
    Ok(())
}

/// A fraction in [0, 1) for jitter; the standard library's randomly keyed hasher is enough for that.
fn random_fraction() -> f64 {
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> TwilioClient {
        TwilioClient::new(
            Url::parse(base).unwrap(),
            "AC123".into(),
            Secret::new("very-secret-token"),
        )
    }

    #[test]
    fn endpoints_keep_the_versioned_base() {
        let with_slash = client("https://api.twilio.com/2010-04-01/");
        let without = client("https://api.twilio.com/2010-04-01");
        let expected = "https://api.twilio.com/2010-04-01/Accounts/AC123/Calls/CA9.json";
        assert_eq!(with_slash.call_url("CA9").unwrap().as_str(), expected);
        assert_eq!(without.call_url("CA9").unwrap().as_str(), expected);
    }

    #[test]
    fn sids_that_could_change_the_path_are_refused() {
        let client = client("https://api.twilio.com/2010-04-01");
        for bad in ["", "CA1/../x", "CA1?x=1", "CA 1", "CA1%2F"] {
            assert!(
                matches!(client.call_url(bad), Err(TwilioError::InvalidInput(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_output_hides_the_auth_token() {
        let shown = format!("{:?}", client("https://api.twilio.com/2010-04-01"));
        assert!(!shown.contains("very-secret-token"), "{shown}");
        assert!(shown.contains("AC123"));
    }

    #[test]
    fn backoff_grows_is_capped_and_jitters_within_half() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            ..RetryPolicy::default()
        };
        for _ in 0..50 {
            let first = policy.backoff(1);
            assert!(
                first >= Duration::from_millis(50) && first <= Duration::from_millis(100),
                "{first:?}"
            );
            let second = policy.backoff(2);
            assert!(
                second >= Duration::from_millis(100) && second <= Duration::from_millis(200),
                "{second:?}"
            );
            let late = policy.backoff(30);
            assert!(
                late >= Duration::from_millis(175) && late <= Duration::from_millis(350),
                "{late:?}"
            );
        }
    }

    #[test]
    fn error_bodies_are_parsed_or_summarised() {
        let body = br#"{"code": 21211, "message": "Invalid 'To' Phone Number", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        match api_error(StatusCode::BAD_REQUEST, body) {
            TwilioError::Api {
                status,
                code,
                message,
                more_info,
            } => {
                assert_eq!((status, code), (400, Some(21211)));
                assert_eq!(message, "Invalid 'To' Phone Number");
                assert!(more_info.unwrap().ends_with("21211"));
            }
            other => panic!("{other:?}"),
        }
        match api_error(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>") {
            TwilioError::Api {
                status: 502,
                code: None,
                message,
                ..
            } => assert_eq!(message, "<html>bad gateway</html>"),
            other => panic!("{other:?}"),
        }
        match api_error(StatusCode::SERVICE_UNAVAILABLE, b"") {
            TwilioError::Api { message, .. } => assert_eq!(message, "Service Unavailable"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn call_resource_reads_twilio_json_with_nulls() {
        let json = r#"{"sid":"CA1","status":"in-progress","from":"+972501111111","to":"+97231111111",
            "duration":null,"start_time":"Tue, 31 Aug 2010 20:36:29 +0000","end_time":null,"price":null}"#;
        let call: CallResource = serde_json::from_str(json).unwrap();
        assert_eq!(call.status, "in-progress");
        assert_eq!(call.duration, None);
        assert!(!call.has_ended());
    }
}
