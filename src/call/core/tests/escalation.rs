//! Loops, unintelligible turns, silence and keys.

use super::harness::*;
use crate::call::core::*;
use crate::call::phrases;

/// The caller says `text` from `at` ms (500 ms of speech); returns the effects of its transcript.
fn turn(call: &mut Call, at: u64, text: &str) -> Vec<Effect> {
    let confirm = call.says(at, at + 500);
    let id = transcribed(&confirm)[0];
    call.feed(at + 1400, heard(id, text))
}

/// The agent answers the reply in flight with `text` and it plays to the end.
fn answer(call: &mut Call, at: u64, text: &str) -> Vec<Effect> {
    let id = call.core_answering();
    let mut effects = Vec::new();
    for input in sentence(id, text, 800) {
        effects.extend(call.feed(at, input));
    }
    effects.extend(call.feed(at + 10, finished(id, text)));
    effects.extend(call.echo_marks_until(at + 200));
    effects
}

impl Call {
    fn core_answering(&self) -> TurnId {
        replies(&self.log)
            .last()
            .copied()
            .expect("a reply was asked for")
    }
}

#[test]
fn the_third_repetition_escalates_to_a_callback_instead_of_an_answer() {
    let mut call = Call::greeted();
    for at in [2000, 6000] {
        assert_eq!(
            replies(&turn(&mut call, at, "אני רוצה לדבר עם מישהו")).len(),
            1
        );
        answer(&mut call, at + 2000, "במה אפשר לעזור?");
    }
    let effects = turn(&mut call, 10000, "אני רוצה לדבר עם מישהו");
    assert!(replies(&effects).is_empty());
    assert_eq!(events(&effects), ["loop_detected", "callback_requested"]);
    assert_eq!(event_detail(&effects, "loop_detected")["who"], "caller");
    assert_eq!(phrases(&effects), [phrases::ESCALATE_CALLBACK]);
}

#[test]
fn a_caller_who_loops_again_after_the_escalation_is_told_goodbye_not_promised_twice() {
    let mut call = Call::greeted();
    for at in [2000, 6000] {
        turn(&mut call, at, "אני רוצה לדבר עם מישהו");
        answer(&mut call, at + 2000, "במה אפשר לעזור?");
    }
    let escalated = turn(&mut call, 10000, "אני רוצה לדבר עם מישהו");
    call.feed(10_500, phrase_audio(phrase_ids(&escalated)[0], 800));
    call.echo_marks_until(10_700);
    // The counts start again after the escalation: two more are answered, the third ends the call.
    for at in [14_000, 18_000] {
        assert_eq!(
            replies(&turn(&mut call, at, "אני רוצה לדבר עם מישהו")).len(),
            1
        );
        answer(&mut call, at + 2000, "במה אפשר לעזור?");
    }
    let effects = turn(&mut call, 22_000, "אני רוצה לדבר עם מישהו");
    assert_eq!(events(&effects), ["loop_detected"]);
    assert_eq!(phrases(&effects), [phrases::LOOP_GOODBYE]);
    call.feed(22_500, phrase_audio(phrase_ids(&effects)[0], 800));
    let effects = call.echo_marks_until(22_700);
    let (ending, outcome) = ended(&effects).unwrap();
    assert_eq!(
        (ending.reason.as_str(), outcome.as_str()),
        ("loop_after_escalation", "callback_requested")
    );
}

#[test]
fn with_a_transfer_number_the_loop_goes_to_a_person_and_a_failed_transfer_to_a_callback() {
    let mut call = Call::with(AgentMode::Ai, Some(business(Some("+972523334444"), "")));
    let (c, mark) = call.started();
    call = c;
    call.feed(1001, Input::MarkPlayed(mark));
    for at in [2000, 6000] {
        turn(&mut call, at, "אני רוצה לדבר עם מישהו");
        answer(&mut call, at + 2000, "במה אפשר לעזור?");
    }
    let effects = turn(&mut call, 10000, "אני רוצה לדבר עם מישהו");
    assert!(effects.contains(&Effect::Transfer {
        why: "loop".into(),
        to: "+972523334444".into()
    }));
    let failed = ActionResult::TransferFailed {
        why: "loop".into(),
        error: "HTTP 500".into(),
    };
    let effects = call.feed(12000, Input::ActionDone(failed));
    assert_eq!(events(&effects), ["transfer_failed", "callback_requested"]);
    assert_eq!(phrases(&effects), [phrases::ESCALATE_CALLBACK]);
}

#[test]
fn a_transferred_call_records_its_stop_as_the_transfer() {
    let mut call = Call::greeted();
    let done = ActionResult::Transferred {
        why: "dtmf".into(),
        to: "+972523334444".into(),
    };
    assert_eq!(
        events(&call.feed(2000, Input::ActionDone(done))),
        ["transferred"]
    );
    let end = crate::twilio::socket::StreamEnd::Stopped;
    let effects = call.feed(
        2500,
        Input::StreamEnded {
            stream_sid: "MZ1".into(),
            end,
        },
    );
    assert_eq!(
        ended(&effects).unwrap(),
        (Ending::completed("transferred"), "transferred".into())
    );
}

#[test]
fn a_transcript_dropped_on_clear_speech_is_answered_at_once_and_one_on_faint_audio_is_not() {
    let mut call = Call::greeted();
    let effects = turn(&mut call, 2000, "...");
    assert_eq!(
        event_detail(&effects, "transcript_dropped")["reason"],
        "PunctuationOnly"
    );
    assert_eq!(
        phrases(&effects),
        [phrases::DID_NOT_CATCH],
        "the caller spoke: say so at once"
    );
    call.feed(3500, phrase_audio(phrase_ids(&effects)[0], 800));
    call.echo_marks_until(3700);
    call.feed(5120, speech_started(5000));
    let faint = faint_utterance(5000, 5300, 5900);
    let confirm = call.feed(
        5900,
        Input::Speech(sicha_audio::endpoint::EndpointEvent::Utterance(faint)),
    );
    let effects = call.feed(6300, heard(transcribed(&confirm)[0], "תודה רבה"));
    assert_eq!(
        event_detail(&effects, "transcript_dropped")["reason"],
        "KnownHallucination"
    );
    assert!(phrases(&effects).is_empty(), "a breath is not spoken to");
    assert!(replies(&call.log).is_empty());
}

#[test]
fn thanks_on_clear_speech_reach_the_model() {
    let mut call = Call::greeted();
    let effects = turn(&mut call, 2000, "תודה");
    assert_eq!(asked(&effects), ["תודה"]);
}

#[test]
fn a_lone_filler_extends_the_turn_instead_of_being_answered() {
    let mut call = Call::greeted();
    let effects = turn(&mut call, 2000, "אממ");
    assert!(
        replies(&effects).is_empty() && phrases(&effects).is_empty(),
        "{effects:?}"
    );
    assert_eq!(events(&effects), ["turn_extended"]);
    let effects = turn(&mut call, 4000, "אני רוצה לקבוע תור");
    assert_eq!(asked(&effects), ["אממ אני רוצה לקבוע תור"]);
}

#[test]
fn a_failed_transcription_asks_again_at_once() {
    let mut call = Call::greeted();
    let confirm = call.says(2000, 2500);
    let id = transcribed(&confirm)[0];
    let failed = SttOutcome::Failed {
        error: "HTTP 503".into(),
        stt_ms: 80,
    };
    let effects = call.feed(
        3200,
        Input::Transcript {
            turn: id,
            outcome: failed,
        },
    );
    assert_eq!(events(&effects), ["stt_failed"]);
    assert_eq!(phrases(&effects), [phrases::REPEAT]);
}

#[test]
fn a_silent_line_is_prompted_twice_then_the_agent_says_goodbye_and_hangs_up() {
    let mut call = Call::greeted();
    let mut at = 9001;
    for prompt in 1..=2 {
        assert_eq!(call.core.next_deadline().map(|d| call.ms_of(d)), Some(at));
        let effects = call.feed(at, Input::Tick);
        assert_eq!(event_detail(&effects, "silence")["prompt"], prompt);
        assert_eq!(phrases(&effects), [phrases::STILL_THERE]);
        call.feed(at, phrase_audio(phrase_ids(&effects)[0], 800));
        call.echo_marks_until(at + 100);
        at += 100 + 8000;
    }
    let effects = call.feed(at, Input::Tick);
    assert_eq!(phrases(&effects), [phrases::GOODBYE]);
    call.feed(at, phrase_audio(phrase_ids(&effects)[0], 800));
    let effects = call.echo_marks_until(at + 100);
    assert_eq!(
        ended(&effects).unwrap(),
        (Ending::completed("caller_silent"), "caller_silent".into())
    );
}

#[test]
fn the_caller_speaking_starts_the_silence_prompts_over() {
    let mut call = Call::greeted();
    let effects = call.feed(9001, Input::Tick);
    call.feed(9001, phrase_audio(phrase_ids(&effects)[0], 800));
    call.echo_marks_until(9101);
    call.feed(10_000, speech_started(9900));
    call.feed(
        10_200,
        Input::Speech(sicha_audio::endpoint::EndpointEvent::Discarded {
            start_sample: 0,
            end_sample: 0,
        }),
    );
    assert_eq!(
        call.core.next_deadline().map(|d| call.ms_of(d)),
        Some(18_200)
    );
    let effects = call.feed(18_200, Input::Tick);
    assert_eq!(event_detail(&effects, "silence")["prompt"], 1);
}

#[test]
fn keys_do_what_the_business_map_says() {
    let mut call = Call::with(
        AgentMode::Ai,
        Some(business(None, "0=transfer,5=callback,9=goodbye")),
    );
    let (c, mark) = call.started();
    call = c;
    call.feed(1001, Input::MarkPlayed(mark));
    let effects = call.feed(2000, Input::Dtmf("0".into()));
    assert_eq!(events(&effects), ["dtmf", "transfer_failed"]);
    assert_eq!(
        event_detail(&effects, "transfer_failed")["reason"],
        "no transfer number"
    );
    let effects = call.feed(2100, Input::Dtmf("5".into()));
    assert_eq!(events(&effects), ["dtmf", "callback_requested"]);
    assert_eq!(event_detail(&effects, "callback_requested")["digit"], "5");
    assert_eq!(phrases(&effects), [phrases::ESCALATE_CALLBACK]);
    assert!(
        events(&call.feed(2200, Input::Dtmf("3".into()))) == ["dtmf"],
        "unmapped keys only count"
    );
    let effects = call.feed(2300, Input::Dtmf("9".into()));
    assert_eq!(phrases(&effects), [phrases::GOODBYE]);
    // Both phrases play; the call ends when the goodbye has.
    for id in phrase_ids(&call.log).into_iter().skip(1) {
        call.feed(2400, phrase_audio(id, 800));
    }
    let effects = call.echo_marks_until(3000);
    assert_eq!(
        ended(&effects).unwrap().0,
        Ending::completed("caller_pressed_goodbye")
    );
    assert_eq!(
        ended(&effects).unwrap().1,
        "callback_requested",
        "the notable outcome stays"
    );
}

#[test]
fn an_agent_about_to_give_the_same_answer_a_third_time_is_escalated_before_it_is_heard() {
    let mut call = Call::greeted();
    let same = "אני לא בטוחה שהבנתי, אפשר לפרט?";
    let questions = ["מה שעות הפתיחה", "כמה עולה תספורת"];
    for (question, at) in questions.into_iter().zip([2000, 6000]) {
        assert_eq!(replies(&turn(&mut call, at, question)).len(), 1);
        answer(&mut call, at + 2000, same);
    }
    assert_eq!(
        replies(&turn(&mut call, 10_000, "איפה אתם נמצאים")).len(),
        1
    );
    let id = replies(&call.log).last().copied().unwrap();
    let effects: Vec<Effect> = sentence(id, same, 800)
        .into_iter()
        .flat_map(|input| call.feed(12_000, input))
        .collect();
    assert_eq!(event_detail(&effects, "loop_detected")["who"], "agent");
    assert_eq!(cancelled(&effects), [id]);
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::Audio(a) if a.len() == 800)),
        "not a word of it is sent"
    );
    assert_eq!(phrases(&effects), [phrases::ESCALATE_CALLBACK]);
}
