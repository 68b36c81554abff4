//! The outbox: enqueue, claim with a lease, retry, give up, concurrent claimers.

use super::*;

#[tokio::test]
async fn outbox_claims_lease_retries_and_gives_up() {
    for_each_store(|store| async move {
        let payload = json!({"to": "+972541234567", "body": "התור נקבע"});
        assert!(store.enqueue("sms", "sms:CA1", &payload, T0).await.unwrap());
        assert!(
            !store
                .enqueue("sms", "sms:CA1", &json!({}), T0)
                .await
                .unwrap(),
            "the key is already queued"
        );
        assert!(
            store
                .enqueue("crm", "crm:CA1", &json!({"n": 1}), T0 + 1)
                .await
                .unwrap()
        );
        assert_eq!(store.pending_outbox_count().await.unwrap(), 2);
        assert!(
            store.claim_due(T0 - 1, 10, 1000).await.unwrap().is_empty(),
            "nothing is due before it was queued"
        );

        let claimed = store.claim_due(T0 + 5, 1, 1000).await.unwrap();
        assert_eq!(claimed.len(), 1, "the limit holds");
        let sms = &claimed[0];
        assert_eq!(
            (sms.kind.as_str(), sms.idempotency_key.as_str()),
            ("sms", "sms:CA1")
        );
        assert_eq!(
            (sms.payload.clone(), sms.attempts, sms.next_attempt_at_ms),
            (payload, 1, T0 + 1005)
        );

        // Within the lease the claimed row is nobody else's; the other one still is.
        let second = store.claim_due(T0 + 6, 10, 1000).await.unwrap();
        assert_eq!(
            second.iter().map(|i| i.kind.as_str()).collect::<Vec<_>>(),
            ["crm"]
        );
        assert!(store.claim_due(T0 + 7, 10, 1000).await.unwrap().is_empty());

        // A worker that died: the lease runs out and the row comes back, one attempt more.
        let reclaimed = store.claim_due(T0 + 1005, 10, 1000).await.unwrap();
        assert_eq!(
            reclaimed
                .iter()
                .map(|i| (i.id.as_str(), i.attempts))
                .collect::<Vec<_>>(),
            [(sms.id.as_str(), 2)]
        );

        assert!(
            store
                .mark_failed(&sms.id, "HTTP 503", T0 + 5000)
                .await
                .unwrap()
        );
        assert!(
            store
                .claim_due(T0 + 4999, 10, 1000)
                .await
                .unwrap()
                .iter()
                .all(|i| i.id != sms.id)
        );
        let retried = store.claim_due(T0 + 5000, 10, 1000).await.unwrap();
        let retried = retried
            .iter()
            .find(|i| i.id == sms.id)
            .expect("due again after the retry time");
        assert_eq!(
            (retried.attempts, retried.last_error.as_deref()),
            (3, Some("HTTP 503"))
        );

        assert!(
            store
                .give_up(&sms.id, "HTTP 503 three times")
                .await
                .unwrap()
        );
        assert!(
            store
                .mark_delivered(&second[0].id, T0 + 6000)
                .await
                .unwrap()
        );
        assert!(
            !store
                .mark_delivered(&second[0].id, T0 + 6001)
                .await
                .unwrap(),
            "only pending rows change"
        );
        assert!(!store.mark_failed(&sms.id, "late", T0).await.unwrap());
        assert!(
            store
                .claim_due(T0 + 100_000, 10, 1000)
                .await
                .unwrap()
                .is_empty(),
            "delivered and dead rows stay put"
        );
        assert_eq!(store.pending_outbox_count().await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn outbox_concurrent_claimers_never_share_a_row() {
    for_each_store(|store| async move {
        // Several rounds, because a lost race shows only under some interleavings.
        for round in 0..6 {
            for i in 0..20 {
                store
                    .enqueue("crm", &format!("crm:{round}:{i}"), &json!({ "i": i }), T0)
                    .await
                    .unwrap();
            }
            // A lease longer than the test: rows claimed in one round never come back.
            let lease = 1_000_000_000;
            let (a, b, c) = tokio::join!(
                store.claim_due(T0, 8, lease),
                store.claim_due(T0, 8, lease),
                store.claim_due(T0, 8, lease)
            );
            let claims: Vec<String> = [a.unwrap(), b.unwrap(), c.unwrap()]
                .into_iter()
                .flatten()
                .map(|i| i.id)
                .collect();
            let distinct: HashSet<&String> = claims.iter().collect();
            assert_eq!(
                distinct.len(),
                claims.len(),
                "a row was claimed twice in round {round}"
            );
            // Whatever the racing claimers left is still claimable.
            let rest = store.claim_due(T0, 20, lease).await.unwrap();
            assert_eq!(claims.len() + rest.len(), 20, "round {round}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_delivery_awaiting_its_result_is_settled_once_by_the_attempt_it_names() {
    for_each_store(|store| async move {
        let row = sicha::store::NewDelivery {
            kind: "callback".into(),
            idempotency_key: "callback:CA1".into(),
            payload: json!({"customer_phone": "+972501234567"}),
            due_at_ms: Some(T0 + 60_000),
        };
        assert!(store.enqueue_delivery(&row, T0).await.unwrap());
        assert!(
            store.claim_due(T0 + 1, 10, 1000).await.unwrap().is_empty(),
            "due when it says, not when queued"
        );
        let claimed = store.claim_due(T0 + 60_000, 10, 1000).await.unwrap();
        let item = &claimed[0];

        // Not its time after all: deferred, the claim uncounted.
        assert!(store.defer(item, "closed", T0 + 90_000).await.unwrap());
        let entry = store.delivery_by_id(&item.id).await.unwrap().unwrap();
        assert_eq!(
            (entry.item.attempts, entry.item.next_attempt_at_ms),
            (0, T0 + 90_000)
        );
        assert_eq!(entry.item.last_error.as_deref(), Some("closed"));

        // Attempt 1 is handed over; its result is awaited.
        let item = store.claim_due(T0 + 90_000, 10, 1000).await.unwrap()[0].clone();
        assert_eq!(item.attempts, 1);
        let until = T0 + 900_000;
        assert!(
            store
                .await_outcome(&item, "attempt 1: CA9", until)
                .await
                .unwrap()
        );
        assert!(
            !store.await_outcome(&item, "again", until).await.unwrap(),
            "no longer as claimed"
        );
        assert!(
            store
                .claim_due(T0 + 100_000, 10, 1000)
                .await
                .unwrap()
                .is_empty()
        );

        // Its result: not answered. A repeat of the same report, or one about another attempt,
        // changes nothing.
        let reason = "attempt 1: no-answer";
        assert!(
            !store
                .retry_attempt(&item.id, 2, reason, T0 + 1)
                .await
                .unwrap()
        );
        assert!(
            store
                .retry_attempt(&item.id, 1, reason, T0 + 120_000)
                .await
                .unwrap()
        );
        assert!(
            !store
                .retry_attempt(&item.id, 1, reason, T0 + 5)
                .await
                .unwrap()
        );
        let entry = store.delivery_by_id(&item.id).await.unwrap().unwrap();
        assert_eq!(entry.item.next_attempt_at_ms, T0 + 120_000);

        // Attempt 2, the last: given up, kept with why; a late report of attempt 1 cannot revive it.
        let item = store.claim_due(T0 + 120_000, 10, 1000).await.unwrap()[0].clone();
        assert!(!store.give_up_attempt(&item.id, 1, "late").await.unwrap());
        assert!(
            store
                .give_up_attempt(&item.id, 2, "no answer twice")
                .await
                .unwrap()
        );
        assert!(!store.retry_attempt(&item.id, 2, "x", T0).await.unwrap());
        let listed = store
            .deliveries_of_kind("callback", false, 10)
            .await
            .unwrap();
        assert!(listed.is_empty(), "nothing pending: {listed:?}");
        let all = store
            .deliveries_of_kind("callback", true, 10)
            .await
            .unwrap();
        assert_eq!(
            (all[0].status.as_str(), all[0].item.last_error.as_deref()),
            ("dead", Some("no answer twice"))
        );
        let by_key = store
            .delivery_by_key("callback:CA1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_key.item.id, item.id);
    })
    .await;
}
