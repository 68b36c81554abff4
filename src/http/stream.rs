//! `GET /twilio/stream`: the Media Streams WebSocket. The upgrade is signed (X-Twilio-Signature over
//! the `wss://` URL); the `start` message must carry a stream token for its CallSid, unexpired and
//! unused. Then the socket loop runs and the call's session (found or started in the registry) takes
//! over. A refused start closes with 1008 and, when the call is known, leaves an event on it.

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::json;

use super::AppState;
use super::twilio_auth::{check, public_base, websocket_url};
use super::voice::TOKEN_PARAMETER;
use crate::call::line::Line;
use crate::clock::now_ms;
use crate::twilio::socket::{
    Attached, Rejection, StreamEnd, StreamLimits, WireFrame, serve_stream,
};
use crate::twilio::stream::StartInfo;
use crate::twilio::stream_log::StreamLogWriter;

/// The socket's read buffer: two or three Twilio media messages (about 370 bytes each). The library
/// zero-fills it before every read, so it is kept small; a larger message takes more reads.
const READ_BUFFER_BYTES: usize = 1024;

/// How long an accepted socket may wait for its `start` before it is closed.
const START_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

pub async fn stream_upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let url = websocket_url(&public_base(&state, &headers), "/twilio/stream");
    if let Err(status) = check(&state, &headers, url.as_str(), &[]) {
        return status.into_response();
    }
    // The library's own cap sits above ours so that our check, with its clear close code, runs first.
    let library_cap = state.settings.limits.max_ws_message_bytes.saturating_mul(4);
    upgrade
        .max_message_size(library_cap)
        .max_frame_size(library_cap)
        // The library zero-fills its read buffer up to this size on every read: at the default
        // 128 KiB that was a third of the server's CPU with many calls (Twilio's frames are ~300 B).
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| run_socket(state, socket, url))
}

async fn run_socket(state: AppState, socket: WebSocket, stream_url: url::Url) {
    let limits = StreamLimits {
        max_message_bytes: state.settings.limits.max_ws_message_bytes,
        max_messages_per_sec: state.settings.limits.max_ws_messages_per_sec,
        max_messages_before_start: 8,
        start_deadline: START_DEADLINE,
    };
    let max_message_bytes = limits.max_message_bytes;
    // With --record-streams, every inbound text frame within the size limit is also written to a
    // session file (blocking writes of one short line; a diagnostic, off by default). A failing log
    // stops itself, not the call.
    let mut log = state
        .settings
        .record_streams_dir
        .as_deref()
        .and_then(|dir| match StreamLogWriter::create(dir) {
            Ok(log) => Some(log),
            Err(error) => {
                tracing::error!(%error, "cannot record this media stream");
                None
            }
        });
    let socket = socket
        .map(|message| message.map(wire_from_axum))
        .inspect(move |frame| {
            if let (Some(writer), Ok(WireFrame::Text(text))) = (log.as_mut(), frame)
                && text.len() <= max_message_bytes
                && let Err(error) = writer.record(text)
            {
                tracing::error!(%error, "stream recording stopped");
                log = None;
            }
        })
        .with(|frame: WireFrame| {
            futures::future::ready(Ok::<_, axum::Error>(axum_from_wire(frame)))
        });
    let attach_state = state.clone();
    let report = serve_stream(Box::pin(socket), limits, move |start| {
        attach(attach_state, start, stream_url)
    })
    .await;
    tracing::info!(
        call_sid = report.call_sid.as_deref().unwrap_or("-"),
        end = ?report.end,
        media_frames = report.media_frames,
        frames_sent = report.frames_sent,
        dropped = ?report.dropped,
        "media stream closed"
    );
    if let (Some(call_sid), Some(StreamEnd::Rejected(reason))) = (&report.call_sid, &report.end) {
        record_if_known(
            &state,
            call_sid,
            "stream_rejected",
            json!({ "reason": reason }),
        )
        .await;
    }
}

/// Validates the `start` (format, token, call) and joins the stream to its call.
async fn attach(
    state: AppState,
    start: StartInfo,
    stream_url: url::Url,
) -> Result<Attached<Line>, Rejection> {
    let call_sid = start.call_sid.clone();
    if !start.media_format.is_mulaw_8k_mono() {
        return Err(Rejection(format!(
            "unsupported media format {:?}",
            start.media_format
        )));
    }
    let token = start
        .custom_parameters
        .get(TOKEN_PARAMETER)
        .ok_or_else(|| Rejection("missing stream token".into()))?;
    let now = now_ms();
    let verified = state
        .calls
        .token_key
        .verify(token, &call_sid, now)
        .map_err(|error| Rejection(format!("stream token: {error}")))?;
    // The caller hears nothing until both are done, so the token's write and the call's read go
    // together; the call is only used once the token is spent.
    let (consumed, call) = tokio::join!(
        state
            .store
            .consume_stream_token(&verified.nonce, &call_sid, now),
        state.store.call_by_sid(&call_sid)
    );
    match consumed {
        Ok(true) => {}
        Ok(false) => return Err(Rejection("stream token: already used".into())),
        Err(error) => {
            tracing::error!(%error, "could not consume a stream token");
            return Err(Rejection("stream token: cannot be checked now".into()));
        }
    }
    let call = match call {
        Ok(Some(call)) => call,
        Ok(None) => return Err(Rejection("no such call".into())),
        Err(error) => {
            tracing::error!(%error, "could not load the call");
            return Err(Rejection("call cannot be loaded now".into()));
        }
    };
    crate::call::attach::attach(&state.calls, call, start.stream_sid, stream_url).await
}

async fn record_if_known(state: &AppState, call_sid: &str, kind: &str, detail: serde_json::Value) {
    // Events hang off a call row; a CallSid we never answered has none to hang them on.
    if let Ok(Some(_)) = state.store.call_by_sid(call_sid).await
        && let Err(error) = state
            .store
            .insert_event(call_sid, kind, Some(&detail), now_ms())
            .await
    {
        tracing::error!(%error, kind, "could not record a stream event");
    }
}

fn wire_from_axum(message: Message) -> WireFrame {
    match message {
        Message::Text(text) => WireFrame::Text(text.to_string()),
        Message::Binary(bytes) => WireFrame::Binary(bytes.to_vec()),
        Message::Ping(bytes) => WireFrame::Ping(bytes.to_vec()),
        Message::Pong(bytes) => WireFrame::Pong(bytes.to_vec()),
        Message::Close(frame) => WireFrame::Close(frame.map(|f| (f.code, f.reason.to_string()))),
    }
}

fn axum_from_wire(frame: WireFrame) -> Message {
    match frame {
        WireFrame::Text(text) => Message::Text(text.into()),
        WireFrame::Binary(bytes) => Message::Binary(bytes.into()),
        WireFrame::Ping(bytes) => Message::Ping(bytes.into()),
        WireFrame::Pong(bytes) => Message::Pong(bytes.into()),
        WireFrame::Close(frame) => Message::Close(frame.map(|(code, reason)| CloseFrame {
            code,
            reason: reason.into(),
        })),
    }
}
