//! The Media Streams socket loop: one task per WebSocket, generic over any `Stream + Sink` of
//! [`WireFrame`]s, so tests drive it with channels and the server with axum's WebSocket.
//!
//! What the loop owns: the socket, the wire-level inbound work (limits, JSON, base64, lag and frame
//! counts) and the writing of Twilio messages. What it does not own: the call. After a valid `start`,
//! the `attach` callback hands back a [`StreamHandler`] (the call side's ear: it gets every media
//! payload as μ-law bytes, every mark and key, and the stream's end, exactly once) and an [`Outbound`]
//! (the call side's voice: audio and marks in order, and clears that overtake them). The loop ends
//! when Twilio sends `stop`, the socket drops, a limit is broken, no `start` comes in time, or the
//! call side drops its sender (it wants the stream closed).

use std::future::Future;
use std::time::Duration;

use futures::{Sink, SinkExt, Stream, StreamExt};
use sicha_audio::frame::FRAME_SAMPLES;

use super::inbound::{InboundWire, RateGate};
use super::outbound::{Outbound, Playout, StreamCommand, next_clear};
use super::stream::{
    Inbound, MarkInfo, Outbound as OutboundMessage, StartInfo, StreamSidJson, outbound_media_text,
};
use tokio::sync::{mpsc, watch};

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

/// How a media stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEnd {
    /// Twilio sent `stop`: the call hung up or moved on.
    Stopped,
    /// The socket went away without `stop`.
    Dropped,
    /// sicha closed it (the call side ended or asked for it).
    ClosedByServer,
    /// The `start` failed authentication or validation, or never came.
    Rejected(String),
    /// A size or rate limit was broken.
    LimitExceeded(String),
}

#[derive(Debug, Clone)]
pub struct StreamLimits {
    pub max_message_bytes: usize,
    /// Sustained inbound frames per second, of any kind; bursts of twice this are tolerated.
    pub max_messages_per_sec: u32,
    /// Messages tolerated before a valid `start` (Twilio sends one `connected` first).
    pub max_messages_before_start: u32,
    /// How long a socket may stay open without a `start`.
    pub start_deadline: Duration,
}

/// One inbound event of an attached stream, for the call side.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// A media payload of the caller's track, decoded from base64: μ-law 8 kHz.
    Media(&'a [u8]),
    /// Twilio echoed a mark.
    Mark(String),
    /// The caller pressed a key.
    Dtmf(String),
}

/// The call side's ear on one stream.
pub trait StreamHandler {
    /// One inbound event; false when the call side is gone (the loop then closes the stream).
    fn on_event(&mut self, event: StreamEvent<'_>) -> impl Future<Output = bool> + Send;
    /// The stream ended; called exactly once, after the last event.
    fn on_end(self, end: StreamEnd) -> impl Future<Output = ()> + Send;
}

/// What an accepted `start` joins the stream to.
pub struct Attached<H> {
    pub handler: H,
    pub outbound: Outbound,
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
    /// Messages dropped: malformed JSON, bad base64, unknown events, wrong streamSid, media before
    /// start, binary frames. The first of each kind is logged; the counts are logged at the close.
    pub dropped: Vec<(&'static str, u64)>,
    /// Agent audio written, in 20 ms frames.
    pub frames_sent: u64,
    /// Queued agent audio and marks dropped because a clear overtook them.
    pub cleared_unsent: u64,
}

impl StreamReport {
    /// Counts a dropped message; true for the first of its kind (the one worth a log line).
    fn drop_one(&mut self, kind: &'static str) -> bool {
        metrics::counter!("sicha_stream_messages_dropped_total", "kind" => kind).increment(1);
        match self.dropped.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => {
                *n += 1;
                false
            }
            None => {
                self.dropped.push((kind, 1));
                true
            }
        }
    }

    pub fn dropped_count(&self, kind: &str) -> u64 {
        self.dropped
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    }
}

/// Logs the first drop of each kind on a stream at WARN; the rest only count (a hostile client
/// sending thousands of bad frames must not fill the log).
macro_rules! dropped {
    ($report:expr, $kind:expr, $($log:tt)+) => {
        if $report.drop_one($kind) {
            tracing::warn!(kind = $kind, $($log)+);
        }
    };
}

#[cfg(test)]
pub(crate) mod fuzz;
#[cfg(test)]
mod tests;

enum Flow {
    Continue,
    End(StreamEnd),
}

/// Runs one Media Streams connection to its end. See the module docs for ownership.
pub async fn serve_stream<S, E, A, Fut, H>(
    socket: S,
    limits: StreamLimits,
    attach: A,
) -> StreamReport
where
    S: Stream<Item = Result<WireFrame, E>> + Sink<WireFrame> + Unpin,
    E: std::fmt::Display,
    A: FnOnce(StartInfo) -> Fut,
    Fut: Future<Output = Result<Attached<H>, Rejection>>,
    H: StreamHandler,
{
    let (mut sink, mut source) = socket.split();
    let mut report = StreamReport::default();
    let mut gate = RateGate::new(limits.max_messages_per_sec);
    let mut attach = Some(attach);
    let mut handler: Option<H> = None;
    // The call side's voice, once attached: its clears and its ordered audio and marks.
    let mut clears: Option<watch::Receiver<u64>> = None;
    let mut playout: Option<mpsc::Receiver<Playout>> = None;
    let mut wire = InboundWire::default();
    let mut before_start = 0u32;
    // Audio queued under an older generation than this was cleared before it was written.
    let mut generation = 0u64;
    // The streamSid escaped once for every outbound media message; set with the `start`.
    let mut sid_json = StreamSidJson::default();
    let start_deadline = tokio::time::sleep(limits.start_deadline);
    tokio::pin!(start_deadline);

    let end = loop {
        // A clear first, then audio for Twilio, then what Twilio sent: a `clear` never waits behind
        // audio, and audio queued before it is dropped rather than played after it.
        let next = tokio::select! {
            biased;
            cleared = some_clear(&mut clears) => {
                generation = cleared;
                let message = OutboundMessage::Clear { stream_sid: sid_json.sid().to_string() };
                if write(&mut sink, &message).await.is_err() {
                    break StreamEnd::Dropped;
                }
                continue;
            }
            queued = next_playout(&mut playout) => {
                let Some(queued) = queued else { break StreamEnd::ClosedByServer };
                if queued.generation < generation {
                    report.cleared_unsent += 1;
                    continue;
                }
                if write_command(&mut sink, &sid_json, queued.command, &mut report).await.is_err() {
                    break StreamEnd::Dropped;
                }
                continue;
            }
            _ = &mut start_deadline, if handler.is_none() => {
                tracing::warn!("no start on a media stream in time; closing it");
                let _ = sink.send(WireFrame::Close(Some((close_code::POLICY, "no start".into())))).await;
                break StreamEnd::Rejected("no start message in time".into());
            }
            frame = source.next() => frame,
        };
        let frame = match next {
            None => break StreamEnd::Dropped,
            Some(Err(error)) => {
                tracing::warn!(%error, "media stream socket error");
                break StreamEnd::Dropped;
            }
            Some(Ok(frame)) => frame,
        };
        // Every frame counts against the rate, whatever its kind.
        if !gate.admit() {
            tracing::warn!(
                limit = limits.max_messages_per_sec,
                "media stream message flood"
            );
            report.drop_one("flood");
            let reason = "message rate too high";
            let _ = sink
                .send(WireFrame::Close(Some((close_code::POLICY, reason.into()))))
                .await;
            break StreamEnd::LimitExceeded(reason.into());
        }
        let text = match frame {
            WireFrame::Text(text) => text,
            WireFrame::Binary(_) => {
                dropped!(
                    report,
                    "binary",
                    "binary frame on a media stream dropped (Twilio sends only JSON text)"
                );
                continue;
            }
            WireFrame::Ping(data) => {
                let _ = sink.send(WireFrame::Pong(data)).await;
                continue;
            }
            WireFrame::Pong(_) => continue,
            WireFrame::Close(_) => break StreamEnd::Dropped,
        };
        if text.len() > limits.max_message_bytes {
            tracing::warn!(
                bytes = text.len(),
                limit = limits.max_message_bytes,
                "oversize media stream message"
            );
            report.drop_one("oversize");
            let reason = "message too large";
            let _ = sink
                .send(WireFrame::Close(Some((close_code::TOO_BIG, reason.into()))))
                .await;
            break StreamEnd::LimitExceeded(reason.into());
        }
        let message: Option<Inbound> = match serde_json::from_str(&text) {
            Ok(message) => Some(message),
            Err(error) => {
                dropped!(report, "malformed", %error, "malformed media stream message dropped");
                None
            }
        };
        if handler.is_none() {
            let start = match message {
                Some(Inbound::Start {
                    start, stream_sid, ..
                }) => Some((start, stream_sid)),
                Some(Inbound::Connected { .. }) => None,
                other => {
                    if let Some(other) = &other {
                        dropped!(
                            report,
                            "before_start",
                            event = other.kind(),
                            "media stream message before start dropped"
                        );
                    }
                    // Malformed frames count as much as misplaced ones.
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
                    None
                }
            };
            let Some((start, stream_sid)) = start else {
                continue;
            };
            let Some(attach) = attach.take() else {
                break StreamEnd::ClosedByServer;
            };
            report.call_sid = Some(start.call_sid.clone());
            sid_json = StreamSidJson::new(&stream_sid);
            report.stream_sid = Some(stream_sid.into_owned());
            match attach(start).await {
                Ok(Attached {
                    handler: call_side,
                    outbound:
                        Outbound {
                            playout: queue,
                            clears: watch,
                        },
                }) => {
                    handler = Some(call_side);
                    playout = Some(queue);
                    clears = Some(watch);
                }
                Err(Rejection(reason)) => {
                    tracing::warn!(%reason, "media stream start rejected");
                    let _ = sink
                        .send(WireFrame::Close(Some((close_code::POLICY, reason.clone()))))
                        .await;
                    break StreamEnd::Rejected(reason);
                }
            }
            continue;
        }
        let (Some(message), Some(call_side)) = (message, handler.as_mut()) else {
            continue;
        };
        match handle_message(message, call_side, &mut wire, &mut report).await {
            Flow::Continue => {}
            Flow::End(end) => break end,
        }
    };

    // Counted before the socket closes, so whoever sees it closed reads a final count.
    wire.count_frames();
    report.end = Some(end.clone());
    for (kind, count) in report.dropped.iter().filter(|(_, n)| *n > 1) {
        tracing::warn!(kind, count, "media stream messages dropped on this stream");
    }
    if let Some(call_side) = handler {
        call_side.on_end(end.clone()).await;
    }
    if matches!(end, StreamEnd::Stopped | StreamEnd::ClosedByServer) {
        let _ = sink
            .send(WireFrame::Close(Some((close_code::NORMAL, String::new()))))
            .await;
    }
    let _ = sink.close().await;
    report
}

async fn some_clear(clears: &mut Option<watch::Receiver<u64>>) -> u64 {
    match clears {
        Some(clears) => next_clear(clears).await,
        None => std::future::pending().await,
    }
}

async fn next_playout(playout: &mut Option<mpsc::Receiver<Playout>>) -> Option<Playout> {
    match playout {
        Some(playout) => playout.recv().await,
        None => std::future::pending().await,
    }
}

async fn handle_message<H: StreamHandler>(
    message: Inbound<'_>,
    call_side: &mut H,
    wire: &mut InboundWire,
    report: &mut StreamReport,
) -> Flow {
    if message.stream_sid().is_some() && message.stream_sid() != report.stream_sid.as_deref() {
        dropped!(
            report,
            "wrong_stream",
            event = message.kind(),
            "media stream message for another streamSid dropped"
        );
        return Flow::Continue;
    }
    let delivered = match message {
        Inbound::Media { media, .. } => {
            if media.track.as_deref().is_some_and(|t| t != "inbound") {
                return Flow::Continue;
            }
            wire.observe_lag(media.timestamp.as_deref());
            let Ok(mulaw) = wire.decode(&media.payload) else {
                dropped!(
                    report,
                    "bad_base64",
                    "media payload is not valid base64; dropped"
                );
                return Flow::Continue;
            };
            report.media_frames += 1;
            report.media_bytes += mulaw.len() as u64;
            call_side.on_event(StreamEvent::Media(mulaw)).await
        }
        Inbound::Mark { mark, .. } => call_side.on_event(StreamEvent::Mark(mark.name)).await,
        Inbound::Dtmf { dtmf, .. } => call_side.on_event(StreamEvent::Dtmf(dtmf.digit)).await,
        Inbound::Stop { .. } => return Flow::End(StreamEnd::Stopped),
        Inbound::Start { .. } => {
            dropped!(
                report,
                "duplicate_start",
                "second start on one media stream dropped"
            );
            return Flow::Continue;
        }
        Inbound::Connected { .. } => return Flow::Continue,
        Inbound::Unknown => {
            dropped!(
                report,
                "unknown_event",
                "unknown media stream event dropped"
            );
            return Flow::Continue;
        }
    };
    if delivered {
        Flow::Continue
    } else {
        Flow::End(StreamEnd::ClosedByServer)
    }
}

/// Agent audio goes out in media messages of at most this many μ-law bytes (500 ms). Twilio takes
/// any size and buffers it in order; one message per chunk of synthesised speech instead of one per
/// 20 ms writes several times fewer messages (each a JSON document, a WebSocket frame and a syscall),
/// which is most of what a thousand talking calls cost. `clear` still empties Twilio's buffer at once.
const MAX_MEDIA_BYTES: usize = 25 * FRAME_SAMPLES;

/// Writes one command as Twilio messages (audio as media of up to [`MAX_MEDIA_BYTES`], or a mark),
/// flushing the socket once at the end.
async fn write_command<K: Sink<WireFrame> + Unpin>(
    sink: &mut K,
    sid_json: &StreamSidJson,
    command: StreamCommand,
    report: &mut StreamReport,
) -> Result<(), ()> {
    match command {
        StreamCommand::Media(mulaw) => {
            for piece in mulaw.chunks(MAX_MEDIA_BYTES) {
                // Counted in 20 ms frames of audio, whatever the message size.
                let frames = piece.len().div_ceil(FRAME_SAMPLES) as u64;
                report.frames_sent += frames;
                metrics::counter!("sicha_frames_out_total").increment(frames);
                let text = outbound_media_text(sid_json, piece);
                sink.feed(WireFrame::Text(text)).await.map_err(|_| ())?;
            }
            sink.flush().await.map_err(|_| ())
        }
        StreamCommand::Mark(name) => {
            let stream_sid = sid_json.sid().to_string();
            let mark = MarkInfo { name };
            write(sink, &OutboundMessage::Mark { stream_sid, mark }).await
        }
    }
}

/// Writes and flushes one message.
async fn write<K: Sink<WireFrame> + Unpin>(
    sink: &mut K,
    message: &OutboundMessage,
) -> Result<(), ()> {
    let text = serde_json::to_string(message).expect("outbound messages always serialise");
    sink.send(WireFrame::Text(text)).await.map_err(|_| ())
}
