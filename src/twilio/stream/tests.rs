use super::*;

#[test]
fn parses_twilio_start_with_custom_parameters() {
    let text = r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1",
        "callSid":"CA1","tracks":["inbound"],"customParameters":{"token":"abc"},
        "mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"streamSid":"MZ1"}"#;
    let Inbound::Start {
        start, stream_sid, ..
    } = serde_json::from_str(text).unwrap()
    else {
        panic!()
    };
    assert_eq!(stream_sid, "MZ1");
    assert_eq!(start.call_sid, "CA1");
    assert_eq!(start.custom_parameters["token"], "abc");
    assert!(start.media_format.is_mulaw_8k_mono());
}

#[test]
fn media_payload_borrows_when_unescaped_and_decodes_escaped_slashes() {
    let text = r#"{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1",
        "timestamp":"5","payload":"//8A"},"streamSid":"MZ1"}"#;
    let Inbound::Media { media, .. } = serde_json::from_str(text).unwrap() else {
        panic!()
    };
    assert!(matches!(media.payload, Cow::Borrowed("//8A")));
    let escaped =
        r#"{"event":"media","sequenceNumber":"3","media":{"payload":"\/\/8A"},"streamSid":"MZ1"}"#;
    let Inbound::Media { media, .. } = serde_json::from_str(escaped).unwrap() else {
        panic!()
    };
    assert_eq!(media.payload, "//8A");
}

#[test]
fn unknown_events_are_a_value_not_an_error() {
    let msg: Inbound = serde_json::from_str(r#"{"event":"hologram","streamSid":"MZ1"}"#).unwrap();
    assert_eq!(msg, Inbound::Unknown);
    assert!(serde_json::from_str::<Inbound>(r#"{"streamSid":"MZ1"}"#).is_err());
}

#[test]
fn outbound_messages_have_twilio_field_names() {
    let clear = serde_json::to_value(Outbound::Clear {
        stream_sid: "MZ1".into(),
    })
    .unwrap();
    assert_eq!(
        clear,
        serde_json::json!({"event": "clear", "streamSid": "MZ1"})
    );
    let mark = Outbound::Mark {
        stream_sid: "MZ1".into(),
        mark: MarkInfo { name: "s1".into() },
    };
    assert_eq!(
        serde_json::to_value(mark).unwrap(),
        serde_json::json!({"event": "mark", "streamSid": "MZ1", "mark": {"name": "s1"}})
    );
    let media = Outbound::Media {
        stream_sid: "MZ1".into(),
        media: OutboundMedia {
            payload: "AA==".into(),
        },
    };
    assert_eq!(
        serde_json::to_value(media).unwrap(),
        serde_json::json!({"event": "media", "streamSid": "MZ1", "media": {"payload": "AA=="}})
    );
}

#[test]
fn a_known_event_without_its_fields_is_an_error_naming_the_field() {
    let no_media = r#"{"event":"media","sequenceNumber":"3","streamSid":"MZ1"}"#;
    let error = serde_json::from_str::<Inbound>(no_media).unwrap_err();
    assert!(error.to_string().contains("media"), "{error}");
    let no_sid = r#"{"event":"mark","sequenceNumber":"3","mark":{"name":"s1"}}"#;
    let error = serde_json::from_str::<Inbound>(no_sid).unwrap_err();
    assert!(error.to_string().contains("streamSid"), "{error}");
    let connected = r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#;
    assert_eq!(
        serde_json::from_str::<Inbound>(connected).unwrap(),
        Inbound::Connected {
            protocol: "Call".into(),
            version: "1.0.0".into()
        }
    );
}

#[test]
fn media_counters_borrow_from_the_frame() {
    let text = r#"{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1",
        "timestamp":"5","payload":"//8A"},"streamSid":"MZ1"}"#;
    let Inbound::Media {
        sequence_number,
        stream_sid,
        media,
    } = serde_json::from_str(text).unwrap()
    else {
        panic!()
    };
    assert!(matches!(sequence_number, Cow::Borrowed("3")));
    assert!(matches!(stream_sid, Cow::Borrowed("MZ1")));
    assert!(matches!(media.timestamp, Some(Cow::Borrowed("5"))));
    assert!(matches!(media.track, Some(Cow::Borrowed("inbound"))));
    let escaped = r#"{"event":"media","sequenceNumber":"\u0033","media":{"timestamp":"\u0035",
        "payload":""},"streamSid":"MZ1"}"#;
    let Inbound::Media {
        sequence_number,
        media,
        ..
    } = serde_json::from_str(escaped).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (sequence_number.as_ref(), media.timestamp.as_deref()),
        ("3", Some("5"))
    );
}

/// Payload lengths that end a base64 group with zero, one and two padding characters, and an empty one.
const PAYLOADS: [&[u8]; 4] = [&[], &[0xFF], &[0x00, 0x7F], &[1, 2, 3, 4, 5, 6]];

#[test]
fn outbound_media_text_is_what_serde_writes() {
    for sid in ["MZ1", r#"MZ"quoted\and/slashed"#] {
        for payload in PAYLOADS.into_iter().chain([&[0x55u8; 4000][..]]) {
            let typed = Outbound::Media {
                stream_sid: sid.into(),
                media: OutboundMedia {
                    payload: base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        payload,
                    ),
                },
            };
            assert_eq!(
                outbound_media_text(&StreamSidJson::new(sid), payload),
                serde_json::to_string(&typed).unwrap(),
                "{sid} {} bytes",
                payload.len()
            );
        }
    }
}

#[test]
fn inbound_media_text_is_what_serde_writes_and_reads_back() {
    let sid = "MZ0123";
    for payload in PAYLOADS.into_iter().chain([&[0x55u8; 160][..]]) {
        let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, payload);
        let typed = Inbound::Media {
            sequence_number: "42".into(),
            stream_sid: sid.into(),
            media: MediaInfo {
                track: Some("inbound".into()),
                chunk: Some("41".into()),
                timestamp: Some("800".into()),
                payload: encoded.into(),
            },
        };
        let text = inbound_media_text(42, &StreamSidJson::new(sid), 41, 800, payload);
        assert_eq!(text, serde_json::to_string(&typed).unwrap());
        assert_eq!(serde_json::from_str::<Inbound>(&text).unwrap(), typed);
    }
}
