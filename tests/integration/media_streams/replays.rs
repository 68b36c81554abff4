//! Replays: a signed voice webhook carries no nonce, so anyone who captured one can send it again.
//! A replay must never hand a call to another stream, reopen a finished call, or touch its records.

use super::*;

/// The voice webhook for `call_sid`, signed as Twilio signs it: what a replayer sends.
async fn replay_webhook(app: &common::TestApp, call_sid: &str) -> String {
    app.voice_webhook(call_sid).await
}

/// A stream opened with `parameters` in its `start`.
async fn open_stream(
    app: &common::TestApp,
    call_sid: &str,
    parameters: &[(String, String)],
) -> MediaStreamClient {
    let url = format!("ws://{}/twilio/stream", app.addr);
    let mut stream = MediaStreamClient::connect(&url, Some(AUTH_TOKEN), &format!("MZ{call_sid}"))
        .await
        .unwrap();
    stream.send_connected().await.unwrap();
    stream.send_start(call_sid, parameters).await.unwrap();
    stream
}

fn assert_hangs_up_without_a_stream(twiml: &str) {
    assert!(
        stream_target(twiml).is_err(),
        "a replay got a stream: {twiml}"
    );
    assert!(twiml.contains("<Hangup"), "{twiml}");
}

#[tokio::test]
async fn a_replayed_webhook_never_hands_a_live_call_to_another_stream() {
    for_each_engine(|db| async move {
        let app = spawn_app(&db).await;
        app.add_business(BUSINESS_NUMBER).await;
        let mut stream = app.connect_call("CA290").await;
        app.wait_for_call("CA290", |c| c.status == CallStatus::Streaming)
            .await;

        assert_hangs_up_without_a_stream(&replay_webhook(&app, "CA290").await);

        stream
            .send_audio(&utterance("single/u01_hours.wav"))
            .await
            .unwrap();
        let (_, mark) = recv_until(&mut stream, is_mark, WAIT).await;
        assert!(
            matches!(mark, Some(Received::Message(_))),
            "the real stream still carries the call: {mark:?}"
        );
        stream.send_stop("CA290").await.unwrap();
        let call = app
            .wait_for_call("CA290", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(call.status, CallStatus::Completed);
        let kinds = app.event_kinds("CA290").await;
        assert!(!kinds.contains(&"stream_resumed".to_string()), "{kinds:?}");
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_replayed_webhook_for_a_finished_call_hangs_up_and_writes_nothing() {
    for_each_engine(|db| async move {
        let app = spawn_app(&db).await;
        app.add_business(BUSINESS_NUMBER).await;
        let mut stream = app.connect_call("CA291").await;
        stream.send_stop("CA291").await.unwrap();
        let before = app
            .wait_for_call("CA291", |c| c.ended_at_ms.is_some())
            .await;
        let events_before = app.store.events_for_call("CA291").await.unwrap();

        assert_hangs_up_without_a_stream(&replay_webhook(&app, "CA291").await);

        assert_eq!(
            app.store.call_by_sid("CA291").await.unwrap().unwrap(),
            before
        );
        assert_eq!(
            app.store.events_for_call("CA291").await.unwrap(),
            events_before
        );
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_token_kept_from_before_the_end_cannot_reopen_a_finished_call_or_its_recording() {
    for_each_engine(|db| async move {
        let (_recordings, app) = recording_app(&db).await;
        // Two answers before any stream: Twilio retrying a webhook, or a replay in that window.
        // Both carry a token; only the first is used by the call.
        let used = stream_target(&replay_webhook(&app, "CA292").await)
            .unwrap()
            .parameters;
        let kept = stream_target(&replay_webhook(&app, "CA292").await)
            .unwrap()
            .parameters;
        let mut stream = open_stream(&app, "CA292", &used).await;
        let ended = answer_once_and_stop(&app, &mut stream, "CA292").await;
        let recording = std::fs::read(ended.recording_path.as_deref().unwrap()).unwrap();
        let starts = |kinds: &[String]| kinds.iter().filter(|k| *k == "stream_started").count();
        assert_eq!(starts(&app.event_kinds("CA292").await), 1);

        let mut late = open_stream(&app, "CA292", &kept).await;
        late.send_audio(&silence(200)).await.ok();
        let (_, closed) = recv_until(&mut late, |r| matches!(r, Received::Closed(_)), WAIT).await;
        assert_eq!(closed, Some(Received::Closed(Some(1008))));

        let after = app.store.call_by_sid("CA292").await.unwrap().unwrap();
        assert_eq!(after, ended, "the finished call is untouched");
        let kinds = app.event_kinds("CA292").await;
        assert_eq!(starts(&kinds), 1, "{kinds:?}");
        assert_eq!(
            kinds.iter().filter(|k| *k == "call_ended").count(),
            1,
            "{kinds:?}"
        );
        assert_eq!(
            std::fs::read(ended.recording_path.as_deref().unwrap()).unwrap(),
            recording,
            "the recording is not overwritten"
        );
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_replay_turned_away_at_capacity_does_not_end_the_live_call() {
    for_each_engine(|db| async move {
        let app = spawn_app_with(&db, &[("SICHA_MAX_CALLS", "1")], echo()).await;
        app.add_business(BUSINESS_NUMBER).await;
        let mut stream = app.connect_call("CA293").await;
        app.wait_for_call("CA293", |c| c.status == CallStatus::Streaming)
            .await;

        assert_hangs_up_without_a_stream(&replay_webhook(&app, "CA293").await);

        let call = app.store.call_by_sid("CA293").await.unwrap().unwrap();
        assert_eq!(call.status, CallStatus::Streaming);
        assert_eq!(call.ended_at_ms, None);
        stream.send_stop("CA293").await.unwrap();
        let call = app
            .wait_for_call("CA293", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(call.status, CallStatus::Completed);
        app.shutdown().await;
    })
    .await;
}
