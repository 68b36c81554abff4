//! What a call does about loops, decided as it goes: the caller's repetition is counted per
//! transcript, the agent's own from the opening of each answer while it streams, so a third
//! identical answer is caught before its audio is sent. The first loop of a call escalates (a
//! transfer or a call-back promise) and resets the counts; a loop after that ends the call politely
//! rather than escalating, and promising a call-back, again.

use std::collections::VecDeque;

use super::{Bigrams, RepetitionConfig, RepetitionDetector};
use crate::call::hebrew::normalize;

/// Letters and digits an opening needs before it is compared: short openings ("בשמחה!", "משהו
/// נוסף?") begin many different answers. A shorter first sentence is judged with the next one.
pub const MIN_OPENING_CHARS: usize = 12;

/// What to do about the conversation's loops at this point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopDecision {
    /// No loop: go on.
    Continue,
    /// The call's first loop: hand the caller over (transfer, or a call-back promise) instead of
    /// repeating. The counts start again.
    Escalate,
    /// A loop after the call has escalated: say goodbye and end the call.
    EndPolitely,
}

/// Escalate once, then end: escalating again would promise a second call-back for one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EscalationPolicy {
    escalated: bool,
}

impl EscalationPolicy {
    /// The decision for a loop just found.
    pub fn on_loop(&mut self) -> LoopDecision {
        if std::mem::replace(&mut self.escalated, true) {
            LoopDecision::EndPolitely
        } else {
            LoopDecision::Escalate
        }
    }

    pub fn has_escalated(&self) -> bool {
        self.escalated
    }
}

/// The agent's recent answers, to tell while a new one streams whether it repeats them.
#[derive(Debug, Clone, Default)]
pub struct AgentLoopGuard {
    config: RepetitionConfig,
    /// The window of answers, oldest first, in normal form without spaces.
    answers: VecDeque<String>,
}

impl AgentLoopGuard {
    pub fn new(config: RepetitionConfig) -> Self {
        Self {
            config,
            answers: VecDeque::new(),
        }
    }

    /// Whether an answer opening with `opening` (its first sentence, or more of it) would be the
    /// `threshold`-th like earlier answers in the window. Each earlier answer is compared by as
    /// much of it as the opening has: its own opening, or all of a shorter answer. An opening
    /// under [`MIN_OPENING_CHARS`] letters and digits is never a repeat.
    pub fn would_repeat(&self, opening: &str) -> bool {
        let opening = compact(opening);
        let length = opening.chars().count();
        if length < MIN_OPENING_CHARS {
            return false;
        }
        let bigrams = Bigrams::of(&opening);
        let similar = (self.answers.iter())
            .filter(|earlier| {
                let same_length: String = earlier.chars().take(length).collect();
                Bigrams::of(&same_length).dice(&bigrams) >= self.config.similarity
            })
            .count();
        similar + 1 >= self.config.threshold.max(1)
    }

    /// Remembers an answer of the agent, once it has ended (its whole text).
    pub fn record_answer(&mut self, text: &str) {
        let answer = compact(text);
        if answer.is_empty() {
            return;
        }
        self.answers.push_back(answer);
        while self.answers.len() > self.config.window.max(1) {
            self.answers.pop_front();
        }
    }

    /// Forgets every answer, e.g. after escalating.
    pub fn reset(&mut self) {
        self.answers.clear();
    }
}

/// `text` in normal form without spaces: what answers are compared by.
fn compact(text: &str) -> String {
    normalize(text).chars().filter(|&c| c != ' ').collect()
}

/// The loops of one call, the caller's and the agent's, under one escalation policy: after the
/// call escalated for either, a loop of either ends it.
#[derive(Debug, Clone, Default)]
pub struct LoopGuard {
    caller: RepetitionDetector,
    agent: AgentLoopGuard,
    policy: EscalationPolicy,
}

impl LoopGuard {
    pub fn new(config: RepetitionConfig) -> Self {
        Self {
            caller: RepetitionDetector::new(config),
            agent: AgentLoopGuard::new(config),
            policy: EscalationPolicy::default(),
        }
    }

    /// The caller said `text` (a transcript the agent is about to answer).
    pub fn caller_said(&mut self, text: &str) -> LoopDecision {
        if self.caller.observe(text).escalate {
            self.on_loop()
        } else {
            LoopDecision::Continue
        }
    }

    /// The agent's answer is streaming and opens with `opening`: speak it (`Continue`), or
    /// escalate or end instead of sending its audio. Ask with the first sentence, and again with
    /// more while the opening is under [`MIN_OPENING_CHARS`].
    pub fn agent_opening(&mut self, opening: &str) -> LoopDecision {
        if self.agent.would_repeat(opening) {
            self.on_loop()
        } else {
            LoopDecision::Continue
        }
    }

    /// The agent's answer ended; `text` is what it said. Usually `Continue`: a loop is caught at
    /// the opening. An answer whose opening was too short to judge is judged whole here, after
    /// it was spoken.
    pub fn record_answer(&mut self, text: &str) -> LoopDecision {
        let repeated = self.agent.would_repeat(text);
        self.agent.record_answer(text);
        if repeated {
            self.on_loop()
        } else {
            LoopDecision::Continue
        }
    }

    /// Whether the call has escalated once already.
    pub fn has_escalated(&self) -> bool {
        self.policy.has_escalated()
    }

    fn on_loop(&mut self) -> LoopDecision {
        self.caller.reset();
        self.agent.reset();
        self.policy.on_loop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LoopDecision::{Continue, EndPolitely, Escalate};

    const BOOKED: &str = "התור שלך נקבע ליום שלישי בעשר בבוקר. משהו נוסף?";
    const BOOKED_OPENING: &str = "התור שלך נקבע ליום שלישי בעשר בבוקר.";
    const HUMAN: &str = "אני רוצה לדבר עם נציג";

    /// One thing that happens in a call, and what the guard decides.
    enum Step {
        Caller(&'static str),
        Opening(&'static str),
        Answer(&'static str),
    }
    use Step::{Answer, Caller, Opening};

    fn run(steps: &[(Step, LoopDecision)]) {
        let mut guard = LoopGuard::default();
        for (index, (step, expected)) in steps.iter().enumerate() {
            let decision = match step {
                Caller(text) => guard.caller_said(text),
                Opening(text) => guard.agent_opening(text),
                Answer(text) => guard.record_answer(text),
            };
            assert_eq!(decision, *expected, "step {index}");
        }
    }

    #[test]
    fn a_third_identical_answer_is_caught_at_its_opening() {
        run(&[
            (Opening(BOOKED_OPENING), Continue),
            (Answer(BOOKED), Continue),
            (Opening("אשמח לעזור, מה תרצה לעשות?"), Continue),
            (Answer("אשמח לעזור, מה תרצה לעשות?"), Continue),
            (Opening(BOOKED_OPENING), Continue),
            (Answer(BOOKED), Continue),
            // Spelled and punctuated differently, still the same answer.
            (Opening("התור שלך נקבע ליום שלישי, בעשר בבוקר!"), Escalate),
        ]);
    }

    #[test]
    fn openings_are_compared_with_whole_shorter_answers() {
        let mut guard = AgentLoopGuard::default();
        guard.record_answer("התור שלך נקבע ליום שלישי.");
        guard.record_answer("התור שלך נקבע ליום שלישי.");
        assert!(guard.would_repeat("התור שלך נקבע ליום שלישי."));
        assert!(!guard.would_repeat("התור שלך נקבע ליום רביעי בשמונה."));
    }

    #[test]
    fn short_or_shared_openings_are_not_loops() {
        let mut guard = AgentLoopGuard::default();
        for answer in [
            "בשמחה! התור שלך נקבע ליום שלישי בעשר.",
            "בשמחה! המחיר של תספורת הוא מאה שקלים.",
            "בשמחה! התור שלך נקבע ליום שלישי בעשר.",
        ] {
            guard.record_answer(answer);
        }
        assert!(!guard.would_repeat("בשמחה!"), "too short to tell");
        assert!(!guard.would_repeat("בשמחה! הכתובת שלנו היא הרצל 5."));
        assert!(guard.would_repeat("בשמחה! התור שלך נקבע ליום שלישי בעשר."));
    }

    #[test]
    fn an_answer_too_short_to_judge_early_is_judged_when_it_ends() {
        let answer = "כן. התור שלך נקבע ליום שלישי בעשר.";
        run(&[
            (Opening("כן."), Continue),
            (Answer(answer), Continue),
            (Opening("כן."), Continue),
            (Answer(answer), Continue),
            (Opening("כן."), Continue),
            (Answer(answer), Escalate),
        ]);
    }

    #[test]
    fn the_agent_escalates_once_then_ends_the_call() {
        run(&[
            (Answer(BOOKED), Continue),
            (Answer(BOOKED), Continue),
            (Opening(BOOKED_OPENING), Escalate),
            // The counts started again: two more of the same pass, the third ends the call.
            (Opening(BOOKED_OPENING), Continue),
            (Answer(BOOKED), Continue),
            (Opening(BOOKED_OPENING), Continue),
            (Answer(BOOKED), Continue),
            (Opening(BOOKED_OPENING), EndPolitely),
        ]);
    }

    #[test]
    fn the_caller_escalates_once_then_ends_the_call() {
        run(&[
            (Caller(HUMAN), Continue),
            (Caller(HUMAN), Continue),
            (Caller(HUMAN), Escalate),
            (Caller(HUMAN), Continue),
            (Caller("מה שעות הפתיחה?"), Continue),
            (Caller(HUMAN), Continue),
            (Caller(HUMAN), EndPolitely),
        ]);
    }

    #[test]
    fn one_escalation_per_call_whoever_loops() {
        run(&[
            (Caller(HUMAN), Continue),
            (Caller(HUMAN), Continue),
            (Caller(HUMAN), Escalate),
            (Answer(BOOKED), Continue),
            (Answer(BOOKED), Continue),
            (Opening(BOOKED_OPENING), EndPolitely),
        ]);
    }

    #[test]
    fn an_escalation_forgets_the_other_sides_counts_too() {
        run(&[
            (Answer(BOOKED), Continue),
            (Answer(BOOKED), Continue),
            (Caller(HUMAN), Continue),
            (Caller(HUMAN), Continue),
            (Caller(HUMAN), Escalate),
            // The agent's two earlier answers were forgotten with the caller's repeats.
            (Opening(BOOKED_OPENING), Continue),
        ]);
    }

    #[test]
    fn old_answers_fall_out_of_the_window() {
        let mut guard = AgentLoopGuard::default();
        guard.record_answer(BOOKED);
        for other in [
            "אחת שתיים שלוש ארבע",
            "חמש שש שבע שמונה",
            "תשע עשר אחת עשרה",
        ] {
            guard.record_answer(other);
        }
        guard.record_answer(BOOKED);
        assert!(guard.would_repeat(BOOKED_OPENING));
        for other in ["שתים עשרה ושלוש עשרה", "ארבע עשרה וחמש עשרה"]
        {
            guard.record_answer(other);
        }
        // Six answers later the first BOOKED is gone; one in the window is not enough.
        assert!(!guard.would_repeat(BOOKED_OPENING));
    }

    #[test]
    fn the_policy_escalates_once() {
        let mut policy = EscalationPolicy::default();
        assert!(!policy.has_escalated());
        assert_eq!(policy.on_loop(), Escalate);
        assert!(policy.has_escalated());
        assert_eq!(policy.on_loop(), EndPolitely);
        assert_eq!(policy.on_loop(), EndPolitely);
    }
}
