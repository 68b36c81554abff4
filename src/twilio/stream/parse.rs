//! Reading [`Inbound`]: one flat envelope with every field any event carries, then the event picks
//! its own. serde's derive for an internally tagged enum first buffers the whole message into a tree
//! of owned values to find the tag; a `media` message (fifty a second per call) would pay for that
//! every time. The envelope reads each field once, in whatever order Twilio writes them, and its
//! strings borrow from the frame.
//!
//! What a message means is the same as with the derive: an unknown `event` is [`Inbound::Unknown`],
//! a message without `event` or without the fields its event needs is an error, and fields nobody
//! reads are ignored.

use std::borrow::Cow;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use super::{DtmfInfo, Inbound, MarkInfo, MediaInfo, StartInfo, StopInfo};

/// Every field of every inbound event; each is absent unless the message has it.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(
        rename = "sequenceNumber",
        borrow,
        default,
        deserialize_with = "optional_cow"
    )]
    sequence_number: Option<Cow<'a, str>>,
    #[serde(
        rename = "streamSid",
        borrow,
        default,
        deserialize_with = "optional_cow"
    )]
    stream_sid: Option<Cow<'a, str>>,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    start: Option<StartInfo>,
    #[serde(borrow, default)]
    media: Option<MediaInfo<'a>>,
    #[serde(default)]
    dtmf: Option<DtmfInfo>,
    #[serde(default)]
    mark: Option<MarkInfo>,
    #[serde(default)]
    stop: Option<StopInfo>,
}

/// An optional string that borrows from the frame unless it holds escapes. serde borrows a bare
/// `Cow<str>` field when told to, but reads an `Option<Cow<str>>` as an owned copy.
pub(super) fn optional_cow<'de: 'a, 'a, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Borrowed>::deserialize(deserializer)?.map(|text| text.0))
}

impl<'de: 'a, 'a> Deserialize<'de> for Inbound<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let envelope = Envelope::deserialize(deserializer)?;
        envelope.into_inbound().map_err(D::Error::missing_field)
    }
}

impl<'a> Envelope<'a> {
    /// The event the envelope holds, or the name of the first field it needs and lacks.
    fn into_inbound(self) -> Result<Inbound<'a>, &'static str> {
        let Envelope {
            event,
            sequence_number,
            stream_sid,
            protocol,
            version,
            start,
            media,
            dtmf,
            mark,
            stop,
        } = self;
        fn needed<T>(value: Option<T>, name: &'static str) -> Result<T, &'static str> {
            value.ok_or(name)
        }
        // Every event but `connected`: the counters, then the event's own object, named as its
        // variant's field and the JSON key alike.
        macro_rules! counted {
            ($variant:ident, $body:ident) => {
                Inbound::$variant {
                    sequence_number: needed(sequence_number, "sequenceNumber")?,
                    stream_sid: needed(stream_sid, "streamSid")?,
                    $body: needed($body, stringify!($body))?,
                }
            };
        }
        Ok(match event.as_ref() {
            "connected" => Inbound::Connected {
                protocol: needed(protocol, "protocol")?,
                version: needed(version, "version")?,
            },
            "start" => counted!(Start, start),
            "media" => counted!(Media, media),
            "dtmf" => counted!(Dtmf, dtmf),
            "mark" => counted!(Mark, mark),
            "stop" => counted!(Stop, stop),
            _ => Inbound::Unknown,
        })
    }
}
