//! Stream tokens: a socket's `start` must carry this call's token, unexpired and unused.

use super::*;

/// Opens a signed socket and sends `start` for `call_sid` with the given parameters; returns what the
/// server does next.
async fn start_with(
    app: &common::TestApp,
    call_sid: &str,
    parameters: &[(String, String)],
) -> Option<Received> {
    let url = format!("ws://{}/twilio/stream", app.addr);
    let mut stream = MediaStreamClient::connect(&url, Some(AUTH_TOKEN), "MZmisuse")
        .await
        .unwrap();
    stream.send_connected().await.unwrap();
    stream.send_start(call_sid, parameters).await.unwrap();
    stream.send_audio(&silence(100)).await.ok();
    recv_until(&mut stream, |r| matches!(r, Received::Closed(_)), WAIT)
        .await
        .1
}

/// The stream token the voice webhook hands out for `call_sid`.
pub(super) async fn token_for(app: &common::TestApp, call_sid: &str) -> Vec<(String, String)> {
    stream_target(&app.voice_webhook(call_sid).await)
        .unwrap()
        .parameters
}

#[tokio::test]
async fn stream_tokens_must_be_present_for_this_call_unexpired_and_unused() {
    for_each_engine(|db| async move {
        let app = spawn_app(&db).await;
        app.add_business(BUSINESS_NUMBER).await;
        let policy = Some(Received::Closed(Some(1008)));

        let token_a = token_for(&app, "CA210").await;
        token_for(&app, "CA211").await;
        assert_eq!(
            start_with(&app, "CA210", &[]).await,
            policy,
            "missing token"
        );
        assert_eq!(
            start_with(&app, "CA211", &token_a).await,
            policy,
            "token of another call"
        );
        let forged = vec![("token".to_string(), "v1.forged.token".to_string())];
        assert_eq!(
            start_with(&app, "CA210", &forged).await,
            policy,
            "forged token"
        );
        // The right token works once...
        let mut first = MediaStreamClient::connect(
            &format!("ws://{}/twilio/stream", app.addr),
            Some(AUTH_TOKEN),
            "MZok",
        )
        .await
        .unwrap();
        first.send_start("CA210", &token_a).await.unwrap();
        app.wait_for_call("CA210", |c| c.status == CallStatus::Streaming)
            .await;
        // ...and never again.
        assert_eq!(
            start_with(&app, "CA210", &token_a).await,
            policy,
            "reused token"
        );
        assert!(
            app.event_kinds("CA211")
                .await
                .contains(&"stream_rejected".to_string())
        );

        // An upgrade without a valid signature never becomes a socket.
        let url = format!("ws://{}/twilio/stream", app.addr);
        assert!(MediaStreamClient::connect(&url, None, "MZx").await.is_err());
        assert!(
            MediaStreamClient::connect(&url, Some("wrong"), "MZx")
                .await
                .is_err()
        );
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn expired_stream_tokens_are_refused() {
    for_each_engine(|db| async move {
        let app = spawn_app_with(&db, &[("SICHA_STREAM_TOKEN_TTL_SECS", "0")], echo()).await;
        app.add_business(BUSINESS_NUMBER).await;
        let token = token_for(&app, "CA212").await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            start_with(&app, "CA212", &token).await,
            Some(Received::Closed(Some(1008)))
        );
        app.shutdown().await;
    })
    .await;
}
