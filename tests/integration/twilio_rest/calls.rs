//! Placing a call against the stand-in: the REST client's form, Twilio's call resource, and the
//! stand-in's callee as scripted: it answers (the call's `Url` is fetched, signed, with Twilio's
//! fields), or it does not (the status callback is posted, signed, with that status).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use sicha::twilio::rest::OutboundCall;
use sicha_sim::twilio_api::{Callee, OutboundEvent, TwilioApiSim};
use url::Url;

use super::{BUSINESS, CALLER, client};

/// A request Twilio made to "sicha": its URL, form, and whether its signature checked out.
#[derive(Debug, Clone)]
struct Received {
    url: String,
    form: Vec<(String, String)>,
    signed: bool,
}

/// A stand-in for sicha's webhooks: records what Twilio sends and answers a `<Connect><Stream>`.
struct Webhooks {
    base: Url,
    received: Arc<Mutex<Vec<Received>>>,
}

const TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://sicha.example/twilio/stream"><Parameter name="token" value="t1"/></Stream></Connect></Response>"#;

async fn webhooks(auth_token: &str) -> Webhooks {
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let token = auth_token.to_string();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let origin = base.clone();
    let app = axum::Router::new()
        .fallback(
            move |State(log): State<Arc<Mutex<Vec<Received>>>>,
                  uri: Uri,
                  headers: HeaderMap,
                  body: axum::body::Bytes| {
                let token = token.clone();
                let origin = origin.clone();
                async move {
                    let form: Vec<(String, String)> =
                        url::form_urlencoded::parse(&body).into_owned().collect();
                    let url = origin.join(&uri.to_string()).unwrap().to_string();
                    let signature = headers
                        .get("x-twilio-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    let signed = sicha::twilio::signature::is_valid(&token, &url, &form, signature);
                    log.lock().unwrap().push(Received { url, form, signed });
                    TWIML
                }
            },
        )
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Webhooks { base, received }
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn next_event(events: &mut tokio::sync::broadcast::Receiver<OutboundEvent>) -> OutboundEvent {
    tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("the placed call's callee acts")
        .unwrap()
}

async fn place(sim: &TwilioApiSim, hooks: &Webhooks) -> sicha::twilio::rest::CallResource {
    let url = hooks
        .base
        .join("/twilio/voice?callback=cb1&attempt=1")
        .unwrap();
    let status = hooks
        .base
        .join("/twilio/status?callback=cb1&attempt=1")
        .unwrap();
    let call = OutboundCall {
        to: CALLER,
        from: BUSINESS,
        url: &url,
        status_callback: &status,
        ring_secs: 30,
    };
    client(sim).create_call(&call).await.unwrap()
}

#[tokio::test]
async fn an_answered_call_fetches_its_twiml_signed_with_twilios_fields() {
    let sim = TwilioApiSim::start().await.unwrap();
    let hooks = webhooks(sim.auth_token()).await;
    sim.script_callees(&[Callee::Answer]);
    let mut events = sim.subscribe_outbound();

    let call = place(&sim, &hooks).await;
    assert!(
        call.sid.starts_with("CA") && call.sid.len() == 34,
        "{call:?}"
    );
    assert_eq!(call.status, "queued");
    assert_eq!(call.direction.as_deref(), Some("outbound-api"));
    assert_eq!(
        (call.to.as_deref(), call.from.as_deref()),
        (Some(CALLER), Some(BUSINESS))
    );
    let request = &sim.requests()[0];
    assert_eq!(
        request.path,
        format!("/2010-04-01/Accounts/{}/Calls.json", sim.account_sid())
    );
    assert_eq!(request.field("StatusCallbackEvent"), Some("completed"));
    assert_eq!(request.field("Timeout"), Some("30"));
    assert_eq!(request.field("Method"), Some("POST"));

    match next_event(&mut events).await {
        OutboundEvent::Answered {
            call: placed,
            status,
            stream,
            ..
        } => {
            assert_eq!(placed.call_sid, call.sid);
            assert_eq!(status, 200);
            let stream = stream.expect("the TwiML's stream");
            assert_eq!(stream.url, "wss://sicha.example/twilio/stream");
            assert_eq!(stream.parameters, [("token".to_string(), "t1".to_string())]);
        }
        other => panic!("{other:?}"),
    }
    let fetched = hooks.received.lock().unwrap()[0].clone();
    assert!(
        fetched.signed,
        "signed over the URL with its query: {fetched:?}"
    );
    assert!(
        fetched
            .url
            .ends_with("/twilio/voice?callback=cb1&attempt=1")
    );
    assert_eq!(field(&fetched.form, "CallSid"), Some(call.sid.as_str()));
    assert_eq!(field(&fetched.form, "CallStatus"), Some("in-progress"));
    assert_eq!(field(&fetched.form, "Direction"), Some("outbound-api"));
    assert_eq!(field(&fetched.form, "From"), Some(BUSINESS));
    assert_eq!(field(&fetched.form, "To"), Some(CALLER));

    // Hanging up posts the status callback with `completed`.
    assert_eq!(sim.hang_up(&call.sid).await, Some(200));
    let ended = hooks.received.lock().unwrap()[1].clone();
    assert!(ended.signed);
    assert!(ended.url.ends_with("/twilio/status?callback=cb1&attempt=1"));
    assert_eq!(field(&ended.form, "CallStatus"), Some("completed"));
    assert_eq!(sim.call(&call.sid).unwrap().status, "completed");
}

#[tokio::test]
async fn an_unanswered_call_posts_its_status_callback_signed() {
    let sim = TwilioApiSim::start().await.unwrap();
    let hooks = webhooks(sim.auth_token()).await;
    sim.script_callees(&[Callee::Busy]);
    let mut events = sim.subscribe_outbound();

    let busy = place(&sim, &hooks).await;
    match next_event(&mut events).await {
        OutboundEvent::Unanswered {
            call,
            status,
            answered,
        } => {
            assert_eq!(call.call_sid, busy.sid);
            assert_eq!((status.as_str(), answered), ("busy", Some(200)));
        }
        other => panic!("{other:?}"),
    }
    // Past the script, nobody answers.
    let unanswered = place(&sim, &hooks).await;
    assert!(matches!(
        next_event(&mut events).await,
        OutboundEvent::Unanswered { status, .. } if status == "no-answer"
    ));
    let received = hooks.received.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "no TwiML was fetched: {received:?}");
    assert!(
        received
            .iter()
            .all(|r| r.signed && r.url.contains("/twilio/status?"))
    );
    assert_eq!(field(&received[0].form, "CallStatus"), Some("busy"));
    assert_eq!(field(&received[1].form, "CallStatus"), Some("no-answer"));
    assert_eq!(sim.call(&unanswered.sid).unwrap().status, "no-answer");
    assert_eq!(sim.placed_calls().len(), 2);
}
