//! `/metrics`: never public on the listener Twilio (so the internet) reaches; on a listener of its
//! own, or behind a bearer token. And what the README promises to be there is there.

use crate::common;

use common::{spawn_app, spawn_app_with};
use sicha::store::testing::for_each_engine;

async fn status_of(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn metrics_are_not_public_on_the_main_listener() {
    for_each_engine(|db| async move {
        let app = spawn_app(&db).await;
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
        let app = spawn_app_with(
            &db,
            &[("SICHA_METRICS_BIND", "127.0.0.1:0")],
            common::echo_agent(),
        )
        .await;
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
