//! A local stand-in for the part of Twilio's REST API that sicha calls: update a call (TwiML or
//! `Status=completed`), fetch a call, place a call, create a message, list messages with Twilio's
//! filters and paging.
//! It checks HTTP Basic auth like Twilio (401 with Twilio's error JSON), answers with Twilio-shaped JSON,
//! records every request for assertions, and announces call updates so a test can react when the agent
//! redirects a call to `<Say>` or a new `<Connect><Stream>`. A call it is asked to place is answered or
//! not as the test scripted ([`Callee`]); answered, it fetches the call's TwiML from sicha as Twilio
//! would, and hands its stream to the test (see [`outbound`]).
//!
//! Failures it can be told to produce: refuse the next requests (429/5xx, optionally with Retry-After,
//! or any status with a Twilio error code), without acting on them; or take the next messages and lose
//! the answer ([`LostAnswer`]), the case where the client cannot tell whether its text went out.
//!
//! Layout: this file (the handle tests hold), [`routes`] (auth, injected failures, calls),
//! [`messages`] (create and list messages), [`outbound`] (calls placed, and their callees).

mod messages;
mod outbound;
mod routes;

pub use outbound::{Callee, OutboundEvent, PlacedCall};

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::StatusCode;
use tokio::sync::broadcast;
use url::Url;

use super::local_server::{LocalServer, RequestLog};
use sicha::clock;

const API_VERSION: &str = "2010-04-01";

/// One request as the stand-in received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The path, such as `/2010-04-01/Accounts/AC…/Calls/CA….json`.
    pub path: String,
    /// Query parameters in the order sent, decoded.
    pub query: Vec<(String, String)>,
    /// Form fields in the order sent.
    pub form: Vec<(String, String)>,
    /// Whether its credentials matched.
    pub authorized: bool,
}

impl RecordedRequest {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A call in the stand-in's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCall {
    pub sid: String,
    pub from: String,
    pub to: String,
    pub status: String,
    /// `inbound`, or `outbound-api` for a call placed through the API.
    pub direction: String,
    pub started_at_secs: u64,
    pub ended_at_secs: Option<u64>,
    /// Every TwiML document the call was redirected to, oldest first.
    pub twiml: Vec<String>,
}

/// Announced for every accepted call update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallUpdate {
    pub call_sid: String,
    pub twiml: Option<String>,
    pub status: Option<String>,
}

/// A message the stand-in accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMessage {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub body: String,
    /// `queued` until sent, then `sent`.
    pub status: String,
    pub created_at_secs: u64,
    /// `None` while queued, as Twilio's `date_sent`.
    pub sent_at_secs: Option<u64>,
}

/// How the stand-in loses the answer to a message it has taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostAnswer {
    /// Answers this status with Twilio's error JSON, as a failing proxy in front of Twilio would.
    Status(u16),
    /// Answers normally, but only after this long: past a client's timeout.
    Delay(Duration),
}

/// Handle to a running stand-in; clones share it, and the server stops when the last one is dropped.
#[derive(Clone)]
pub struct TwilioApiSim {
    server: LocalServer<Shared>,
}

struct Shared {
    account_sid: String,
    auth_token: String,
    requests: RequestLog<RecordedRequest>,
    state: Mutex<SimState>,
    updates: broadcast::Sender<CallUpdate>,
    outbound: broadcast::Sender<OutboundEvent>,
    /// For the requests Twilio makes itself: webhooks and status callbacks of placed calls.
    http: reqwest::Client,
}

#[derive(Default)]
struct SimState {
    failures_left: u32,
    failure: Option<InjectedFailure>,
    lost_answers_left: u32,
    lost_answer: Option<LostAnswer>,
    /// Messages stay queued (no send date) instead of being sent at once.
    hold_in_queue: bool,
    calls: HashMap<String, SimCall>,
    messages: Vec<SimMessage>,
    /// What the callees of the next placed calls do, in order; past the script, nobody answers.
    callees: VecDeque<Callee>,
    /// Every call placed, oldest first.
    placed: Vec<PlacedCall>,
}

/// What the next requests get instead of an answer.
#[derive(Debug, Clone)]
struct InjectedFailure {
    status: StatusCode,
    code: u32,
    message: String,
    retry_after_secs: Option<u64>,
}

impl TwilioApiSim {
    /// Starts on an ephemeral port with a fixed test account (`ACsim…`) and token.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with("AC00000000000000000000000000000000", "sim-auth-token").await
    }

    pub async fn start_with(account_sid: &str, auth_token: &str) -> std::io::Result<Self> {
        let shared = Shared {
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
            requests: RequestLog::default(),
            state: Mutex::new(SimState::default()),
            updates: broadcast::channel(64).0,
            outbound: broadcast::channel(64).0,
            http: reqwest::Client::new(),
        };
        let routes = Router::new().fallback(routes::handle);
        let root = format!("/{API_VERSION}");
        let server = LocalServer::start(shared, routes, "Twilio API", &root).await?;
        Ok(Self { server })
    }

    /// The versioned root to give the client, like `https://api.twilio.com/2010-04-01`.
    pub fn base_url(&self) -> Url {
        self.server.base_url()
    }
    pub fn account_sid(&self) -> &str {
        &self.server.account_sid
    }
    pub fn auth_token(&self) -> &str {
        &self.server.auth_token
    }

    /// Every request so far, oldest first, including refused ones.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests.all()
    }

    /// The next `count` authorised requests get `status` with Twilio's error JSON (code
    /// `20000 + status`, as Twilio numbers 429 and 5xx).
    pub fn fail_next(&self, count: u32, status: u16) {
        self.fail_next_with_retry_after(count, status, None);
    }

    /// As [`Self::fail_next`], adding `Retry-After: secs` when given.
    pub fn fail_next_with_retry_after(
        &self,
        count: u32,
        status: u16,
        retry_after_secs: Option<u64>,
    ) {
        let status = StatusCode::from_u16(status).expect("an HTTP status code");
        let message = status
            .canonical_reason()
            .unwrap_or("Injected failure")
            .to_string();
        let code = 20_000 + u32::from(status.as_u16());
        self.inject(
            count,
            InjectedFailure {
                status,
                code,
                message,
                retry_after_secs,
            },
        );
    }

    /// The next `count` authorised requests get `status` with this Twilio error code and message.
    pub fn fail_next_with_error(&self, count: u32, status: u16, code: u32, message: &str) {
        let status = StatusCode::from_u16(status).expect("an HTTP status code");
        let message = message.to_string();
        self.inject(
            count,
            InjectedFailure {
                status,
                code,
                message,
                retry_after_secs: None,
            },
        );
    }

    fn inject(&self, count: u32, failure: InjectedFailure) {
        let mut state = self.state();
        state.failures_left = count;
        state.failure = Some(failure);
    }

    /// The next `count` messages are taken (and sent) but their answers are lost as `lost` says.
    pub fn accept_but_lose_answer(&self, count: u32, lost: LostAnswer) {
        let mut state = self.state();
        state.lost_answers_left = count;
        state.lost_answer = Some(lost);
    }

    /// Whether new messages stay queued, without a send date, instead of being sent at once.
    pub fn hold_messages_in_queue(&self, hold: bool) {
        self.state().hold_in_queue = hold;
    }

    /// Puts a message that was sent `age` ago in the list, as if from an earlier call. Returns its SID.
    pub fn add_sent_message(&self, to: &str, from: &str, body: &str, age: Duration) -> String {
        let at = now_secs().saturating_sub(age.as_secs());
        let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
        self.state().messages.push(SimMessage {
            sid: sid.clone(),
            to: to.into(),
            from: from.into(),
            body: body.into(),
            status: "delivered".into(),
            created_at_secs: at,
            sent_at_secs: Some(at),
        });
        sid
    }

    /// Puts a live (`in-progress`) call in the table; updates and fetches of unknown calls get 404.
    pub fn add_call(&self, call_sid: &str, from: &str, to: &str) {
        let call = SimCall {
            sid: call_sid.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            status: "in-progress".to_string(),
            direction: "inbound".to_string(),
            started_at_secs: now_secs(),
            ended_at_secs: None,
            twiml: Vec::new(),
        };
        self.state().calls.insert(call_sid.to_string(), call);
    }

    /// Changes a call's status as Twilio would when the caller hangs up.
    pub fn set_call_status(&self, call_sid: &str, status: &str) {
        if let Some(call) = self.state().calls.get_mut(call_sid) {
            routes::end_or_set(call, status);
        }
    }

    pub fn call(&self, call_sid: &str) -> Option<SimCall> {
        self.state().calls.get(call_sid).cloned()
    }

    /// Every message taken, oldest first.
    pub fn messages(&self) -> Vec<SimMessage> {
        self.state().messages.clone()
    }

    /// What the callees of the next calls placed do, in order (after those already scripted). A
    /// call placed past the script is not answered.
    pub fn script_callees(&self, callees: &[Callee]) {
        self.state().callees.extend(callees.iter().copied());
    }

    /// Every call placed through the API, oldest first.
    pub fn placed_calls(&self) -> Vec<PlacedCall> {
        self.state().placed.clone()
    }

    /// Receives what becomes of every call placed from now on.
    pub fn subscribe_outbound(&self) -> broadcast::Receiver<OutboundEvent> {
        self.server.outbound.subscribe()
    }

    /// Ends an answered placed call as Twilio does when either side hangs up: its status becomes
    /// `completed` and its status callback is posted (signed, with the call's length). Returns the
    /// HTTP status the callback got; `None` for an unknown call, one without a callback, or a
    /// callback that could not be delivered.
    pub async fn hang_up(&self, call_sid: &str) -> Option<u16> {
        let (call, duration) = {
            let mut state = self.state();
            let call = state
                .placed
                .iter()
                .find(|c| c.call_sid == call_sid)?
                .clone();
            let sim = state.calls.get_mut(call_sid)?;
            routes::end_or_set(sim, "completed");
            let duration = sim
                .ended_at_secs
                .unwrap_or_else(now_secs)
                .saturating_sub(sim.started_at_secs);
            (call, duration)
        };
        outbound::post_status(&self.server, &call, "completed", duration).await
    }

    /// Receives every accepted call update from now on.
    pub fn subscribe_call_updates(&self) -> broadcast::Receiver<CallUpdate> {
        self.server.updates.subscribe()
    }

    fn state(&self) -> MutexGuard<'_, SimState> {
        self.server.state.lock().expect("stand-in state lock")
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Twilio's date format, e.g. `Tue, 31 Aug 2010 20:36:29 +0000`.
fn rfc2822(epoch_secs: u64) -> String {
    let epoch_ms = i64::try_from(epoch_secs).map_or(i64::MAX, |secs| secs.saturating_mul(1000));
    clock::format_utc(epoch_ms, "%a, %d %b %Y %H:%M:%S +0000")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_like_twilio() {
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(1_283_286_989), "Tue, 31 Aug 2010 20:36:29 +0000");
        assert_eq!(rfc2822(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(rfc2822(4_107_542_399), "Sun, 28 Feb 2100 23:59:59 +0000");
        assert_eq!(rfc2822(4_107_542_400), "Mon, 01 Mar 2100 00:00:00 +0000");
        assert_eq!(rfc2822(4_133_980_799), "Fri, 31 Dec 2100 23:59:59 +0000");
    }
}
