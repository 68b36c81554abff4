//! The post-call SMS through the outbox and the Twilio stand-in, on every engine: a retry never
//! texts twice. After a failure that proves Twilio took nothing (429) the text is simply sent
//! again; after one that may hide an accepted text (a lost answer, a timeout, a 500) the next
//! attempt asks Twilio first; a refusal (400) is given up.

use std::time::Duration;

use crate::common::databases::for_each_engine;
use sicha::clock;
use sicha::config::{PostCallSms, Secret};
use sicha::deliveries::{
    Deliverers, DeliveryOutcome, DeliveryReport, OutboxWorker, RetryPolicy, SmsAudience, SmsSender,
    enqueue_post_call_sms, post_call_sms_body,
};
use sicha::store::Store;
use sicha::twilio::rest::TwilioClient;
use sicha_sim::twilio_api::{LostAnswer, TwilioApiSim};
use tokio::sync::broadcast;

use super::{Running, fast_policy, interaction, next_report, options};

const CALLER: &str = "+972501234567";

/// A worker delivering SMS through `twilio`, each request allowed `timeout`.
fn sms_worker(
    store: &Store,
    twilio: &TwilioApiSim,
    policy: RetryPolicy,
    timeout: Duration,
) -> (Running, broadcast::Receiver<DeliveryReport>) {
    let client = TwilioClient::new(
        twilio.base_url(),
        twilio.account_sid().to_string(),
        Secret::new(twilio.auth_token()),
    )
    .with_request_timeout(timeout);
    let deliverers = Deliverers {
        crm: None,
        sms: Some(SmsSender::new(client)),
        callback: None,
    };
    let worker = OutboxWorker::new(store.clone(), deliverers, policy)
        .with_options(options(Duration::from_millis(20)));
    let reports = worker.subscribe();
    (Running::start(worker), reports)
}

/// Queues the caller's thank-you text for `call_sid`.
async fn queue_text(store: &Store, call_sid: &str) {
    let call = interaction(call_sid);
    let queued = enqueue_post_call_sms(store, PostCallSms::Caller, &call, None, clock::now_ms());
    assert!(queued.await.unwrap());
}

/// The methods of every request the stand-in got, in order.
fn methods(twilio: &TwilioApiSim) -> Vec<String> {
    twilio.requests().into_iter().map(|r| r.method).collect()
}

async fn next(reports: &mut broadcast::Receiver<DeliveryReport>) -> DeliveryReport {
    next_report(reports, |_| true).await
}

fn will_retry(report: &DeliveryReport) -> bool {
    matches!(report.outcome, DeliveryOutcome::WillRetry { .. })
}

#[tokio::test]
async fn post_call_sms_goes_through_twilio_after_a_rate_limit_without_a_lookup() {
    for_each_engine(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let twilio = TwilioApiSim::start().await.unwrap();
        twilio.fail_next(1, 429);
        let (running, mut reports) =
            sms_worker(&store, &twilio, fast_policy(), Duration::from_secs(2));
        queue_text(&store, "CA1003").await;

        let first = next(&mut reports).await;
        assert!(will_retry(&first), "{first:?}");
        let second = next(&mut reports).await;
        assert_eq!(second.outcome, DeliveryOutcome::Delivered);
        assert_eq!(
            (second.attempt, second.idempotency_key.as_str()),
            (2, "sms:CA1003:+972501234567")
        );
        let messages = twilio.messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(second.reference.as_deref(), Some(messages[0].sid.as_str()));
        assert_eq!(messages[0].to, CALLER);
        assert_eq!(messages[0].from, "+97231234567");
        let call = interaction("CA1003");
        assert_eq!(
            messages[0].body,
            post_call_sms_body(SmsAudience::Caller, &call)
        );
        assert!(
            messages[0].body.contains("מספרת רותי"),
            "{}",
            messages[0].body
        );
        // Twilio never processes a 429, so there was nothing to look for.
        assert_eq!(methods(&twilio), ["POST", "POST"]);
        running.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_text_whose_answer_was_lost_is_found_at_twilio_and_not_sent_again() {
    for_each_engine(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let twilio = TwilioApiSim::start().await.unwrap();
        twilio.accept_but_lose_answer(1, LostAnswer::Status(500));
        let (running, mut reports) =
            sms_worker(&store, &twilio, fast_policy(), Duration::from_secs(2));
        queue_text(&store, "CA1010").await;

        let first = next(&mut reports).await;
        assert!(will_retry(&first), "{first:?}");
        let second = next(&mut reports).await;
        assert_eq!(second.outcome, DeliveryOutcome::Delivered, "{second:?}");
        let messages = twilio.messages();
        assert_eq!(messages.len(), 1, "exactly one text at Twilio");
        assert_eq!(second.reference.as_deref(), Some(messages[0].sid.as_str()));
        assert_eq!(methods(&twilio), ["POST", "GET"], "looked, did not send");
        assert_eq!(store.pending_outbox_count().await.unwrap(), 0);
        running.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_text_that_timed_out_is_found_at_twilio_and_not_sent_again() {
    for_each_engine(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let twilio = TwilioApiSim::start().await.unwrap();
        twilio.accept_but_lose_answer(1, LostAnswer::Delay(Duration::from_secs(3)));
        let (running, mut reports) =
            sms_worker(&store, &twilio, fast_policy(), Duration::from_millis(200));
        queue_text(&store, "CA1011").await;

        let first = next(&mut reports).await;
        match &first.outcome {
            DeliveryOutcome::WillRetry { reason, .. } => {
                assert!(reason.contains("did not answer"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        let second = next(&mut reports).await;
        assert_eq!(second.outcome, DeliveryOutcome::Delivered, "{second:?}");
        assert_eq!(twilio.messages().len(), 1);
        assert_eq!(methods(&twilio), ["POST", "GET"]);
        running.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_text_abandoned_at_shutdown_is_found_by_the_next_process_and_not_sent_again() {
    for_each_engine(|url| async move {
        let twilio = TwilioApiSim::start().await.unwrap();
        // Twilio takes the text but has not answered when the first process stops.
        twilio.accept_but_lose_answer(1, LostAnswer::Delay(Duration::from_secs(5)));
        let short_lease = RetryPolicy {
            lease: Duration::from_millis(300),
            ..fast_policy()
        };
        let first_store = Store::connect(&url).await.unwrap();
        let (running, _) = sms_worker(
            &first_store,
            &twilio,
            short_lease.clone(),
            Duration::from_secs(10),
        );
        queue_text(&first_store, "CA1015").await;
        super::eventually("the first process has the text in flight", || {
            twilio.messages().len() == 1
        })
        .await;
        running.stop().await;
        first_store.close().await;

        let second_store = Store::connect(&url).await.unwrap();
        let (running, mut reports) =
            sms_worker(&second_store, &twilio, short_lease, Duration::from_secs(2));
        let report = next(&mut reports).await;
        assert_eq!(report.outcome, DeliveryOutcome::Delivered, "{report:?}");
        assert_eq!(report.attempt, 2, "the abandoned attempt counts");
        let messages = twilio.messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(report.reference.as_deref(), Some(messages[0].sid.as_str()));
        assert_eq!(methods(&twilio), ["POST", "GET"]);
        running.stop().await;
        second_store.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_text_twilio_never_took_is_sent_again_once_after_looking() {
    for_each_engine(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let twilio = TwilioApiSim::start().await.unwrap();
        // A 500 without taking the message: the client cannot tell this from a lost answer.
        twilio.fail_next(1, 500);
        // The same text from an earlier call yesterday is not this one.
        let body = post_call_sms_body(SmsAudience::Caller, &interaction("CA1012"));
        let old =
            twilio.add_sent_message(CALLER, "+97231234567", &body, Duration::from_secs(86_400));
        let (running, mut reports) =
            sms_worker(&store, &twilio, fast_policy(), Duration::from_secs(2));
        queue_text(&store, "CA1012").await;

        let first = next(&mut reports).await;
        assert!(will_retry(&first), "{first:?}");
        let second = next(&mut reports).await;
        assert_eq!(second.outcome, DeliveryOutcome::Delivered, "{second:?}");
        let messages = twilio.messages();
        assert_eq!(messages.len(), 2, "yesterday's and this one");
        assert_ne!(second.reference.as_deref(), Some(old.as_str()));
        assert_eq!(second.reference.as_deref(), Some(messages[1].sid.as_str()));
        assert_eq!(methods(&twilio), ["POST", "GET", "POST"]);
        // Several polls later, still nothing more.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(twilio.requests().len(), 3);
        running.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_failed_lookup_sends_nothing_until_twilio_can_answer() {
    for_each_engine(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let twilio = TwilioApiSim::start().await.unwrap();
        twilio.accept_but_lose_answer(1, LostAnswer::Status(502));
        // Slow enough retries to queue a failure for the lookup in between.
        let policy = RetryPolicy {
            base: Duration::from_millis(400),
            ..fast_policy()
        };
        let (running, mut reports) = sms_worker(&store, &twilio, policy, Duration::from_secs(2));
        queue_text(&store, "CA1013").await;

        let first = next(&mut reports).await;
        assert!(will_retry(&first), "{first:?}");
        twilio.fail_next(1, 503);
        let second = next(&mut reports).await;
        match &second.outcome {
            DeliveryOutcome::WillRetry { reason, .. } => {
                assert!(reason.contains("cannot tell"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        let third = next(&mut reports).await;
        assert_eq!(third.outcome, DeliveryOutcome::Delivered, "{third:?}");
        assert_eq!(twilio.messages().len(), 1);
        assert_eq!(methods(&twilio), ["POST", "GET", "GET"]);
        running.stop().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_text_twilio_refuses_is_given_up_after_one_attempt() {
    for_each_engine(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let twilio = TwilioApiSim::start().await.unwrap();
        // Two queued, so a wrongful retry would show up in the count.
        twilio.fail_next_with_error(2, 400, 21211, "Invalid 'To' Phone Number");
        let (running, mut reports) =
            sms_worker(&store, &twilio, fast_policy(), Duration::from_secs(2));
        queue_text(&store, "CA1014").await;

        let report = next(&mut reports).await;
        assert_eq!(report.attempt, 1);
        match &report.outcome {
            DeliveryOutcome::GaveUp { reason } => assert!(reason.contains("21211"), "{reason}"),
            other => panic!("a 400 must not be retried: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(methods(&twilio), ["POST"]);
        assert!(twilio.messages().is_empty());
        assert_eq!(store.pending_outbox_count().await.unwrap(), 0);
        running.stop().await;
        store.close().await;
    })
    .await;
}
