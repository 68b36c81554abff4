//! The voice webhook, status callbacks, crash reconciliation and shutdown, against the real app on
//! port 0, on SQLite and (with SICHA_TEST_POSTGRES_URL) on PostgreSQL.

use crate::common;

use crate::common::databases::for_each_engine;
use common::{AUTH_TOKEN, BUSINESS_NUMBER, CALLER_NUMBER, spawn_app, spawn_app_with};
use sicha::call::session::AgentMode;
use sicha::startup::ServeOptions;
use sicha::store::{CallStatus, NewCall};
use sicha_sim::twilio_caller::{place_call, signed_post, stream_target, voice_webhook_form};

#[tokio::test]
async fn a_signed_call_to_a_known_number_gets_a_stream_and_a_committed_call_row() {
    for_each_engine(|db| async move {
        let app = spawn_app(&db).await;
        app.add_business(BUSINESS_NUMBER).await;
        let answer = place_call(
            &app.http,
            &app.base,
            Some(AUTH_TOKEN),
            "CA100",
            CALLER_NUMBER,
            BUSINESS_NUMBER,
        )
        .await
        .unwrap();
        assert_eq!(answer.status, 200);
        assert!(answer.twiml.len() < 4000);
        let target = stream_target(&answer.twiml).unwrap();
        assert_eq!(target.url, format!("ws://{}/twilio/stream", app.addr));
        assert!(answer.twiml.contains("statusCallback="), "{}", answer.twiml);
        assert_eq!(target.parameters.len(), 1);
        assert_eq!(target.parameters[0].0, "token");

        let call = app
            .store
            .call_by_sid("CA100")
            .await
            .unwrap()
            .expect("call row committed");
        assert_eq!(call.status, CallStatus::Answered);
        assert_eq!(call.from_number, CALLER_NUMBER);
        assert!(call.business_id.is_some() && call.customer_id.is_some());
        assert_eq!(call.instance_id, "test-instance");

        // Twilio retries a webhook it thinks failed: the same CallSid is answered again, not duplicated.
        let again = place_call(
            &app.http,
            &app.base,
            Some(AUTH_TOKEN),
            "CA100",
            CALLER_NUMBER,
            BUSINESS_NUMBER,
        )
        .await
        .unwrap();
        assert_eq!(again.status, 200);
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn unsigned_and_mis_signed_webhooks_are_refused_and_nothing_is_written() {
    for_each_engine(|db| async move {
        let app = spawn_app(&db).await;
        app.add_business(BUSINESS_NUMBER).await;
        let url = app.url("/twilio/voice");
        let form = voice_webhook_form("CA101", CALLER_NUMBER, BUSINESS_NUMBER);
        let unsigned = signed_post(&app.http, &url, None, &form).await.unwrap();
        assert_eq!(unsigned.status(), 403);
        let wrong_key = signed_post(&app.http, &url, Some("not-the-token"), &form)
            .await
            .unwrap();
        assert_eq!(wrong_key.status(), 403);
        // Signed, then tampered with: the caller's number changed after signing.
        let signature = sicha::twilio::signature::compute(AUTH_TOKEN, &url, &form);
        let mut tampered = form.clone();
        tampered.iter_mut().find(|(k, _)| k == "From").unwrap().1 = "+972500000000".into();
        let response = app
            .http
            .post(&url)
            .header("X-Twilio-Signature", signature)
            .form(&tampered)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        assert!(
            app.store.call_by_sid("CA101").await.unwrap().is_none(),
            "nothing written for refused requests"
        );
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn without_an_auth_token_twilio_routes_need_the_development_flag() {
    for_each_engine(|db| async move {
        let strict = spawn_app_with(&db, &[("TWILIO_AUTH_TOKEN", "")], common::echo_agent()).await;
        strict.add_business(BUSINESS_NUMBER).await;
        let answer = place_call(
            &strict.http,
            &strict.base,
            None,
            "CA102",
            CALLER_NUMBER,
            BUSINESS_NUMBER,
        )
        .await
        .unwrap();
        assert_eq!(answer.status, 403);
        let database = strict.database_url.clone();
        strict.shutdown().await;

        let open = spawn_app_with(
            &database,
            &[("TWILIO_AUTH_TOKEN", "")],
            ServeOptions {
                allow_unsigned: true,
                agent: AgentMode::Echo,
            },
        )
        .await;
        let answer = place_call(
            &open.http,
            &open.base,
            None,
            "CA103",
            CALLER_NUMBER,
            BUSINESS_NUMBER,
        )
        .await
        .unwrap();
        assert_eq!(answer.status, 200);
        assert!(stream_target(&answer.twiml).is_ok());
        open.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn an_unknown_number_hears_hebrew_and_a_hang_up_and_the_call_is_recorded() {
    for_each_engine(|db| async move {
        let app = spawn_app(&db).await;
        let answer = place_call(
            &app.http,
            &app.base,
            Some(AUTH_TOKEN),
            "CA104",
            CALLER_NUMBER,
            "+97239999999",
        )
        .await
        .unwrap();
        assert_eq!(answer.status, 200);
        assert!(
            answer.twiml.contains(r#"language="he-IL""#),
            "{}",
            answer.twiml
        );
        assert!(answer.twiml.contains("<Hangup/>"), "{}", answer.twiml);
        assert!(
            answer
                .twiml
                .contains(sicha::http::voice::UNKNOWN_NUMBER_MESSAGE)
        );
        let call = app
            .store
            .call_by_sid("CA104")
            .await
            .unwrap()
            .expect("rejected calls are recorded");
        assert_eq!(call.status, CallStatus::Rejected);
        assert_eq!(call.end_reason.as_deref(), Some("unknown_number"));
        assert!(call.ended_at_ms.is_some());
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn callers_beyond_capacity_hear_a_busy_message() {
    for_each_engine(|db| async move {
        let app = spawn_app_with(&db, &[("SICHA_MAX_CALLS", "0")], common::echo_agent()).await;
        app.add_business(BUSINESS_NUMBER).await;
        let answer = place_call(
            &app.http,
            &app.base,
            Some(AUTH_TOKEN),
            "CA105",
            CALLER_NUMBER,
            BUSINESS_NUMBER,
        )
        .await
        .unwrap();
        assert!(
            answer.twiml.contains(sicha::http::voice::BUSY_MESSAGE),
            "{}",
            answer.twiml
        );
        let call = app.store.call_by_sid("CA105").await.unwrap().unwrap();
        assert_eq!(call.end_reason.as_deref(), Some("at_capacity"));
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn status_callbacks_record_twilios_view_and_finalise_calls_without_a_stream() {
    for_each_engine(|db| async move {
        let app = spawn_app(&db).await;
        app.add_business(BUSINESS_NUMBER).await;
        place_call(
            &app.http,
            &app.base,
            Some(AUTH_TOKEN),
            "CA106",
            CALLER_NUMBER,
            BUSINESS_NUMBER,
        )
        .await
        .unwrap();
        let form: Vec<(String, String)> = [
            ("CallSid", "CA106"),
            ("CallStatus", "completed"),
            ("CallDuration", "42"),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
        let unsigned = signed_post(&app.http, &app.url("/twilio/status"), None, &form)
            .await
            .unwrap();
        assert_eq!(unsigned.status(), 403);
        let response = signed_post(
            &app.http,
            &app.url("/twilio/status"),
            Some(AUTH_TOKEN),
            &form,
        )
        .await
        .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        let call = app.store.call_by_sid("CA106").await.unwrap().unwrap();
        assert_eq!(call.twilio_status.as_deref(), Some("completed"));
        assert_eq!(call.twilio_duration_secs, Some(42));
        assert_eq!(call.status, CallStatus::Completed);
        assert_eq!(call.end_reason.as_deref(), Some("twilio_completed"));

        let stream_event: Vec<(String, String)> = [
            ("CallSid", "CA106"),
            ("StreamSid", "MZ1"),
            ("StreamEvent", "stream-error"),
            ("StreamError", "boom"),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
        let response = signed_post(
            &app.http,
            &app.url("/twilio/stream-status"),
            Some(AUTH_TOKEN),
            &stream_event,
        )
        .await
        .unwrap();
        assert!(response.status().is_success());
        assert!(
            app.event_kinds("CA106")
                .await
                .contains(&"twilio_stream_status".to_string())
        );
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn calls_left_open_by_a_crash_are_marked_interrupted_on_start_but_other_instances_calls_are_not()
 {
    for_each_engine(|db| async move {
        let store = sicha::store::Store::connect(&db).await.unwrap();
        for (sid, instance) in [("CA107", "test-instance"), ("CA108", "another-instance")] {
            store
                .insert_call(&NewCall {
                    call_sid: sid.into(),
                    business_id: None,
                    customer_id: None,
                    from_number: CALLER_NUMBER.into(),
                    to_number: BUSINESS_NUMBER.into(),
                    instance_id: instance.into(),
                    status: CallStatus::Streaming,
                    started_at_ms: 1,
                    direction: Default::default(),
                    parent_call_sid: None,
                })
                .await
                .unwrap();
        }
        drop(store);
        let app = spawn_app(&db).await;
        assert_eq!(
            app.store
                .call_by_sid("CA107")
                .await
                .unwrap()
                .unwrap()
                .status,
            CallStatus::Interrupted
        );
        assert_eq!(
            app.store
                .call_by_sid("CA108")
                .await
                .unwrap()
                .unwrap()
                .status,
            CallStatus::Streaming
        );
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    for_each_engine(|db| async move {
        let app = spawn_app(&db).await;
        assert_eq!(
            app.http
                .get(app.url("/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        assert_eq!(
            app.http
                .get(app.url("/readyz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        app.add_business(BUSINESS_NUMBER).await;
        place_call(
            &app.http,
            &app.base,
            Some(AUTH_TOKEN),
            "CA109",
            CALLER_NUMBER,
            BUSINESS_NUMBER,
        )
        .await
        .unwrap();
        let metrics = app.scrape_metrics().await;
        assert!(metrics.contains("sicha_webhook_seconds"), "{metrics}");
        assert!(metrics.contains("sicha_live_calls"), "{metrics}");
        app.shutdown().await;
    })
    .await;
}
