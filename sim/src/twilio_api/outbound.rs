//! Calls the stand-in is asked to place (`POST /Accounts/{AC}/Calls.json`), and what the callee does,
//! as the test scripted it ([`Callee`]): answer, in which case the stand-in fetches the call's `Url` as
//! Twilio does (a signed POST with Twilio's form fields) and hands the TwiML, with its `<Connect>
//! <Stream>` if it has one, to the test; or not answer (busy, no answer, failed), in which case it
//! POSTs the call's `StatusCallback`, signed, with that `CallStatus`. An answered call's end is the
//! test's to say ([`super::TwilioApiSim::hang_up`]), once it has played its part on the stream.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::routes::{call_json, field, twilio_error};
use super::{API_VERSION, Shared, SimCall, SimState, now_secs};
use crate::twilio_caller::{StreamTarget, signed_post, stream_target};

/// How long a placed call "rings" before the callee's scripted behaviour happens.
const RINGING: Duration = Duration::from_millis(20);

/// What the callee of the next placed call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callee {
    /// Picks up: the stand-in fetches the call's `Url` for its TwiML.
    Answer,
    /// Lets it ring out: `no-answer`.
    NoAnswer,
    /// `busy`.
    Busy,
    /// The call cannot be connected: `failed`.
    Fail,
}

impl Callee {
    /// The final `CallStatus` of a call this callee does not answer.
    fn unanswered_status(self) -> Option<&'static str> {
        match self {
            Callee::Answer => None,
            Callee::NoAnswer => Some("no-answer"),
            Callee::Busy => Some("busy"),
            Callee::Fail => Some("failed"),
        }
    }
}

/// An outbound call the stand-in placed, with the links it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedCall {
    pub call_sid: String,
    pub from: String,
    pub to: String,
    /// Fetched for the TwiML when the callee answers.
    pub url: String,
    pub status_callback: Option<String>,
}

/// What happened to a placed call, announced to [`super::TwilioApiSim::subscribe_outbound`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundEvent {
    /// The callee answered and the call's `Url` answered this.
    Answered {
        call: PlacedCall,
        /// The webhook's HTTP status, and its body (TwiML).
        status: u16,
        twiml: String,
        /// The TwiML's `<Connect><Stream>`, when it has one.
        stream: Option<StreamTarget>,
    },
    /// The callee did not answer; the status callback was posted with `status` and got `answered`
    /// (the HTTP status, `None` when it could not be delivered).
    Unanswered {
        call: PlacedCall,
        status: String,
        answered: Option<u16>,
    },
    /// The call's `Url` could not be fetched.
    WebhookFailed { call: PlacedCall, error: String },
}

/// Creates the call asked for and starts its callee's script; the answer is Twilio's call resource.
pub(super) fn create(
    shared: &Arc<Shared>,
    state: &mut SimState,
    account: &str,
    form: &[(String, String)],
) -> Response {
    let (Some(to), Some(from)) = (field(form, "To"), field(form, "From")) else {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21201,
            "No 'To' or 'From' number is specified",
        );
    };
    let Some(url) = field(form, "Url").filter(|url| url::Url::parse(url).is_ok()) else {
        return twilio_error(StatusCode::BAD_REQUEST, 21205, "Url is not a valid URL");
    };
    let call = SimCall {
        sid: format!("CA{}", uuid::Uuid::new_v4().simple()),
        from: from.to_string(),
        to: to.to_string(),
        status: "queued".to_string(),
        direction: "outbound-api".to_string(),
        started_at_secs: now_secs(),
        ended_at_secs: None,
        twiml: Vec::new(),
    };
    let placed = PlacedCall {
        call_sid: call.sid.clone(),
        from: call.from.clone(),
        to: call.to.clone(),
        url: url.to_string(),
        status_callback: field(form, "StatusCallback").map(str::to_string),
    };
    let callee = state.callees.pop_front().unwrap_or(Callee::NoAnswer);
    let answer = (StatusCode::CREATED, axum::Json(call_json(account, &call))).into_response();
    state.calls.insert(call.sid.clone(), call);
    state.placed.push(placed.clone());
    tokio::spawn(ring(shared.clone(), placed, callee));
    answer
}

/// The callee's part, after the call has rung a moment.
async fn ring(shared: Arc<Shared>, call: PlacedCall, callee: Callee) {
    tokio::time::sleep(RINGING).await;
    let event = match callee.unanswered_status() {
        None => answer(&shared, call).await,
        Some(status) => {
            set_status(&shared, &call.call_sid, status);
            let answered = post_status(&shared, &call, status, 0).await;
            OutboundEvent::Unanswered {
                call,
                status: status.to_string(),
                answered,
            }
        }
    };
    // Nobody listening is fine.
    let _ = shared.outbound.send(event);
}

async fn answer(shared: &Shared, call: PlacedCall) -> OutboundEvent {
    set_status(shared, &call.call_sid, "in-progress");
    let form = call_form(shared, &call, "in-progress", None);
    let fetched = signed_post(&shared.http, &call.url, Some(&shared.auth_token), &form).await;
    let response = match fetched {
        Ok(response) => response,
        Err(error) => {
            return OutboundEvent::WebhookFailed {
                call,
                error: error.to_string(),
            };
        }
    };
    let status = response.status().as_u16();
    match response.text().await {
        Ok(twiml) => OutboundEvent::Answered {
            call,
            status,
            stream: stream_target(&twiml).ok(),
            twiml,
        },
        Err(error) => OutboundEvent::WebhookFailed {
            call,
            error: error.to_string(),
        },
    }
}

/// POSTs the call's status callback, signed, as Twilio does at its end; the HTTP status answered.
pub(super) async fn post_status(
    shared: &Shared,
    call: &PlacedCall,
    status: &str,
    duration_secs: u64,
) -> Option<u16> {
    let callback = call.status_callback.as_deref()?;
    let form = call_form(shared, call, status, Some(duration_secs));
    let answered = signed_post(&shared.http, callback, Some(&shared.auth_token), &form).await;
    answered.ok().map(|response| response.status().as_u16())
}

/// Twilio's form fields for a request about an outbound call.
fn call_form(
    shared: &Shared,
    call: &PlacedCall,
    status: &str,
    duration_secs: Option<u64>,
) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = [
        ("CallSid", call.call_sid.as_str()),
        ("AccountSid", shared.account_sid.as_str()),
        ("From", call.from.as_str()),
        ("To", call.to.as_str()),
        ("CallStatus", status),
        ("Direction", "outbound-api"),
        ("ApiVersion", API_VERSION),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if let Some(secs) = duration_secs {
        form.push(("CallDuration".into(), secs.to_string()));
    }
    form
}

pub(super) fn set_status(shared: &Shared, call_sid: &str, status: &str) {
    let mut state = shared.state.lock().expect("stand-in state lock");
    if let Some(call) = state.calls.get_mut(call_sid) {
        super::routes::end_or_set(call, status);
    }
}
