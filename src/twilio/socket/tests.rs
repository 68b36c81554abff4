//! The socket loop driven through channels, with tokio's clock paused: limits, hostile frames, and a
//! clear overtaking queued audio.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::channel::mpsc as chan;
use futures::{Sink, Stream};
use tokio::sync::mpsc;

use super::*;
use crate::twilio::outbound::{OutboundSender, StreamCommand, outbound_channel};
use crate::twilio::stream::{MediaFormat, StartInfo, StreamSidJson, inbound_media_text};

/// The server's end of a WebSocket, as two channels.
pub(super) struct Duplex {
    pub(super) inbound: chan::UnboundedReceiver<Result<WireFrame, String>>,
    pub(super) outbound: chan::UnboundedSender<WireFrame>,
}

impl Stream for Duplex {
    type Item = Result<WireFrame, String>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inbound).poll_next(cx)
    }
}

impl Sink<WireFrame> for Duplex {
    type Error = chan::SendError;
    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.outbound).poll_ready(cx)
    }
    fn start_send(mut self: Pin<&mut Self>, item: WireFrame) -> Result<(), Self::Error> {
        Pin::new(&mut self.outbound).start_send(item)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.outbound).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.outbound).poll_close(cx)
    }
}

/// The call side: what it heard, and the end.
pub(super) struct Ear {
    pub(super) heard: mpsc::UnboundedSender<String>,
}

impl StreamHandler for Ear {
    async fn on_event(&mut self, event: StreamEvent<'_>) -> bool {
        let text = match event {
            StreamEvent::Media(codes) => format!("media {}", codes.len()),
            StreamEvent::Mark(name) => format!("mark {name}"),
            StreamEvent::Dtmf(digit) => format!("dtmf {digit}"),
        };
        self.heard.send(text).is_ok()
    }

    async fn on_end(self, end: StreamEnd) {
        let _ = self.heard.send(format!("end {end:?}"));
    }
}

pub(super) const LIMITS: StreamLimits = StreamLimits {
    max_message_bytes: 4096,
    max_messages_per_sec: 100,
    max_messages_before_start: 8,
    start_deadline: Duration::from_secs(10),
};

struct Loop {
    to_server: chan::UnboundedSender<Result<WireFrame, String>>,
    from_server: chan::UnboundedReceiver<WireFrame>,
    heard: mpsc::UnboundedReceiver<String>,
    voice: Option<OutboundSender>,
    task: tokio::task::JoinHandle<StreamReport>,
}

pub(super) fn start_message() -> String {
    let start = StartInfo {
        account_sid: "AC1".into(),
        stream_sid: "MZ1".into(),
        call_sid: "CA1".into(),
        tracks: vec!["inbound".into()],
        custom_parameters: HashMap::new(),
        media_format: MediaFormat::twilio_mulaw(),
    };
    serde_json::json!({ "event": "start", "sequenceNumber": "1", "streamSid": "MZ1", "start": start })
        .to_string()
}

pub(super) fn media() -> WireFrame {
    WireFrame::Text(inbound_media_text(
        2,
        &StreamSidJson::new("MZ1"),
        1,
        0,
        &[0xFF; 160],
    ))
}

/// Runs the loop on channels; the call side attaches with a voice the test keeps.
fn run() -> Loop {
    let (to_server, inbound) = chan::unbounded();
    let (outbound, from_server) = chan::unbounded();
    let (heard_tx, heard) = mpsc::unbounded_channel();
    let (voice, from_call) = outbound_channel(8);
    let (voice_tx, voice_rx) = std::sync::mpsc::channel();
    voice_tx.send(voice).unwrap();
    let task = tokio::spawn(async move {
        let socket = Duplex { inbound, outbound };
        serve_stream(socket, LIMITS, move |_start| async move {
            Ok(Attached {
                handler: Ear { heard: heard_tx },
                outbound: from_call,
            })
        })
        .await
    });
    Loop {
        to_server,
        from_server,
        heard,
        voice: voice_rx.recv().ok(),
        task,
    }
}

impl Loop {
    fn send(&self, frame: WireFrame) {
        let _ = self.to_server.unbounded_send(Ok(frame));
    }

    fn text(&self, text: &str) {
        self.send(WireFrame::Text(text.into()));
    }

    async fn heard(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(30), self.heard.recv())
            .await
            .unwrap()
            .unwrap()
    }

    /// Everything the server wrote so far, as text.
    fn written(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(frame) = self.from_server.try_recv() {
            out.push(match frame {
                WireFrame::Text(text) => {
                    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
                    value["event"].as_str().unwrap().to_string()
                }
                other => format!("{other:?}"),
            });
        }
        out
    }
}

#[tokio::test(start_paused = true)]
async fn a_socket_without_a_start_is_closed_after_the_deadline() {
    let mut socket = run();
    socket.text(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#);
    tokio::time::sleep(Duration::from_secs(11)).await;
    let report = (&mut socket.task).await.unwrap();
    assert_eq!(
        report.end,
        Some(StreamEnd::Rejected("no start message in time".into()))
    );
    assert_eq!(
        socket.written(),
        [format!(
            "{:?}",
            WireFrame::Close(Some((close_code::POLICY, "no start".into())))
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn malformed_frames_before_start_count_toward_the_limit() {
    let socket = run();
    for _ in 0..9 {
        socket.text("{not json");
    }
    let report = socket.task.await.unwrap();
    assert_eq!(
        report.end,
        Some(StreamEnd::Rejected("no start message".into()))
    );
    assert_eq!(report.dropped_count("malformed"), 9);
}

#[tokio::test(start_paused = true)]
async fn binary_frames_and_pings_count_against_the_rate() {
    for frame in [WireFrame::Binary(vec![0; 10]), WireFrame::Ping(vec![1])] {
        let mut socket = run();
        socket.text(&start_message());
        assert!(socket.voice.is_some());
        for _ in 0..1000 {
            socket.send(frame.clone());
        }
        let report = (&mut socket.task).await.unwrap();
        assert_eq!(
            report.end,
            Some(StreamEnd::LimitExceeded("message rate too high".into())),
            "{frame:?}"
        );
        assert!(
            report.dropped_count("binary") <= 200,
            "stopped at the burst, not after all of them"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn media_marks_and_keys_reach_the_call_side_and_the_end_is_told_once() {
    let mut socket = run();
    socket.text(&start_message());
    socket.send(media());
    socket.text(r#"{"event":"mark","sequenceNumber":"3","streamSid":"MZ1","mark":{"name":"p1"}}"#);
    socket.text(r#"{"event":"dtmf","sequenceNumber":"4","streamSid":"MZ1","dtmf":{"track":"inbound_track","digit":"5"}}"#);
    socket.text(
        r#"{"event":"media","sequenceNumber":"5","streamSid":"MZ2","media":{"payload":"AA=="}}"#,
    );
    socket.text(r#"{"event":"stop","sequenceNumber":"6","streamSid":"MZ1","stop":{"accountSid":"AC1","callSid":"CA1"}}"#);
    for expected in ["media 160", "mark p1", "dtmf 5", "end Stopped"] {
        assert_eq!(socket.heard().await, expected);
    }
    let report = socket.task.await.unwrap();
    assert_eq!(report.dropped_count("wrong_stream"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_clear_overtakes_audio_queued_before_it() {
    let mut socket = run();
    socket.text(&start_message());
    socket.send(media());
    assert_eq!(socket.heard().await, "media 160");
    let mut voice = socket.voice.take().unwrap();
    // Audio and a mark queued, then a clear before the loop got to them: none of them is written.
    voice.send(StreamCommand::Media(vec![0xFF; 800])).await;
    voice.send(StreamCommand::Mark("p1".into())).await;
    voice.clear();
    voice.send(StreamCommand::Mark("p2".into())).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let written = socket.written();
    assert_eq!(
        written.first().map(String::as_str),
        Some("clear"),
        "{written:?}"
    );
    assert!(!written.contains(&"media".to_string()), "{written:?}");
    assert_eq!(
        written.last().map(String::as_str),
        Some("mark"),
        "audio after the clear still goes"
    );
    drop(voice);
    let report = socket.task.await.unwrap();
    assert_eq!(report.end, Some(StreamEnd::ClosedByServer));
    assert_eq!(report.cleared_unsent, 2);
}
