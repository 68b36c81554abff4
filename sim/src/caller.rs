//! The simulated Twilio caller: plays a [`Scenario`] against a sicha server the way Twilio would —
//! signed voice webhook, `connected`, `start` with the stream token, 20 ms `media` frames paced by a
//! clock (real time, or a time-lapse for tests), mark echoes from an emulated playback buffer, and
//! `stop` — and records every event in a [`CallTrace`].
//!
//! The caller speaks a line, keeps sending silence while it listens, and speaks the next line once
//! the answer has played and a pause has passed (or, for a barge-in line, while the answer is still
//! playing), as a person on a phone would.

mod live;
mod trace;

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use url::Url;

use super::scenario::Scenario;
use super::twilio_caller::{CallerError, MediaStreamClient, place_call, stream_target};
use live::{LiveCall, Recorder};

pub use trace::{BargeIn, CallTrace, SentFrame, TraceEvent, TraceKind};

#[derive(Debug, thiserror::Error)]
pub enum SimCallError {
    #[error(transparent)]
    Twilio(#[from] CallerError),
    #[error("the voice webhook answered {status}: {body}")]
    Rejected { status: u16, body: String },
}

/// Who calls whom, where, and how fast.
#[derive(Debug, Clone)]
pub struct CallerOptions {
    /// The sicha server's origin, e.g. `http://127.0.0.1:8080/`.
    pub server: Url,
    /// Signs the webhook and the stream upgrade as Twilio does; `None` for an unsigned server.
    pub auth_token: Option<String>,
    pub call_sid: String,
    pub from: String,
    pub to: String,
    /// 1.0 is real time; 4.0 sends the caller's audio and plays the agent's four times as fast.
    pub speed: f64,
    /// Wall time to wait for an answer to start before the caller goes on without one.
    pub answer_timeout: Duration,
    /// Keep both sides' audio in the trace (for a WAV of the call). A bench, which only times the
    /// calls, turns it off rather than hold every second of a thousand calls.
    pub keep_audio: bool,
}

impl CallerOptions {
    pub fn new(server: Url, call_sid: &str, from: &str, to: &str) -> Self {
        Self {
            server,
            auth_token: None,
            call_sid: call_sid.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            speed: 1.0,
            answer_timeout: Duration::from_secs(15),
            keep_audio: true,
        }
    }
}

/// A fresh CallSid in Twilio's shape.
pub fn new_call_sid() -> String {
    format!("CA{}", uuid::Uuid::new_v4().simple())
}

/// Plays `scenario` as one call and returns its trace. `watch`, when given, receives every event
/// as it happens; the call goes on if the receiver is dropped.
///
/// Everything runs in this one future: a `select!` over the frame clock, the socket and the next
/// mark's due time, so sending, listening and echoing never wait on each other. Dropping the future
/// drops the socket (the server sees a dropped connection).
pub async fn run_call(
    options: &CallerOptions,
    scenario: &Scenario,
    watch: Option<mpsc::UnboundedSender<TraceEvent>>,
) -> Result<CallTrace, SimCallError> {
    let origin = Instant::now();
    let mut recorder = Recorder::new(origin, watch);
    let http = reqwest::Client::new();
    let auth_token = options.auth_token.as_deref();
    let answer = place_call(
        &http,
        &options.server,
        auth_token,
        &options.call_sid,
        &options.from,
        &options.to,
    )
    .await?;
    recorder.record(TraceKind::WebhookAnswered {
        status: answer.status,
    });
    if answer.status != 200 {
        return Err(SimCallError::Rejected {
            status: answer.status,
            body: answer.twiml,
        });
    }
    let target = stream_target(&answer.twiml)?;
    let stream_sid = format!("MZ{}", options.call_sid.trim_start_matches("CA"));
    let mut client = MediaStreamClient::connect(&target.url, auth_token, &stream_sid).await?;
    client.send_connected().await?;
    client
        .send_start(&options.call_sid, &target.parameters)
        .await?;
    recorder.record(TraceKind::StartSent);

    let mut call = LiveCall::new(scenario, options, origin, recorder);
    call.run(&mut client).await?;
    call.hang_up(client).await?;
    Ok(call.into_trace())
}
