//! Preemptive replies: the answer starts on the eager transcript, is held while the hangover runs,
//! and is heard only if the caller has really finished, with exactly those words.

use sicha_audio::endpoint::EndpointEvent;

use super::harness::*;
use crate::call::core::*;

/// The caller speaks 2000–3000 ms and the endpointer guesses the end at `at_ms`.
fn guess_at(call: &mut Call, at_ms: u64) -> Vec<Effect> {
    call.feed(2120, speech_started(2000));
    call.feed(
        at_ms,
        Input::Speech(EndpointEvent::Tentative(utterance(2000, 3000, at_ms))),
    )
}

/// The caller speaks 2000–3000 ms; the eager guess comes at 3250 ms and its transcript at 3400 ms.
fn guessed(call: &mut Call) -> Vec<Effect> {
    let eager = guess_at(call, 3250);
    assert_eq!(transcribed(&eager), [1]);
    call.feed(3400, heard(1, "מה שעות הפתיחה"))
}

fn audio_sent(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Audio(codes) => Some(codes.len()),
            _ => None,
        })
        .sum()
}

#[test]
fn an_early_guess_is_transcribed_at_once_but_answered_only_once_the_silence_is_long_enough() {
    let mut call = Call::greeted();
    // Eager transcription 100 ms into the silence; its words are back 30 ms later.
    let eager = guess_at(&mut call, 3100);
    assert_eq!(transcribed(&eager), [1]);
    let words = call.feed(3130, heard(1, "מה שעות הפתיחה"));
    assert!(replies(&words).is_empty(), "a breath may still end here");
    assert_eq!(
        call.core.next_deadline().map(|at| call.ms_of(at)),
        Some(3150)
    );
    assert_eq!(replies(&call.feed(3150, Input::Tick)), [1]);
}

#[test]
fn a_caller_who_goes_on_before_the_reply_may_start_costs_only_the_transcription() {
    let mut call = Call::greeted();
    guess_at(&mut call, 3100);
    call.feed(3130, heard(1, "שלום"));
    let resumed = call.feed(
        3140,
        Input::Speech(EndpointEvent::Resumed {
            at_sample: 3140 * 8,
        }),
    );
    assert!(events(&resumed).contains(&"eager_dropped".to_string()));
    assert!(!events(&resumed).contains(&"preemptive_discarded".to_string()));
    assert!(replies(&call.feed(3150, Input::Tick)).is_empty());
    assert!(replies(&call.log).is_empty(), "no model request at all");
}

#[test]
fn the_answer_starts_on_the_guess_and_is_heard_only_once_the_turn_is_confirmed() {
    let mut call = Call::greeted();
    let started = guessed(&mut call);
    assert_eq!(
        replies(&started),
        [1],
        "the model starts before the hangover ends"
    );
    assert_eq!(
        asked(&started),
        ["מה שעות הפתיחה"],
        "asked with the guessed words"
    );
    assert!(
        turns(&started).is_empty(),
        "the caller's turn is not recorded yet"
    );
    // The first sentence is written and spoken while the hangover still runs: nothing is sent.
    let mut held = Vec::new();
    for input in sentence(1, "משמונה עד שש.", 4000) {
        held.extend(call.feed(3500, input));
    }
    assert_eq!(audio_sent(&held), 0, "{held:?}");
    assert!(!held.iter().any(|e| matches!(e, Effect::Mark(_))));

    let confirmed = call.feed(
        3600,
        Input::Speech(EndpointEvent::Utterance(utterance(2000, 3000, 3600))),
    );
    assert!(
        replies(&confirmed).is_empty(),
        "the reply under way is adopted"
    );
    assert!(transcribed(&confirmed).is_empty());
    assert_eq!(
        turns(&confirmed),
        [(2, "caller".into(), "מה שעות הפתיחה".into(), None, false)]
    );
    assert_eq!(audio_sent(&confirmed), 4000, "what was held plays at once");
    let turn_at = position(&confirmed, |e| {
        matches!(e, Effect::Record(Record::Turn { .. }))
    });
    let audio_at = position(&confirmed, |e| matches!(e, Effect::Audio(_)));
    assert!(
        turn_at < audio_at,
        "the caller's turn is recorded before the answer is heard"
    );
    assert!(events(&confirmed).contains(&"preemptive_adopted".to_string()));
    // The rest streams as usual.
    let effects = call.feed(3700, reply(1, ReplyOutput::Audio(vec![0xFF; 800])));
    assert_eq!(audio_sent(&effects), 800);
}

#[test]
fn the_caller_going_on_discards_the_answer_unheard_and_the_longer_words_are_answered() {
    let mut call = Call::greeted();
    guessed(&mut call);
    for input in sentence(1, "משמונה עד שש.", 4000) {
        call.feed(3450, input);
    }
    let resumed = call.feed(
        3500,
        Input::Speech(EndpointEvent::Resumed {
            at_sample: 3500 * 8,
        }),
    );
    assert_eq!(
        cancelled(&resumed),
        [1],
        "the model and the speech are stopped"
    );
    assert_eq!(
        event_detail(&resumed, "preemptive_discarded"),
        serde_json::json!({ "turn": 1, "sentences": 1, "audio_ms": 500 })
    );
    // Its late output is never heard.
    let late = call.feed(3550, reply(1, ReplyOutput::Audio(vec![0xFF; 800])));
    assert_eq!(audio_sent(&late), 0);

    let confirm = call.feed(
        4600,
        Input::Speech(EndpointEvent::Utterance(utterance(2000, 4000, 4600))),
    );
    assert_eq!(transcribed(&confirm), [2]);
    assert_eq!(
        asked(&call.feed(4900, heard(2, "מה שעות הפתיחה מחר בבוקר"))),
        ["מה שעות הפתיחה מחר בבוקר"]
    );
    assert_eq!(
        audio_sent(&call.log),
        8000,
        "only the greeting was ever sent"
    );
}

#[test]
fn a_business_can_turn_preemptive_replies_off() {
    let patient = crate::store::Business {
        preemptive_replies: false,
        ..business(None, "")
    };
    let (mut call, mark) = Call::with(AgentMode::Ai, Some(patient)).started();
    call.feed(1001, Input::MarkPlayed(mark));
    assert!(replies(&guessed(&mut call)).is_empty());
    let confirm = call.feed(
        3600,
        Input::Speech(EndpointEvent::Utterance(utterance(2000, 3000, 3600))),
    );
    assert_eq!(replies(&confirm), [1]);
}

#[test]
fn no_answer_is_started_ahead_for_words_that_are_not_answered() {
    let mut call = Call::greeted();
    guess_at(&mut call, 3250);
    // A lone filler is not answered, so nothing is started for it.
    assert!(replies(&call.feed(3400, heard(1, "אממ"))).is_empty());
}
