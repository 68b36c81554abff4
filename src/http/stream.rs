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
use sicha_audio::endpoint::EndpointConfig;
use tokio::sync::mpsc;

use super::AppState;
use super::twilio_auth::{check, public_base, websocket_url};
use super::voice::TOKEN_PARAMETER;
use crate::call::session::{self, CallContext, Reconnect, SilencePolicy};
use crate::call::{OutboundCommand, SessionInput};
use crate::clock::now_ms;
use crate::store::{Business, Call};
use crate::twilio::socket::{Attached, Rejection, StreamLimits, WireFrame, serve_stream};
use crate::twilio::stream::StartInfo;
use crate::twilio::stream_log::StreamLogWriter;

/// The socket's read buffer: two or three Twilio media messages (about 370 bytes each). The library
/// zero-fills it before every read, so it is kept small; a larger message takes more reads.
const READ_BUFFER_BYTES: usize = 1024;

/// Commands a session may queue for its socket before it waits: whole pieces of audio, so few.
const OUTBOUND_CAPACITY: usize = 64;

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
    };
    // With --record-streams, every inbound text frame is also written to a session file (blocking
    // writes of one short line; a diagnostic, off by default). A failing log stops itself, not the call.
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
    let report = serve_stream(
        Box::pin(socket),
        limits,
        endpoint_config(&state.settings.conversation),
        move |start| attach(attach_state, start, stream_url),
    )
    .await;
    tracing::info!(
        call_sid = report.call_sid.as_deref().unwrap_or("-"),
        end = ?report.end,
        media_frames = report.media_frames,
        frames_sent = report.frames_sent,
        dropped = ?report.dropped,
        "media stream closed"
    );
    if let (Some(call_sid), Some(crate::call::StreamEnd::Rejected(reason))) =
        (&report.call_sid, &report.end)
    {
        record_if_known(
            &state,
            call_sid,
            "stream_rejected",
            json!({ "reason": reason }),
        )
        .await;
    }
}

/// Validates the `start` and joins the stream to its call's session.
async fn attach(
    state: AppState,
    start: StartInfo,
    stream_url: url::Url,
) -> Result<Attached, Rejection> {
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
    if call.ended_at_ms.is_some() {
        return Err(Rejection("call has ended".into()));
    }
    let business = match &call.business_id {
        Some(id) => state.store.business_by_id(id).await.map_err(|error| {
            tracing::error!(%error, "could not load the call's business");
            Rejection("business cannot be loaded now".into())
        })?,
        None => None,
    };
    let context = call_context(&state, call, business, stream_url);
    let recording = state.settings.after_call.recordings_dir.is_some();

    // A session that is just ending may close its inbox between lookup and send: then start afresh.
    for _ in 0..2 {
        let inbox = start_or_find_session(&state, &call_sid, context.clone());
        let (outbound, from_session) = mpsc::channel::<OutboundCommand>(OUTBOUND_CAPACITY);
        let attached = SessionInput::StreamAttached {
            stream_sid: start.stream_sid.clone(),
            outbound,
        };
        if inbox.send(attached).await.is_ok() {
            return Ok(Attached {
                to_session: inbox,
                from_session,
                forward_audio: recording,
            });
        }
    }
    Err(Rejection("call session unavailable".into()))
}

fn call_context(
    state: &AppState,
    call: Call,
    business: Option<Business>,
    stream_url: url::Url,
) -> CallContext {
    let base = public_base_of(&stream_url);
    CallContext {
        call_sid: call.call_sid,
        store: state.store.clone(),
        records: state.records.clone(),
        registry: state.registry.clone(),
        mode: state.mode,
        agent: state.agent.clone(),
        business,
        customer_id: call.customer_id,
        caller_number: call.from_number,
        started_at_ms: call.started_at_ms,
        max_call: state.settings.limits.max_call,
        reconnect: Some(Reconnect {
            status_callback: base.join("/twilio/stream-status").ok(),
            stream_url,
            token_key: state.token_key.clone(),
            token_ttl: state.settings.stream_token_ttl,
            wait: RECONNECT_WAIT,
        }),
        after_call: state.settings.after_call.clone(),
        silence: SilencePolicy {
            after: state.settings.conversation.silence_prompt_after,
            max_prompts: state.settings.conversation.silence_prompts,
        },
        outbox: state.outbox.clone(),
    }
}

/// The https origin behind a ws(s) stream URL.
fn public_base_of(stream_url: &url::Url) -> url::Url {
    let mut base = stream_url.clone();
    let scheme = if base.scheme() == "wss" {
        "https"
    } else {
        "http"
    };
    // Both schemes are special with the same host rules, so the change cannot fail.
    let _ = base.set_scheme(scheme);
    base.set_path("/");
    base
}

/// The endpointer as configured; the rest of its settings keep their measured defaults.
pub fn endpoint_config(conversation: &crate::config::ConversationSettings) -> EndpointConfig {
    EndpointConfig {
        start_ms: conversation.vad_start_ms,
        hangover_ms: conversation.vad_hangover_ms,
        eager_ms: conversation.eager_stt_ms,
        ..EndpointConfig::default()
    }
}

/// How long a call redirected to `<Say>` may take to come back on a new stream.
const RECONNECT_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The live session of `call_sid`, or a new one started with `context`.
fn start_or_find_session(
    state: &AppState,
    call_sid: &str,
    context: CallContext,
) -> mpsc::Sender<SessionInput> {
    state
        .registry
        .get_or_start(call_sid, move |me, inbox, cancel| {
            session::run(context, me, inbox, cancel)
        })
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
