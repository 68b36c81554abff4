//! Keys the caller presses during a whole AI call, through the real WebSocket protocol: the real app
//! on port 0, the simulated OpenAI-compatible server and the Twilio REST stand-in; each business's
//! key map decides what a key does. On SQLite and (with SICHA_TEST_POSTGRES_URL) on PostgreSQL.

use crate::common;

use std::time::Duration;

use crate::common::databases::for_each_engine;
use common::{BUSINESS_NUMBER, CALLER_NUMBER, Heard, TestApp, is_mark, listen, recv_until};
use sicha::call::agent::phrases;
use sicha::store::businesses::DtmfMap;
use sicha::store::{BusinessChanges, CallStatus};
use sicha::twilio::stream::Outbound;
use sicha_sim::twilio_api::TwilioApiSim;
use sicha_sim::twilio_caller::{MediaStreamClient, Received};

/// How long the server must stay quiet for an answer to count as finished: above the gap between
/// two sentences' synthesis on a loaded machine.
const QUIET: Duration = Duration::from_millis(1200);

type World = common::AiWorld;

/// The app in AI mode with the test business; `dtmf` replaces its default key map.
async fn world(db: &str, dtmf: Option<&str>) -> World {
    let world = common::ai_world(db, "openai", &[]).await;
    let app = &world.app;
    if let Some(dtmf) = dtmf {
        let map: DtmfMap = dtmf.parse().unwrap();
        app.store
            .update_business(
                BUSINESS_NUMBER,
                &BusinessChanges {
                    dtmf_map: Some(Some(map)),
                    ..Default::default()
                },
                sicha::clock::now_ms(),
            )
            .await
            .unwrap();
    }
    world
}

/// Waits (long: a loaded machine synthesises slowly) for the agent to say something, plays it and
/// listens on until the line is quiet: what the caller heard, the first piece included.
async fn hear(stream: &mut MediaStreamClient) -> Heard {
    let (seen, mark) = recv_until(stream, is_mark, Duration::from_secs(15)).await;
    let Some(Received::Message(Outbound::Mark { mark, .. })) = mark else {
        panic!("the agent said nothing: {seen:?} then {mark:?}")
    };
    let media: usize = seen
        .iter()
        .filter_map(|r| match r {
            Received::Message(Outbound::Media { media, .. }) => {
                use base64::Engine;
                let audio = base64::engine::general_purpose::STANDARD.decode(&media.payload);
                Some(audio.unwrap().len())
            }
            _ => None,
        })
        .sum();
    assert!(media > 0, "a mark without audio: {seen:?}");
    stream.send_mark(&mark.name).await.unwrap();
    let mut rest = listen(stream, QUIET, true).await;
    rest.marks.insert(0, mark.name);
    rest.media_bytes += media;
    rest
}

/// The TwiML of every REST update of the call.
fn call_updates(twilio: &TwilioApiSim, call_sid: &str) -> Vec<String> {
    let path = format!("/Calls/{call_sid}.json");
    twilio
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with(&path))
        .filter_map(|r| r.field("Twiml").map(str::to_string))
        .collect()
}

/// Waits for an event of `kind` on the call (events are written by the call's own task); returns
/// every kind recorded by then.
async fn wait_for_event(app: &TestApp, call_sid: &str, kind: &str) -> Vec<String> {
    let mut kinds = Vec::new();
    for _ in 0..200 {
        kinds = app.event_kinds(call_sid).await;
        if kinds.iter().any(|k| k == kind) {
            return kinds;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no {kind} event on {call_sid}: {kinds:?}");
}

async fn agent_texts(app: &TestApp, call_sid: &str) -> Vec<String> {
    app.store
        .turns_for_call(call_sid)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.role == "agent")
        .map(|t| t.text)
        .collect()
}

#[tokio::test]
async fn the_goodbye_key_of_the_business_says_goodbye_and_ends_the_call() {
    for_each_engine(|db| async move {
        let w = world(&db, Some("5=goodbye")).await;
        w.twilio.add_call("CA700", CALLER_NUMBER, BUSINESS_NUMBER);
        let mut stream = w.app.connect_call("CA700").await;
        hear(&mut stream).await;

        // This business did not map 0: pressing it only records the key.
        stream.send_dtmf("0").await.unwrap();
        let nothing = common::heard_within(&mut stream, QUIET).await;
        assert_eq!(nothing.media_bytes, 0, "{nothing:?}");
        assert!(call_updates(&w.twilio, "CA700").is_empty());

        stream.send_dtmf("5").await.unwrap();
        let goodbye = hear(&mut stream).await;
        assert!(
            goodbye.media_bytes > 2000 && !goodbye.marks.is_empty(),
            "the goodbye is heard: {goodbye:?}"
        );
        assert!(
            goodbye.closed,
            "the call ends once the goodbye has played: {goodbye:?}"
        );
        let call = w
            .app
            .wait_for_call("CA700", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(call.status, CallStatus::Completed);
        assert_eq!(call.end_reason.as_deref(), Some("caller_pressed_goodbye"));

        let texts = agent_texts(&w.app, "CA700").await;
        assert_eq!(
            texts.last().map(String::as_str),
            Some(phrases::GOODBYE),
            "{texts:?}"
        );
        let events = w.app.store.events_for_call("CA700").await.unwrap();
        let digits: Vec<String> = events
            .iter()
            .filter(|e| e.kind == "dtmf")
            .map(|e| format!("{:?}", e.detail))
            .collect();
        assert_eq!(digits.len(), 2, "{digits:?}");
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert!(
            !kinds.contains(&"transferred") && !kinds.contains(&"transfer_failed"),
            "{kinds:?}"
        );
        assert!(call_updates(&w.twilio, "CA700").is_empty());
        w.app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn zero_with_the_default_map_transfers_to_the_business_number() {
    for_each_engine(|db| async move {
        let w = world(&db, None).await;
        w.twilio.add_call("CA710", CALLER_NUMBER, BUSINESS_NUMBER);
        let mut stream = w.app.connect_call("CA710").await;
        hear(&mut stream).await;

        stream.send_dtmf("0").await.unwrap();
        let mut twiml = Vec::new();
        for _ in 0..100 {
            twiml = call_updates(&w.twilio, "CA710");
            if !twiml.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let twiml = twiml.last().expect("a transfer update");
        assert!(
            twiml.contains("<Dial") && twiml.contains("+972529999999"),
            "{twiml}"
        );
        // The transfer is recorded once Twilio has answered the update.
        let events = wait_for_event(&w.app, "CA710", "transferred").await;
        assert!(events.contains(&"dtmf".to_string()), "{events:?}");
        // Twilio ends our stream as it dials.
        stream.send_stop("CA710").await.unwrap();
        let call = w
            .app
            .wait_for_call("CA710", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(call.end_reason.as_deref(), Some("transferred"));
        w.app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_callback_key_promises_a_call_back_and_records_it() {
    for_each_engine(|db| async move {
        let w = world(&db, Some("*=callback")).await;
        w.twilio.add_call("CA720", CALLER_NUMBER, BUSINESS_NUMBER);
        let mut stream = w.app.connect_call("CA720").await;
        hear(&mut stream).await;

        stream.send_dtmf("*").await.unwrap();
        let promise = hear(&mut stream).await;
        assert!(promise.media_bytes > 2000, "{promise:?}");
        assert!(!promise.closed, "the call goes on: {promise:?}");
        stream.send_stop("CA720").await.unwrap();
        let call = w
            .app
            .wait_for_call("CA720", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(call.end_reason.as_deref(), Some("stream_stopped"));
        assert!(
            w.app
                .event_kinds("CA720")
                .await
                .contains(&"callback_requested".to_string())
        );
        let texts = agent_texts(&w.app, "CA720").await;
        assert!(
            texts.iter().any(|t| t == phrases::ESCALATE_CALLBACK),
            "{texts:?}"
        );
        let customer = call.customer_id.unwrap();
        let mut interactions = Vec::new();
        for _ in 0..100 {
            interactions = w
                .app
                .store
                .interactions_for_customer(&customer)
                .await
                .unwrap();
            if !interactions.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            interactions.first().and_then(|i| i.outcome.as_deref()),
            Some("callback_requested"),
            "{interactions:?}"
        );
        assert!(call_updates(&w.twilio, "CA720").is_empty());
        w.app.shutdown().await;
    })
    .await;
}
