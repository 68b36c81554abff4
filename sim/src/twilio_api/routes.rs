//! The stand-in's HTTP side: Basic auth like Twilio's, injected failures, and routing to the call
//! and message resources.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{
    API_VERSION, CallUpdate, RecordedRequest, Shared, SimCall, messages, now_secs, outbound,
    rfc2822,
};

pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let authorized = credentials_match(&headers, &shared.account_sid, &shared.auth_token);
    let path = uri.path().to_string();
    shared.requests.record(RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        form: form.clone(),
        authorized,
    });
    let (response, delay) = {
        let mut state = shared.state.lock().expect("stand-in state lock");
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
        let account = shared.account_sid.as_str();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (&method, segments.as_slice()) {
            (&Method::POST, [API_VERSION, "Accounts", ac, "Messages.json"]) if *ac == account => {
                let created = messages::create(&mut state, account, &form);
                (created.response, created.delay)
            }
            (&Method::GET, [API_VERSION, "Accounts", ac, "Messages.json"]) if *ac == account => {
                (messages::list(&state, account, &query), None)
            }
            (&Method::POST, [API_VERSION, "Accounts", ac, "Calls.json"]) if *ac == account => {
                (outbound::create(&shared, &mut state, account, &form), None)
            }
            (_, [API_VERSION, "Accounts", ac, "Calls", file]) if *ac == account => {
                (call(&shared, &mut state.calls, &method, file, &form), None)
            }
            _ => (not_found(&path), None),
        }
    };
    // Outside the lock: other requests go on while this answer is held back.
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    response
}

fn call(
    shared: &Shared,
    calls: &mut std::collections::HashMap<String, SimCall>,
    method: &Method,
    file: &str,
    form: &[(String, String)],
) -> Response {
    let account = shared.account_sid.as_str();
    let path = format!("/{API_VERSION}/Accounts/{account}/Calls/{file}");
    let Some(call_sid) = file.strip_suffix(".json") else {
        return not_found(&path);
    };
    let Some(call) = calls.get_mut(call_sid) else {
        return not_found(&path);
    };
    match *method {
        Method::GET => (StatusCode::OK, axum::Json(call_json(account, call))).into_response(),
        Method::POST => {
            let response = update_call(call, account, form);
            if response.status().is_success() {
                let update = CallUpdate {
                    call_sid: call_sid.to_string(),
                    twiml: field(form, "Twiml").map(str::to_string),
                    status: field(form, "Status").map(str::to_string),
                };
                // Nobody listening is fine.
                let _ = shared.updates.send(update);
            }
            response
        }
        _ => twilio_error(StatusCode::METHOD_NOT_ALLOWED, 20004, "Method not allowed"),
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

pub(super) fn end_or_set(call: &mut SimCall, status: &str) {
    call.status = status.to_string();
    if matches!(
        status,
        "completed" | "canceled" | "busy" | "failed" | "no-answer"
    ) && call.ended_at_secs.is_none()
    {
        call.ended_at_secs = Some(now_secs());
    }
}

pub(super) fn call_json(account: &str, call: &SimCall) -> Value {
    json!({
        "sid": call.sid, "account_sid": account, "status": call.status, "from": call.from, "to": call.to,
        "direction": call.direction, "parent_call_sid": null, "api_version": API_VERSION, "price": null,
        "start_time": rfc2822(call.started_at_secs),
        "end_time": call.ended_at_secs.map(rfc2822),
        "duration": call.ended_at_secs.map(|end| end.saturating_sub(call.started_at_secs).to_string()),
        "date_created": rfc2822(call.started_at_secs),
        "uri": format!("/{API_VERSION}/Accounts/{account}/Calls/{}.json", call.sid),
    })
}

fn not_found(path: &str) -> Response {
    twilio_error(
        StatusCode::NOT_FOUND,
        20404,
        &format!("The requested resource {path} was not found"),
    )
}

pub(super) fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code, "message": message, "status": status.as_u16(),
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
    });
    (status, axum::Json(body)).into_response()
}

pub(super) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
