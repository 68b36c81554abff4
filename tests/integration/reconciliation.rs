//! A call cut off by a crash still ends properly: the next start of the same instance finds it
//! open, and writes its CRM interaction (the transcript as far as its turns were committed, outcome
//! `interrupted`), its `call_ended` event and its after-call deliveries, exactly once even when two
//! starts race on one database; the answer that was going to the line becomes an interrupted agent
//! turn. Nothing is killed here: the call is left open by hand, as a crash leaves it (the fault suite
//! kills the real binary).

use std::time::Duration;

use crate::common;

use crate::common::crm::CountingCrm;
use crate::common::databases::for_each_engine;
use common::{AUTH_TOKEN, BUSINESS_NUMBER, CALLER_NUMBER, spawn_app_with};
use sicha::store::businesses::OpeningHours;
use sicha::store::events::AGENT_SPEAKING;
use sicha::store::{Business, CallStatus, Customer, NewBusiness, NewCall, NewTurn, Store};

const CALL: &str = "CA700";
const NEVER_STREAMED: &str = "CA701";
const T0: i64 = 1_750_000_000_000;

fn turn(seq: i64, role: &str, text: &str, heard: Option<&str>) -> NewTurn {
    let at = T0 + seq * 1000;
    NewTurn {
        heard_text: heard.map(str::to_string),
        interrupted: heard.is_some(),
        ..NewTurn::said(CALL, seq, role, text, at, at + 500)
    }
}

/// The shop (with `transfer_to` and `hours`) and its caller, stored.
async fn shop_and_caller(
    store: &Store,
    transfer_to: Option<&str>,
    hours: Option<OpeningHours>,
) -> (Business, Customer) {
    let new = NewBusiness {
        number: BUSINESS_NUMBER.into(),
        name: "מספרת דני".into(),
        greeting: "שלום".into(),
        system_prompt: "עוזרת".into(),
        voice: None,
        transfer_to: transfer_to.map(str::to_string),
        dtmf_map: None,
        sms_policy: None,
        preemptive_replies: None,
        tools: None,
        opening_hours: hours,
    };
    let business = store.create_business(&new, T0).await.unwrap();
    let customer = store
        .find_or_create_customer(&business.id, CALLER_NUMBER, T0)
        .await
        .unwrap();
    (business, customer)
}

/// The caller's call to the shop, answered by this instance at `started_at_ms`.
fn answered(
    business: &Business,
    customer: &Customer,
    call_sid: &str,
    started_at_ms: i64,
) -> NewCall {
    NewCall {
        call_sid: call_sid.into(),
        business_id: Some(business.id.clone()),
        customer_id: Some(customer.id.clone()),
        from_number: CALLER_NUMBER.into(),
        to_number: BUSINESS_NUMBER.into(),
        instance_id: "test-instance".into(),
        status: CallStatus::Answered,
        started_at_ms,
        direction: Default::default(),
        parent_call_sid: None,
    }
}

/// A call of this instance left streaming, with three committed turns, as a crash leaves it.
async fn leave_a_call_open(db: &str) -> String {
    let store = Store::connect(db).await.unwrap();
    let (business, customer) = shop_and_caller(&store, Some("+972529999999"), None).await;
    let answered = |call_sid: &str, started_at_ms: i64| {
        answered(&business, &customer, call_sid, started_at_ms)
    };
    store.insert_call(&answered(CALL, T0)).await.unwrap();
    assert!(store.mark_streaming(CALL, T0 + 100).await.unwrap());
    // Answered, but its stream never started: no conversation, so no interaction and no text.
    let never = answered(NEVER_STREAMED, T0 + 50);
    store.insert_call(&never).await.unwrap();
    for new in [
        turn(1, "agent", "שלום, הגעתם למספרה של דני.", None),
        turn(2, "caller", "אני רוצה לקבוע תור למחר", None),
        turn(
            3,
            "agent",
            "בטח, לאיזו שעה? יש לנו בעשר ובאחת עשרה",
            Some("בטח, לאיזו שעה?"),
        ),
        turn(4, "caller", "ומה המחיר?", None),
    ] {
        store.insert_turn(&new).await.unwrap();
    }
    // The answer to turn 4 was going to the line when the process died: two of its sentences had
    // been sent, and its turn (recorded when an answer ends) never was.
    for (text, at) in [
        ("תספורת עולה שמונים שקלים.", T0 + 5000),
        ("וזקן עוד עשרים.", T0 + 6200),
    ] {
        let detail = serde_json::json!({ "turn": 5, "text": text });
        store
            .insert_event(CALL, AGENT_SPEAKING, Some(&detail), at)
            .await
            .unwrap();
    }
    store.close().await;
    customer.id
}

#[tokio::test]
async fn a_call_cut_off_by_a_crash_gets_its_interaction_event_and_deliveries_once() {
    for_each_engine(|db| async move {
        let customer_id = leave_a_call_open(&db).await;
        let crm = CountingCrm::start().await;
        let twilio = sicha_sim::twilio_api::TwilioApiSim::start_with(
            "ACtest0000000000000000000000000000",
            AUTH_TOKEN,
        )
        .await
        .unwrap();
        let twilio_base = twilio.base_url().to_string();
        let settings = [
            ("SICHA_CRM_WEBHOOK_URL", crm.url.as_str()),
            ("SICHA_POST_CALL_SMS", "caller"),
            ("TWILIO_API_BASE", twilio_base.as_str()),
        ];
        // Two starts of the same instance racing on one database, as two restarts would.
        let (first, second) = tokio::join!(
            spawn_app_with(&db, &settings, common::echo_agent()),
            spawn_app_with(&db, &settings, common::echo_agent()),
        );

        let call = first.store.call_by_sid(CALL).await.unwrap().unwrap();
        assert_eq!(call.status, CallStatus::Interrupted);
        assert_eq!(call.end_reason.as_deref(), Some("server_restarted"));
        let ended_events: Vec<_> = first
            .store
            .events_for_call(CALL)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "call_ended")
            .collect();
        assert_eq!(ended_events.len(), 1, "{ended_events:?}");
        assert_eq!(
            ended_events[0].detail.as_ref().unwrap()["reason"],
            "server_restarted"
        );
        let interactions = first
            .store
            .interactions_for_customer(&customer_id)
            .await
            .unwrap();
        assert_eq!(interactions.len(), 1, "{interactions:?}");
        assert_eq!(interactions[0].call_sid.as_deref(), Some(CALL));
        let never = first
            .store
            .call_by_sid(NEVER_STREAMED)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(never.status, CallStatus::Interrupted);
        assert_eq!(first.event_kinds(NEVER_STREAMED).await, ["call_ended"]);
        let interaction = &interactions[0];
        assert_eq!(interaction.outcome.as_deref(), Some("interrupted"));
        assert!(
            interaction.transcript.contains("אני רוצה לקבוע תור למחר"),
            "{}",
            interaction.transcript
        );
        assert!(
            interaction.transcript.contains("בטח, לאיזו שעה?")
                && !interaction.transcript.contains("בעשר"),
            "the interrupted answer as far as it was heard: {}",
            interaction.transcript
        );
        assert_eq!(
            interaction.duration_ms,
            call.ended_at_ms.map(|end| end - T0)
        );
        // The answer the crash cut off is an interrupted agent turn of what had gone to the line.
        let turns = first.store.turns_for_call(CALL).await.unwrap();
        assert_eq!(turns.len(), 5, "{turns:?}");
        let cut_off = &turns[4];
        assert_eq!(
            (cut_off.seq, cut_off.role.as_str(), cut_off.text.as_str()),
            (5, "agent", "תספורת עולה שמונים שקלים. וזקן עוד עשרים.")
        );
        assert!(cut_off.interrupted);
        assert_eq!(
            (cut_off.started_at_ms, cut_off.ended_at_ms),
            (T0 + 5000, T0 + 6200)
        );
        assert!(
            interaction.transcript.contains("שמונים שקלים"),
            "{}",
            interaction.transcript
        );

        // The after-call deliveries go out once, whichever instance delivers them.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while (crm.keys().is_empty() || twilio.messages().is_empty())
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        first.shutdown().await;
        second.shutdown().await;

        // A third start finds nothing left to do.
        let third = spawn_app_with(&db, &settings, common::echo_agent()).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let kinds = third.event_kinds(CALL).await;
        assert_eq!(
            kinds.iter().filter(|k| *k == "call_ended").count(),
            1,
            "{kinds:?}"
        );
        assert_eq!(third.store.turns_for_call(CALL).await.unwrap().len(), 5);
        third.shutdown().await;
        assert_eq!(crm.keys(), [format!("crm:{CALL}")]);
        let messages = twilio.messages();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0].to, CALLER_NUMBER);
    })
    .await;
}

#[tokio::test]
async fn a_call_back_promised_in_a_call_cut_off_by_a_crash_is_queued_once() {
    for_each_engine(|db| async move {
        let (hours, due_at) = crate::callbacks::open_only_in_two_days();
        let store = Store::connect(&db).await.unwrap();
        let (business, customer) = shop_and_caller(&store, None, Some(hours)).await;
        store
            .insert_call(&answered(&business, &customer, CALL, T0))
            .await
            .unwrap();
        assert!(store.mark_streaming(CALL, T0 + 100).await.unwrap());
        let promise = serde_json::json!({ "reason": "loop" });
        store
            .insert_event(CALL, "callback_requested", Some(&promise), T0 + 9000)
            .await
            .unwrap();
        store.close().await;

        let (first, second) = tokio::join!(
            spawn_app_with(&db, &[], common::echo_agent()),
            spawn_app_with(&db, &[], common::echo_agent()),
        );
        let pending = first
            .store
            .deliveries_of_kind("callback", true, 10)
            .await
            .unwrap();
        assert_eq!(pending.len(), 1, "queued once: {pending:?}");
        let row = &pending[0];
        assert_eq!(row.item.idempotency_key, format!("callback:{CALL}"));
        assert_eq!((row.status.as_str(), row.item.attempts), ("pending", 0));
        assert_eq!(
            sicha::clock::format_in_israel(row.item.next_attempt_at_ms, "%Y-%m-%d %H:%M"),
            due_at,
            "due at the business's next opening"
        );
        assert_eq!(row.item.payload["customer_phone"], CALLER_NUMBER);
        assert_eq!(row.item.payload["public_base"], serde_json::Value::Null);
        first.shutdown().await;
        second.shutdown().await;
    })
    .await;
}
