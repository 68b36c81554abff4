//! The Twilio side of a call, played against a real sicha server over the real protocol: the signed
//! voice webhook, then the signed Media Streams WebSocket with `connected`, `start` (carrying the
//! `<Parameter>`s the TwiML handed out), `media`, `dtmf`, mark echoes and `stop`.
//!
//! This is the low-level client: it sends what it is told and hands back what the server sends. The
//! playback-buffer emulation (marks echoed as audio "plays", `clear`) builds on top of it.
//! - this module: the errors, the voice webhook, the `<Stream>` of the TwiML it answers;
//! - [`media_stream`]: the WebSocket, [`MediaStreamClient`].

use quick_xml::XmlVersion;
use quick_xml::events::Event;
use tokio_tungstenite::tungstenite;
use url::Url;

use sicha::twilio::signature;

mod media_stream;

pub use media_stream::{MediaStreamClient, Received};

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
