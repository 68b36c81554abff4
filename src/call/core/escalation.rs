//! When the conversation is stuck or silent: the caller (or the agent) repeating itself, turns that
//! could not be understood, a quiet line, and what the caller's keys do.

use std::time::{Duration, Instant};

use crate::call::loops::RepetitionDetector;
use crate::call::transcript::{UnintelligibleCounter, Verdict};

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
    caller_loops: RepetitionDetector,
    agent_loops: RepetitionDetector,
    unintelligible: UnintelligibleCounter,
    /// Since when the line has been quiet on both sides; `None` while anyone speaks or a turn runs.
    quiet_since: Option<Instant>,
    /// "Are you still there?" prompts said since the caller last spoke.
    silence_prompts: u32,
}

impl Escalation {
    pub fn new(silence: SilencePolicy) -> Self {
        Self {
            silence,
            caller_loops: RepetitionDetector::default(),
            agent_loops: RepetitionDetector::default(),
            unintelligible: UnintelligibleCounter::new(2),
            quiet_since: None,
            silence_prompts: 0,
        }
    }

    /// The caller said `text`: how many times in the window, and whether to escalate.
    pub fn caller_said(&mut self, text: &str) -> crate::call::loops::Repetition {
        self.unintelligible
            .observe(&Verdict::Accept(text.to_string()));
        self.caller_loops.observe(text)
    }

    /// The agent answered `text` (a whole answer): true when it is the same answer again, too often.
    pub fn agent_said(&mut self, text: &str) -> bool {
        !text.trim().is_empty() && self.agent_loops.observe(text).escalate
    }

    /// A turn got no answer; true when the caller should now be asked to repeat.
    pub fn not_understood(&mut self, verdict: &Verdict) -> bool {
        self.unintelligible.observe(verdict)
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
