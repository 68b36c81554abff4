//! The Twilio side of a call, played against a real sicha server over the real protocol: the signed
//! voice webhook, then the signed Media Streams WebSocket with `connected`, `start` (carrying the
//! `<Parameter>`s the TwiML handed out), `media`, `dtmf`, mark echoes and `stop`.
//!
//! This is the low-level client: it sends what it is told and hands back what the server sends. The
//! playback-buffer emulation (marks echoed as audio "plays", `clear`) builds on top of it.

use std::borrow::Cow;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use quick_xml::XmlVersion;
use quick_xml::events::Event;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::Url;

use crate::twilio::signature;
use crate::twilio::stream::{
    DtmfInfo, Inbound, MarkInfo, MediaFormat, Outbound, StartInfo, StopInfo, StreamSidJson,
    inbound_media_text,
};

#[derive(Debug, thiserror::Error)]
pub enum CallerError {
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("WebSocket: {0}")]
    WebSocket(#[from] tungstenite::Error),
    #[error("the TwiML has no <Connect><Stream>: {0}")]
    NoStream(String),
    #[error("the server sent something that is not a Media Streams message: {0}")]
    Protocol(String),
}

/// What the voice webhook answered.
#[derive(Debug, Clone)]
pub struct WebhookAnswer {
    pub status: u16,
    pub twiml: String,
}

/// The `<Stream>` of a `<Connect>` TwiML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamTarget {
    pub url: String,
    pub parameters: Vec<(String, String)>,
}

/// POSTs a form to `url` signed as Twilio signs it (no signature header when `auth_token` is None).
pub async fn signed_post(
    http: &reqwest::Client,
    url: &str,
    auth_token: Option<&str>,
    params: &[(String, String)],
) -> Result<reqwest::Response, CallerError> {
    let mut request = http.post(url).form(params);
    if let Some(token) = auth_token {
        request = request.header("X-Twilio-Signature", signature::compute(token, url, params));
    }
    Ok(request.send().await?)
}

/// The voice webhook form Twilio sends for a new inbound call.
pub fn voice_webhook_form(call_sid: &str, from: &str, to: &str) -> Vec<(String, String)> {
    [
        ("CallSid", call_sid),
        ("AccountSid", "ACsimulated00000000000000000000000"),
        ("From", from),
        ("To", to),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("ApiVersion", "2010-04-01"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Places a call: the signed voice webhook, as Twilio sends it.
pub async fn place_call(
    http: &reqwest::Client,
    server: &Url,
    auth_token: Option<&str>,
    call_sid: &str,
    from: &str,
    to: &str,
) -> Result<WebhookAnswer, CallerError> {
    let url = server
        .join("/twilio/voice")
        .expect("static path")
        .to_string();
    let response = signed_post(
        http,
        &url,
        auth_token,
        &voice_webhook_form(call_sid, from, to),
    )
    .await?;
    let status = response.status().as_u16();
    Ok(WebhookAnswer {
        status,
        twiml: response.text().await?,
    })
}

/// Finds the `<Connect><Stream url>` and its `<Parameter>`s in a TwiML document.
pub fn stream_target(twiml: &str) -> Result<StreamTarget, CallerError> {
    let mut reader = quick_xml::Reader::from_str(twiml);
    let mut target: Option<StreamTarget> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let attribute = |name: &str| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == name)
                        .and_then(|a| {
                            a.normalized_value(XmlVersion::Explicit1_0)
                                .ok()
                                .map(|v| v.into_owned())
                        })
                };
                match e.name().as_ref() {
                    "Stream" => {
                        let url = attribute("url")
                            .ok_or_else(|| CallerError::NoStream(twiml.to_string()))?;
                        target = Some(StreamTarget {
                            url,
                            parameters: Vec::new(),
                        });
                    }
                    "Parameter" => {
                        if let (Some(t), Some(name), Some(value)) =
                            (&mut target, attribute("name"), attribute("value"))
                        {
                            t.parameters.push((name, value));
                        }
                    }
                    _ => {}
                }
            }
            Ok(Event::Eof) => break,
            Err(e) => return Err(CallerError::NoStream(format!("{e}: {twiml}"))),
            _ => {}
        }
    }
    target.ok_or_else(|| CallerError::NoStream(twiml.to_string()))
}

/// What the server sent on the stream, as the caller sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    Message(Outbound),
    /// The server closed the socket, with its close code when it gave one.
    Closed(Option<u16>),
}

/// One Media Streams WebSocket, Twilio's end.
pub struct MediaStreamClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    stream_sid: String,
    /// The streamSid as JSON, for the media messages written directly.
    sid_json: StreamSidJson,
    sequence: u64,
    chunk: u64,
    timestamp_ms: u64,
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
        Ok(Self {
            socket,
            stream_sid: stream_sid.to_string(),
            sid_json: StreamSidJson::new(stream_sid),
            sequence: 0,
            chunk: 0,
            timestamp_ms: 0,
        })
    }

    pub fn stream_sid(&self) -> &str {
        &self.stream_sid
    }

    fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    /// The counters every message but `connected` carries.
    fn counters(&mut self) -> (Cow<'static, str>, Cow<'static, str>) {
        let sequence = self.next_sequence().to_string().into();
        (sequence, self.stream_sid.clone().into())
    }

    /// Sends a raw text frame (for malformed-input tests).
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<(), CallerError> {
        Ok(self.socket.send(Message::Text(text.into().into())).await?)
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<(), CallerError> {
        Ok(self.socket.send(Message::Binary(bytes.into())).await?)
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
            stream_sid: self.stream_sid.clone(),
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
            &self.sid_json,
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
        Ok(self.socket.close(Some(frame)).await?)
    }

    /// Drops the connection without `stop` and without a close frame (a network failure).
    pub fn drop_connection(self) {
        drop(self.socket);
    }

    /// The next thing the server sends, or `None` if nothing comes within `wait`.
    pub async fn recv(&mut self, wait: Duration) -> Result<Option<Received>, CallerError> {
        tokio::time::timeout(wait, self.next_received())
            .await
            .map_or(Ok(None), |received| received.map(Some))
    }

    /// The next thing the server sends, however long it takes. Cancel-safe: a message not yet read
    /// stays in the socket.
    pub async fn next_received(&mut self) -> Result<Received, CallerError> {
        loop {
            let next = self.socket.next().await;
            return match next {
                None => Ok(Received::Closed(None)),
                Some(Err(
                    tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed,
                )) => Ok(Received::Closed(None)),
                Some(Err(tungstenite::Error::Protocol(_))) => Ok(Received::Closed(None)),
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
        }
    }
}
