//! Workers that come and go: a delivery abandoned at shutdown is finished by the next worker, and
//! two workers on one database never deliver an item twice.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::common::databases::for_each_engine;
use sicha::clock;
use sicha::deliveries::{
    Deliverers, DeliveryOutcome, OutboxWorker, RetryPolicy, enqueue_crm_webhook,
};
use sicha::store::Store;

use super::receiver::{CrmReceiver, Reply};
use super::{PATIENCE, Running, eventually, fast_policy, interaction, next_report, options};

#[tokio::test]
async fn a_delivery_abandoned_at_shutdown_is_delivered_by_the_next_worker() {
    for_each_engine(|url| async move {
        let receiver = CrmReceiver::start(&[Reply::Hang]).await;
        let short_lease = RetryPolicy {
            lease: Duration::from_millis(300),
            ..fast_policy()
        };
        let first_store = Store::connect(&url).await.unwrap();
        let deliverers = Deliverers {
            crm: Some(receiver.webhook()),
            sms: None,
            callback: None,
        };
        let first = OutboxWorker::new(first_store.clone(), deliverers.clone(), short_lease.clone())
            .with_options(options(Duration::from_millis(20)));
        let running = Running::start(first);
        enqueue_crm_webhook(&first_store, &interaction("CA1005"), clock::now_ms())
            .await
            .unwrap();
        eventually("the first worker has the request in flight", || {
            receiver.received().len() == 1
        })
        .await;

        let stopping = running.stop().await;
        assert!(
            stopping < Duration::from_millis(500),
            "shutdown waited {stopping:?}"
        );
        first_store.close().await;
        assert_eq!(receiver.received().len(), 1);

        // A new process: its own connection to the same database.
        let second_store = Store::connect(&url).await.unwrap();
        assert_eq!(second_store.pending_outbox_count().await.unwrap(), 1);
        let second = OutboxWorker::new(second_store.clone(), deliverers, short_lease)
            .with_options(options(Duration::from_millis(20)));
        let mut reports = second.subscribe();
        let running = Running::start(second);

        let report = next_report(&mut reports, |_| true).await;
        assert_eq!(report.outcome, DeliveryOutcome::Delivered);
        assert_eq!(report.attempt, 2, "the abandoned attempt counts");
        let keys: Vec<_> = receiver
            .received()
            .into_iter()
            .map(|r| r.idempotency_key)
            .collect();
        assert_eq!(keys, vec![Some("crm:CA1005".to_string()); 2]);
        assert_eq!(second_store.pending_outbox_count().await.unwrap(), 0);
        running.stop().await;
        second_store.close().await;
    })
    .await;
}

#[tokio::test]
async fn two_workers_on_one_database_never_deliver_an_item_twice() {
    const ITEMS: usize = 12;
    for_each_engine(|url| async move {
        let receiver = CrmReceiver::start(&[]).await;
        receiver.answer_otherwise(Reply::SlowOk(Duration::from_millis(30)));
        let deliverers = Deliverers {
            crm: Some(receiver.webhook()),
            sms: None,
            callback: None,
        };
        let mut stores = Vec::new();
        let mut reports = Vec::new();
        let mut notifiers = Vec::new();
        let mut workers = Vec::new();
        for _ in 0..2 {
            let store = Store::connect(&url).await.unwrap();
            let worker = OutboxWorker::new(store.clone(), deliverers.clone(), fast_policy())
                .with_options(options(Duration::from_millis(10)));
            reports.push(worker.subscribe());
            notifiers.push(worker.notifier());
            workers.push(Running::start(worker));
            stores.push(store);
        }

        let now = clock::now_ms();
        for n in 0..ITEMS {
            let call = interaction(&format!("CA2{n:03}"));
            assert!(
                enqueue_crm_webhook(&stores[n % 2], &call, now)
                    .await
                    .unwrap()
            );
        }
        notifiers.iter().for_each(|notifier| notifier.notify());

        eventually("every item reached the receiver", || {
            receiver.received().len() >= ITEMS
        })
        .await;
        let deadline = Instant::now() + PATIENCE;
        while stores[0].pending_outbox_count().await.unwrap() > 0 {
            assert!(Instant::now() < deadline, "items still pending");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Long enough for a duplicate claim to show up at the receiver.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let keys: Vec<_> = receiver
            .received()
            .into_iter()
            .filter_map(|r| r.idempotency_key)
            .collect();
        let distinct: HashSet<_> = keys.iter().collect();
        assert_eq!((keys.len(), distinct.len()), (ITEMS, ITEMS), "{keys:?}");
        let mut delivered_by = [0usize; 2];
        for (worker, receiver) in reports.iter_mut().enumerate() {
            while let Ok(report) = receiver.try_recv() {
                assert_eq!(report.outcome, DeliveryOutcome::Delivered, "{report:?}");
                delivered_by[worker] += 1;
            }
        }
        assert_eq!(
            delivered_by.iter().sum::<usize>(),
            ITEMS,
            "{delivered_by:?}"
        );
        for running in workers {
            running.stop().await;
        }
        for store in stores {
            store.close().await;
        }
    })
    .await;
}
