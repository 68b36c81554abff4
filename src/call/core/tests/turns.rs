//! Turn-taking: transcription, eager guesses, supersession, slow STT, the filler.

use super::harness::*;
use crate::call::core::*;

#[test]
fn an_utterance_is_transcribed_then_answered_before_its_record_is_written() {
    let mut call = Call::greeted();
    let effects = call.says(2000, 3000);
    assert_eq!(transcribed(&effects), [1]);
    assert_eq!(
        event_detail(&effects, "turn_ended"),
        serde_json::json!({ "silence_ms": HANGOVER_MS, "by": "silence" }),
        "an end decided by the silence alone is on record too"
    );
    let effects = call.feed(3900, heard(1, "אני רוצה לקבוע תור"));
    assert_eq!(replies(&effects), [1]);
    assert_eq!(asked(&effects), ["אני רוצה לקבוע תור"]);
    let reply_at = position(&effects, |e| matches!(e, Effect::Reply { .. }));
    let record_at = position(&effects, |e| matches!(e, Effect::Record(_)));
    assert!(
        reply_at < record_at,
        "a busy database never delays the answer"
    );
    assert_eq!(
        turns(&effects),
        [(2, "caller".into(), "אני רוצה לקבוע תור".into(), None, false)]
    );
}

#[test]
fn an_eager_guess_confirmed_by_the_hangover_is_answered_at_once() {
    // Without preemptive replies (see `preemptive` for the answer started on the guess itself).
    let patient = crate::store::Business {
        preemptive_replies: false,
        ..business(None, "")
    };
    let (mut call, mark) = Call::with(AgentMode::Ai, Some(patient)).started();
    call.feed(1001, Input::MarkPlayed(mark));
    call.feed(2120, speech_started(2000));
    let eager = call.feed(
        3250,
        Input::Speech(sicha_audio::endpoint::EndpointEvent::Tentative(utterance(
            2000, 3000, 3250,
        ))),
    );
    assert_eq!(transcribed(&eager), [1]);
    // STT answers before the hangover: the answer waits for the end of the turn to be confirmed.
    assert!(replies(&call.feed(3500, heard(1, "מה שעות הפתיחה"))).is_empty());
    let confirm = call.feed(
        3600,
        Input::Speech(sicha_audio::endpoint::EndpointEvent::Utterance(utterance(
            2000, 3000, 3600,
        ))),
    );
    assert!(transcribed(&confirm).is_empty(), "no second transcription");
    assert_eq!(replies(&confirm), [1]);
}

#[test]
fn an_eager_guess_is_dropped_when_the_caller_resumes_and_its_late_transcript_ignored() {
    let mut call = Call::greeted();
    call.feed(2120, speech_started(2000));
    call.feed(
        3250,
        Input::Speech(sicha_audio::endpoint::EndpointEvent::Tentative(utterance(
            2000, 3000, 3250,
        ))),
    );
    let resumed = call.feed(
        3300,
        Input::Speech(sicha_audio::endpoint::EndpointEvent::Resumed {
            at_sample: 3300 * 8,
        }),
    );
    assert_eq!(cancelled(&resumed), [1]);
    assert_eq!(events(&resumed), ["eager_dropped"]);
    assert!(
        call.feed(3400, heard(1, "מה שעות")).is_empty(),
        "the dropped guess's transcript"
    );
    let confirm = call.feed(
        4600,
        Input::Speech(sicha_audio::endpoint::EndpointEvent::Utterance(utterance(
            2000, 4000, 4600,
        ))),
    );
    assert_eq!(transcribed(&confirm), [2]);
    assert_eq!(
        asked(&call.feed(4900, heard(2, "מה שעות הפתיחה מחר"))),
        ["מה שעות הפתיחה מחר"]
    );
}

#[test]
fn a_superseded_replys_late_output_is_ignored() {
    let mut call = Call::greeted();
    call.says(2000, 3000);
    call.feed(3900, heard(1, "אני רוצה לקבוע תור"));
    // The caller adds something before the answer is heard: the first reply is dropped quietly.
    let confirm = call.says(4000, 4500);
    assert_eq!(cancelled(&confirm), [1]);
    assert_eq!(
        event_detail(&confirm, "answer_dropped"),
        serde_json::json!({ "turn": 1, "sentences": 0 })
    );
    assert!(
        !confirm.iter().any(|e| matches!(e, Effect::Clear)),
        "nothing was on the line"
    );
    let late: Vec<Effect> = sentence(1, "בטח, לאיזה יום?", 8000)
        .into_iter()
        .flat_map(|input| call.feed(5200, input))
        .collect();
    assert!(late.is_empty(), "{late:?}");
    let effects = call.feed(5300, heard(2, "למחר בבוקר"));
    assert_eq!(replies(&effects), [2]);
}

#[test]
fn a_slow_transcript_is_kept_and_joined_with_the_next_utterance_in_speech_order() {
    let mut call = Call::greeted();
    assert_eq!(transcribed(&call.says(2000, 3000)), [1]);
    assert_eq!(
        transcribed(&call.says(4000, 4800)),
        [2],
        "the first is still with STT"
    );
    assert!(
        call.feed(5500, heard(2, "למחר בבוקר")).is_empty(),
        "the later one waits for the earlier"
    );
    let effects = call.feed(9000, heard(1, "אני רוצה לקבוע תור"));
    assert_eq!(asked(&effects), ["אני רוצה לקבוע תור למחר בבוקר"]);
    assert_eq!(replies(&effects), [2]);
    let callers: Vec<_> = turns(&effects)
        .into_iter()
        .filter(|t| t.1 == "caller")
        .collect();
    assert_eq!(
        callers.len(),
        1,
        "one caller turn, both utterances in speech order"
    );
}

#[test]
fn voice_to_voice_counts_the_endpointers_wait() {
    let mut call = Call::greeted();
    call.says(2000, 3000);
    call.feed(3900, heard(1, "מה שעות הפתיחה"));
    let effects = call.feed(4500, reply(1, ReplyOutput::Audio(vec![0xFF; 800])));
    let v2v = effects.iter().find_map(|e| match e {
        Effect::VoiceToVoice(d) => Some(d.as_millis()),
        _ => None,
    });
    assert_eq!(v2v, Some(1500), "speech ended at 3000, first audio at 4500");
    assert!(
        call.feed(4600, reply(1, ReplyOutput::Audio(vec![0xFF; 800])))
            .iter()
            .all(|e| !matches!(e, Effect::VoiceToVoice(_)))
    );
}

#[test]
fn a_filler_plays_after_2000_ms_and_opens_the_answer_after_the_callers_turn() {
    let mut call = Call::greeted();
    call.says(2000, 3000);
    // Speech ended at 3000: the filler is due at 5000 unless the answer sounds first.
    assert_eq!(
        call.core.next_deadline().map(|at| call.ms_of(at)),
        Some(5000)
    );
    let effects = call.feed(5000, Input::Tick);
    assert_eq!(events(&effects), ["filler"]);
    assert_eq!(phrases(&effects), [crate::call::phrases::FILLER]);
    let id = phrase_ids(&effects)[0];
    call.feed(5001, phrase_audio(id, 4000));
    // The slow transcript comes after the filler: the caller's turn still comes before the answer.
    call.feed(8000, heard(1, "מה שעות הפתיחה"));
    for input in sentence(1, "משמונה עד שש.", 8000) {
        call.feed(8500, input);
    }
    call.feed(8600, finished(1, "משמונה עד שש."));
    let effects = call.echo_marks_until(9700);
    let recorded = turns(&call.log);
    assert_eq!(
        recorded
            .iter()
            .map(|t| (t.0, t.1.as_str()))
            .collect::<Vec<_>>(),
        [(1, "agent"), (2, "caller"), (3, "agent")],
        "turns in speech order: {recorded:?}"
    );
    assert_eq!(
        turns(&effects)[0].2,
        format!("{} משמונה עד שש.", crate::call::phrases::FILLER),
        "the filler opens the answer it stood in for"
    );
    assert_eq!(
        events(&call.log).iter().filter(|e| *e == "filler").count(),
        1
    );
    let v2v = call.log.iter().find_map(|e| match e {
        Effect::Record(crate::store::Record::Turn { turn, .. }) if turn.seq == 3 => turn.v2v_ms,
        _ => None,
    });
    assert_eq!(
        v2v,
        Some(2000),
        "what the caller waited before hearing something"
    );
}

#[test]
fn no_filler_when_the_answer_sounds_in_time() {
    let mut call = Call::greeted();
    call.says(2000, 3000);
    call.feed(3900, heard(1, "מה שעות הפתיחה"));
    call.feed(4500, reply(1, ReplyOutput::Audio(vec![0xFF; 800])));
    assert!(
        call.core
            .next_deadline()
            .is_none_or(|at| call.ms_of(at) != 5000)
    );
    assert!(events(&call.feed(5000, Input::Tick)).is_empty());
}

#[test]
fn each_sentence_is_recorded_when_it_starts_for_the_line() {
    let mut call = Call::greeted();
    call.says(2000, 2500);
    call.feed(3000, heard(1, "מה שעות הפתיחה"));
    let [requested, started, audio, _done] =
        <[Input; 4]>::try_from(sentence(1, "משמונה עד שש.", 8000))
            .unwrap_or_else(|_| unreachable!());
    assert!(call.feed(3300, requested).is_empty());
    let effects = call.feed(3400, started);
    assert_eq!(
        event_detail(&effects, crate::store::events::AGENT_SPEAKING),
        serde_json::json!({ "turn": 3, "text": "משמונה עד שש." }),
        "recorded before any of its audio (the greeting was turn 1, the caller's words turn 2)"
    );
    assert!(!effects.iter().any(|e| matches!(e, Effect::Audio(_))));
    let effects = call.feed(3410, audio);
    assert!(effects.iter().any(|e| matches!(e, Effect::Audio(_))));
}
