//! Due rows are delivered side by side: a receiver that hangs (up to its timeout) holds back only
//! its own row, never another row that comes due meanwhile, to the same kind or another.

use std::time::{Duration, Instant};

use crate::common::databases::for_each_engine;
use sicha::clock;
use sicha::config::{PostCallSms, Secret};
use sicha::deliveries::{
    Deliverers, DeliveryOutcome, OutboxWorker, SmsSender, enqueue_crm_webhook,
    enqueue_post_call_sms,
};
use sicha::store::Store;
use sicha::twilio::rest::TwilioClient;
use sicha_sim::twilio_api::TwilioApiSim;

use super::receiver::{CrmReceiver, Reply};
use super::{Running, fast_policy, interaction, next_report, options};

/// How long the hanging receiver holds its row: the CRM webhook's timeout in these tests.
const HANG: Duration = Duration::from_secs(2);

#[tokio::test]
async fn a_hanging_receiver_does_not_hold_back_a_row_that_comes_due_meanwhile() {
    for_each_engine(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let crm = CrmReceiver::start(&[Reply::Hang]).await;
        let twilio = TwilioApiSim::start().await.unwrap();
        let sms = TwilioClient::new(
            twilio.base_url(),
            twilio.account_sid().to_string(),
            Secret::new(twilio.auth_token()),
        );
        let deliverers = Deliverers {
            crm: Some(crm.webhook()),
            sms: Some(SmsSender::new(sms)),
            callback: None,
        };
        let worker = OutboxWorker::new(store.clone(), deliverers, fast_policy())
            .with_options(options(Duration::from_millis(20)));
        let mut reports = worker.subscribe();
        let notifier = worker.notifier();
        let running = Running::start(worker);

        enqueue_crm_webhook(&store, &interaction("CA1101"), clock::now_ms())
            .await
            .unwrap();
        notifier.notify();
        super::eventually("the CRM receiver holds its request", || {
            crm.received().len() == 1
        })
        .await;

        // The hanging attempt is in flight; a text comes due now.
        let queued_at = Instant::now();
        let call = interaction("CA1102");
        enqueue_post_call_sms(&store, PostCallSms::Caller, &call, None, clock::now_ms())
            .await
            .unwrap();
        notifier.notify();
        let texted = next_report(&mut reports, |r| r.kind == "sms").await;
        let waited = queued_at.elapsed();
        assert_eq!(texted.outcome, DeliveryOutcome::Delivered);
        assert!(
            waited < HANG / 2,
            "the text waited {waited:?} behind the hanging receiver"
        );

        // And another CRM row, to the very receiver that hangs, is not held back either.
        crm.answer_otherwise(Reply::Status(200));
        let queued_at = Instant::now();
        enqueue_crm_webhook(&store, &interaction("CA1103"), clock::now_ms())
            .await
            .unwrap();
        notifier.notify();
        let second = next_report(&mut reports, |r| r.idempotency_key == "crm:CA1103").await;
        assert_eq!(second.outcome, DeliveryOutcome::Delivered);
        assert!(queued_at.elapsed() < HANG / 2, "{:?}", queued_at.elapsed());

        // The hanging one times out and is retried, as before.
        let first = next_report(&mut reports, |r| r.idempotency_key == "crm:CA1101").await;
        assert!(
            matches!(first.outcome, DeliveryOutcome::WillRetry { .. }),
            "{first:?}"
        );
        running.stop().await;
        store.close().await;
    })
    .await;
}
