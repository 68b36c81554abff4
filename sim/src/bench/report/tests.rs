use super::*;
use sicha::store::turns::AnswerSpan;

fn turn(role: &str, seq: i64) -> TimedTurn {
    TimedTurn {
        turn: sicha::store::Turn::said("CA1", seq, role, "", 0, 0),
        span: AnswerSpan::default(),
    }
}

fn answer(turnaround: i64, stt_wait: i64, first_sentence: i64, tts: i64) -> TimedTurn {
    let mut answer = turn(ROLE_AGENT, 2);
    answer.turn.endpoint_ms = Some(620);
    answer.turn.stt_ms = Some(400);
    answer.turn.llm_first_sentence_ms = Some(first_sentence);
    answer.turn.tts_ttfb_ms = Some(tts);
    answer.span = AnswerSpan {
        turnaround_ms: Some(turnaround),
        stt_wait_ms: Some(stt_wait),
        head_start_ms: Some(0),
    };
    answer
}

#[test]
fn overhead_is_the_servers_turnaround_less_the_provider_stages_it_waited_for() {
    // Without eager transcription the whole STT is waited for.
    assert_eq!(overhead(&answer(1303, 400, 600, 300)), Some(3.0));
    // With it, only what was left of STT when the end of speech was confirmed; neither the endpoint
    // wait nor the whole STT time enters.
    assert_eq!(overhead(&answer(952, 50, 600, 300)), Some(2.0));
}

#[test]
fn a_preemptive_answers_head_start_hides_the_provider_stages_it_covered() {
    // Started 700 ms before the confirmation: 200 ms of its 900 ms stages were left.
    let mut ahead = answer(203, 0, 600, 300);
    ahead.span.head_start_ms = Some(700);
    assert_eq!(overhead(&ahead), Some(3.0));
    // Ready before the confirmation: everything after it is sicha's.
    ahead.span = AnswerSpan {
        turnaround_ms: Some(4),
        stt_wait_ms: Some(0),
        head_start_ms: Some(1500),
    };
    assert_eq!(overhead(&ahead), Some(4.0));
}

#[test]
fn an_answer_without_its_span_or_stages_has_no_overhead() {
    let mut unmeasured = answer(1000, 0, 600, 300);
    unmeasured.span = AnswerSpan::default();
    assert_eq!(overhead(&unmeasured), None);
    let mut cut = answer(1000, 0, 600, 300);
    cut.turn.tts_ttfb_ms = None;
    assert_eq!(overhead(&cut), None);
}

#[test]
fn each_line_is_answered_by_the_agent_turn_after_its_own_caller_turn() {
    let turns = vec![
        turn(ROLE_AGENT, 1), // the greeting
        turn(ROLE_CALLER, 2),
        turn(ROLE_AGENT, 3),
        turn(ROLE_CALLER, 4),
        turn(ROLE_AGENT, 5),
    ];
    let answers = answers_by_line(&turns);
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[&0].turn.seq, 3);
    assert_eq!(answers[&1].turn.seq, 5);
}
