//! The Media Streams socket loop: one task per WebSocket, generic over any `Stream + Sink` of
//! [`WireFrame`]s, so tests drive it with channels and the server with axum's WebSocket.
//!
//! What the loop owns: the socket, the per-stream audio front end (base64 → μ-law → PCM → endpointer)
//! and the limits. What it does not own: the call. After a valid `start`, the `attach` callback hands
//! back the call session's inbox (`to_session`) and a receiver of [`OutboundCommand`]s (`from_session`).
//! The loop then forwards speech events, marks and DTMF to the session, and writes the session's audio,
//! marks and clears to Twilio. The loop ends when Twilio sends `stop`, the socket drops, a limit is
//! broken, or the session drops its sender (it wants the stream closed); it always tells the session
//! how the stream ended with one final [`SessionInput::StreamEnded`].

use std::future::Future;

use futures::{Sink, SinkExt, Stream, StreamExt};
use sicha_audio::endpoint::EndpointConfig;
use sicha_audio::frame::FRAME_SAMPLES;
use tokio::sync::mpsc;

use super::inbound::{InboundAudio, RateGate};
use super::stream::{Inbound, MarkInfo, Outbound, StartInfo, StreamSidJson, outbound_media_text};
use crate::call::{OutboundCommand, SessionInput, StreamEnd};

/// One WebSocket frame, independent of the WebSocket library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireFrame {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
}

/// WebSocket close codes the loop uses (RFC 6455).
pub mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
}

#[derive(Debug, Clone)]
pub struct StreamLimits {
    pub max_message_bytes: usize,
    /// Sustained inbound messages per second; bursts of twice this are tolerated.
    pub max_messages_per_sec: u32,
    /// Messages tolerated before a valid `start` (Twilio sends one `connected` first).
    pub max_messages_before_start: u32,
}

/// The session side of an accepted stream.
pub struct Attached {
    /// The call session's inbox. The loop sends events; the session owns the receiver.
    pub to_session: mpsc::Sender<SessionInput>,
    /// Audio, marks and clears for Twilio. The session owns the sender; when it drops it, the loop
    /// closes the socket.
    pub from_session: mpsc::Receiver<OutboundCommand>,
    /// Also hand the caller's decoded audio to the session (it records the call).
    pub forward_audio: bool,
}

/// Why a `start` was refused; the loop closes with 1008 and reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection(pub String);

/// What happened on one stream, for logs, metrics and the caller of the loop.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StreamReport {
    pub call_sid: Option<String>,
    pub stream_sid: Option<String>,
    pub end: Option<StreamEnd>,
    pub media_frames: u64,
    pub media_bytes: u64,
    /// Messages dropped with a log line: malformed JSON, bad base64, unknown events, wrong streamSid,
    /// media before start, binary frames.
    pub dropped: Vec<(&'static str, u64)>,
    /// Agent audio written, in 20 ms frames.
    pub frames_sent: u64,
}

impl StreamReport {
    fn drop_one(&mut self, kind: &'static str) {
        metrics::counter!("sicha_stream_messages_dropped_total", "kind" => kind).increment(1);
        match self.dropped.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.dropped.push((kind, 1)),
        }
    }

    pub fn dropped_count(&self, kind: &str) -> u64 {
        self.dropped
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    }
}

enum Flow {
    Continue,
    End(StreamEnd),
}

/// Runs one Media Streams connection to its end. See the module docs for ownership.
pub async fn serve_stream<S, E, A, Fut>(
    socket: S,
    limits: StreamLimits,
    endpoint: EndpointConfig,
    attach: A,
) -> StreamReport
where
    S: Stream<Item = Result<WireFrame, E>> + Sink<WireFrame> + Unpin,
    E: std::fmt::Display,
    A: FnOnce(StartInfo) -> Fut,
    Fut: Future<Output = Result<Attached, Rejection>>,
{
    let (mut sink, mut source) = socket.split();
    let mut report = StreamReport::default();
    let mut gate = RateGate::new(limits.max_messages_per_sec);
    let mut attach = Some(attach);
    let mut attached: Option<Attached> = None;
    let mut audio = InboundAudio::new(endpoint);
    let mut before_start = 0u32;
    // The streamSid escaped once for every outbound media message; set with the `start`.
    let mut sid_json = StreamSidJson::default();

    let end = loop {
        // Outbound first when both are ready, so a `clear` never waits behind inbound audio.
        let next = tokio::select! {
            biased;
            command = recv_outbound(&mut attached) => {
                let Some(command) = command else { break StreamEnd::ClosedByServer };
                if write_command(&mut sink, &sid_json, command, &mut report).await.is_err() {
                    break StreamEnd::Dropped;
                }
                continue;
            }
            frame = source.next() => frame,
        };
        let text = match next {
            None => break StreamEnd::Dropped,
            Some(Err(error)) => {
                tracing::warn!(%error, "media stream socket error");
                break StreamEnd::Dropped;
            }
            Some(Ok(WireFrame::Text(text))) => text,
            Some(Ok(WireFrame::Binary(_))) => {
                tracing::warn!(
                    "binary frame on a media stream dropped (Twilio sends only JSON text)"
                );
                report.drop_one("binary");
                continue;
            }
            Some(Ok(WireFrame::Ping(data))) => {
                let _ = sink.send(WireFrame::Pong(data)).await;
                continue;
            }
            Some(Ok(WireFrame::Pong(_))) => continue,
            Some(Ok(WireFrame::Close(_))) => break StreamEnd::Dropped,
        };
        if text.len() > limits.max_message_bytes {
            tracing::warn!(
                bytes = text.len(),
                limit = limits.max_message_bytes,
                "oversize media stream message"
            );
            report.drop_one("oversize");
            let _ = sink
                .send(WireFrame::Close(Some((
                    close_code::TOO_BIG,
                    "message too large".into(),
                ))))
                .await;
            break StreamEnd::LimitExceeded("message too large".into());
        }
        if !gate.admit() {
            tracing::warn!(
                limit = limits.max_messages_per_sec,
                "media stream message flood"
            );
            report.drop_one("flood");
            let _ = sink
                .send(WireFrame::Close(Some((
                    close_code::POLICY,
                    "message rate too high".into(),
                ))))
                .await;
            break StreamEnd::LimitExceeded("message rate too high".into());
        }
        let message: Inbound = match serde_json::from_str(&text) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "malformed media stream message dropped");
                report.drop_one("malformed");
                continue;
            }
        };
        if attached.is_none() {
            match message {
                Inbound::Start {
                    start, stream_sid, ..
                } => {
                    let Some(attach) = attach.take() else {
                        break StreamEnd::ClosedByServer;
                    };
                    report.call_sid = Some(start.call_sid.clone());
                    sid_json = StreamSidJson::new(&stream_sid);
                    report.stream_sid = Some(stream_sid.into_owned());
                    match attach(start).await {
                        Ok(session) => attached = Some(session),
                        Err(Rejection(reason)) => {
                            tracing::warn!(%reason, "media stream start rejected");
                            let _ = sink
                                .send(WireFrame::Close(Some((close_code::POLICY, reason.clone()))))
                                .await;
                            break StreamEnd::Rejected(reason);
                        }
                    }
                }
                Inbound::Connected { .. } => {}
                other => {
                    tracing::warn!(
                        kind = other.kind(),
                        "media stream message before start dropped"
                    );
                    report.drop_one("before_start");
                    before_start += 1;
                    if before_start > limits.max_messages_before_start {
                        let _ = sink
                            .send(WireFrame::Close(Some((
                                close_code::POLICY,
                                "no start".into(),
                            ))))
                            .await;
                        break StreamEnd::Rejected("no start message".into());
                    }
                }
            }
            continue;
        }
        let session = attached.as_ref().expect("attached checked above");
        match handle_message(message, session, &mut audio, &mut report).await {
            Flow::Continue => {}
            Flow::End(end) => break end,
        }
    };

    // Counted before the socket closes, so whoever sees it closed reads a final count.
    audio.count_frames();
    report.end = Some(end.clone());
    if let Some(session) = attached {
        // The session learns how its stream ended; if it is already gone there is nobody to tell.
        let stream_sid = report.stream_sid.clone().unwrap_or_default();
        let _ = session
            .to_session
            .send(SessionInput::StreamEnded {
                stream_sid,
                end: end.clone(),
            })
            .await;
    }
    if matches!(end, StreamEnd::Stopped | StreamEnd::ClosedByServer) {
        let _ = sink
            .send(WireFrame::Close(Some((close_code::NORMAL, String::new()))))
            .await;
    }
    let _ = sink.close().await;
    report
}

async fn recv_outbound(attached: &mut Option<Attached>) -> Option<OutboundCommand> {
    match attached {
        Some(session) => session.from_session.recv().await,
        None => std::future::pending().await,
    }
}

async fn handle_message(
    message: Inbound<'_>,
    session: &Attached,
    audio: &mut InboundAudio,
    report: &mut StreamReport,
) -> Flow {
    if message.stream_sid().is_some() && message.stream_sid() != report.stream_sid.as_deref() {
        tracing::warn!(
            kind = message.kind(),
            "media stream message for another streamSid dropped"
        );
        report.drop_one("wrong_stream");
        return Flow::Continue;
    }
    let input = match message {
        Inbound::Media { media, .. } => {
            if media.track.as_deref().is_some_and(|t| t != "inbound") {
                return Flow::Continue;
            }
            audio.observe_lag(media.timestamp.as_deref());
            let mut events = Vec::new();
            match audio.push_payload(&media.payload, |event| events.push(event)) {
                Ok(bytes) => {
                    report.media_frames += 1;
                    report.media_bytes += bytes as u64;
                }
                Err(()) => {
                    tracing::warn!("media payload is not valid base64; dropped");
                    report.drop_one("bad_base64");
                    return Flow::Continue;
                }
            }
            if session.forward_audio
                && session
                    .to_session
                    .send(SessionInput::CallerAudio(audio.pcm.clone()))
                    .await
                    .is_err()
            {
                return Flow::End(StreamEnd::ClosedByServer);
            }
            for event in events {
                if session
                    .to_session
                    .send(SessionInput::Speech(event))
                    .await
                    .is_err()
                {
                    return Flow::End(StreamEnd::ClosedByServer);
                }
            }
            return Flow::Continue;
        }
        Inbound::Mark { mark, .. } => SessionInput::MarkPlayed(mark.name),
        Inbound::Dtmf { dtmf, .. } => SessionInput::Dtmf(dtmf.digit),
        Inbound::Stop { .. } => return Flow::End(StreamEnd::Stopped),
        Inbound::Start { .. } => {
            tracing::warn!("second start on one media stream dropped");
            report.drop_one("duplicate_start");
            return Flow::Continue;
        }
        Inbound::Connected { .. } => return Flow::Continue,
        Inbound::Unknown => {
            tracing::warn!("unknown media stream event dropped");
            report.drop_one("unknown_event");
            return Flow::Continue;
        }
    };
    if session.to_session.send(input).await.is_err() {
        return Flow::End(StreamEnd::ClosedByServer);
    }
    Flow::Continue
}

/// Agent audio goes out in media messages of at most this many μ-law bytes (500 ms). Twilio takes
/// any size and buffers it in order; one message per chunk of synthesised speech instead of one per
/// 20 ms writes several times fewer messages (each a JSON document, a WebSocket frame and a syscall),
/// which is most of what a thousand talking calls cost. `clear` still empties Twilio's buffer at once.
const MAX_MEDIA_BYTES: usize = 25 * FRAME_SAMPLES;

/// Writes one session command as Twilio messages (audio as media of up to [`MAX_MEDIA_BYTES`], a
/// mark, a clear), flushing the socket once at the end.
async fn write_command<K: Sink<WireFrame> + Unpin>(
    sink: &mut K,
    sid_json: &StreamSidJson,
    command: OutboundCommand,
    report: &mut StreamReport,
) -> Result<(), ()> {
    let stream_sid = || sid_json.sid().to_string();
    match command {
        OutboundCommand::Audio(mulaw) => {
            for piece in mulaw.chunks(MAX_MEDIA_BYTES) {
                // Counted in 20 ms frames of audio, whatever the message size.
                let frames = piece.len().div_ceil(FRAME_SAMPLES) as u64;
                report.frames_sent += frames;
                metrics::counter!("sicha_frames_out_total").increment(frames);
                let text = outbound_media_text(sid_json, piece);
                sink.feed(WireFrame::Text(text)).await.map_err(|_| ())?;
            }
        }
        OutboundCommand::Mark(name) => {
            let mark = MarkInfo { name };
            let stream_sid = stream_sid();
            feed(sink, &Outbound::Mark { stream_sid, mark }).await?;
        }
        OutboundCommand::Clear => {
            let stream_sid = stream_sid();
            feed(sink, &Outbound::Clear { stream_sid }).await?
        }
    }
    sink.flush().await.map_err(|_| ())
}

/// Queues one message on the socket without flushing it.
async fn feed<K: Sink<WireFrame> + Unpin>(sink: &mut K, message: &Outbound) -> Result<(), ()> {
    let text = serde_json::to_string(message).expect("outbound messages always serialise");
    sink.feed(WireFrame::Text(text)).await.map_err(|_| ())
}
