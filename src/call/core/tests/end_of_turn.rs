//! The end of a turn decided from its words (and voice): sooner after a finished sentence, later
//! after "ו" or "של", and what happens when the caller goes on after all.

use sicha_audio::endpoint::EndpointEvent;

use super::harness::*;
use crate::call::core::*;
use crate::call::hebrew::end_of_turn::HangoverPolicy;

/// A greeted call whose turns end by their words and voice around a 600 ms fixed hangover (the
/// endpointer's own hangover is then the longest wait, 1500 ms). Preemptive replies are off, so a
/// reply starts exactly when the turn is confirmed.
fn call() -> Call {
    let patient = crate::store::Business {
        preemptive_replies: false,
        ..business(None, "")
    };
    let (mut call, mark) = Call::configured(AgentMode::Ai, Some(patient), |config| {
        config.end_of_turn = Some(HangoverPolicy::around(600));
    })
    .started();
    call.feed(1001, Input::MarkPlayed(mark));
    call
}

/// The caller speaks 2000–3000 ms; the endpointer's tentative end comes 250 ms into the silence and
/// its eager transcript (`words`) at 3300 ms.
fn says_tentatively(call: &mut Call, words: &str) -> Vec<Effect> {
    call.feed(2120, speech_started(2000));
    let eager = call.feed(
        3250,
        Input::Speech(EndpointEvent::Tentative(utterance(2000, 3000, 3250))),
    );
    assert_eq!(transcribed(&eager), [1]);
    call.feed(3300, heard(1, words))
}

#[test]
fn a_finished_sentence_ends_the_turn_before_the_fixed_hangover() {
    let mut call = call();
    says_tentatively(&mut call, "מה שעות הפתיחה שלכם?");
    // Finished words, a voice the zero test audio cannot read: 400 ms of silence, not 600.
    assert_eq!(
        call.core.next_deadline().map(|at| call.ms_of(at)),
        Some(3400)
    );
    let ended = call.feed(3400, Input::Tick);
    assert_eq!(replies(&ended), [1]);
    assert_eq!(
        event_detail(&ended, "turn_ended")["silence_ms"],
        serde_json::json!(400)
    );
    assert_eq!(turns(&ended)[0].2, "מה שעות הפתיחה שלכם?");
    // The endpointer's own end, long after, is the same turn: nothing new.
    let late = call.feed(
        4500,
        Input::Speech(EndpointEvent::Utterance(utterance(2000, 3000, 4500))),
    );
    assert!(
        transcribed(&late).is_empty() && replies(&late).is_empty(),
        "{late:?}"
    );
}

#[test]
fn words_that_stop_on_a_connecting_word_wait_the_longest() {
    let mut call = call();
    says_tentatively(&mut call, "אני רוצה לקבוע תור של");
    assert_eq!(
        call.core.next_deadline().map(|at| call.ms_of(at)),
        Some(4500),
        "1.5 s of silence after \"של\""
    );
    assert!(
        replies(&call.feed(3600, Input::Tick)).is_empty(),
        "not at the fixed hangover"
    );
    // The caller goes on: the same utterance continues, nothing was answered.
    let resumed = call.feed(
        3900,
        Input::Speech(EndpointEvent::Resumed {
            at_sample: 3900 * 8,
        }),
    );
    assert_eq!(events(&resumed), ["eager_dropped"]);
    assert!(!events(&resumed).contains(&"turn_resumed".to_string()));
}

#[test]
fn a_caller_who_goes_on_after_the_turn_was_ended_cancels_the_answer() {
    let mut call = call();
    says_tentatively(&mut call, "מה שעות הפתיחה שלכם?");
    call.feed(3400, Input::Tick);
    // The answer's first sentence has gone to speech, none of it is on the line yet.
    call.feed(3450, reply(1, ReplyOutput::SpeechRequested));
    let resumed = call.feed(
        3500,
        Input::Speech(EndpointEvent::Resumed {
            at_sample: 3500 * 8,
        }),
    );
    assert!(events(&resumed).contains(&"turn_resumed".to_string()));
    assert_eq!(
        cancelled(&resumed),
        [1],
        "the answer in preparation is out of date"
    );
    assert_eq!(
        event_detail(&resumed, "answer_dropped"),
        serde_json::json!({ "turn": 1, "sentences": 1 }),
        "what it had cost is on record"
    );
}

#[test]
fn a_transcript_after_the_silence_already_sufficed_ends_the_turn_at_once() {
    let mut call = call();
    call.feed(2120, speech_started(2000));
    call.feed(
        3250,
        Input::Speech(EndpointEvent::Tentative(utterance(2000, 3000, 3250))),
    );
    // The fixed 600 ms would be due at 3600; the transcript comes at 3500 and says "finished":
    // 400 ms have passed already.
    let ended = call.feed(3500, heard(1, "תודה רבה, זה הכל"));
    assert_eq!(replies(&ended), [1]);
}

/// [`call`] with preemptive replies on, as in production.
fn preempting_call() -> Call {
    let (mut call, mark) = Call::configured(AgentMode::Ai, Some(business(None, "")), |config| {
        config.end_of_turn = Some(HangoverPolicy::around(600));
    })
    .started();
    call.feed(1001, Input::MarkPlayed(mark));
    call
}

#[test]
fn a_reply_is_started_ahead_at_once_when_the_turn_is_due_to_end_soon() {
    let mut call = preempting_call();
    let eager = says_tentatively(&mut call, "מה שעות הפתיחה שלכם?");
    assert_eq!(replies(&eager), [1], "due at 3400, within the lead");
}

#[test]
fn a_reply_to_words_that_stop_on_a_connecting_word_waits_for_the_lead_before_the_end() {
    let mut call = preempting_call();
    let eager = says_tentatively(&mut call, "אני רוצה לקבוע תור של");
    assert!(
        replies(&eager).is_empty(),
        "the turn ends at 4500 at the soonest"
    );
    // The end of the turn is due 1.5 s after the speech, at 4500: the reply starts 600 ms before.
    assert_eq!(
        call.core.next_deadline().map(|at| call.ms_of(at)),
        Some(3900)
    );
    assert!(replies(&call.feed(3800, Input::Tick)).is_empty());
    assert_eq!(replies(&call.feed(3900, Input::Tick)), [1]);
}

#[test]
fn a_caller_who_goes_on_before_the_lead_costs_no_reply() {
    let mut call = preempting_call();
    says_tentatively(&mut call, "אני רוצה לקבוע תור של");
    let resumed = call.feed(
        3700,
        Input::Speech(EndpointEvent::Resumed {
            at_sample: 3700 * 8,
        }),
    );
    assert_eq!(events(&resumed), ["eager_dropped"]);
    assert!(replies(&call.log).is_empty(), "no model request was made");
}
