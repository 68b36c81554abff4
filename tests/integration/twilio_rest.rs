//! The REST client against the local Twilio stand-in: the happy paths, and how it behaves when Twilio
//! throttles, fails, refuses or is given something it would refuse. Messages beyond a plain send
//! (never repeating a send Twilio may have taken, lists, searches) are in [`messages`]; placing a
//! call, and the stand-in's callee, in [`calls`].

mod calls;
mod messages;

use std::time::{Duration, Instant};

use sicha::config::Secret;
use sicha::twilio::rest::{RetryPolicy, TwilioClient, TwilioError};
use sicha_sim::twilio_api::TwilioApiSim;

const CALL: &str = "CA11111111111111111111111111111111";
const CALLER: &str = "+972501234567";
const BUSINESS: &str = "+97231234567";

async fn sim_with_call() -> TwilioApiSim {
    let sim = TwilioApiSim::start().await.expect("stand-in starts");
    sim.add_call(CALL, CALLER, BUSINESS);
    sim
}

/// Quick retries so failure tests stay fast.
fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(2),
    }
}

fn client(sim: &TwilioApiSim) -> TwilioClient {
    TwilioClient::new(
        sim.base_url(),
        sim.account_sid().to_string(),
        Secret::new(sim.auth_token()),
    )
    .with_retry(fast_retry(3))
}

#[tokio::test]
async fn update_call_with_twiml_reaches_the_call_and_is_announced() {
    let sim = sim_with_call().await;
    let mut updates = sim.subscribe_call_updates();
    let twiml = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say language="he-IL">שלום &amp; להתראות</Say><Hangup/></Response>"#;

    let call = client(&sim).update_call_twiml(CALL, twiml).await.unwrap();

    assert_eq!(call.sid, CALL);
    assert_eq!(call.status, "in-progress");
    assert_eq!(call.from.as_deref(), Some(CALLER));
    let requests = sim.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(
        requests[0].path,
        format!(
            "/2010-04-01/Accounts/{}/Calls/{CALL}.json",
            sim.account_sid()
        )
    );
    assert_eq!(
        requests[0].field("Twiml"),
        Some(twiml),
        "form encoding must round-trip Hebrew and markup"
    );
    assert!(requests[0].authorized);
    assert_eq!(sim.call(CALL).unwrap().twiml, [twiml]);
    let update = tokio::time::timeout(Duration::from_secs(1), updates.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (update.call_sid.as_str(), update.twiml.as_deref()),
        (CALL, Some(twiml))
    );
}

#[tokio::test]
async fn end_call_completes_it_and_fetch_shows_the_end() {
    let sim = sim_with_call().await;
    let client = client(&sim);

    let before = client.fetch_call(CALL).await.unwrap();
    assert_eq!(before.status, "in-progress");
    assert!(
        before
            .start_time
            .as_deref()
            .is_some_and(|t| t.ends_with("+0000"))
    );
    assert_eq!(before.end_time, None);

    let ended = client.end_call(CALL).await.unwrap();
    assert_eq!(ended.status, "completed");
    assert!(ended.has_ended());
    assert_eq!(sim.requests()[1].field("Status"), Some("completed"));

    let after = client.fetch_call(CALL).await.unwrap();
    assert_eq!(after.status, "completed");
    assert!(after.end_time.is_some());
    assert!(after.duration.is_some());
    let methods: Vec<_> = sim.requests().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, ["GET", "POST", "GET"]);
}

#[tokio::test]
async fn redirecting_an_ended_call_surfaces_twilio_s_refusal() {
    let sim = sim_with_call().await;
    sim.set_call_status(CALL, "completed");
    let error = client(&sim)
        .update_call_twiml(CALL, "<Response/>")
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            TwilioError::Api {
                status: 400,
                code: Some(21220),
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn unknown_call_is_not_found() {
    let sim = sim_with_call().await;
    let error = client(&sim)
        .fetch_call("CA99999999999999999999999999999999")
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            TwilioError::Api {
                status: 404,
                code: Some(20404),
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(sim.requests().len(), 1, "404 is final");
}

#[tokio::test]
async fn sms_is_sent_with_to_from_and_body() {
    let sim = sim_with_call().await;
    let body = "תודה שהתקשרת! הפגישה נקבעה ל-10:00 & נתראה";

    let message = client(&sim).send_sms(CALLER, BUSINESS, body).await.unwrap();

    assert!(message.sid.starts_with("SM"));
    assert_eq!(message.status, "queued");
    assert_eq!(message.body.as_deref(), Some(body));
    let request = &sim.requests()[0];
    assert_eq!(
        request.path,
        format!("/2010-04-01/Accounts/{}/Messages.json", sim.account_sid())
    );
    assert_eq!(
        (
            request.field("To"),
            request.field("From"),
            request.field("Body")
        ),
        (Some(CALLER), Some(BUSINESS), Some(body))
    );
    assert_eq!(sim.messages().len(), 1);
}

#[tokio::test]
async fn too_long_sms_is_refused_locally_without_a_request() {
    let sim = sim_with_call().await;
    let client = client(&sim);

    let at_limit = "ש".repeat(1600);
    assert!(client.send_sms(CALLER, BUSINESS, &at_limit).await.is_ok());
    let over = "ש".repeat(1601);
    let error = client.send_sms(CALLER, BUSINESS, &over).await.unwrap_err();

    assert!(matches!(error, TwilioError::InvalidInput(_)), "{error:?}");
    assert_eq!(
        sim.requests().len(),
        1,
        "only the message at the limit was sent"
    );
}

#[tokio::test]
async fn throttling_is_retried_after_the_time_twilio_asks() {
    let sim = sim_with_call().await;
    sim.fail_next_with_retry_after(1, 429, Some(1));
    let started = Instant::now();

    let call = client(&sim).fetch_call(CALL).await.unwrap();

    assert_eq!(call.sid, CALL);
    assert_eq!(sim.requests().len(), 2);
    // Our own backoff here is at most 20 ms; waiting a second means Retry-After won.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn throttling_without_retry_after_uses_backoff() {
    let sim = sim_with_call().await;
    sim.fail_next(2, 429);
    let started = Instant::now();
    client(&sim).end_call(CALL).await.unwrap();
    assert_eq!(sim.requests().len(), 3);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(sim.call(CALL).unwrap().status, "completed");
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_ends_the_retries() {
    let sim = sim_with_call().await;
    sim.fail_next_with_retry_after(1, 429, Some(60));
    let started = Instant::now();
    let error = client(&sim).fetch_call(CALL).await.unwrap_err();
    assert!(
        matches!(
            error,
            TwilioError::Api {
                status: 429,
                code: Some(20429),
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(sim.requests().len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "did not stall the caller"
    );
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_the_configured_attempts() {
    let sim = sim_with_call().await;
    sim.fail_next(3, 500);

    let error = client(&sim)
        .update_call_twiml(CALL, "<Response><Hangup/></Response>")
        .await
        .unwrap_err();

    assert!(
        matches!(
            error,
            TwilioError::Api {
                status: 500,
                code: Some(20500),
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(sim.requests().len(), 3);
    assert!(sim.call(CALL).unwrap().twiml.is_empty());

    // The stand-in has recovered; a fresh call goes through at once.
    sim.fail_next(2, 503);
    let client = client(&sim).with_retry(fast_retry(5));
    assert!(client.fetch_call(CALL).await.is_ok());
    assert_eq!(sim.requests().len(), 6);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_carry_twilio_s_code() {
    let sim = sim_with_call().await;
    // Two queued so that a wrongful retry would meet the same refusal and show up in the count.
    sim.fail_next_with_error(2, 400, 21211, "Invalid 'To' Phone Number");
    let error = client(&sim)
        .send_sms("+97250", BUSINESS, "שלום")
        .await
        .unwrap_err();
    match error {
        TwilioError::Api {
            status,
            code,
            message,
            more_info,
            retry_after: None,
        } => {
            assert_eq!((status, code), (400, Some(21211)));
            assert_eq!(message, "Invalid 'To' Phone Number");
            assert_eq!(
                more_info.as_deref(),
                Some("https://www.twilio.com/docs/errors/21211")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.requests().len(), 1);
    assert!(sim.messages().is_empty());
}

#[tokio::test]
async fn bad_credentials_get_401_once_and_the_token_stays_out_of_errors() {
    let sim = sim_with_call().await;
    let wrong = TwilioClient::new(
        sim.base_url(),
        sim.account_sid().to_string(),
        Secret::new("wrong-token-value"),
    )
    .with_retry(fast_retry(3));

    let error = wrong.fetch_call(CALL).await.unwrap_err();

    assert!(
        matches!(
            error,
            TwilioError::Api {
                status: 401,
                code: Some(20003),
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(sim.requests().len(), 1, "401 is final");
    assert!(!sim.requests()[0].authorized);
    assert!(!format!("{error} {error:?} {wrong:?}").contains("wrong-token-value"));
}

#[tokio::test]
async fn an_unreachable_api_is_retried_then_reported() {
    // Bind and drop a listener so the port is very likely closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = url::Url::parse(&format!("http://127.0.0.1:{port}/2010-04-01")).unwrap();
    let client = TwilioClient::new(base, "AC1".into(), Secret::new("t")).with_retry(fast_retry(2));
    let error = client.fetch_call(CALL).await.unwrap_err();
    assert!(matches!(error, TwilioError::Http(_)), "{error:?}");
}

#[tokio::test]
async fn a_slow_answer_times_out_without_retrying() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = tokio::spawn(async move {
        let mut held = Vec::new();
        // Accept and never answer; count connections until the test ends.
        while let Ok(Ok((socket, _))) =
            tokio::time::timeout(Duration::from_millis(600), listener.accept()).await
        {
            held.push(socket);
        }
        held.len()
    });
    let base = url::Url::parse(&format!("http://{address}/2010-04-01")).unwrap();
    let client = TwilioClient::new(base, "AC1".into(), Secret::new("t"))
        .with_retry(fast_retry(3))
        .with_request_timeout(Duration::from_millis(150));

    let error = client.fetch_call(CALL).await.unwrap_err();

    assert!(matches!(error, TwilioError::Timeout), "{error:?}");
    assert_eq!(
        accepted.await.unwrap(),
        1,
        "a timed-out request is not repeated"
    );
}
