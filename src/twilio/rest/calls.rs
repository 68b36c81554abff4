//! Calls sicha places itself (call-backs): `POST /Accounts/{AC}/Calls.json`. Once the callee
//! answers, Twilio fetches `Url` for the call's TwiML, a POST signed like every webhook; when the
//! call is over (answered or not) it POSTs `StatusCallback` with the final `CallStatus`.

use reqwest::Method;
use url::Url;

use super::{CallResource, Repeat, TwilioClient, TwilioError};

/// A call for Twilio to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundCall<'a> {
    /// Who is called, E.164.
    pub to: &'a str,
    /// A number of the account, E.164: the caller ID the callee sees.
    pub from: &'a str,
    /// Fetched (POST) for the TwiML once the call is answered.
    pub url: &'a Url,
    /// POSTed once the call has ended: `completed`, `busy`, `no-answer`, `failed` or `canceled`.
    pub status_callback: &'a Url,
    /// How long it rings before Twilio gives up with `no-answer`, in seconds (Twilio: 5 to 600).
    pub ring_secs: u32,
}

impl TwilioClient {
    /// Asks Twilio to place a call. Repeated within this call only when Twilio provably did not
    /// take it: a second request would ring the callee twice.
    pub async fn create_call(&self, call: &OutboundCall<'_>) -> Result<CallResource, TwilioError> {
        if call.to.trim().is_empty() || call.from.trim().is_empty() {
            return Err(TwilioError::InvalidInput(
                "a call needs a To and a From".into(),
            ));
        }
        let url = self.endpoint(&["Accounts", &self.account_sid, "Calls.json"])?;
        let ring = call.ring_secs.clamp(5, 600).to_string();
        let form = [
            ("To", call.to),
            ("From", call.from),
            ("Url", call.url.as_str()),
            ("Method", "POST"),
            ("StatusCallback", call.status_callback.as_str()),
            ("StatusCallbackMethod", "POST"),
            ("StatusCallbackEvent", "completed"),
            ("Timeout", ring.as_str()),
        ];
        self.send(Method::POST, url, &form, Repeat::IfNotAccepted)
            .await
    }
}
