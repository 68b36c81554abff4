//! The Twilio REST client sicha needs: redirect a live call to new TwiML, end it, fetch it, place a
//! call, send an SMS and search the messages already sent. HTTP Basic with the account SID and auth token, form bodies, a
//! timeout per request.
//!
//! Retries within one call use exponential backoff with jitter, on 429, 5xx and connection failures; never
//! on other 4xx, and never on a timeout, since a timed-out request may already have taken effect and the
//! caller is waiting live. A request that creates something (an SMS) is repeated only when the failure
//! proves Twilio did not take it ([`Acceptance::NotAccepted`]).
//!
//! Layout: [`error`] (what failed, and whether Twilio acted anyway), [`retry`] (policy, Retry-After),
//! [`resources`] (the JSON Twilio answers with), [`messages`] (SMS, message lists and searches),
//! [`calls`] (placing a call).

mod calls;
mod error;
mod messages;
mod resources;
mod retry;
#[cfg(test)]
mod tests;

use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use url::Url;

pub use calls::OutboundCall;
pub use error::{Acceptance, TwilioError};
pub use messages::{MAX_SMS_CHARS, MessageSearch, SmsSearch};
pub use resources::{CallResource, MessagePage, MessageResource};
pub use retry::{MAX_RETRY_AFTER, RetryPolicy, parse_retry_after, retry_after};

use crate::config::Secret;
use crate::twilio::twiml::MAX_TWIML_CHARS;

/// Whether a failed request may be sent again within the same call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Doing it twice changes nothing more: reads, call updates.
    Safe,
    /// It creates something: only a request Twilio provably did not take is sent again.
    IfNotAccepted,
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
        self.send(Method::POST, url, &[("Twiml", twiml)], Repeat::Safe)
            .await
    }

    /// Hangs the call up.
    pub async fn end_call(&self, call_sid: &str) -> Result<CallResource, TwilioError> {
        let url = self.call_url(call_sid)?;
        self.send(Method::POST, url, &[("Status", "completed")], Repeat::Safe)
            .await
    }

    pub async fn fetch_call(&self, call_sid: &str) -> Result<CallResource, TwilioError> {
        let url = self.call_url(call_sid)?;
        self.send(Method::GET, url, &[], Repeat::Safe).await
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
        repeat: Repeat,
    ) -> Result<T, TwilioError> {
        let mut attempt = 1;
        loop {
            let error = match self.attempt(method.clone(), url.clone(), form).await {
                Ok(body) => return decode(&body),
                Err(error) => error,
            };
            let wait = match error.retry_after() {
                _ if !worth_repeating(&error, repeat) => None,
                Some(asked) if asked > self.retry.max_retry_after => None,
                Some(asked) => Some(asked),
                None => Some(self.retry.backoff(attempt)),
            };
            match wait {
                Some(wait) if attempt < self.retry.max_attempts => {
                    tracing::warn!(%method, path = url.path(), attempt, wait_ms = wait.as_millis() as u64,
                        %error, "Twilio request failed; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return Err(error),
            }
        }
    }

    /// One request; the answer's body on 2xx.
    async fn attempt(
        &self,
        method: Method,
        url: Url,
        form: &[(&str, &str)],
    ) -> Result<Vec<u8>, TwilioError> {
        let mut request = self
            .http
            .request(method, url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .timeout(self.request_timeout);
        if !form.is_empty() {
            request = request.form(form);
        }
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response.bytes().await;
        if status.is_success() {
            // Twilio has acted on it; losing the rest of the answer must not read as "not sent".
            return body.map(|body| body.to_vec()).map_err(|error| {
                TwilioError::Decode(format!("the answer was cut off: {}", error.without_url()))
            });
        }
        let body = body.map_err(transport_error)?;
        Err(error::api_error(status, &body, retry_after))
    }
}

/// Whether another try within this call may help, and is allowed for this kind of request.
fn worth_repeating(error: &TwilioError, repeat: Repeat) -> bool {
    // Timeouts and dropped connections are left to the caller: the request may have taken effect.
    let quick_to_pass = match error {
        TwilioError::Api { status, .. } => *status == 429 || *status >= 500,
        TwilioError::Http(error) => error.is_connect(),
        _ => false,
    };
    quick_to_pass && (repeat == Repeat::Safe || error.acceptance() == Acceptance::NotAccepted)
}

/// The URL is dropped from the error: a message list's query carries phone numbers.
fn transport_error(error: reqwest::Error) -> TwilioError {
    if error.is_timeout() {
        TwilioError::Timeout
    } else {
        TwilioError::Http(error.without_url())
    }
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, TwilioError> {
    serde_json::from_slice(body).map_err(|error| TwilioError::Decode(error.to_string()))
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
