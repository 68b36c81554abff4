//! A local stand-in for the part of Twilio's REST API that sicha calls: update a call (TwiML or
//! `Status=completed`), fetch a call, create a message. It checks HTTP Basic auth like Twilio (401 with
//! Twilio's error JSON), answers with Twilio-shaped JSON, records every request for assertions, can be told
//! to fail the next requests (429/5xx, optionally with Retry-After), and announces call updates so a test
//! can react when the agent redirects a call to `<Say>` or a new `<Connect><Stream>`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use url::Url;

use super::local_server::{ServerGuard, serve};
use crate::clock;

const API_VERSION: &str = "2010-04-01";
const MAX_SMS_CHARS: usize = 1600;

/// One request as the stand-in received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The path, such as `/2010-04-01/Accounts/AC…/Calls/CA….json`.
    pub path: String,
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
}

/// Handle to a running stand-in; clones share it, and the server stops when the last one is dropped.
#[derive(Clone)]
pub struct TwilioApiSim {
    shared: Arc<Shared>,
    base_url: Url,
    _server: Arc<ServerGuard>,
}

struct Shared {
    account_sid: String,
    auth_token: String,
    state: Mutex<SimState>,
    updates: broadcast::Sender<CallUpdate>,
}

#[derive(Default)]
struct SimState {
    requests: Vec<RecordedRequest>,
    failures_left: u32,
    failure: Option<InjectedFailure>,
    calls: HashMap<String, SimCall>,
    messages: Vec<SimMessage>,
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
        let shared = Arc::new(Shared {
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
            state: Mutex::new(SimState::default()),
            updates: broadcast::channel(64).0,
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let (address, guard) = serve(app, "Twilio API").await?;
        let base_url = Url::parse(&format!("http://{address}/{API_VERSION}"))
            .expect("a socket address makes a URL");
        Ok(Self {
            shared,
            base_url,
            _server: Arc::new(guard),
        })
    }

    /// The versioned root to give the client, like `https://api.twilio.com/2010-04-01`.
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }
    pub fn account_sid(&self) -> &str {
        &self.shared.account_sid
    }
    pub fn auth_token(&self) -> &str {
        &self.shared.auth_token
    }

    /// Every request so far, oldest first, including refused ones.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
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

    /// Puts a live (`in-progress`) call in the table; updates and fetches of unknown calls get 404.
    pub fn add_call(&self, call_sid: &str, from: &str, to: &str) {
        let call = SimCall {
            sid: call_sid.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            status: "in-progress".to_string(),
            started_at_secs: now_secs(),
            ended_at_secs: None,
            twiml: Vec::new(),
        };
        self.state().calls.insert(call_sid.to_string(), call);
    }

    /// Changes a call's status as Twilio would when the caller hangs up.
    pub fn set_call_status(&self, call_sid: &str, status: &str) {
        if let Some(call) = self.state().calls.get_mut(call_sid) {
            end_or_set(call, status);
        }
    }

    pub fn call(&self, call_sid: &str) -> Option<SimCall> {
        self.state().calls.get(call_sid).cloned()
    }

    pub fn messages(&self) -> Vec<SimMessage> {
        self.state().messages.clone()
    }

    /// Receives every accepted call update from now on.
    pub fn subscribe_call_updates(&self) -> broadcast::Receiver<CallUpdate> {
        self.shared.updates.subscribe()
    }

    fn state(&self) -> MutexGuard<'_, SimState> {
        self.shared.state.lock().expect("stand-in state lock")
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let authorized = credentials_match(&headers, &shared.account_sid, &shared.auth_token);
    let path = uri.path().to_string();
    let mut state = shared.state.lock().expect("stand-in state lock");
    state.requests.push(RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        form: form.clone(),
        authorized,
    });
    if !authorized {
        let mut response = twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"Twilio API\"".parse().unwrap(),
        );
        return response;
    }
    if state.failures_left > 0
        && let Some(failure) = state.failure.clone()
    {
        state.failures_left -= 1;
        let mut response = twilio_error(failure.status, failure.code, &failure.message);
        if let Some(secs) = failure.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, secs.into());
        }
        return response;
    }

    let not_found = || {
        twilio_error(
            StatusCode::NOT_FOUND,
            20404,
            &format!("The requested resource {path} was not found"),
        )
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let account = shared.account_sid.as_str();
    match (&method, segments.as_slice()) {
        (&Method::POST, [API_VERSION, "Accounts", ac, "Messages.json"]) if *ac == account => {
            create_message(&mut state, account, &form)
        }
        (_, [API_VERSION, "Accounts", ac, "Calls", file]) if *ac == account => {
            let Some(call_sid) = file.strip_suffix(".json") else {
                return not_found();
            };
            let Some(call) = state.calls.get_mut(call_sid) else {
                return not_found();
            };
            match method {
                Method::GET => {
                    (StatusCode::OK, axum::Json(call_json(account, call))).into_response()
                }
                Method::POST => {
                    let response = update_call(call, account, &form);
                    if response.status().is_success() {
                        let update = CallUpdate {
                            call_sid: call_sid.to_string(),
                            twiml: field(&form, "Twiml").map(str::to_string),
                            status: field(&form, "Status").map(str::to_string),
                        };
                        // Nobody listening is fine.
                        let _ = shared.updates.send(update);
                    }
                    response
                }
                _ => twilio_error(StatusCode::METHOD_NOT_ALLOWED, 20004, "Method not allowed"),
            }
        }
        _ => not_found(),
    }
}

fn update_call(call: &mut SimCall, account: &str, form: &[(String, String)]) -> Response {
    let twiml = field(form, "Twiml");
    let status = field(form, "Status");
    if twiml.is_none() && status.is_none() && field(form, "Url").is_none() {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            20001,
            "Twiml, Url or Status is required",
        );
    }
    if let Some(status) = status {
        if !matches!(status, "completed" | "canceled") {
            return twilio_error(
                StatusCode::BAD_REQUEST,
                20001,
                &format!("Invalid Status `{status}`"),
            );
        }
        end_or_set(call, status);
    } else if call.ended_at_secs.is_some() {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21220,
            "Call is not in-progress. Cannot redirect.",
        );
    }
    if let Some(twiml) = twiml {
        call.twiml.push(twiml.to_string());
    }
    (StatusCode::OK, axum::Json(call_json(account, call))).into_response()
}

fn create_message(state: &mut SimState, account: &str, form: &[(String, String)]) -> Response {
    let (Some(to), Some(from), Some(body)) =
        (field(form, "To"), field(form, "From"), field(form, "Body"))
    else {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To', 'From' and 'Body' are required.",
        );
    };
    if body.chars().count() > MAX_SMS_CHARS {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        );
    }
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    let message = SimMessage {
        sid: sid.clone(),
        to: to.into(),
        from: from.into(),
        body: body.into(),
    };
    state.messages.push(message);
    let now = rfc2822(now_secs());
    let json = json!({
        "sid": sid, "account_sid": account, "status": "queued", "to": to, "from": from, "body": body,
        "num_segments": "1", "direction": "outbound-api", "error_code": null, "error_message": null,
        "price": null, "date_created": now, "date_updated": now, "date_sent": null, "api_version": API_VERSION,
        "uri": format!("/{API_VERSION}/Accounts/{account}/Messages/{sid}.json"),
    });
    (StatusCode::CREATED, axum::Json(json)).into_response()
}

fn end_or_set(call: &mut SimCall, status: &str) {
    call.status = status.to_string();
    if matches!(
        status,
        "completed" | "canceled" | "busy" | "failed" | "no-answer"
    ) && call.ended_at_secs.is_none()
    {
        call.ended_at_secs = Some(now_secs());
    }
}

fn call_json(account: &str, call: &SimCall) -> Value {
    json!({
        "sid": call.sid, "account_sid": account, "status": call.status, "from": call.from, "to": call.to,
        "direction": "inbound", "parent_call_sid": null, "api_version": API_VERSION, "price": null,
        "start_time": rfc2822(call.started_at_secs),
        "end_time": call.ended_at_secs.map(rfc2822),
        "duration": call.ended_at_secs.map(|end| end.saturating_sub(call.started_at_secs).to_string()),
        "date_created": rfc2822(call.started_at_secs),
        "uri": format!("/{API_VERSION}/Accounts/{account}/Calls/{}.json", call.sid),
    })
}

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code, "message": message, "status": status.as_u16(),
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
    });
    (status, axum::Json(body)).into_response()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn credentials_match(headers: &HeaderMap, account_sid: &str, auth_token: &str) -> bool {
    let Some(encoded) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
        return false;
    };
    decoded == format!("{account_sid}:{auth_token}").as_bytes()
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

    #[test]
    fn basic_credentials_must_match_exactly() {
        let mut headers = HeaderMap::new();
        assert!(!credentials_match(&headers, "AC1", "tok"));
        let good = format!("Basic {}", STANDARD.encode("AC1:tok"));
        headers.insert(header::AUTHORIZATION, good.parse().unwrap());
        assert!(credentials_match(&headers, "AC1", "tok"));
        assert!(!credentials_match(&headers, "AC1", "tok2"));
        assert!(!credentials_match(&headers, "AC2", "tok"));
    }
}
