//! Joining a media stream to its call: the call's session is found (a reconnecting stream resumes the
//! same call) or started, told about the stream, and the stream's [`Line`] and outbound side are
//! handed back to the socket loop. The stream's token has been checked by then (the Twilio edge's
//! job); what is checked here is the call's own state: an ended call takes no stream, and a new call
//! takes no session beyond the server's limit.

use tokio::sync::{mpsc, oneshot};

use super::callback::callback_context;
use super::context::{CallContext, CallServices};
use super::line::Line;
use super::session::{self, Control};
use crate::store::Call;
use crate::twilio::outbound::outbound_channel;
use crate::twilio::socket::{Attached, Rejection};

/// Commands the call may queue for its socket before it waits: whole pieces of audio, so few.
const OUTBOUND_CAPACITY: usize = 64;

/// Joins stream `stream_sid` to `call`, reached at `stream_url`.
pub async fn attach(
    services: &CallServices,
    call: Call,
    stream_sid: String,
    stream_url: url::Url,
) -> Result<Attached<Line>, Rejection> {
    if call.ended_at_ms.is_some() {
        return Err(Rejection("the call has ended".into()));
    }
    let business = match &call.business_id {
        Some(id) => services.store.business_by_id(id).await.map_err(|error| {
            tracing::error!(%error, "could not load the call's business");
            Rejection("business cannot be loaded now".into())
        })?,
        None => None,
    };
    let call_sid = call.call_sid.clone();
    let realtime = services
        .agent
        .as_ref()
        .is_some_and(|agent| agent.realtime_stt.is_some());
    let callback = callback_context(&services.store, &call, business.as_ref()).await;
    let context = CallContext::new(services.clone(), call, business, callback, stream_url);

    // A session that is just ending may close its inbox between lookup and send: then start afresh.
    for _ in 0..2 {
        let start = {
            let context = context.clone();
            move |me, control, cancel| session::start(context, me, control, cancel)
        };
        let control = services
            .registry
            .get_or_start(&call_sid, start)
            .map_err(|full| Rejection(full.to_string()))?;
        let (outbound, from_call) = outbound_channel(OUTBOUND_CAPACITY);
        // Only a recorded call makes the stream wait for its session (for the recording path).
        let (recording, answer) = if services.policies.after_call.recordings_dir.is_some() {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        // With realtime transcription the session opens streams and hands them to the line.
        let (transcription, to_line) = if realtime {
            let (tx, rx) = mpsc::channel(1);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let attach = Control::Attach {
            stream_sid: stream_sid.clone(),
            outbound,
            recording,
            transcription,
        };
        if control.send(attach).await.is_err() {
            continue;
        }
        let caller_audio = match answer {
            Some(answer) => match answer.await {
                Ok(caller_audio) => caller_audio,
                Err(_) => continue,
            },
            None => None,
        };
        let endpoint = services.policies.endpoint.clone();
        let line = Line::new(stream_sid, control, caller_audio, endpoint, to_line);
        return Ok(Attached {
            handler: line,
            outbound: from_call,
        });
    }
    Err(Rejection("call session unavailable".into()))
}
