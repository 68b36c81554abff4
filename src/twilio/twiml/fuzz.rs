//! Any business text makes valid TwiML within Twilio's limit, or a clear error: text is escaped and
//! never becomes markup. The signature code takes any form without panicking, and a form it signed
//! checks out. `SICHA_FUZZ_CASES=N` runs N cases of each property.

use proptest::prelude::*;

use super::*;
use crate::twilio::signature;
use crate::twilio::socket::fuzz::cases;

/// Parses `document` as XML to its end; the names of its elements, in order.
fn elements(document: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(document);
    let mut names = Vec::new();
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => return names,
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) => {
                names.push(String::from_utf8_lossy(e.name().as_ref().as_bytes()).into_owned())
            }
            Ok(_) => {}
            Err(error) => panic!("invalid XML ({error}): {document}"),
        }
    }
}

fn stream(parameter: String) -> StreamTwiml {
    StreamTwiml {
        url: url::Url::parse("wss://example.com/twilio/stream").unwrap(),
        status_callback: None,
        parameters: vec![("token".into(), parameter)],
    }
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn any_text_is_said_as_text_within_the_limit(text in "\\PC{0,5000}", parameter in "\\PC{0,300}") {
        let voice = SayVoice::hebrew(None);
        for document in [
            say_then_hangup(&text, &voice),
            say_then_connect_stream(&text, &voice, &stream(parameter.clone())),
            connect_stream(&stream(parameter.clone())),
        ] {
            match document {
                Ok(document) => {
                    prop_assert!(document.chars().count() <= MAX_TWIML_CHARS);
                    let names = elements(&document);
                    prop_assert_eq!(names.first().map(String::as_str), Some("Response"));
                    // Only our own elements: nothing in the text became markup.
                    for name in &names {
                        prop_assert!(["Response", "Say", "Hangup", "Connect", "Stream", "Parameter"].contains(&name.as_str()), "{}", name);
                    }
                }
                Err(error) => prop_assert!(!error.to_string().is_empty()),
            }
        }
    }

    #[test]
    fn any_form_is_signed_and_checked_without_panicking(
        token in "\\PC{0,40}",
        url in "\\PC{0,100}",
        form in proptest::collection::vec(("\\PC{0,20}", "\\PC{0,40}"), 0..12),
        claimed in "\\PC{0,40}",
    ) {
        let signed = signature::compute(&token, &url, &form);
        prop_assert!(signature::is_valid(&token, &url, &form, &signed));
        let _ = signature::is_valid(&token, &url, &form, &claimed);
        let body: String = form.iter().map(|(k, v)| format!("{k}={v}&")).collect();
        let _ = crate::http::twilio_auth::form_pairs(body.as_bytes());
    }
}
