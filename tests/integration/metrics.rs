//! `/metrics`: never public on the listener Twilio (so the internet) reaches; on a listener of its
//! own, or behind a bearer token. And what the README promises to be there is there.

use crate::common;

use crate::common::databases::for_each_engine;
use common::spawn_app_with;

async fn status_of(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn metrics_are_not_public_on_the_main_listener() {
    for_each_engine(|db| async move {
        // Neither a token nor a listener of their own: as a server configured with neither.
        let without = [("SICHA_METRICS_TOKEN", "")];
        let app = spawn_app_with(&db, &without, common::echo_agent()).await;
        assert_eq!(status_of(app.http.get(app.url("/metrics"))).await, 404);
        assert_eq!(
            status_of(app.http.get(app.url("/metrics")).bearer_auth("anything")).await,
            404
        );
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn with_a_token_the_main_listener_serves_metrics_to_its_bearer_only() {
    for_each_engine(|db| async move {
        let token = "metrics-token-0123456789";
        let app =
            spawn_app_with(&db, &[("SICHA_METRICS_TOKEN", token)], common::echo_agent()).await;
        let metrics = app.url("/metrics");
        assert_eq!(status_of(app.http.get(&metrics)).await, 404);
        assert_eq!(
            status_of(app.http.get(&metrics).bearer_auth("not-the-token")).await,
            404
        );
        assert_eq!(
            status_of(app.http.get(&metrics).header("authorization", token)).await,
            404,
            "the token without the Bearer scheme"
        );
        let response = app
            .http
            .get(&metrics)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.text().await.unwrap().contains("sicha_live_calls"));
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_metrics_listener_of_its_own_serves_them_and_the_main_one_does_not() {
    for_each_engine(|db| async move {
        let own_listener = [
            ("SICHA_METRICS_BIND", "127.0.0.1:0"),
            ("SICHA_METRICS_TOKEN", ""),
        ];
        let app = spawn_app_with(&db, &own_listener, common::echo_agent()).await;
        let own = app.metrics_addr.expect("a metrics listener");
        assert_ne!(own, app.addr);
        let response = app
            .http
            .get(format!("http://{own}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.text().await.unwrap().contains("sicha_live_calls"));
        assert_eq!(
            status_of(app.http.get(format!("http://{own}/calls"))).await,
            404,
            "nothing else is served there"
        );
        assert_eq!(status_of(app.http.get(app.url("/metrics"))).await, 404);
        app.shutdown().await;
    })
    .await;
}

/// A call against the real binary in a process of its own: the metrics the README names for the
/// record writer are there afterwards (they were missing in a fresh process: the writer took its
/// handles before the metrics recorder existed).
#[tokio::test]
async fn a_fresh_server_shows_the_record_writer_metrics_after_a_call() {
    use common::served::ServedBinary;
    use common::{AUTH_TOKEN, BUSINESS_NUMBER, CALLER_NUMBER};
    use sicha_sim::twilio_caller::{MediaStreamClient, place_call, stream_target};

    for_each_engine(|db| async move {
        let store = sicha::store::Store::connect(&db).await.unwrap();
        store
            .create_business(
                &sicha::store::NewBusiness {
                    number: BUSINESS_NUMBER.to_string(),
                    name: "מספרה".to_string(),
                    greeting: "שלום".to_string(),
                    system_prompt: "עוזרת".to_string(),
                    voice: None,
                    transfer_to: None,
                    dtmf_map: None,
                    sms_policy: None,
                    preemptive_replies: None,
                    tools: None,
                    opening_hours: None,
                },
                sicha::clock::now_ms(),
            )
            .await
            .unwrap();
        let token = "metrics-token-of-the-binary";
        let server = ServedBinary::start(&db, &[("SICHA_METRICS_TOKEN", token)]).await;
        let http = reqwest::Client::new();
        let answer = place_call(
            &http,
            &server.base,
            Some(AUTH_TOKEN),
            "CA300",
            CALLER_NUMBER,
            BUSINESS_NUMBER,
        )
        .await
        .unwrap();
        let target = stream_target(&answer.twiml).unwrap();
        let mut stream = MediaStreamClient::connect(&target.url, Some(AUTH_TOKEN), "MZCA300")
            .await
            .unwrap();
        stream.send_connected().await.unwrap();
        stream
            .send_start("CA300", &target.parameters)
            .await
            .unwrap();
        stream.send_stop("CA300").await.unwrap();
        let mut ended = false;
        for _ in 0..200 {
            let call = store.call_by_sid("CA300").await.unwrap();
            if call.is_some_and(|c| c.ended_at_ms.is_some()) {
                ended = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert!(ended, "the call ended");
        let metrics = http
            .get(server.base.join("/metrics").unwrap())
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for name in [
            "sicha_records_queued",
            "sicha_record_batch_size",
            "sicha_record_commit_seconds",
            "sicha_records_failed_total",
        ] {
            assert!(metrics.contains(name), "{name} is missing:\n{metrics}");
        }
        server.stop().await;
        store.close().await;
    })
    .await;
}
