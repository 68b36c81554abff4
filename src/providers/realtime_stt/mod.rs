//! Streaming speech to text over OpenAI's Realtime API in transcription mode: one WebSocket per call,
//! the caller's μ-law appended as it arrives (no decoding, no resampling), a commit where sicha's
//! endpointer ends a turn, and the transcript back as deltas and a final text, moments after the
//! commit. The batch client ([`super::stt`]) stays the default and the fallback when a stream breaks.
//!
//! Layout:
//! - this file: [`RealtimeStt`], the client (URL, key, model, language) and the session set-up, with
//!   its errors ([`RealtimeSttError`]).
//! - [`stream`]  an open stream: the owner's halves and the task that owns the socket.
//! - [`events`]  what a stream tells its owner, turn by turn.
//! - [`turns`]   which turn each server event belongs to (synchronous).
//! - [`wire`]    the client events sent and the server events parsed (pure).

mod events;
mod stream;
mod turns;
mod wire;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::AUTHORIZATION;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use url::Url;

use super::http::{OpenAiConfig, error_message};
use stream::{SessionSettings, Socket};
use wire::{ServerEvent, parse_server_event};

pub use events::{BrokenReason, TranscriptionEvent, TurnTicket};
pub use stream::{RealtimeStream, StreamGone, TranscriptionEvents, TranscriptionSender};
pub use turns::MIN_COMMIT_BYTES;
pub use wire::ApiError;

/// OpenAI's transcription model for realtime sessions.
pub const DEFAULT_REALTIME_STT_MODEL: &str = "gpt-4o-transcribe";

/// The server's messages are a few hundred bytes; the library zero-fills its read buffer up to
/// this size on every read, so it is kept small.
const READ_BUFFER_BYTES: usize = 4 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RealtimeSttError {
    #[error("cannot build the realtime request: {0}")]
    Request(String),
    #[error("cannot reach the realtime transcription server: {0}")]
    Transport(#[source] Box<tungstenite::Error>),
    #[error("realtime transcription server answered {status}: {message}")]
    Http { status: u16, message: String },
    #[error("the realtime session was not ready within {0:?}")]
    Timeout(Duration),
    #[error("the realtime server refused the session: {0}")]
    Refused(ApiError),
    #[error("the realtime server closed the socket while the session was being set up")]
    ClosedDuringSetup,
}

impl From<tungstenite::Error> for RealtimeSttError {
    fn from(error: tungstenite::Error) -> Self {
        match error {
            tungstenite::Error::Http(response) => {
                let body = response
                    .body()
                    .as_deref()
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default();
                Self::Http {
                    status: response.status().as_u16(),
                    message: error_message(response.status(), &body),
                }
            }
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                Self::ClosedDuringSetup
            }
            other => Self::Transport(Box::new(other)),
        }
    }
}

/// The realtime transcription client: where, as whom, which model, which language. Cheap to clone;
/// each [`Self::connect`] opens a stream of its own.
#[derive(Debug, Clone)]
pub struct RealtimeStt {
    config: OpenAiConfig,
    model: String,
    language: String,
}

impl RealtimeStt {
    /// A client for `model` (such as [`DEFAULT_REALTIME_STT_MODEL`]) transcribing Hebrew.
    pub fn new(config: OpenAiConfig, model: impl Into<String>) -> Self {
        Self {
            config,
            model: model.into(),
            language: "he".to_string(),
        }
    }

    /// ISO-639-1 language of the audio; Hebrew by default.
    pub fn with_language(mut self, language: impl Into<String>) -> Self {
        self.language = language.into();
        self
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// The socket's URL: the configured base as `ws(s)://…/realtime?intent=transcription`. The model
    /// goes in the session, not the URL.
    pub fn url(&self) -> Url {
        let mut url = self.config.websocket_endpoint("realtime");
        url.set_query(Some("intent=transcription"));
        url
    }

    /// Opens a stream: connects, waits for `session.created`, sets the session up (μ-law, model,
    /// language, `prompt`, no server turn detection) and waits for `session.updated`, all within the
    /// configured timeout. A refusal is [`RealtimeSttError::Refused`] with the server's words.
    pub async fn connect(&self, prompt: Option<&str>) -> Result<RealtimeStream, RealtimeSttError> {
        let timeout = self.config.timeout;
        let socket = tokio::time::timeout(timeout, self.open_session(prompt))
            .await
            .map_err(|_| RealtimeSttError::Timeout(timeout))??;
        let settings = SessionSettings {
            model: self.model.clone(),
            language: self.language.clone(),
        };
        Ok(stream::spawn(socket, settings))
    }

    async fn open_session(&self, prompt: Option<&str>) -> Result<Socket, RealtimeSttError> {
        let mut request = self
            .url()
            .as_str()
            .into_client_request()
            .map_err(|error| RealtimeSttError::Request(error.to_string()))?;
        if let Some(key) = &self.config.api_key {
            let bearer =
                HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                    RealtimeSttError::Request("the API key is not a valid header value".to_string())
                })?;
            request.headers_mut().insert(AUTHORIZATION, bearer);
        }
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
        // No Nagle: each append should leave as it is written, not wait for the next.
        let (mut socket, _) =
            tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
        wait_for(&mut socket, |event| *event == ServerEvent::SessionCreated).await?;
        let update = wire::session_update(&self.model, &self.language, prompt);
        socket.send(Message::text(update)).await?;
        wait_for(&mut socket, |event| *event == ServerEvent::SessionUpdated).await?;
        tracing::debug!(model = %self.model, "realtime transcription session ready");
        Ok(socket)
    }
}

/// Reads server events until `wanted` matches one. An `error` event on the way is the session's
/// refusal; other events are skipped.
async fn wait_for(
    socket: &mut Socket,
    wanted: impl Fn(&ServerEvent) -> bool,
) -> Result<(), RealtimeSttError> {
    loop {
        let text = match socket.next().await {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | None => return Err(RealtimeSttError::ClosedDuringSetup),
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(error.into()),
        };
        match parse_server_event(&text) {
            ServerEvent::Error(error) => return Err(RealtimeSttError::Refused(error)),
            event if wanted(&event) => return Ok(()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_the_base_as_a_socket_with_the_transcription_intent() {
        let hosted = RealtimeStt::new(OpenAiConfig::default(), DEFAULT_REALTIME_STT_MODEL);
        assert_eq!(
            hosted.url().as_str(),
            "wss://api.openai.com/v1/realtime?intent=transcription"
        );
        let local = OpenAiConfig::new(Url::parse("http://127.0.0.1:8000/v1").unwrap(), None);
        assert_eq!(
            RealtimeStt::new(local, "m").url().as_str(),
            "ws://127.0.0.1:8000/v1/realtime?intent=transcription"
        );
    }

    /// An https base gets TLS (the build has a crypto provider and root store for it, or this
    /// would panic), and a server that hangs up during the handshake is a transport error.
    #[tokio::test]
    async fn a_tls_socket_that_fails_its_handshake_is_a_transport_error() {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                drop(socket);
            }
        });
        let base = Url::parse(&format!("https://127.0.0.1:{port}/v1")).unwrap();
        let client = RealtimeStt::new(OpenAiConfig::new(base, None), "m");
        assert!(client.url().as_str().starts_with("wss://"));
        let error = client
            .connect(None)
            .await
            .err()
            .expect("no TLS server there");
        assert!(matches!(error, RealtimeSttError::Transport(_)), "{error:?}");
    }
}
