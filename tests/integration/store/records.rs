//! What a call leaves behind: events, stream tokens, turns, interactions.

use super::*;

#[tokio::test]
async fn events_keep_detail_and_order_by_time_then_insertion() {
    for_each_store(|store| async move {
        business_with_call(&store, "CA1").await;
        assert_eq!(
            store
                .insert_event(
                    "CA1",
                    "stream_started",
                    Some(&json!({"stream_sid": "MZ1"})),
                    T0 + 10
                )
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .insert_event(
                    "CA1",
                    "barge_in",
                    Some(&json!({"cleared": ["m1", "m2"]})),
                    T0 + 30
                )
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            store
                .insert_event("CA1", "dtmf", None, T0 + 20)
                .await
                .unwrap(),
            3
        );
        assert_eq!(
            store
                .insert_event("CA1", "loop", None, T0 + 20)
                .await
                .unwrap(),
            4
        );

        let events = store.events_for_call("CA1").await.unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["stream_started", "dtmf", "loop", "barge_in"]);
        assert_eq!(events[0].detail, Some(json!({"stream_sid": "MZ1"})));
        assert_eq!(events[1].detail, None);
        assert_eq!(events[3].detail, Some(json!({"cleared": ["m1", "m2"]})));
        assert!(store.events_for_call("CA-none").await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn events_written_concurrently_all_land_with_distinct_seqs() {
    for_each_store(|store| async move {
        business_with_call(&store, "CA1").await;
        let writes = (0..12).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .insert_event("CA1", "tick", Some(&json!({ "i": i })), T0)
                    .await
            })
        });
        let seqs: HashSet<i64> = futures::future::join_all(writes)
            .await
            .into_iter()
            .map(|r| r.unwrap().unwrap())
            .collect();
        assert_eq!(seqs, (1..=12).collect());
        assert_eq!(store.events_for_call("CA1").await.unwrap().len(), 12);
    })
    .await;
}

#[tokio::test]
async fn stream_tokens_are_single_use_even_when_raced() {
    for_each_store(|store| async move {
        assert!(
            store
                .consume_stream_token("nonce-1", "CA1", T0)
                .await
                .unwrap()
        );
        assert!(
            !store
                .consume_stream_token("nonce-1", "CA1", T0 + 1)
                .await
                .unwrap()
        );

        let (a, b, c) = tokio::join!(
            store.consume_stream_token("nonce-2", "CA2", T0),
            store.consume_stream_token("nonce-2", "CA2", T0),
            store.consume_stream_token("nonce-2", "CA2", T0),
        );
        let winners = [a.unwrap(), b.unwrap(), c.unwrap()]
            .into_iter()
            .filter(|won| *won)
            .count();
        assert_eq!(winners, 1);

        store
            .consume_stream_token("nonce-3", "CA3", T0 + 1000)
            .await
            .unwrap();
        assert_eq!(store.prune_stream_tokens(T0 + 500).await.unwrap(), 2);
        assert!(
            !store
                .consume_stream_token("nonce-3", "CA3", T0 + 2000)
                .await
                .unwrap(),
            "recent nonces are kept"
        );
        assert!(
            store
                .consume_stream_token("nonce-1", "CA1", T0 + 2000)
                .await
                .unwrap(),
            "pruned nonces are forgotten"
        );
    })
    .await;
}

#[tokio::test]
async fn turns_are_stored_once_and_read_in_order() {
    for_each_store(|store| async move {
        business_with_call(&store, "CA1").await;
        let caller = NewTurn {
            role: "caller".into(),
            text: "אני רוצה לקבוע תור".into(),
            heard_text: None,
            interrupted: false,
            stt_ms: Some(240),
            endpoint_ms: Some(600),
            llm_ttft_ms: None,
            llm_first_sentence_ms: None,
            tts_ttfb_ms: None,
            v2v_ms: None,
            ..agent_turn("CA1", 1)
        };
        let agent = agent_turn("CA1", 2);
        assert!(store.insert_turn(&agent).await.unwrap());
        assert!(store.insert_turn(&caller).await.unwrap());
        assert!(
            !store.insert_turn(&agent).await.unwrap(),
            "the same (call, seq) again is ignored"
        );
        assert_eq!(
            store.turns_for_call("CA1").await.unwrap(),
            vec![caller, agent]
        );
        assert!(store.turns_for_call("CA-none").await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn interactions_one_per_call_listed_per_customer() {
    for_each_store(|store| async move {
        let shop = business_with_call(&store, "CA1").await;
        store
            .insert_call(&new_call("CA2", "i-1", Some(&shop), T0 + 1))
            .await
            .unwrap();
        let customer = store
            .find_or_create_customer(&shop.id, "+972541234567", T0)
            .await
            .unwrap();
        let record = |call_sid: &str, started_at_ms: i64| NewInteraction {
            business_id: shop.id.clone(),
            customer_id: customer.id.clone(),
            call_sid: call_sid.to_string(),
            kind: "call".into(),
            direction: "inbound".into(),
            outcome: Some("booked".into()),
            transcript: "לקוחה: שלום\nסוכנת: שלום".into(),
            summary: None,
            recording_path: None,
            started_at_ms,
            duration_ms: Some(42_000),
            now_ms: started_at_ms + 42_000,
        };
        assert!(store.insert_interaction(&record("CA1", T0)).await.unwrap());
        assert!(
            !store.insert_interaction(&record("CA1", T0)).await.unwrap(),
            "one per call"
        );
        assert!(
            store
                .insert_interaction(&record("CA2", T0 + 1))
                .await
                .unwrap()
        );

        let listed = store.interactions_for_customer(&customer.id).await.unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|i| i.call_sid.as_deref().unwrap())
                .collect::<Vec<_>>(),
            ["CA2", "CA1"]
        );
        assert_eq!(listed[1].transcript, "לקוחה: שלום\nסוכנת: שלום");
        assert_eq!(
            (listed[1].outcome.as_deref(), listed[1].duration_ms),
            (Some("booked"), Some(42_000))
        );
        assert!(
            store
                .interactions_for_customer("nope")
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}
