//! Calls: idempotent insert, lifecycle, listing, reconciliation after a crash.

use super::*;

/// A business, a customer of it, and a call of theirs (answered on instance `i-1`), stored.
async fn shop_customer_and_call(
    store: &Store,
    call_sid: &str,
) -> (Business, sicha::store::Customer, NewCall) {
    let shop = store
        .create_business(&new_business("+97231234567"), T0)
        .await
        .unwrap();
    let customer = store
        .find_or_create_customer(&shop.id, "+972541234567", T0)
        .await
        .unwrap();
    let mut call = new_call(call_sid, "i-1", Some(&shop), T0);
    call.customer_id = Some(customer.id.clone());
    assert!(store.insert_call(&call).await.unwrap());
    (shop, customer, call)
}

#[tokio::test]
async fn calls_are_recorded_once_and_finished_once() {
    for_each_store(|store| async move {
        let (shop, customer, call) = shop_customer_and_call(&store, "CA1").await;
        // Twilio retries the webhook: the same CallSid again is no error and changes nothing.
        let retry = NewCall {
            started_at_ms: T0 + 9,
            ..call.clone()
        };
        assert!(!store.insert_call(&retry).await.unwrap());

        let stored = store.call_by_sid("CA1").await.unwrap().unwrap();
        assert_eq!(stored.status, CallStatus::Answered);
        assert_eq!(stored.started_at_ms, T0);
        assert_eq!(
            (stored.customer_id.as_deref(), stored.business_id.as_deref()),
            (Some(customer.id.as_str()), Some(shop.id.as_str()))
        );
        assert_eq!(
            (
                stored.stream_started_at_ms,
                stored.ended_at_ms,
                stored.end_reason.as_deref()
            ),
            (None, None, None)
        );
        assert_eq!(store.call_by_sid("CA-none").await.unwrap(), None);

        assert!(store.mark_streaming("CA1", T0 + 800).await.unwrap());
        assert!(
            store.mark_streaming("CA1", T0 + 5000).await.unwrap(),
            "a reconnecting stream"
        );
        let streaming = store.call_by_sid("CA1").await.unwrap().unwrap();
        assert_eq!(
            (streaming.status, streaming.stream_started_at_ms),
            (CallStatus::Streaming, Some(T0 + 800))
        );

        assert!(
            store
                .finish_call("CA1", CallStatus::Completed, "caller_hung_up", T0 + 60_000)
                .await
                .unwrap()
        );
        assert!(
            !store
                .finish_call("CA1", CallStatus::Dropped, "socket_closed", T0 + 61_000)
                .await
                .unwrap()
        );
        assert!(
            !store.mark_streaming("CA1", T0 + 62_000).await.unwrap(),
            "an ended call stays ended"
        );
        let done = store.call_by_sid("CA1").await.unwrap().unwrap();
        assert_eq!(
            (done.status, done.end_reason.as_deref(), done.ended_at_ms),
            (
                CallStatus::Completed,
                Some("caller_hung_up"),
                Some(T0 + 60_000)
            )
        );
        assert!(
            !store
                .finish_call("CA-none", CallStatus::Completed, "x", T0)
                .await
                .unwrap()
        );

        assert!(
            store
                .record_twilio_status("CA1", "completed", Some(61))
                .await
                .unwrap()
        );
        assert!(
            store
                .record_twilio_status("CA1", "completed", None)
                .await
                .unwrap()
        );
        assert!(
            !store
                .record_twilio_status("CA-none", "completed", Some(1))
                .await
                .unwrap()
        );
        assert!(
            store
                .set_recording_path("CA1", "recordings/CA1.opus")
                .await
                .unwrap()
        );
        assert!(!store.set_recording_path("CA-none", "x").await.unwrap());
        let final_call = store.call_by_sid("CA1").await.unwrap().unwrap();
        assert_eq!(final_call.twilio_status.as_deref(), Some("completed"));
        assert_eq!(
            final_call.twilio_duration_secs,
            Some(61),
            "a callback without duration keeps the known one"
        );
        assert_eq!(
            final_call.recording_path.as_deref(),
            Some("recordings/CA1.opus")
        );
        assert_eq!(
            final_call.status,
            CallStatus::Completed,
            "Twilio's view is kept apart"
        );
    })
    .await;
}

#[tokio::test]
async fn calls_list_newest_first_with_filters() {
    for_each_store(|store| async move {
        let shop = store
            .create_business(&new_business("+97231234567"), T0)
            .await
            .unwrap();
        for (i, sid) in ["CA1", "CA2", "CA3"].iter().enumerate() {
            store
                .insert_call(&new_call(sid, "i-1", Some(&shop), T0 + i as i64))
                .await
                .unwrap();
        }
        store
            .insert_call(&new_call("CA-unknown", "i-1", None, T0 + 10))
            .await
            .unwrap();
        store
            .finish_call(
                "CA-unknown",
                CallStatus::Rejected,
                "unknown_number",
                T0 + 10,
            )
            .await
            .unwrap();

        let sids = |calls: Vec<sicha::store::Call>| {
            calls.into_iter().map(|c| c.call_sid).collect::<Vec<_>>()
        };
        let all = store.list_calls(&CallFilter::default()).await.unwrap();
        assert_eq!(sids(all), ["CA-unknown", "CA3", "CA2", "CA1"]);
        let of_shop = CallFilter {
            business_number: Some(shop.number.clone()),
            ..Default::default()
        };
        assert_eq!(
            sids(store.list_calls(&of_shop).await.unwrap()),
            ["CA3", "CA2", "CA1"]
        );
        let limited = CallFilter {
            limit: 2,
            ..of_shop.clone()
        };
        assert_eq!(
            sids(store.list_calls(&limited).await.unwrap()),
            ["CA3", "CA2"]
        );
        let rejected = CallFilter {
            status: Some(CallStatus::Rejected),
            ..Default::default()
        };
        assert_eq!(
            sids(store.list_calls(&rejected).await.unwrap()),
            ["CA-unknown"]
        );
        let none = CallFilter {
            status: Some(CallStatus::Rejected),
            ..of_shop
        };
        assert!(store.list_calls(&none).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn reconcile_closes_only_this_instances_open_calls() {
    for_each_store(|store| async move {
        let shop = store
            .create_business(&new_business("+97231234567"), T0)
            .await
            .unwrap();
        for (sid, instance) in [
            ("CA-a", "i-1"),
            ("CA-b", "i-1"),
            ("CA-c", "i-1"),
            ("CA-other", "i-2"),
        ] {
            store
                .insert_call(&new_call(sid, instance, Some(&shop), T0))
                .await
                .unwrap();
        }
        store.mark_streaming("CA-b", T0 + 1).await.unwrap();
        store
            .finish_call("CA-c", CallStatus::Completed, "caller_hung_up", T0 + 2)
            .await
            .unwrap();

        let open: Vec<String> = store
            .open_calls_of_instance("i-1")
            .await
            .unwrap()
            .into_iter()
            .map(|call| call.call_sid)
            .collect();
        assert_eq!(open, ["CA-a", "CA-b"]);
        for sid in &open {
            assert!(
                store
                    .end_interrupted_call(sid, T0 + 100, &[], None)
                    .await
                    .unwrap()
            );
        }
        for sid in ["CA-a", "CA-b"] {
            let call = store.call_by_sid(sid).await.unwrap().unwrap();
            assert_eq!(
                (call.status, call.ended_at_ms),
                (CallStatus::Interrupted, Some(T0 + 100)),
                "{sid}"
            );
            assert_eq!(call.end_reason.as_deref(), Some("server_restarted"));
            let ended: Vec<_> = store
                .events_for_call(sid)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.kind)
                .collect();
            assert_eq!(ended, ["call_ended"], "{sid}");
        }
        assert_eq!(
            store.call_by_sid("CA-c").await.unwrap().unwrap().status,
            CallStatus::Completed
        );
        let other = store.call_by_sid("CA-other").await.unwrap().unwrap();
        assert_eq!(
            (other.status, other.ended_at_ms),
            (CallStatus::Answered, None)
        );
        assert!(
            store
                .open_calls_of_instance("i-1")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            !store
                .end_interrupted_call("CA-a", T0 + 200, &[], None)
                .await
                .unwrap(),
            "an ended call is not ended again"
        );
    })
    .await;
}

#[tokio::test]
async fn of_two_racing_reconcilers_one_writes_the_end_and_its_records() {
    use sicha::store::{AfterCallRecords, NewDelivery};
    for_each_store(|store| async move {
        let (shop, customer, _) = shop_customer_and_call(&store, "CA-race").await;
        let records = AfterCallRecords {
            interaction: NewInteraction {
                business_id: shop.id.clone(),
                customer_id: customer.id.clone(),
                call_sid: "CA-race".into(),
                kind: "call".into(),
                direction: "inbound".into(),
                outcome: Some("interrupted".into()),
                transcript: "לקוח: שלום".into(),
                summary: None,
                recording_path: None,
                started_at_ms: T0,
                duration_ms: Some(100),
                now_ms: T0 + 100,
            },
            deliveries: vec![NewDelivery {
                kind: "crm_webhook".into(),
                idempotency_key: "crm:CA-race".into(),
                payload: json!({ "call_sid": "CA-race" }),
                due_at_ms: None,
            }],
        };
        let attempts =
            (0..4).map(|_| store.end_interrupted_call("CA-race", T0 + 100, &[], Some(&records)));
        let won = futures::future::join_all(attempts)
            .await
            .into_iter()
            .map(Result::unwrap)
            .filter(|won| *won)
            .count();
        assert_eq!(won, 1);
        let kinds: Vec<_> = store
            .events_for_call("CA-race")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["call_ended"]);
        let interactions = store.interactions_for_customer(&customer.id).await.unwrap();
        assert_eq!(interactions.len(), 1);
        assert_eq!(store.pending_outbox_count().await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_call_back_is_stored_as_an_outbound_call_naming_its_parent() {
    use sicha::store::CallDirection;
    use sicha::store::web_queries::CallQuery;
    for_each_store(|store| async move {
        let business = business_with_call(&store, "CA1").await;
        let inbound = store.call_by_sid("CA1").await.unwrap().unwrap();
        assert_eq!(inbound.direction, CallDirection::Inbound);
        assert_eq!(inbound.parent_call_sid, None);
        assert_eq!(inbound.customer_number(), "+972541234567");
        let back = NewCall {
            from_number: business.number.clone(),
            to_number: "+972541234567".into(),
            direction: CallDirection::Outbound,
            parent_call_sid: Some("CA1".into()),
            ..new_call("CA2", "i-1", Some(&business), T0 + 60_000)
        };
        assert!(store.insert_call(&back).await.unwrap());
        let read = store.call_by_sid("CA2").await.unwrap().unwrap();
        assert_eq!(read.direction, CallDirection::Outbound);
        assert_eq!(read.parent_call_sid.as_deref(), Some("CA1"));
        assert_eq!(read.customer_number(), "+972541234567");
        let listed = store.call_summaries(&CallQuery::default()).await.unwrap();
        let summary = listed.iter().find(|c| c.call_sid == "CA2").unwrap();
        assert_eq!(summary.direction, CallDirection::Outbound);
        assert_eq!(summary.parent_call_sid.as_deref(), Some("CA1"));
    })
    .await;
}
