//! TwiML documents, written with an XML writer so business text (names, greetings, model output) is always
//! escaped and never becomes markup. Every document is checked against Twilio's 4000-character limit.

use std::io::Cursor;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

/// Twilio refuses TwiML longer than this many characters.
pub const MAX_TWIML_CHARS: usize = 4000;
/// A stream `<Parameter>`'s name and value together must stay under this many characters.
pub const MAX_PARAMETER_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwimlError {
    #[error("TwiML is {chars} characters; Twilio accepts at most {MAX_TWIML_CHARS}")]
    TooLong { chars: usize },
    #[error(
        "stream parameter `{name}` has {chars} characters with its value; the limit is under {MAX_PARAMETER_CHARS}"
    )]
    ParameterTooLong { name: String, chars: usize },
    #[error(
        "a media stream URL must be wss:// (ws:// only on loopback, for local runs), got `{0}`"
    )]
    StreamUrlNotWss(String),
}

/// How Twilio's own `<Say>` speaks: a language such as `he-IL` and optionally a voice of that language
/// (for example `Google.he-IL-Standard-A`); without a voice Twilio picks the account default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SayVoice {
    pub language: String,
    pub voice: Option<String>,
}

impl SayVoice {
    pub fn hebrew(voice: Option<String>) -> Self {
        Self {
            language: "he-IL".to_string(),
            voice,
        }
    }
}

/// A bidirectional Media Stream: where Twilio connects, where it reports stream events, and the
/// `<Parameter>`s it hands back in the `start` message (query strings are dropped, so data goes here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamTwiml {
    pub url: url::Url,
    pub status_callback: Option<url::Url>,
    pub parameters: Vec<(String, String)>,
}

/// `<Connect><Stream>`: hands the call's audio to our socket.
pub fn connect_stream(stream: &StreamTwiml) -> Result<String, TwimlError> {
    check_stream(stream)?;
    document(|writer| write_connect_stream(writer, stream))
}

/// Twilio speaks `text` itself, then hangs up.
pub fn say_then_hangup(text: &str, voice: &SayVoice) -> Result<String, TwimlError> {
    document(|writer| {
        write_say(writer, text, voice);
        writer
            .create_element("Hangup")
            .write_empty()
            .map(drop)
            .expect(IN_MEMORY);
    })
}

/// Twilio speaks `text` itself, then connects a fresh stream to the same call. Used when none of our
/// speech providers can answer: the caller still hears the reply and the conversation goes on.
pub fn say_then_connect_stream(
    text: &str,
    voice: &SayVoice,
    stream: &StreamTwiml,
) -> Result<String, TwimlError> {
    check_stream(stream)?;
    document(|writer| {
        write_say(writer, text, voice);
        write_connect_stream(writer, stream);
    })
}

/// Transfers the call to `number`, optionally announcing it first and presenting `caller_id`.
pub fn dial(
    number: &str,
    caller_id: Option<&str>,
    say_first: Option<(&str, &SayVoice)>,
) -> Result<String, TwimlError> {
    document(|writer| {
        if let Some((text, voice)) = say_first {
            write_say(writer, text, voice);
        }
        let mut element = writer.create_element("Dial");
        if let Some(caller_id) = caller_id {
            element = element.with_attribute(("callerId", xml_safe(caller_id).as_str()));
        }
        element
            .write_text_content(BytesText::new(&xml_safe(number)))
            .map(drop)
            .expect(IN_MEMORY);
    })
}

/// Ends the call.
pub fn hangup() -> String {
    document(|writer| {
        writer
            .create_element("Hangup")
            .write_empty()
            .map(drop)
            .expect(IN_MEMORY);
    })
    .expect("a bare hangup is far below the length limit")
}

/// Writing into a `Vec` cannot fail; the writer's `io::Result` only matters for real I/O.
const IN_MEMORY: &str = "writing XML into memory cannot fail";

type XmlWriter = Writer<Cursor<Vec<u8>>>;

fn document(body: impl FnOnce(&mut XmlWriter)) -> Result<String, TwimlError> {
    let mut writer = Writer::new(Cursor::new(Vec::new()));
    writer
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .expect(IN_MEMORY);
    writer
        .create_element("Response")
        .write_inner_content(|inner| {
            body(inner);
            Ok(())
        })
        .expect(IN_MEMORY);
    let xml = String::from_utf8(writer.into_inner().into_inner())
        .expect("the writer only writes UTF-8 given UTF-8");
    let chars = xml.chars().count();
    if chars > MAX_TWIML_CHARS {
        return Err(TwimlError::TooLong { chars });
    }
    Ok(xml)
}

/// Twilio connects only to wss://. Plain ws:// is allowed to loopback hosts alone, where the local
/// simulator (not Twilio) is the other end.
fn is_allowed_stream_url(url: &url::Url) -> bool {
    match url.scheme() {
        "wss" => true,
        "ws" => match url.host() {
            Some(url::Host::Domain(domain)) => domain == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

fn check_stream(stream: &StreamTwiml) -> Result<(), TwimlError> {
    if !is_allowed_stream_url(&stream.url) {
        return Err(TwimlError::StreamUrlNotWss(stream.url.to_string()));
    }
    for (name, value) in &stream.parameters {
        let chars = name.chars().count() + value.chars().count();
        if chars >= MAX_PARAMETER_CHARS {
            return Err(TwimlError::ParameterTooLong {
                name: name.clone(),
                chars,
            });
        }
    }
    Ok(())
}

fn write_say(writer: &mut XmlWriter, text: &str, voice: &SayVoice) {
    let mut element = writer
        .create_element("Say")
        .with_attribute(("language", xml_safe(&voice.language).as_str()));
    if let Some(name) = &voice.voice {
        element = element.with_attribute(("voice", xml_safe(name).as_str()));
    }
    element
        .write_text_content(BytesText::new(&xml_safe(text)))
        .map(drop)
        .expect(IN_MEMORY);
}

fn write_connect_stream(writer: &mut XmlWriter, stream: &StreamTwiml) {
    writer
        .create_element("Connect")
        .write_inner_content(|connect| {
            let mut element = connect
                .create_element("Stream")
                .with_attribute(("url", stream.url.as_str()));
            if let Some(callback) = &stream.status_callback {
                element = element
                    .with_attribute(("statusCallback", callback.as_str()))
                    .with_attribute(("statusCallbackMethod", "POST"));
            }
            element.write_inner_content(|inner| {
                for (name, value) in &stream.parameters {
                    inner
                        .create_element("Parameter")
                        .with_attribute(("name", xml_safe(name).as_str()))
                        .with_attribute(("value", xml_safe(value).as_str()))
                        .write_empty()?;
                }
                Ok(())
            })?;
            Ok(())
        })
        .map(drop)
        .expect(IN_MEMORY);
}

/// Drops the characters XML 1.0 cannot carry at all, even escaped: C0 controls other than tab, line feed
/// and carriage return, and U+FFFE/U+FFFF. Everything else is escaped by the writer.
fn xml_safe(text: &str) -> String {
    text.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
        })
        .collect()
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
