//! When the conversation is stuck or silent: the caller (or the agent) repeating itself, turns that
//! could not be understood, a quiet line, and what the caller's keys do.

use std::time::{Duration, Instant};

use crate::call::loops::{LoopDecision, LoopGuard, MIN_OPENING_CHARS};

/// What the agent does when the caller goes quiet: after `after` of silence (nothing playing, no turn
/// in flight) it asks whether they are still there; after `max_prompts` unanswered prompts it says
/// goodbye and ends the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SilencePolicy {
    pub after: Duration,
    pub max_prompts: u32,
}

impl Default for SilencePolicy {
    fn default() -> Self {
        Self {
            after: Duration::from_secs(8),
            max_prompts: 2,
        }
    }
}

/// What a quiet line gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SilenceStep {
    /// Ask whether the caller is still there (the `n`th prompt).
    Prompt(u32),
    /// Enough prompts went unanswered: say goodbye and end the call (after `n` prompts).
    Goodbye(u32),
}

pub struct Escalation {
    silence: SilencePolicy,
    /// The caller's and the agent's loops, under one escalate-once policy.
    loops: LoopGuard,
    /// The opening of the answer streaming now, while it is too short to judge; `None` once judged.
    opening: Option<String>,
    /// Since when the line has been quiet on both sides; `None` while anyone speaks or a turn runs.
    quiet_since: Option<Instant>,
    /// "Are you still there?" prompts said since the caller last spoke.
    silence_prompts: u32,
}

impl Escalation {
    pub fn new(silence: SilencePolicy) -> Self {
        Self {
            silence,
            loops: LoopGuard::default(),
            opening: None,
            quiet_since: None,
            silence_prompts: 0,
        }
    }

    /// The caller said `text` (about to be answered): a loop escalates once, then ends the call.
    pub fn caller_said(&mut self, text: &str) -> LoopDecision {
        self.loops.caller_said(text)
    }

    /// An answer starts streaming: its opening is judged before its audio is sent.
    pub fn answer_started(&mut self) {
        self.opening = Some(String::new());
    }

    /// The streaming answer's next sentence, before its audio: judged with the sentences before it
    /// until the opening is long enough to compare with earlier answers.
    pub fn answer_sentence(&mut self, sentence: &str) -> LoopDecision {
        let Some(opening) = &mut self.opening else {
            return LoopDecision::Continue;
        };
        if !opening.is_empty() {
            opening.push(' ');
        }
        opening.push_str(sentence.trim());
        if opening.chars().filter(|c| c.is_alphanumeric()).count() < MIN_OPENING_CHARS {
            return LoopDecision::Continue;
        }
        let opening = self.opening.take().unwrap_or_default();
        self.loops.agent_opening(&opening)
    }

    /// The answer ended having said `text`; a loop its opening was too short to show is caught here.
    pub fn answer_finished(&mut self, text: &str) -> LoopDecision {
        self.opening = None;
        if text.trim().is_empty() {
            return LoopDecision::Continue;
        }
        self.loops.record_answer(text)
    }

    /// The caller started speaking: the line is not quiet, and prompts start over.
    pub fn caller_spoke(&mut self) {
        self.quiet_since = None;
        self.silence_prompts = 0;
    }

    /// Someone is talking or a turn is running: no silence is counted.
    pub fn line_busy(&mut self) {
        self.quiet_since = None;
    }

    /// The line went quiet at `at` (everything played, nobody speaking, no turn in flight).
    pub fn line_quiet(&mut self, at: Instant) {
        self.quiet_since.get_or_insert(at);
    }

    pub fn silence_due_at(&self) -> Option<Instant> {
        self.quiet_since.map(|since| since + self.silence.after)
    }

    /// The silence deadline passed: what to say.
    pub fn on_silence(&mut self) -> SilenceStep {
        self.quiet_since = None;
        self.silence_prompts += 1;
        if self.silence_prompts > self.silence.max_prompts {
            SilenceStep::Goodbye(self.silence_prompts)
        } else {
            SilenceStep::Prompt(self.silence_prompts)
        }
    }
}
