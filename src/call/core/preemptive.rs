//! The preemptive reply: an answer started on an eager transcript, before the hangover confirms that
//! the caller has finished, so the model and the first sentence's speech overlap the wait. Whatever it
//! produces is held here, never sent, until the turn is confirmed with the same words (then it is
//! adopted: released in order as if it had just arrived) or the caller goes on (then it is discarded,
//! its work cancelled, and counted as waste).

use std::time::Instant;

use super::{ReplyOutput, TurnId};

#[derive(Debug)]
pub struct Preemptive {
    pub id: TurnId,
    /// The caller's words it answers: it is adopted only for exactly these.
    pub text: String,
    /// When it started: its head start over the confirmation is recorded with the answer.
    pub started_at: Instant,
    held: Vec<ReplyOutput>,
}

/// What a discarded reply had cost when it was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waste {
    /// Sentences sent to text-to-speech, whether or not their audio had started.
    pub sentences: usize,
    /// Audio made and never heard, in μ-law bytes (8 per millisecond).
    pub audio_bytes: usize,
}

impl Preemptive {
    pub fn new(id: TurnId, text: String, started_at: Instant) -> Self {
        Self {
            id,
            text,
            started_at,
            held: Vec::new(),
        }
    }

    /// Keeps an output of the reply until the turn is confirmed.
    pub fn hold(&mut self, output: ReplyOutput) {
        self.held.push(output);
    }

    /// The reply is adopted: what it produced so far, in order.
    pub fn release(self) -> Vec<ReplyOutput> {
        self.held
    }

    /// The reply is dropped: what it had cost.
    pub fn waste(&self) -> Waste {
        let mut waste = Waste {
            sentences: 0,
            audio_bytes: 0,
        };
        for output in &self.held {
            match output {
                ReplyOutput::SpeechRequested => waste.sentences += 1,
                ReplyOutput::Audio(codes) => waste.audio_bytes += codes.len(),
                _ => {}
            }
        }
        waste
    }
}
