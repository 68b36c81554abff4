//! The outbox worker end to end, on every engine: a local CRM receiver that fails, refuses, hangs
//! or is slow; a restart mid-delivery and two workers on one database are in [`restarts`]. SMS through the Twilio
//! stand-in, and how a retry keeps a text from going out twice, are in [`sms`]. Backoffs are
//! milliseconds so each test runs well under two seconds.

mod concurrency;
mod receiver;
mod restarts;
mod sms;

use std::time::{Duration, Instant};

use crate::common::databases::for_each_engine;
use receiver::{CrmReceiver, Reply};
use sicha::clock;
use sicha::deliveries::{
    CrmInteraction, Deliverers, DeliveryOutcome, DeliveryReport, OutboxWorker, RetryPolicy,
    TranscriptLine, WorkerOptions, enqueue_crm_webhook, enqueue_sms,
};
use sicha::store::Store;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Longest any single expectation may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(5);

fn interaction(call_sid: &str) -> CrmInteraction {
    CrmInteraction {
        business_number: "+97231234567".into(),
        business_name: "מספרת רותי".into(),
        customer_phone: "+972501234567".into(),
        call_sid: call_sid.into(),
        started_at_ms: 1_720_000_000_000,
        ended_at_ms: Some(1_720_000_095_000),
        duration_ms: Some(95_000),
        outcome: Some("completed".into()),
        transcript: vec![
            TranscriptLine {
                role: "agent".into(),
                text: "שלום, מספרת רותי, במה אפשר לעזור?".into(),
                heard_text: Some("שלום, מספרת רותי".into()),
                at_ms: 1_720_000_001_000,
            },
            TranscriptLine {
                role: "caller".into(),
                text: "אני רוצה לקבוע תור למחר".into(),
                heard_text: None,
                at_ms: 1_720_000_004_000,
            },
        ],
        summary: Some("תור לתספורת מחר בבוקר".into()),
        recording_path: Some("recordings/CA1.ogg".into()),
        tool_calls: Vec::new(),
    }
}

/// Milliseconds of backoff, and a lease long enough that nothing is redelivered by accident.
fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(10),
        max: Duration::from_millis(40),
        max_attempts: 5,
        lease: Duration::from_secs(10),
    }
}

fn options(poll_interval: Duration) -> WorkerOptions {
    WorkerOptions {
        poll_interval,
        in_flight: 4,
        in_flight_grace: Duration::ZERO,
    }
}

/// Stops the worker on drop too, so a failing assertion does not leave it running.
struct Running {
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Running {
    fn start(worker: OutboxWorker) -> Self {
        let shutdown = CancellationToken::new();
        let task = Some(worker.spawn(shutdown.clone()));
        Self { shutdown, task }
    }

    /// Stops the worker and says how long it took to end.
    async fn stop(mut self) -> Duration {
        let started = Instant::now();
        self.shutdown.cancel();
        let task = self.task.take().unwrap();
        tokio::time::timeout(PATIENCE, task)
            .await
            .expect("the worker stops")
            .expect("the worker does not panic");
        started.elapsed()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The next report for which `wanted` holds, failing the test after [`PATIENCE`].
async fn next_report(
    reports: &mut broadcast::Receiver<DeliveryReport>,
    wanted: impl Fn(&DeliveryReport) -> bool,
) -> DeliveryReport {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let report = reports.recv().await.expect("the worker is reporting");
            if wanted(&report) {
                return report;
            }
        }
    })
    .await
    .expect("the expected delivery report arrives in time")
}

async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn crm_webhook_is_retried_after_server_errors_with_the_same_key_and_payload() {
    for_each_engine(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let receiver = CrmReceiver::start(&[Reply::Status(500), Reply::Status(500)]).await;
        let deliverers = Deliverers {
            crm: Some(receiver.webhook()),
            sms: None,
            callback: None,
        };
        // A long poll: only the notify and the scheduled retries can make this test pass in time.
        let worker = OutboxWorker::new(store.clone(), deliverers, fast_policy())
            .with_options(options(Duration::from_secs(30)));
        let mut reports = worker.subscribe();
        let notifier = worker.notifier();
        let running = Running::start(worker);
        let call = interaction("CA1001");

        assert!(
            enqueue_crm_webhook(&store, &call, clock::now_ms())
                .await
                .unwrap()
        );
        notifier.notify();

        let mut outcomes = Vec::new();
        for _ in 0..3 {
            outcomes.push(next_report(&mut reports, |_| true).await);
        }
        assert!(
            matches!(outcomes[0].outcome, DeliveryOutcome::WillRetry { .. }),
            "{outcomes:?}"
        );
        assert!(
            matches!(outcomes[1].outcome, DeliveryOutcome::WillRetry { .. }),
            "{outcomes:?}"
        );
        assert_eq!(
            outcomes[2].outcome,
            DeliveryOutcome::Delivered,
            "{outcomes:?}"
        );
        assert_eq!(outcomes[2].attempt, 3);
        let received = receiver.received();
        assert_eq!(received.len(), 3);
        let expected = serde_json::to_value(&call).unwrap();
        for request in &received {
            assert_eq!(request.idempotency_key.as_deref(), Some("crm:CA1001"));
            assert_eq!(request.content_type.as_deref(), Some("application/json"));
            assert_eq!(request.body, expected);
        }
        assert_eq!(
            received[0].body["transcript"][0]["heard_text"],
            "שלום, מספרת רותי"
        );
        assert_eq!(store.pending_outbox_count().await.unwrap(), 0);

        // Enqueueing the same call again is harmless: nothing new is queued or sent.
        assert!(
            !enqueue_crm_webhook(&store, &call, clock::now_ms())
                .await
                .unwrap()
        );
        notifier.notify();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(receiver.received().len(), 3);
        running.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn crm_webhook_refused_with_400_is_given_up_after_one_attempt() {
    // The process-wide recorder must exist before the worker counts anything.
    let metrics = sicha::telemetry::metrics_handle();
    for_each_engine(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let receiver = CrmReceiver::start(&[]).await;
        receiver.answer_otherwise(Reply::Status(400));
        let deliverers = Deliverers {
            crm: Some(receiver.webhook()),
            sms: None,
            callback: None,
        };
        let worker = OutboxWorker::new(store.clone(), deliverers, fast_policy())
            .with_options(options(Duration::from_millis(20)));
        let mut reports = worker.subscribe();
        let running = Running::start(worker);

        enqueue_crm_webhook(&store, &interaction("CA1002"), clock::now_ms())
            .await
            .unwrap();

        let report = next_report(&mut reports, |_| true).await;
        assert_eq!(report.attempt, 1);
        match &report.outcome {
            DeliveryOutcome::GaveUp { reason } => assert!(reason.contains("400"), "{reason}"),
            other => panic!("a 400 must not be retried: {other:?}"),
        }
        assert_eq!(store.pending_outbox_count().await.unwrap(), 0);
        // Several polls later, still the one request.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(receiver.received().len(), 1);
        running.stop().await;
        store.close().await;
    })
    .await;
    let rendered = metrics.render();
    assert!(
        rendered.contains(r#"sicha_outbox_deliveries_total{kind="crm_webhook",outcome="gave_up"}"#),
        "{rendered}"
    );
    assert!(rendered.contains("sicha_outbox_pending"), "{rendered}");
}

#[tokio::test]
async fn a_kind_without_a_deliverer_is_given_up_with_a_clear_error() {
    for_each_engine(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let worker = OutboxWorker::new(store.clone(), Deliverers::default(), fast_policy())
            .with_options(options(Duration::from_millis(20)));
        let mut reports = worker.subscribe();
        let running = Running::start(worker);

        let key = "sms:CA1004:+972501234567";
        enqueue_sms(
            &store,
            "+972501234567",
            "+97231234567",
            "תודה",
            key,
            clock::now_ms(),
        )
        .await
        .unwrap();

        let report = next_report(&mut reports, |_| true).await;
        match &report.outcome {
            DeliveryOutcome::GaveUp { reason } => {
                assert!(reason.contains("no sms deliverer"), "{reason}")
            }
            other => panic!("expected to give up: {other:?}"),
        }
        assert_eq!(store.pending_outbox_count().await.unwrap(), 0);
        running.stop().await;
        store.close().await;
    })
    .await;
}
