//! When a provider fails: the caller still hears something.

use super::harness::*;
use crate::call::core::*;
use crate::call::phrases;
use crate::store::CallStatus;
use crate::twilio::socket::StreamEnd;

#[test]
fn a_sentence_no_tts_could_say_is_said_by_twilio_and_the_call_comes_back_on_a_new_stream() {
    let mut call = Call::greeted();
    call.says(2000, 2500);
    call.feed(3000, heard(1, "מה הכתובת"));
    let failures = vec![("google".to_string(), "HTTP 500".to_string())];
    let effects = call.feed(
        3500,
        reply(
            1,
            ReplyOutput::SentenceFailed {
                text: "הרצל 1.".into(),
                failures,
            },
        ),
    );
    assert_eq!(events(&effects), ["tts_failed"]);
    assert!(effects.contains(&Effect::SayThroughTwilio {
        text: "הרצל 1.".into()
    }));
    let said = ActionResult::SaidThroughTwilio {
        text: "הרצל 1.".into(),
    };
    assert_eq!(
        events(&call.feed(3800, Input::ActionDone(said))),
        ["fallback_say"]
    );
    // Twilio ends our stream to say it; that is not the end of the call.
    let effects = call.feed(
        3900,
        Input::StreamEnded {
            stream_sid: "MZ1".into(),
            end: StreamEnd::Stopped,
        },
    );
    assert_eq!(effects, [Effect::DetachStream]);
    let effects = call.feed(
        6000,
        Input::StreamAttached {
            stream_sid: "MZ2".into(),
        },
    );
    assert_eq!(events(&effects), ["stream_resumed"]);
    assert!(
        ended(&call.feed(63_800, Input::Tick)).is_none(),
        "the call came back in time"
    );
}

#[test]
fn a_call_that_never_comes_back_from_say_is_given_up() {
    let mut call = Call::greeted();
    call.feed(
        2000,
        Input::ActionDone(ActionResult::SaidThroughTwilio { text: "x".into() }),
    );
    call.feed(
        2100,
        Input::StreamEnded {
            stream_sid: "MZ1".into(),
            end: StreamEnd::Stopped,
        },
    );
    let effects = call.feed(62_000, Input::Tick);
    let (ending, _) = ended(&effects).unwrap();
    assert_eq!(
        (ending.status, ending.reason.as_str()),
        (CallStatus::Dropped, "reconnect_timeout")
    );
}

#[test]
fn a_phrase_no_provider_could_say_goes_to_twilio_too() {
    let mut call = Call::ai();
    let effects = call.feed(
        0,
        Input::StreamAttached {
            stream_sid: "MZ1".into(),
        },
    );
    let id = phrase_ids(&effects)[0];
    let effects = call.feed(
        500,
        Input::Phrase {
            id,
            audio: Err("every provider failed".into()),
        },
    );
    assert_eq!(events(&effects), ["tts_failed"]);
    assert!(effects.contains(&Effect::SayThroughTwilio {
        text: GREETING.into()
    }));
}

#[test]
fn a_model_that_fails_before_saying_anything_is_covered_by_an_apology() {
    let mut call = Call::greeted();
    call.says(2000, 2500);
    call.feed(3000, heard(1, "מה המחיר"));
    let failed = ReplyOutput::Finished {
        text: String::new(),
        first_sentence_ms: None,
        error: Some("HTTP 500".into()),
        truncated: false,
    };
    let effects = call.feed(3500, reply(1, failed));
    assert_eq!(events(&effects), ["llm_failed"]);
    assert_eq!(phrases(&effects), [phrases::APOLOGY]);
    call.feed(3501, phrase_audio(phrase_ids(&effects)[0], 800));
    let effects = call.echo_marks_until(3700);
    assert_eq!(turns(&effects)[0].2, phrases::APOLOGY);
}

#[test]
fn a_model_cut_off_after_it_spoke_is_recorded_without_an_apology() {
    let mut call = Call::greeted();
    call.says(2000, 2500);
    call.feed(3000, heard(1, "מה המחיר"));
    for input in sentence(1, "המחיר הוא", 800) {
        call.feed(3200, input);
    }
    let cut = ReplyOutput::Finished {
        text: "המחיר הוא".into(),
        first_sentence_ms: Some(200),
        error: Some("cut".into()),
        truncated: true,
    };
    let effects = call.feed(3500, reply(1, cut));
    assert_eq!(events(&effects), ["llm_truncated"]);
    assert!(phrases(&effects).is_empty());
}
