//! The Media Streams WebSocket end to end: the real app on port 0, a Twilio-side client speaking the
//! real protocol, fixture speech in, the echo agent's audio out; on SQLite and (with
//! SICHA_TEST_POSTGRES_URL) on PostgreSQL.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::time::Duration;

use crate::common::databases::for_each_engine;
use common::{
    AUTH_TOKEN, BUSINESS_NUMBER, fixture_mulaw, is_clear, is_mark, recv_until, silence, spawn_app,
    spawn_app_with,
};
use sicha::startup::ServeOptions;
use sicha::store::CallStatus;
use sicha::twilio::stream::Outbound;
use sicha_sim::twilio_caller::{MediaStreamClient, Received, stream_target};

mod replays;
mod tokens;

use tokens::token_for;

const WAIT: Duration = Duration::from_secs(10);

fn echo() -> ServeOptions {
    common::echo_agent()
}

/// The echo app recording every call into a directory of its own, with the test business.
async fn recording_app(db: &str) -> (tempfile::TempDir, common::TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let recordings = dir.path().display().to_string();
    let app = spawn_app_with(db, &[("SICHA_RECORDINGS_DIR", recordings.as_str())], echo()).await;
    app.add_business(BUSINESS_NUMBER).await;
    (dir, app)
}

/// One line answered on `stream`, then `stop`; returns the call once its recording is on it.
async fn answer_once_and_stop(
    app: &common::TestApp,
    stream: &mut MediaStreamClient,
    call_sid: &str,
) -> sicha::store::Call {
    stream
        .send_audio(&utterance("single/u01_hours.wav"))
        .await
        .unwrap();
    let (_, mark) = recv_until(stream, is_mark, WAIT).await;
    assert!(mark.is_some(), "the line was answered");
    stream.send_stop(call_sid).await.unwrap();
    app.wait_for_call(call_sid, |c| c.recording_path.is_some())
        .await
}

/// Speech, then enough silence for the endpointer's hangover to close the utterance.
fn utterance(fixture: &str) -> Vec<u8> {
    let mut audio = silence(200);
    audio.extend(fixture_mulaw(fixture));
    audio.extend(silence(900));
    audio
}

#[tokio::test]
async fn the_whole_message_set_speech_in_echo_out_marks_dtmf_and_stop() {
    for_each_engine(|db| async move {
        let app = spawn_app(&db).await;
        app.add_business(BUSINESS_NUMBER).await;
        let mut stream = app.connect_call("CA200").await;
        app.wait_for_call("CA200", |c| c.status == CallStatus::Streaming)
            .await;

        stream
            .send_audio(&utterance("single/u01_hours.wav"))
            .await
            .unwrap();
        let (before, mark) = recv_until(&mut stream, is_mark, WAIT).await;
        let media: Vec<_> = before
            .iter()
            .filter(|r| matches!(r, Received::Message(Outbound::Media { .. })))
            .collect();
        let mut echoed = 0;
        for received in &media {
            let Received::Message(Outbound::Media { stream_sid, media }) = received else {
                unreachable!()
            };
            assert_eq!(stream_sid, "MZCA200");
            let bytes = BASE64.decode(&media.payload).expect("base64 μ-law");
            assert!(
                !bytes.is_empty() && bytes.len() <= 4000,
                "media messages carry up to 500 ms: {} bytes",
                bytes.len()
            );
            echoed += bytes.len();
        }
        assert!(
            echoed >= 4000,
            "the echo is at least half a second, got {echoed} bytes"
        );
        let Some(Received::Message(Outbound::Mark { mark, .. })) = mark else {
            panic!("no mark after the audio")
        };
        stream.send_mark(&mark.name).await.unwrap();
        stream.send_dtmf("5").await.unwrap();
        stream.send_stop("CA200").await.unwrap();

        let call = app
            .wait_for_call("CA200", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(call.status, CallStatus::Completed);
        assert_eq!(call.end_reason.as_deref(), Some("stream_stopped"));
        let events = app.event_kinds("CA200").await;
        for kind in ["stream_started", "dtmf", "call_ended"] {
            assert!(
                events.iter().any(|e| e == kind),
                "{kind} missing from {events:?}"
            );
        }
        let (_, closed) = recv_until(&mut stream, |r| matches!(r, Received::Closed(_)), WAIT).await;
        assert!(
            matches!(closed, Some(Received::Closed(_))),
            "the server closes the socket after stop"
        );
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn caller_speech_over_unplayed_agent_audio_clears_it() {
    for_each_engine(|db| async move {
        let app = spawn_app(&db).await;
        app.add_business(BUSINESS_NUMBER).await;
        let mut stream = app.connect_call("CA201").await;
        stream
            .send_audio(&utterance("single/u01_hours.wav"))
            .await
            .unwrap();
        let (_, mark) = recv_until(&mut stream, is_mark, WAIT).await;
        assert!(mark.is_some(), "the agent answered");
        // The mark is not echoed: Twilio is still playing the answer when the caller talks again.
        stream
            .send_audio(&fixture_mulaw("single/u02_friday.wav"))
            .await
            .unwrap();
        let (_, clear) = recv_until(&mut stream, is_clear, WAIT).await;
        assert!(clear.is_some(), "barge-in sends clear");
        stream.send_stop("CA201").await.unwrap();
        app.wait_for_call("CA201", |c| c.ended_at_ms.is_some())
            .await;
        assert!(
            app.event_kinds("CA201")
                .await
                .contains(&"barge_in".to_string())
        );
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn bad_input_is_dropped_and_the_call_goes_on() {
    for_each_engine(|db| async move {
        let app = spawn_app(&db).await;
        app.add_business(BUSINESS_NUMBER).await;
        let token = token_for(&app, "CA220").await;
        let url = format!("ws://{}/twilio/stream", app.addr);
        let mut stream = MediaStreamClient::connect(&url, Some(AUTH_TOKEN), "MZCA220").await.unwrap();
        stream.send_connected().await.unwrap();
        stream.send_media(&silence(20)).await.unwrap(); // media before start
        stream.send_start("CA220", &token).await.unwrap();
        stream.send_text("{not json").await.unwrap();
        stream.send_text(r#"{"event":"media","streamSid":"MZCA220","sequenceNumber":"9","media":{"payload":"!!!not base64"}}"#).await.unwrap();
        stream.send_text(r#"{"event":"hologram","streamSid":"MZCA220"}"#).await.unwrap();
        stream.send_text(r#"{"event":"dtmf","streamSid":"MZother","sequenceNumber":"9","dtmf":{"digit":"1"}}"#).await.unwrap();
        stream.send_binary(vec![1, 2, 3]).await.unwrap();
        // Still a working call: speech in, echo out.
        stream.send_audio(&utterance("single/u03_booking.wav")).await.unwrap();
        let (_, mark) = recv_until(&mut stream, is_mark, WAIT).await;
        assert!(mark.is_some(), "the call survives every bad message");
        stream.send_stop("CA220").await.unwrap();
        let call = app.wait_for_call("CA220", |c| c.ended_at_ms.is_some()).await;
        assert_eq!(call.status, CallStatus::Completed);
        assert!(!app.event_kinds("CA220").await.contains(&"dtmf".to_string()), "a wrong streamSid's DTMF is dropped");
        let metrics = app.scrape_metrics().await;
        for kind in ["before_start", "malformed", "bad_base64", "unknown_event", "wrong_stream", "binary"] {
            assert!(metrics.contains(&format!("kind=\"{kind}\"")), "{kind} not counted");
        }
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn oversize_messages_and_floods_close_the_socket_and_the_call_is_still_recorded() {
    for_each_engine(|db| async move {
        let extra = [
            ("SICHA_MAX_WS_MESSAGE_BYTES", "2000"),
            ("SICHA_MAX_WS_MESSAGES_PER_SEC", "20"),
        ];
        let app = spawn_app_with(&db, &extra, echo()).await;
        app.add_business(BUSINESS_NUMBER).await;

        let mut big = app.connect_call("CA230").await;
        big.send_media(&silence(500)).await.unwrap(); // 4000 bytes of μ-law, over 2000 as base64 JSON
        let (_, closed) = recv_until(&mut big, |r| matches!(r, Received::Closed(_)), WAIT).await;
        assert_eq!(closed, Some(Received::Closed(Some(1009))));
        let call = app
            .wait_for_call("CA230", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(call.status, CallStatus::Failed);

        let mut flood = app.connect_call("CA231").await;
        for _ in 0..100 {
            if flood.send_media(&silence(20)).await.is_err() {
                break;
            }
        }
        let (_, closed) = recv_until(&mut flood, |r| matches!(r, Received::Closed(_)), WAIT).await;
        assert_eq!(closed, Some(Received::Closed(Some(1008))));
        app.wait_for_call("CA231", |c| c.ended_at_ms.is_some())
            .await;
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_socket_that_drops_without_stop_ends_the_call_as_dropped() {
    for_each_engine(|db| async move {
        let app = spawn_app(&db).await;
        app.add_business(BUSINESS_NUMBER).await;
        let stream = app.connect_call("CA240").await;
        app.wait_for_call("CA240", |c| c.status == CallStatus::Streaming)
            .await;
        stream.drop_connection();
        let call = app
            .wait_for_call("CA240", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(call.status, CallStatus::Dropped);
        assert_eq!(call.end_reason.as_deref(), Some("socket_dropped"));
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_second_stream_for_the_same_call_resumes_its_session() {
    for_each_engine(|db| async move {
        let app = spawn_app(&db).await;
        app.add_business(BUSINESS_NUMBER).await;
        let mut first = app.connect_call("CA250").await;
        app.wait_for_call("CA250", |c| c.status == CallStatus::Streaming)
            .await;
        // As when the session moves the call to a new stream: its own fresh token, same CallSid.
        let token = app.stream_token("CA250");
        let url = format!("ws://{}/twilio/stream", app.addr);
        let mut second = MediaStreamClient::connect(&url, Some(AUTH_TOKEN), "MZsecond")
            .await
            .unwrap();
        second.send_start("CA250", &token).await.unwrap();
        let (_, closed) = recv_until(&mut first, |r| matches!(r, Received::Closed(_)), WAIT).await;
        assert!(
            closed.is_some(),
            "the old stream is closed once the new one attaches"
        );
        second
            .send_audio(&utterance("single/u01_hours.wav"))
            .await
            .unwrap();
        let (_, mark) = recv_until(&mut second, is_mark, WAIT).await;
        assert!(
            mark.is_some(),
            "the resumed session answers on the new stream"
        );
        assert!(
            app.store
                .call_by_sid("CA250")
                .await
                .unwrap()
                .unwrap()
                .ended_at_ms
                .is_none(),
            "the call lives on"
        );
        second.send_stop("CA250").await.unwrap();
        let call = app
            .wait_for_call("CA250", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(call.status, CallStatus::Completed);
        assert!(
            app.event_kinds("CA250")
                .await
                .contains(&"stream_resumed".to_string())
        );
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn shutdown_ends_live_calls_after_the_grace_period_and_records_them() {
    for_each_engine(|db| async move {
        let app = spawn_app(&db).await;
        app.add_business(BUSINESS_NUMBER).await;
        let mut stream = app.connect_call("CA260").await;
        app.wait_for_call("CA260", |c| c.status == CallStatus::Streaming)
            .await;
        let store = app.store.clone();
        app.shutdown().await;
        let call = store.call_by_sid("CA260").await.unwrap().unwrap();
        assert_eq!(call.end_reason.as_deref(), Some("server_shutdown"));
        let (_, closed) = recv_until(&mut stream, |r| matches!(r, Received::Closed(_)), WAIT).await;
        assert!(closed.is_some(), "the socket is closed on shutdown");
    })
    .await;
}

#[tokio::test]
async fn calls_are_ended_at_the_length_limit() {
    for_each_engine(|db| async move {
        let app = spawn_app_with(&db, &[("SICHA_MAX_CALL_SECS", "1")], echo()).await;
        app.add_business(BUSINESS_NUMBER).await;
        let mut stream = app.connect_call("CA270").await;
        let (_, closed) = recv_until(&mut stream, |r| matches!(r, Received::Closed(_)), WAIT).await;
        assert!(closed.is_some());
        let call = app
            .wait_for_call("CA270", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(call.end_reason.as_deref(), Some("max_call_length"));
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_recorded_call_leaves_an_ogg_opus_file_on_the_call() {
    for_each_engine(|db| async move {
        let (dir, app) = recording_app(&db).await;
        let mut stream = app.connect_call("CA280").await;
        let call = answer_once_and_stop(&app, &mut stream, "CA280").await;
        let path = call.recording_path.unwrap();
        assert!(path.ends_with("CA280.opus"), "{path}");
        let info = std::process::Command::new("opusinfo")
            .arg(&path)
            .output()
            .expect("opusinfo (Debian opus-tools) is installed by scripts/install");
        let text = String::from_utf8_lossy(&info.stdout);
        assert!(info.status.success(), "{text}");
        assert!(text.contains("Channels: 2"), "{text}");
        // The right channel is the agent: the echo played back must be in it, not silence.
        let decoded = dir.path().join("decoded.wav");
        let status = std::process::Command::new("opusdec")
            .args([
                "--quiet",
                "--rate",
                "8000",
                &path,
                decoded.to_str().unwrap(),
            ])
            .status()
            .unwrap();
        assert!(status.success());
        let stat = std::process::Command::new("sox")
            .arg(&decoded)
            .args(["-n", "remix", "2", "stat"])
            .output()
            .expect("sox is installed by scripts/install");
        let report = String::from_utf8_lossy(&stat.stderr);
        let rms: f64 = report
            .lines()
            .find(|l| l.starts_with("RMS     amplitude"))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no RMS in {report}"));
        assert!(rms > 0.005, "the agent track is silent: {report}");
        app.shutdown().await;
    })
    .await;
}
