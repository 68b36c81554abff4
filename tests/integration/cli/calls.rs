//! `sicha calls list` and `sicha calls show` over a call stored with its events and transcript.

use crate::common::databases::for_each_engine;
use serde_json::json;
use sicha::store::{Business, CallDirection, CallStatus, NewCall, NewTurn, Store};

use super::{
    PROMPT, SHOP, SHOP_NAME, add_shop, assert_hebrew_lines_are_pure, sicha_err, sicha_ok,
    write_prompt,
};

/// A call from the caller to `to` (the shop's, if `to` is its number), answered at `at`.
fn call_to(shop: &Business, sid: &str, to: &str, at: i64) -> NewCall {
    NewCall {
        call_sid: sid.to_string(),
        business_id: (to == SHOP).then(|| shop.id.clone()),
        customer_id: None,
        from_number: "+972541234567".to_string(),
        to_number: to.to_string(),
        instance_id: "i-1".to_string(),
        status: CallStatus::Answered,
        started_at_ms: at,
        direction: CallDirection::Inbound,
        parent_call_sid: None,
    }
}

#[tokio::test]
async fn calls_list_and_show_a_call_with_events_and_transcript() {
    for_each_engine(|url| async move {
        let dir = tempfile::tempdir().unwrap();
        add_shop(&url, &write_prompt(dir.path(), PROMPT));
        let store = Store::connect(&url).await.unwrap();
        let shop = store.business_by_number(SHOP).await.unwrap().unwrap();
        let t0 = 1_750_000_000_000;
        let call = |sid: &str, to: &str, at: i64| call_to(&shop, sid, to, at);
        store.insert_call(&call("CA1", SHOP, t0)).await.unwrap();
        store
            .insert_call(&call("CA2", "+15550000000", t0 + 5000))
            .await
            .unwrap();
        store
            .finish_call("CA2", CallStatus::Rejected, "unknown_number", t0 + 5000)
            .await
            .unwrap();
        store.mark_streaming("CA1", t0 + 800).await.unwrap();
        store
            .insert_event(
                "CA1",
                "stream_started",
                Some(&json!({"stream_sid": "MZ1"})),
                t0 + 800,
            )
            .await
            .unwrap();
        store
            .insert_event("CA1", "barge_in", None, t0 + 4200)
            .await
            .unwrap();
        let caller = NewTurn {
            call_sid: "CA1".into(),
            seq: 1,
            role: "caller".into(),
            text: "אני רוצה לקבוע תור למחר".into(),
            heard_text: None,
            started_at_ms: t0 + 1000,
            ended_at_ms: t0 + 2600,
            interrupted: false,
            stt_ms: Some(240),
            llm_ttft_ms: None,
            llm_first_sentence_ms: None,
            tts_ttfb_ms: None,
            endpoint_ms: Some(600),
            v2v_ms: None,
        };
        let agent = NewTurn {
            seq: 2,
            role: "agent".into(),
            text: "בטח, לאיזו שעה מתאים לך?".into(),
            heard_text: Some("בטח".into()),
            started_at_ms: t0 + 3500,
            ended_at_ms: t0 + 4200,
            interrupted: true,
            stt_ms: None,
            endpoint_ms: None,
            llm_ttft_ms: Some(310),
            v2v_ms: Some(1150),
            ..caller.clone()
        };
        store.insert_turn(&caller).await.unwrap();
        store.insert_turn(&agent).await.unwrap();
        store
            .finish_call("CA1", CallStatus::Completed, "caller_hung_up", t0 + 65_000)
            .await
            .unwrap();
        store
            .record_twilio_status("CA1", "completed", Some(65))
            .await
            .unwrap();
        store.close().await;

        let list = sicha_ok(&url, &["calls", "list"]);
        let sids: Vec<&str> = list
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().nth(2))
            .collect();
        assert_eq!(sids, ["CA2", "CA1"], "newest first:\n{list}");
        assert!(
            list.contains("1:05")
                && list.contains("caller_hung_up")
                && list.contains("unknown_number"),
            "{list}"
        );
        let of_shop = sicha_ok(&url, &["calls", "list", "--business", SHOP]);
        assert!(
            of_shop.contains("CA1") && !of_shop.contains("CA2"),
            "{of_shop}"
        );
        let limited = sicha_ok(&url, &["calls", "list", "--limit", "1"]);
        assert!(
            limited.contains("CA2") && !limited.contains("CA1"),
            "{limited}"
        );
        let rejected = sicha_ok(&url, &["calls", "list", "--status", "rejected"]);
        assert!(
            rejected.contains("CA2") && !rejected.contains("CA1"),
            "{rejected}"
        );
        assert!(
            sicha_err(&url, &["calls", "list", "--business", "972"]).contains("must start with +")
        );
        assert!(
            sicha_err(&url, &["calls", "list", "--status", "ringing"]).contains("expected one of")
        );

        let show = sicha_ok(&url, &["calls", "show", "CA1"]);
        for expected in [
            "call CA1",
            "completed",
            "caller_hung_up",
            "+0.800 s",
            "+65.000 s",
            "65 s",
            "stream_started",
            "MZ1",
            "barge_in",
        ] {
            assert!(show.contains(expected), "{expected:?} missing:\n{show}");
        }
        let lines: Vec<&str> = show.lines().collect();
        let at = |text: &str| {
            lines
                .iter()
                .position(|line| *line == text)
                .unwrap_or_else(|| panic!("{text:?} not alone on a line:\n{show}"))
        };
        assert!(at(SHOP_NAME) > 0);
        let (said, heard) = (at(&agent.text), at("בטח"));
        assert!(at(&caller.text) < said && said < heard, "{show}");
        assert!(
            lines[said - 1].contains("agent") && lines[said - 1].contains("INTERRUPTED"),
            "{show}"
        );
        assert!(lines[heard - 1].contains("heard"), "{show}");
        assert!(lines[at(&caller.text) - 1].contains("stt 240 ms"), "{show}");
        assert_hebrew_lines_are_pure(&show);

        assert!(sicha_err(&url, &["calls", "show", "CA-none"]).contains("no call CA-none"));
    })
    .await;
}

#[tokio::test]
async fn calls_show_says_the_direction_and_the_call_a_call_back_follows() {
    for_each_engine(|url| async move {
        let dir = tempfile::tempdir().unwrap();
        add_shop(&url, &write_prompt(dir.path(), PROMPT));
        let store = Store::connect(&url).await.unwrap();
        let shop = store.business_by_number(SHOP).await.unwrap().unwrap();
        let t0 = 1_750_000_000_000;
        let inbound = call_to(&shop, "CA1", SHOP, t0);
        let back = NewCall {
            call_sid: "CA2".to_string(),
            from_number: SHOP.to_string(),
            to_number: "+972541234567".to_string(),
            started_at_ms: t0 + 60_000,
            direction: CallDirection::Outbound,
            parent_call_sid: Some("CA1".to_string()),
            ..inbound.clone()
        };
        store.insert_call(&inbound).await.unwrap();
        store.insert_call(&back).await.unwrap();
        store.close().await;

        let show = sicha_ok(&url, &["calls", "show", "CA2"]);
        assert!(show.lines().any(|l| l == "direction: outbound"), "{show}");
        assert!(show.lines().any(|l| l == "call-back of: CA1"), "{show}");
        let show = sicha_ok(&url, &["calls", "show", "CA1"]);
        assert!(show.lines().any(|l| l == "direction: inbound"), "{show}");
        assert!(!show.contains("call-back of"), "{show}");
    })
    .await;
}
