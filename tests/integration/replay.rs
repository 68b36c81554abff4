//! Recorded sessions: `--record-streams` writes every inbound frame with its arrival time, and the
//! replay sends the same frames (bad ones included) again as a new call.

use crate::common;

use std::time::Duration;

use crate::common::databases::for_each_engine;
use common::{
    AUTH_TOKEN, BUSINESS_NUMBER, CALLER_NUMBER, fixture_mulaw, is_mark, recv_until, silence,
    spawn_app_with,
};
use sicha::call::session::AgentMode;
use sicha::startup::ServeOptions;
use sicha::store::CallStatus;
use sicha::twilio::stream_log::read_stream_log;
use sicha_sim::replay::replay;

#[tokio::test]
async fn a_recorded_stream_replays_as_a_new_call_with_the_same_messages() {
    for_each_engine(|db| async move {
        let dir = tempfile::tempdir().unwrap();
        let recordings = dir.path().display().to_string();
        let options = ServeOptions {
            allow_unsigned: false,
            agent: AgentMode::Echo,
        };
        let app = spawn_app_with(
            &db,
            &[("SICHA_RECORD_STREAMS_DIR", recordings.as_str())],
            options,
        )
        .await;
        app.add_business(BUSINESS_NUMBER).await;

        let mut stream = app.connect_call("CA500").await;
        stream.send_text("{not json").await.unwrap();
        let mut audio = silence(200);
        audio.extend(fixture_mulaw("single/u01_hours.wav"));
        audio.extend(silence(900));
        stream.send_audio(&audio).await.unwrap();
        let (_, mark) = recv_until(&mut stream, is_mark, Duration::from_secs(10)).await;
        let Some(sicha_sim::twilio_caller::Received::Message(
            sicha::twilio::stream::Outbound::Mark { mark, .. },
        )) = mark
        else {
            panic!("no echo")
        };
        stream.send_mark(&mark.name).await.unwrap();
        stream.send_stop("CA500").await.unwrap();
        app.wait_for_call("CA500", |c| c.ended_at_ms.is_some())
            .await;

        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "one file per socket: {files:?}");
        let log = read_stream_log(std::io::BufReader::new(
            std::fs::File::open(&files[0]).unwrap(),
        ))
        .unwrap();
        let media = audio.len().div_ceil(160);
        // connected, start, the bad frame, every media frame, the mark echo, stop
        assert_eq!(
            log.len(),
            2 + 1 + media + 2,
            "every inbound frame is recorded"
        );
        assert_eq!(log[2].text, "{not json");
        assert!(log.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));

        // The recording was made faster than real time, and its `stop` followed the echo's mark by a few
        // milliseconds: give the new call the time its echo takes on a loaded machine before it hangs up.
        let mut log = log;
        let stop = log.last_mut().unwrap();
        assert!(
            stop.text.contains("\"stop\""),
            "the recording ends with stop"
        );
        stop.at_ms += 2000;
        let report = replay(
            &app.http,
            &app.base,
            Some(AUTH_TOKEN),
            CALLER_NUMBER,
            BUSINESS_NUMBER,
            "CA501",
            &log,
        )
        .await
        .unwrap();
        assert_eq!(
            report.sent,
            log.len() - 1,
            "everything but the recorded mark echo goes out again"
        );
        assert_eq!(report.marks_skipped, 1);
        assert!(
            report.audio_received_ms > 500,
            "the echo agent answered the replayed speech: {report:?}"
        );
        let call = app
            .wait_for_call("CA501", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(call.status, CallStatus::Completed);
        app.shutdown().await;
    })
    .await;
}
