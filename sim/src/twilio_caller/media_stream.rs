//! The Media Streams WebSocket, Twilio's end: [`MediaStreamClient`].

use std::borrow::Cow;
use std::time::Duration;

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::CallerError;
use sicha::twilio::signature;
use sicha::twilio::stream::{
    DtmfInfo, Inbound, MarkInfo, MediaFormat, Outbound, StartInfo, StopInfo, StreamSidJson,
    inbound_media_text,
};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the reader task hands over: one thing the server sent, or why the socket failed.
type ReadResult = Result<Received, CallerError>;

/// Messages the reader may hold for a caller that is busy sending; beyond it, the reader waits and
/// the socket's own buffers fill, as they would with nobody reading.
const RECEIVED_CAPACITY: usize = 64;

/// What the server sent on the stream, as the caller sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    Message(Outbound),
    /// The server closed the socket, with its close code when it gave one.
    Closed(Option<u16>),
}

/// One Media Streams WebSocket, Twilio's end.
///
/// The socket is split in two. This value owns the writing half: each `send_*` writes and flushes
/// one message. A reader task owns the reading half and hands every message to this value over a
/// channel ([`Self::next_received`]); it ends when the socket does, and dropping this value aborts
/// it, which drops the socket without a close frame (a network failure, to the server). Reading on
/// a task of its own keeps a caller's 20 ms frame clock off the socket: a `select!` over both re-armed
/// the socket's read (and the library's read buffer) on every tick, a tenth of a bench's CPU.
pub struct MediaStreamClient {
    sink: SplitSink<Socket, Message>,
    received: mpsc::Receiver<ReadResult>,
    /// Held for its `Drop`: the reader goes with the client.
    _reader: AbortOnDrop,
    /// The streamSid, with its JSON form for the media messages written directly.
    stream_sid: StreamSidJson,
    sequence: u64,
    chunk: u64,
    timestamp_ms: u64,
}

/// Aborts the reader task when the client goes, whichever way it goes.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The reader task: forwards what the server sends until the socket ends or fails (its last item)
/// or the client is gone.
async fn read_socket(mut stream: SplitStream<Socket>, to_client: mpsc::Sender<ReadResult>) {
    loop {
        let item = match stream.next().await {
            None => Ok(Received::Closed(None)),
            Some(Err(
                tungstenite::Error::ConnectionClosed
                | tungstenite::Error::AlreadyClosed
                | tungstenite::Error::Protocol(_),
            )) => Ok(Received::Closed(None)),
            Some(Err(e)) => Err(e.into()),
            Some(Ok(Message::Text(text))) => serde_json::from_str(&text)
                .map(Received::Message)
                .map_err(|e| CallerError::Protocol(format!("{e}: {text}"))),
            Some(Ok(Message::Close(frame))) => {
                Ok(Received::Closed(frame.map(|f| u16::from(f.code))))
            }
            Some(Ok(Message::Binary(_))) => Err(CallerError::Protocol("binary frame".into())),
            Some(Ok(_)) => continue,
        };
        let last = !matches!(item, Ok(Received::Message(_)));
        if to_client.send(item).await.is_err() || last {
            return;
        }
    }
}

impl MediaStreamClient {
    /// Opens the socket, signing the upgrade over its URL when `auth_token` is given.
    pub async fn connect(
        url: &str,
        auth_token: Option<&str>,
        stream_sid: &str,
    ) -> Result<Self, CallerError> {
        let mut request = url.into_client_request()?;
        if let Some(token) = auth_token {
            let signature = signature::compute(token, url, &[]);
            request.headers_mut().insert(
                "X-Twilio-Signature",
                signature.parse().expect("base64 is a valid header"),
            );
        }
        // Small reads: the library zero-fills its read buffer up to this size on every read, and a
        // bench runs a thousand of these sockets.
        let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
        let (socket, _) =
            tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
        let (sink, stream) = socket.split();
        let (to_client, received) = mpsc::channel(RECEIVED_CAPACITY);
        let reader = tokio::spawn(read_socket(stream, to_client)).abort_handle();
        Ok(Self {
            sink,
            received,
            _reader: AbortOnDrop(reader),
            stream_sid: StreamSidJson::new(stream_sid),
            sequence: 0,
            chunk: 0,
            timestamp_ms: 0,
        })
    }

    pub fn stream_sid(&self) -> &str {
        self.stream_sid.sid()
    }

    fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    /// The counters every message but `connected` carries.
    fn counters(&mut self) -> (Cow<'static, str>, Cow<'static, str>) {
        let sequence = self.next_sequence().to_string().into();
        (sequence, self.stream_sid().to_string().into())
    }

    /// Sends a raw text frame (for malformed-input tests).
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<(), CallerError> {
        Ok(self.sink.send(Message::Text(text.into().into())).await?)
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<(), CallerError> {
        Ok(self.sink.send(Message::Binary(bytes.into())).await?)
    }

    async fn send(&mut self, message: &Inbound<'_>) -> Result<(), CallerError> {
        self.send_text(serde_json::to_string(message).expect("messages serialise"))
            .await
    }

    pub async fn send_connected(&mut self) -> Result<(), CallerError> {
        self.send(&Inbound::Connected {
            protocol: "Call".into(),
            version: "1.0.0".into(),
        })
        .await
    }

    pub async fn send_start(
        &mut self,
        call_sid: &str,
        parameters: &[(String, String)],
    ) -> Result<(), CallerError> {
        let start = StartInfo {
            account_sid: "ACsimulated00000000000000000000000".into(),
            stream_sid: self.stream_sid().to_string(),
            call_sid: call_sid.into(),
            tracks: vec!["inbound".into()],
            custom_parameters: parameters.iter().cloned().collect(),
            media_format: MediaFormat::twilio_mulaw(),
        };
        let (sequence_number, stream_sid) = self.counters();
        self.send(&Inbound::Start {
            sequence_number,
            stream_sid,
            start,
        })
        .await
    }

    /// Sends μ-law audio as one media message (Twilio sends 160 bytes = 20 ms per message). The
    /// message is written directly (see `twilio::stream::text`): a bench sends fifty a second per call.
    pub async fn send_media(&mut self, mulaw: &[u8]) -> Result<(), CallerError> {
        self.chunk += 1;
        let sequence = self.next_sequence();
        let text = inbound_media_text(
            sequence,
            &self.stream_sid,
            self.chunk,
            self.timestamp_ms,
            mulaw,
        );
        self.timestamp_ms += (mulaw.len() as u64) / 8;
        self.send_text(text).await
    }

    /// Sends audio as consecutive 20 ms media messages, as fast as the socket takes them.
    pub async fn send_audio(&mut self, mulaw: &[u8]) -> Result<(), CallerError> {
        for frame in mulaw.chunks(160) {
            self.send_media(frame).await?;
        }
        Ok(())
    }

    pub async fn send_dtmf(&mut self, digit: &str) -> Result<(), CallerError> {
        let (sequence_number, stream_sid) = self.counters();
        let dtmf = DtmfInfo {
            track: Some("inbound_track".into()),
            digit: digit.into(),
        };
        self.send(&Inbound::Dtmf {
            sequence_number,
            stream_sid,
            dtmf,
        })
        .await
    }

    /// Echoes a mark: the audio before it has played.
    pub async fn send_mark(&mut self, name: &str) -> Result<(), CallerError> {
        let (sequence_number, stream_sid) = self.counters();
        let mark = MarkInfo { name: name.into() };
        self.send(&Inbound::Mark {
            sequence_number,
            stream_sid,
            mark,
        })
        .await
    }

    pub async fn send_stop(&mut self, call_sid: &str) -> Result<(), CallerError> {
        let (sequence_number, stream_sid) = self.counters();
        let stop = StopInfo {
            account_sid: Some("ACsimulated00000000000000000000000".into()),
            call_sid: Some(call_sid.into()),
        };
        self.send(&Inbound::Stop {
            sequence_number,
            stream_sid,
            stop,
        })
        .await
    }

    /// Closes the socket the way a network failure would not: with a close frame.
    pub async fn close(mut self) -> Result<(), CallerError> {
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        Ok(self.sink.send(Message::Close(Some(frame))).await?)
    }

    /// Drops the connection without `stop` and without a close frame (a network failure).
    pub fn drop_connection(self) {
        drop(self);
    }

    /// The next thing the server sends, or `None` if nothing comes within `wait`.
    pub async fn recv(&mut self, wait: Duration) -> Result<Option<Received>, CallerError> {
        tokio::time::timeout(wait, self.next_received())
            .await
            .map_or(Ok(None), |received| received.map(Some))
    }

    /// The next thing the server sends, however long it takes; once the socket has ended, that it
    /// is closed. Cancel-safe: a message not yet taken stays queued for the next call.
    pub async fn next_received(&mut self) -> Result<Received, CallerError> {
        self.received
            .recv()
            .await
            .unwrap_or(Ok(Received::Closed(None)))
    }
}
