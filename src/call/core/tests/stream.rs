//! The stream's life: attach, greeting, resume, end; the call's own limits; the modes.

use std::time::Duration;

use super::harness::*;
use crate::call::core::*;
use crate::store::{CallStatus, Record};
use crate::twilio::socket::StreamEnd;

#[test]
fn the_first_stream_is_recorded_and_greeted() {
    let mut call = Call::ai();
    let effects = call.feed(
        0,
        Input::StreamAttached {
            stream_sid: "MZ1".into(),
        },
    );
    assert!(matches!(
        effects[0],
        Effect::Record(Record::Streaming { .. })
    ));
    assert!(matches!(effects[1], Effect::StartRecording));
    assert_eq!(events(&effects), ["stream_started"]);
    assert_eq!(phrases(&effects), [GREETING]);
    assert_eq!(
        call.core.next_deadline(),
        Some(call.at(1_800_000).at),
        "the length limit"
    );
}

#[test]
fn the_greeting_plays_with_a_mark_and_is_recorded_once_heard() {
    let (mut call, mark) = Call::ai().started();
    assert_eq!(mark, "p1");
    let audio = call
        .log
        .iter()
        .filter(|e| matches!(e, Effect::Audio(a) if a.len() == 8000));
    assert_eq!(audio.count(), 1);
    assert!(call.core.agent_audible());
    let effects = call.feed(1001, Input::MarkPlayed(mark));
    assert_eq!(
        turns(&effects),
        [(1, "agent".into(), GREETING.into(), None, false)]
    );
    assert!(!call.core.agent_audible());
    assert_eq!(
        call.core.next_deadline(),
        Some(call.at(9001).at),
        "silence is counted from here"
    );
}

#[test]
fn a_resumed_stream_neither_greets_nor_records_again() {
    let mut call = Call::greeted();
    let effects = call.feed(
        2000,
        Input::StreamAttached {
            stream_sid: "MZ2".into(),
        },
    );
    assert_eq!(events(&effects), ["stream_resumed"]);
    assert!(phrases(&effects).is_empty());
    assert!(!effects.iter().any(|e| matches!(e, Effect::StartRecording)));
    // The old stream's end arrives after the new one attached: it is not the call's end.
    let effects = call.feed(
        2001,
        Input::StreamEnded {
            stream_sid: "MZ1".into(),
            end: StreamEnd::Dropped,
        },
    );
    assert!(effects.is_empty());
}

#[test]
fn a_dropped_socket_ends_the_call_as_dropped_with_its_records() {
    let mut call = Call::greeted();
    let effects = call.feed(
        3000,
        Input::StreamEnded {
            stream_sid: "MZ1".into(),
            end: StreamEnd::Dropped,
        },
    );
    assert_eq!(events(&effects), ["call_ended"]);
    let finished = effects.iter().find_map(|e| match e {
        Effect::Record(Record::Finished { status, reason, .. }) => Some((*status, reason.clone())),
        _ => None,
    });
    assert_eq!(
        finished,
        Some((CallStatus::Dropped, "socket_dropped".into()))
    );
    let (ending, outcome) = ended(&effects).unwrap();
    assert_eq!(
        (ending.reason.as_str(), outcome.as_str()),
        ("socket_dropped", "socket_dropped")
    );
    assert!(call.core.has_ended());
    assert!(
        call.feed(3001, Input::Dtmf("1".into())).is_empty(),
        "an ended call hears nothing"
    );
}

#[test]
fn the_length_limit_ends_the_call_and_cancels_its_work() {
    let mut call = Call::greeted();
    let confirm = call.says(2000, 3000);
    let turn = transcribed(&confirm)[0];
    let effects = call.feed(1_800_000, Input::Tick);
    assert_eq!(cancelled(&effects), [turn]);
    assert_eq!(
        ended(&effects).unwrap().0,
        Ending::completed("max_call_length")
    );
}

#[test]
fn shutdown_ends_the_call_at_once() {
    let mut call = Call::greeted();
    let effects = call.feed(1500, Input::Shutdown);
    assert_eq!(events(&effects), ["call_ended"]);
    assert_eq!(
        ended(&effects).unwrap().0,
        Ending::completed("server_shutdown")
    );
    assert!(effects.iter().any(|e| matches!(e, Effect::DetachStream)));
}

#[test]
fn the_echo_agent_plays_back_the_speech_only() {
    let mut call = Call::with(AgentMode::Echo, None);
    let effects = call.feed(
        0,
        Input::StreamAttached {
            stream_sid: "MZ1".into(),
        },
    );
    assert!(
        phrases(&effects).is_empty(),
        "the echo agent does not greet"
    );
    let effects = call.says(1000, 1500);
    assert!(transcribed(&effects).is_empty());
    let audio: Vec<usize> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Audio(a) => Some(a.len()),
            _ => None,
        })
        .collect();
    assert_eq!(
        audio,
        [4000],
        "500 ms of speech, without pre-roll or trailing silence"
    );
    assert_eq!(marks(&effects), ["p1"]);
}

#[test]
fn the_silent_agent_never_speaks() {
    let mut call = Call::with(AgentMode::Silent, Some(business(None, "")));
    let mut effects = call.feed(
        0,
        Input::StreamAttached {
            stream_sid: "MZ1".into(),
        },
    );
    effects.extend(call.says(1000, 1500));
    assert!(!effects.iter().any(|e| matches!(
        e,
        Effect::Audio(_) | Effect::Phrase { .. } | Effect::Transcribe { .. }
    )));
    assert_eq!(
        call.core.next_deadline(),
        Some(call.at(0).at + Duration::from_secs(1800))
    );
}
