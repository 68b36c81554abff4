//! Promised call-backs over the real protocol: the real app on port 0 with the simulated OpenAI
//! server and the Twilio stand-in, on every engine. A caller who repeats themselves to a business with
//! no transfer number is promised a call-back; the outbox places it through the stand-in inside the
//! business's opening hours, tries again when nobody answers, and the answered call-back is recorded
//! as an outbound call linked to the first, its agent opening with why it calls. A caller who asks
//! for a call-back gets one through the model's `request_callback` tool, once.
//!
//! Time is not waited for: the test business is open at all hours and the spacing between attempts is
//! set to nothing, or its hours are set so that the call-back is surely not due yet.

use crate::common;

use std::time::Duration;

use crate::common::databases::for_each_engine;
use common::{
    AUTH_TOKEN, BUSINESS_NUMBER, CALLER_NUMBER, TestApp, line, listen, sicha_ok, silence,
};
use sicha::call::callback::callback_opening;
use sicha::clock;
use sicha::deliveries::CallbackRequest;
use sicha::deliveries::callback::callback_idempotency_key;
use sicha::store::businesses::OpeningHours;
use sicha::store::{BusinessChanges, CallDirection, OutboxEntry};
use sicha_sim::openai::{ALREADY_DONE_REPLY, ChatRule};
use sicha_sim::twilio_api::{Callee, OutboundEvent};
use sicha_sim::twilio_caller::MediaStreamClient;
use tokio::sync::broadcast;

/// How long the server must stay quiet for an answer to count as finished.
const QUIET: Duration = Duration::from_millis(1200);

/// The caller's three tries at the same request: the third is a loop.
const REPEATED: [&str; 3] = [
    "אני רוצה לבטל את ההזמנה",
    "אני רוצה לבטל ת'הזמנה",
    "אני רוצה לבטל את ההזמנה!",
];

/// The AI world with the test business set to no transfer number and `hours`.
async fn world(db: &str, hours: OpeningHours, more: &[(&str, &str)]) -> common::AiWorld {
    let w = common::ai_world(db, "openai", more).await;
    w.app
        .store
        .update_business(
            BUSINESS_NUMBER,
            &BusinessChanges {
                transfer_to: Some(None),
                opening_hours: Some(Some(hours)),
                ..Default::default()
            },
            clock::now_ms(),
        )
        .await
        .unwrap();
    w
}

/// A call in which the caller says the same thing three times (nobody to transfer to, so a
/// call-back is promised), then hangs up.
async fn call_that_loops(w: &common::AiWorld, call_sid: &str) {
    w.twilio.add_call(call_sid, CALLER_NUMBER, BUSINESS_NUMBER);
    w.openai.push_transcripts(REPEATED);
    let mut stream = w.app.connect_call(call_sid).await;
    listen(&mut stream, QUIET, true).await;
    for _ in 0..3 {
        stream
            .send_audio(&line("repeat/repeat_cancel.wav")[..40_000])
            .await
            .unwrap();
        stream.send_audio(&silence(900)).await.unwrap();
        listen(&mut stream, QUIET, true).await;
    }
    let events = w.app.event_kinds(call_sid).await;
    assert!(
        events.contains(&"loop_detected".to_string())
            && events.contains(&"callback_requested".to_string()),
        "{events:?}"
    );
    stream.send_stop(call_sid).await.unwrap();
    w.app
        .wait_for_call(call_sid, |c| c.ended_at_ms.is_some())
        .await;
}

/// The call-back row of `call_sid`, once the ended call has queued it.
async fn callback_row(app: &TestApp, call_sid: &str) -> OutboxEntry {
    let key = callback_idempotency_key(call_sid);
    for _ in 0..200 {
        if let Some(entry) = app.store.delivery_by_key(&key).await.unwrap() {
            return entry;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no call-back was queued for {call_sid}");
}

/// Waits until the call-back row of `call_sid` is in `status`.
async fn callback_row_in(app: &TestApp, call_sid: &str, status: &str) -> OutboxEntry {
    for _ in 0..400 {
        let entry = callback_row(app, call_sid).await;
        if entry.status == status {
            return entry;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "the call-back of {call_sid} never became {status}: {:?}",
        callback_row(app, call_sid).await
    );
}

async fn next_outbound(events: &mut broadcast::Receiver<OutboundEvent>) -> OutboundEvent {
    tokio::time::timeout(Duration::from_secs(30), events.recv())
        .await
        .expect("the call-back is placed")
        .unwrap()
}

/// The `callback_attempt` events of `call_sid`: (attempt, result, outbound CallSid).
async fn attempts(app: &TestApp, call_sid: &str, count: usize) -> Vec<(i64, String, String)> {
    // Each attempt's event is written after its row changed: wait for them all.
    for _ in 0..200 {
        let found: Vec<_> = app
            .store
            .events_for_call(call_sid)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "callback_attempt")
            .map(|e| {
                let detail = e.detail.unwrap();
                (
                    detail["attempt"].as_i64().unwrap(),
                    detail["result"].as_str().unwrap().to_string(),
                    detail["call_sid"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        if found.len() >= count {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{call_sid} never had {count} call-back attempts recorded");
}

#[tokio::test]
async fn a_loop_escalation_without_a_transfer_number_is_called_back_retried_and_recorded() {
    for_each_engine(|db| async move {
        let w = world(
            &db,
            OpeningHours::always(),
            &[("SICHA_CALLBACK_RETRY_SECS", "0")],
        )
        .await;
        w.twilio.script_callees(&[Callee::NoAnswer, Callee::Answer]);
        let mut outbound = w.twilio.subscribe_outbound();
        let ended_at = clock::now_ms();
        call_that_loops(&w, "CA700").await;

        // Queued at the call's end (always open: due at once, so the worker may hold it already).
        let row = callback_row(&w.app, "CA700").await;
        assert!(row.item.created_at_ms >= ended_at, "{row:?}");
        let request: CallbackRequest = serde_json::from_value(row.item.payload.clone()).unwrap();
        assert_eq!(
            (
                request.customer_phone.as_str(),
                request.business_number.as_str()
            ),
            (CALLER_NUMBER, BUSINESS_NUMBER)
        );
        assert_eq!(request.reason, "loop");

        // First attempt: nobody answers; the status callback comes back signed and is taken.
        let first = match next_outbound(&mut outbound).await {
            OutboundEvent::Unanswered {
                call,
                status,
                answered,
            } => {
                assert_eq!((status.as_str(), answered), ("no-answer", Some(204)));
                call
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (first.to.as_str(), first.from.as_str()),
            (CALLER_NUMBER, BUSINESS_NUMBER)
        );
        assert!(first.url.contains("/twilio/voice?callback="), "{first:?}");

        // Second attempt: answered. Twilio fetched our TwiML; the customer is on our stream.
        let (second, target) = match next_outbound(&mut outbound).await {
            OutboundEvent::Answered {
                call,
                status,
                stream,
                twiml,
            } => {
                assert_eq!(status, 200, "{twiml}");
                (
                    call,
                    stream.expect("the call-back is connected to our stream"),
                )
            }
            other => panic!("{other:?}"),
        };
        let mut stream = MediaStreamClient::connect(
            &target.url,
            Some(AUTH_TOKEN),
            &format!("MZ{}", second.call_sid),
        )
        .await
        .unwrap();
        stream.send_connected().await.unwrap();
        stream
            .send_start(&second.call_sid, &target.parameters)
            .await
            .unwrap();
        let opening = listen(&mut stream, QUIET, true).await;
        assert!(opening.media_bytes > 4000, "the opening plays: {opening:?}");
        stream.send_stop(&second.call_sid).await.unwrap();
        w.app
            .wait_for_call(&second.call_sid, |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(w.twilio.hang_up(&second.call_sid).await, Some(204));

        // The call-back is an outbound call, linked to the call that asked for it.
        let call = w
            .app
            .store
            .call_by_sid(&second.call_sid)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(call.direction, CallDirection::Outbound);
        assert_eq!(call.parent_call_sid.as_deref(), Some("CA700"));
        assert_eq!(
            (call.from_number.as_str(), call.to_number.as_str()),
            (BUSINESS_NUMBER, CALLER_NUMBER)
        );
        let first_call = w.app.store.call_by_sid("CA700").await.unwrap().unwrap();
        assert_eq!(
            call.customer_id, first_call.customer_id,
            "the same customer"
        );
        let business = w
            .app
            .store
            .business_by_number(BUSINESS_NUMBER)
            .await
            .unwrap()
            .unwrap();
        let turns = w.app.store.turns_for_call(&second.call_sid).await.unwrap();
        assert_eq!(
            (turns[0].role.as_str(), turns[0].text.as_str()),
            ("agent", callback_opening(&business).as_str()),
            "the agent opens with why it calls: {turns:#?}"
        );

        // Each attempt is an event of the first call; the row is done after two.
        assert_eq!(
            attempts(&w.app, "CA700", 2).await,
            [
                (1, "no-answer".to_string(), first.call_sid.clone()),
                (2, "answered".to_string(), second.call_sid.clone()),
            ]
        );
        let done = callback_row_in(&w.app, "CA700", "delivered").await;
        assert_eq!(done.item.attempts, 2);
        assert_eq!(w.twilio.placed_calls().len(), 2, "no third call");

        // The call-back's own end asked for nothing more.
        let own = callback_idempotency_key(&second.call_sid);
        assert!(w.app.store.delivery_by_key(&own).await.unwrap().is_none());
        w.app.shutdown().await;
    })
    .await;
}

/// Opening hours of one hour two days from now (Israel), so a call-back surely waits; and when it
/// will be due, as `YYYY-MM-DD HH:MM` in Israel.
pub fn open_only_in_two_days() -> (OpeningHours, String) {
    let day = clock::in_israel(clock::now_ms())
        .date()
        .tomorrow()
        .unwrap()
        .tomorrow()
        .unwrap();
    let name = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        [day.weekday().to_sunday_zero_offset() as usize];
    let hours = format!("{name} 10:00-11:00").parse().unwrap();
    (hours, format!("{day} 10:00"))
}

#[tokio::test]
async fn a_call_back_not_yet_due_is_listed_as_pending_with_its_israeli_due_time() {
    for_each_engine(|db| async move {
        let (hours, due_at) = open_only_in_two_days();
        let w = world(&db, hours, &[]).await;
        call_that_loops(&w, "CA710").await;

        let row = callback_row(&w.app, "CA710").await;
        let due = clock::format_in_israel(row.item.next_attempt_at_ms, "%Y-%m-%d %H:%M");
        assert_eq!(due, due_at);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            w.twilio.placed_calls().is_empty(),
            "not placed before it is due"
        );

        let listed = sicha_ok(&db, &["callbacks", "list"]);
        let row_line = listed
            .lines()
            .find(|line| line.contains(CALLER_NUMBER))
            .unwrap_or_else(|| panic!("{listed}"));
        assert!(row_line.starts_with("pending"), "{listed}");
        assert!(row_line.contains(&due_at), "{listed}");
        assert!(
            row_line.contains(BUSINESS_NUMBER) && row_line.contains("CA710"),
            "{listed}"
        );
        w.app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_call_back_nobody_answers_is_given_up_after_its_attempts_and_kept() {
    for_each_engine(|db| async move {
        let w = world(
            &db,
            OpeningHours::always(),
            &[
                ("SICHA_CALLBACK_ATTEMPTS", "2"),
                ("SICHA_CALLBACK_RETRY_SECS", "0"),
            ],
        )
        .await;
        w.twilio.script_callees(&[Callee::Busy, Callee::NoAnswer]);
        call_that_loops(&w, "CA720").await;

        let dead = callback_row_in(&w.app, "CA720", "dead").await;
        assert_eq!(dead.item.attempts, 2);
        let reason = dead.item.last_error.clone().unwrap_or_default();
        assert!(
            reason.contains("2 attempts") && reason.contains("no-answer"),
            "{reason}"
        );
        // The row is given up first; the event on the asking call follows it.
        w.app.wait_for_event("CA720", "callback_given_up").await;
        let results: Vec<String> = attempts(&w.app, "CA720", 2)
            .await
            .into_iter()
            .map(|(_, result, _)| result)
            .collect();
        assert_eq!(results, ["busy", "no-answer"]);
        assert_eq!(w.twilio.placed_calls().len(), 2);

        assert!(sicha_ok(&db, &["callbacks", "list"]).contains("no pending call-backs"));
        let all = sicha_ok(&db, &["callbacks", "list", "--all"]);
        assert!(
            all.lines()
                .any(|l| l.starts_with("given up") && l.contains("CA720")),
            "{all}"
        );
        w.app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_caller_who_asks_for_a_call_back_gets_one_through_the_models_tool_once() {
    const CONFIRMED: &str = "רשמתי. נציג מהעסק יחזור אליך.";
    for_each_engine(|db| async move {
        let (hours, due_at) = open_only_in_two_days();
        let w = world(&db, hours, &[]).await;
        w.openai.push_transcripts([
            "אפשר שתחזרו אליי מחר בבוקר לגבי צבע לשיער?",
            "אז תחזרו אליי, כן?",
        ]);
        w.openai.add_chat_rule(
            ChatRule::tool_call(
                "תחזרו אליי",
                "request_callback",
                serde_json::json!({ "reason": "לקבוע צבע לשיער", "when": "מחר בבוקר" }),
            )
            .then_say(CONFIRMED),
        );
        let mut stream = w.app.connect_call("CA730").await;
        listen(&mut stream, QUIET, true).await;
        for _ in 0..2 {
            stream
                .send_audio(&line("single/u03_booking.wav"))
                .await
                .unwrap();
            listen(&mut stream, QUIET, true).await;
        }
        stream.send_stop("CA730").await.unwrap();
        w.app
            .wait_for_call("CA730", |c| c.ended_at_ms.is_some())
            .await;

        // The model called the tool twice: the first promised the call-back, the second was refused.
        let events = w.app.store.events_for_call("CA730").await.unwrap();
        let of = |kind: &str| events.iter().filter(|e| e.kind == kind).collect::<Vec<_>>();
        assert_eq!(of("tool_call").len(), 2, "{events:#?}");
        let promised = of("callback_requested");
        assert_eq!(promised.len(), 1, "{events:#?}");
        assert_eq!(
            promised[0].detail.as_ref().unwrap()["reason"],
            "לקבוע צבע לשיער"
        );
        assert_eq!(of("tool_refused").len(), 1, "{events:#?}");
        // The caller heard the promise, then that it is already arranged.
        let answers: Vec<String> = w
            .app
            .store
            .turns_for_call("CA730")
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.role == "agent")
            .map(|t| t.text)
            .collect();
        assert!(answers[1].contains(CONFIRMED), "{answers:?}");
        assert!(answers[2].contains(ALREADY_DONE_REPLY), "{answers:?}");

        // One call-back row, linked to the call, with the caller's reason and preferred time.
        let row = callback_row(&w.app, "CA730").await;
        let request: CallbackRequest = serde_json::from_value(row.item.payload.clone()).unwrap();
        assert_eq!(request.parent_call_sid, "CA730");
        assert_eq!(request.customer_phone, CALLER_NUMBER);
        assert_eq!(request.reason, "לקבוע צבע לשיער");
        assert_eq!(request.when.as_deref(), Some("מחר בבוקר"));
        let listed = sicha_ok(&db, &["callbacks", "list"]);
        let row_line = listed
            .lines()
            .find(|line| line.contains("CA730"))
            .unwrap_or_else(|| panic!("{listed}"));
        assert!(
            row_line.starts_with("pending")
                && row_line.contains(&due_at)
                && row_line.contains("לקבוע צבע לשיער (מחר בבוקר)"),
            "{listed}"
        );
        w.app.shutdown().await;
    })
    .await;
}
