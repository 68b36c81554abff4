use super::*;
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::BytesStart;

/// A parsed element: name, attributes in document order, text, children.
#[derive(Debug, Default, PartialEq)]
struct Node {
    name: String,
    attributes: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
    fn names(&self) -> Vec<&str> {
        self.children
            .iter()
            .map(|child| child.name.as_str())
            .collect()
    }
}

fn open(start: &BytesStart) -> Node {
    let attributes = start
        .attributes()
        .map(|attribute| {
            let attribute = attribute.unwrap();
            let key = attribute.key.as_ref().to_string();
            (
                key,
                attribute
                    .normalized_value(XmlVersion::Explicit1_0)
                    .unwrap()
                    .into_owned(),
            )
        })
        .collect();
    Node {
        name: start.name().as_ref().to_string(),
        attributes,
        ..Node::default()
    }
}

/// Parses a whole document strictly and returns its root element.
fn parse(xml: &str) -> Node {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        match reader.read_event().unwrap() {
            Event::Start(start) => stack.push(open(&start)),
            Event::Empty(start) => stack.last_mut().unwrap().children.push(open(&start)),
            Event::End(_) => {
                let done = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(done);
            }
            Event::Text(text) => stack
                .last_mut()
                .unwrap()
                .text
                .push_str(&text.xml10_content()),
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref().unwrap() {
                    Some(c) => c.to_string(),
                    None => resolve_predefined_entity(&reference.xml10_content())
                        .unwrap()
                        .to_string(),
                };
                stack.last_mut().unwrap().text.push_str(&resolved);
            }
            Event::Decl(_) => {}
            Event::Eof => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    let mut document = stack.pop().unwrap();
    assert!(stack.is_empty(), "unclosed elements");
    assert_eq!(document.children.len(), 1, "one root");
    document.children.pop().unwrap()
}

const NASTY: &str = "<Hangup/></Say><Play>x</Play> & \"quoted\" 'single' שלום";

fn stream() -> StreamTwiml {
    StreamTwiml {
        url: url::Url::parse("wss://agent.example.com/twilio/stream").unwrap(),
        status_callback: Some(
            url::Url::parse("https://agent.example.com/twilio/stream-status?a=1&b=2").unwrap(),
        ),
        parameters: vec![
            ("token".into(), "abc-_123".into()),
            ("note".into(), NASTY.into()),
        ],
    }
}

fn hebrew() -> SayVoice {
    SayVoice::hebrew(Some("Google.he-IL-Standard-A".into()))
}

#[test]
fn connect_stream_has_the_documented_shape() {
    let xml = connect_stream(&stream()).unwrap();
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        "{xml}"
    );
    let root = parse(&xml);
    assert_eq!(root.name, "Response");
    assert_eq!(root.names(), ["Connect"]);
    let connect = &root.children[0];
    assert_eq!(connect.names(), ["Stream"]);
    let stream_node = &connect.children[0];
    assert_eq!(
        stream_node.attribute("url"),
        Some("wss://agent.example.com/twilio/stream")
    );
    assert_eq!(
        stream_node.attribute("statusCallback"),
        Some("https://agent.example.com/twilio/stream-status?a=1&b=2")
    );
    assert_eq!(stream_node.attribute("statusCallbackMethod"), Some("POST"));
    assert_eq!(stream_node.names(), ["Parameter", "Parameter"]);
    let parameters: Vec<_> = stream_node
        .children
        .iter()
        .map(|p| (p.attribute("name").unwrap(), p.attribute("value").unwrap()))
        .collect();
    assert_eq!(parameters, [("token", "abc-_123"), ("note", NASTY)]);
    assert!(
        !xml.contains("<Hangup"),
        "business text became markup: {xml}"
    );
}

#[test]
fn connect_stream_without_callback_or_parameters() {
    let bare = StreamTwiml {
        status_callback: None,
        parameters: vec![],
        ..stream()
    };
    let root = parse(&connect_stream(&bare).unwrap());
    let stream_node = &root.children[0].children[0];
    assert_eq!(
        stream_node.attributes,
        [(
            "url".to_string(),
            "wss://agent.example.com/twilio/stream".to_string()
        )]
    );
    assert!(stream_node.children.is_empty());
}

#[test]
fn plain_ws_is_only_for_loopback() {
    for (url, allowed) in [
        ("ws://127.0.0.1:8080/twilio/stream", true),
        ("ws://localhost/twilio/stream", true),
        ("ws://[::1]:9/twilio/stream", true),
        ("ws://agent.example.com/twilio/stream", false),
        ("ws://10.0.0.1/twilio/stream", false),
    ] {
        let stream = StreamTwiml {
            url: url::Url::parse(url).unwrap(),
            ..stream()
        };
        assert_eq!(connect_stream(&stream).is_ok(), allowed, "{url}");
    }
}

#[test]
fn stream_url_must_be_wss() {
    let plain = StreamTwiml {
        url: url::Url::parse("https://agent.example.com/s").unwrap(),
        ..stream()
    };
    assert!(matches!(
        connect_stream(&plain),
        Err(TwimlError::StreamUrlNotWss(_))
    ));
    assert!(matches!(
        say_then_connect_stream("x", &hebrew(), &plain),
        Err(TwimlError::StreamUrlNotWss(_))
    ));
}

#[test]
fn parameter_name_and_value_must_stay_under_500() {
    let at_limit = |value_len: usize| StreamTwiml {
        parameters: vec![("tok".into(), "v".repeat(value_len))],
        ..stream()
    };
    assert!(connect_stream(&at_limit(MAX_PARAMETER_CHARS - 4)).is_ok());
    assert_eq!(
        connect_stream(&at_limit(MAX_PARAMETER_CHARS - 3)),
        Err(TwimlError::ParameterTooLong {
            name: "tok".into(),
            chars: 500
        })
    );
    // Characters, not bytes: Hebrew letters take two bytes each.
    let hebrew_value = StreamTwiml {
        parameters: vec![("n".into(), "ש".repeat(400))],
        ..stream()
    };
    assert!(connect_stream(&hebrew_value).is_ok());
}

#[test]
fn say_then_hangup_escapes_and_round_trips_text() {
    let xml = say_then_hangup(NASTY, &hebrew()).unwrap();
    let root = parse(&xml);
    assert_eq!(root.names(), ["Say", "Hangup"]);
    let say = &root.children[0];
    assert_eq!(say.text, NASTY);
    assert_eq!(say.attribute("language"), Some("he-IL"));
    assert_eq!(say.attribute("voice"), Some("Google.he-IL-Standard-A"));
    assert!(xml.contains("&lt;Hangup/&gt;"), "{xml}");
}

#[test]
fn say_without_voice_leaves_the_attribute_out() {
    let root = parse(&say_then_hangup("שלום", &SayVoice::hebrew(None)).unwrap());
    assert_eq!(
        root.children[0].attributes,
        [("language".to_string(), "he-IL".to_string())]
    );
}

#[test]
fn characters_xml_cannot_carry_are_dropped() {
    let root = parse(&say_then_hangup("a\u{0}b\u{1b}c\td", &hebrew()).unwrap());
    assert_eq!(root.children[0].text, "abc\td");
}

#[test]
fn say_then_connect_stream_says_first() {
    let root = parse(&say_then_connect_stream(NASTY, &hebrew(), &stream()).unwrap());
    assert_eq!(root.names(), ["Say", "Connect"]);
    assert_eq!(root.children[0].text, NASTY);
    assert_eq!(root.children[1].children[0].children.len(), 2);
}

#[test]
fn dial_with_and_without_extras() {
    let root = parse(&dial("+972501234567", None, None).unwrap());
    assert_eq!(root.names(), ["Dial"]);
    assert_eq!(root.children[0].text, "+972501234567");
    assert!(root.children[0].attributes.is_empty());

    let root = parse(
        &dial(
            "+972501234567",
            Some("+97231234567"),
            Some(("מעביר אותך", &hebrew())),
        )
        .unwrap(),
    );
    assert_eq!(root.names(), ["Say", "Dial"]);
    assert_eq!(root.children[0].text, "מעביר אותך");
    assert_eq!(root.children[1].attribute("callerId"), Some("+97231234567"));

    let root = parse(&dial("<Number>1</Number>", Some("\"><x"), None).unwrap());
    assert!(root.children[0].children.is_empty());
    assert_eq!(root.children[0].text, "<Number>1</Number>");
    assert_eq!(root.children[0].attribute("callerId"), Some("\"><x"));
}

#[test]
fn hangup_is_a_bare_hangup() {
    let root = parse(&hangup());
    assert_eq!(root.names(), ["Hangup"]);
}

#[test]
fn documents_over_4000_characters_are_refused() {
    let overhead = say_then_hangup("", &hebrew()).unwrap().chars().count();
    let fits = "ש".repeat(MAX_TWIML_CHARS - overhead);
    assert_eq!(
        say_then_hangup(&fits, &hebrew()).unwrap().chars().count(),
        MAX_TWIML_CHARS
    );
    let over = format!("{fits}x");
    assert_eq!(
        say_then_hangup(&over, &hebrew()),
        Err(TwimlError::TooLong {
            chars: MAX_TWIML_CHARS + 1
        })
    );
    // Escaping counts: each `&` becomes five characters.
    let ampersands = "&".repeat(800);
    assert!(matches!(
        say_then_hangup(&ampersands, &hebrew()),
        Err(TwimlError::TooLong { .. })
    ));
}
