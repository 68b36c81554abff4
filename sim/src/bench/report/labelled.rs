//! The end of the caller's turn on fixtures whose parts are labelled (the pause set, each played as
//! one call turn): how long after the labelled end of a part the server decided the turn had ended,
//! split by whether what was said up to there is a finished utterance (`complete`) or the caller
//! stopped inside one (`unfinished`, where any decision is an end in the middle: with none there
//! is no sample), and the answers whose first audio reached the caller while they were still inside
//! the utterance (false cut-ins).
//!
//! The caller's times are its own clock from the moment the call was placed, put on the wall clock
//! the server records by; the endpoint figures are wall milliseconds, as `v2v_ms` (under a
//! time-lapse they are not the audio's).

use std::collections::{HashMap, HashSet};

use crate::caller::{CallTrace, TraceKind};
use sicha::store::events::Event;

/// The server's decision that the caller's turn ended.
const TURN_ENDED: &str = "turn_ended";

/// The labelled figures gathered across calls.
#[derive(Debug, Default)]
pub(super) struct LabelledEnds {
    /// Per part that ends a finished utterance: its labelled end → the server's decision, ms.
    pub complete: Vec<f64>,
    /// Per part the caller paused after mid-utterance and the server ended the turn in that pause.
    pub unfinished: Vec<f64>,
    pub false_cut_ins: usize,
    /// Lines with labelled parts that were played.
    pub utterances: usize,
}

/// When the server decided that a caller's turn had ended, ms on the wall clock, in order: its
/// `turn_ended` events, which it records for every end it confirms, by words and voice or by the
/// silence alone, also when the caller went on and no turn came of it.
pub(super) fn decisions(events: &[Event]) -> Vec<f64> {
    let mut all: Vec<f64> = events
        .iter()
        .filter(|e| e.kind == TURN_ENDED)
        .map(|e| e.at_ms as f64)
        .collect();
    all.sort_by(f64::total_cmp);
    all
}

impl LabelledEnds {
    /// Adds one call: its trace, when it was placed, and the server's decisions (`None` when its
    /// records could not be read: the cut-ins, heard by the caller, still count).
    pub(super) fn collect(
        &mut self,
        trace: &CallTrace,
        placed_at_unix_ms: f64,
        decisions: Option<&[f64]>,
    ) {
        let labelled = labelled_lines(trace);
        self.utterances += labelled.len();
        self.false_cut_ins += cut_ins_by_line(trace, &labelled).values().sum::<usize>();
        if let Some(decisions) = decisions {
            self.endpoints(trace, placed_at_unix_ms, decisions);
        }
    }

    fn endpoints(&mut self, trace: &CallTrace, placed_at_unix_ms: f64, decisions: &[f64]) {
        let wall = |at: std::time::Duration| placed_at_unix_ms + at.as_secs_f64() * 1000.0;
        for (index, event) in trace.events.iter().enumerate() {
            let TraceKind::PartEnded {
                line,
                part,
                complete,
            } = event.kind
            else {
                continue;
            };
            let ended = wall(event.at);
            // The caller speaking again closes the part's silence: a later decision is another's.
            let resumed = trace.events[index..]
                .iter()
                .find(|e| {
                    e.kind
                        == TraceKind::PartStarted {
                            line,
                            part: part + 1,
                        }
                })
                .map_or(f64::INFINITY, |e| wall(e.at));
            // The server's clock is whole milliseconds, truncated.
            let decided = decisions
                .iter()
                .find(|d| **d + 1.0 > ended && **d < resumed);
            if let Some(decided) = decided {
                let waited = super::stats::round((decided - ended).max(0.0));
                if complete {
                    self.complete.push(waited);
                } else {
                    self.unfinished.push(waited);
                }
            }
        }
    }
}

/// The lines of the call whose parts are labelled.
pub(super) fn labelled_lines(trace: &CallTrace) -> HashSet<usize> {
    trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::PartEnded { line, .. } => Some(line),
            _ => None,
        })
        .collect()
}

/// By line: answers whose first audio arrived while the caller was inside one of the `labelled`
/// lines (between its first and last labelled speech): the first agent audio there, and the first
/// after each `clear` (the server stopping an answer because the caller went on). Such a line
/// starts only once the previous answer has played, so agent audio inside it is a new answer.
pub(super) fn cut_ins_by_line(
    trace: &CallTrace,
    labelled: &HashSet<usize>,
) -> HashMap<usize, usize> {
    let mut inside = None;
    let mut audible = false;
    let mut cut_ins = HashMap::new();
    for event in &trace.events {
        match &event.kind {
            TraceKind::LineStarted { line, .. } => {
                inside = labelled.contains(line).then_some(*line);
                audible = false;
            }
            TraceKind::LineEnded { .. } => inside = None,
            TraceKind::Clear { .. } => audible = false,
            TraceKind::MediaReceived { .. } => {
                if let Some(line) = inside.filter(|_| !audible) {
                    *cut_ins.entry(line).or_insert(0) += 1;
                }
                audible = true;
            }
            _ => {}
        }
    }
    cut_ins
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::TraceEvent;

    fn at(ms: u64, kind: TraceKind) -> TraceEvent {
        TraceEvent::at_ms(ms, kind)
    }

    fn trace(events: Vec<TraceEvent>) -> CallTrace {
        CallTrace::of(events)
    }

    fn media(ms: u64) -> TraceEvent {
        at(ms, TraceKind::MediaReceived { samples: 160 })
    }

    /// One line in two parts: speech 1000–2000 ms, a pause to 2700 ms, speech to 3500 ms.
    fn paused_line(mut more: Vec<TraceEvent>) -> CallTrace {
        let mut events = vec![
            media(100), // the greeting
            at(
                1000,
                TraceKind::LineStarted {
                    line: 0,
                    text: String::new(),
                },
            ),
            at(1000, TraceKind::PartStarted { line: 0, part: 0 }),
            at(
                2000,
                TraceKind::PartEnded {
                    line: 0,
                    part: 0,
                    complete: false,
                },
            ),
            at(2700, TraceKind::PartStarted { line: 0, part: 1 }),
            at(
                3500,
                TraceKind::PartEnded {
                    line: 0,
                    part: 1,
                    complete: true,
                },
            ),
            at(3500, TraceKind::LineEnded { line: 0 }),
        ];
        events.append(&mut more);
        events.sort_by_key(|e| e.at);
        trace(events)
    }

    #[test]
    fn a_finished_utterance_is_timed_to_the_first_decision_after_its_labelled_end() {
        let mut ends = LabelledEnds::default();
        // Placed at 10 s on the wall clock; the server decided at 3.75 s into the call.
        ends.collect(&paused_line(Vec::new()), 10_000.0, Some(&[13_750.0]));
        assert_eq!(ends.complete, vec![250.0]);
        assert!(ends.unfinished.is_empty());
        assert_eq!((ends.utterances, ends.false_cut_ins), (1, 0));
    }

    #[test]
    fn an_end_decided_in_a_mid_utterance_pause_is_an_unfinished_sample() {
        let mut ends = LabelledEnds::default();
        // Decided 500 ms into the pause, and again after the last part; a decision before the
        // pause (an earlier turn's) is no one's here.
        ends.collect(
            &paused_line(Vec::new()),
            0.0,
            Some(&[900.0, 2500.0, 3800.0]),
        );
        assert_eq!(ends.unfinished, vec![500.0]);
        assert_eq!(ends.complete, vec![300.0]);
        // A decision only after the caller went on belongs to the next silence.
        let mut late = LabelledEnds::default();
        late.collect(&paused_line(Vec::new()), 0.0, Some(&[2800.0]));
        assert!(late.unfinished.is_empty());
    }

    #[test]
    fn a_cut_in_is_an_answer_starting_inside_the_utterance() {
        // An answer starts in the pause and is cleared when the caller goes on; another starts
        // during the second part; the real answer after the line is no cut-in.
        let events = vec![
            media(2600),
            media(2620),
            at(
                2750,
                TraceKind::Clear {
                    dropped_samples: 0,
                    marks_echoed: 0,
                },
            ),
            media(3000),
            media(3900),
        ];
        let trace = paused_line(events);
        let mut ends = LabelledEnds::default();
        ends.collect(&trace, 0.0, None);
        assert_eq!(ends.false_cut_ins, 2);
        let by_line = cut_ins_by_line(&trace, &labelled_lines(&trace));
        assert_eq!(by_line.get(&0), Some(&2));
        assert!(ends.complete.is_empty());
    }

    #[test]
    fn lines_without_labelled_parts_are_not_counted() {
        let plain = trace(vec![
            at(
                1000,
                TraceKind::LineStarted {
                    line: 0,
                    text: String::new(),
                },
            ),
            media(1500),
            at(2000, TraceKind::LineEnded { line: 0 }),
        ]);
        let mut ends = LabelledEnds::default();
        ends.collect(&plain, 0.0, Some(&[2300.0]));
        assert_eq!((ends.utterances, ends.false_cut_ins), (0, 0));
        assert!(ends.complete.is_empty());
    }

    #[test]
    fn decisions_are_the_servers_turn_ended_events_in_order() {
        let event = |kind: &str, at_ms| Event {
            call_sid: "CA1".into(),
            seq: 1,
            kind: kind.into(),
            detail: None,
            at_ms,
        };
        let events = [
            event("turn_ended", 2500),
            event("turn_ended", 1800),
            event("barge_in", 1900),
        ];
        assert_eq!(decisions(&events), vec![1800.0, 2500.0]);
    }
}
