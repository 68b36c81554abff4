//! Conversation loops: the caller saying the same thing again and again, or the agent giving the same
//! answer again, means the conversation is stuck and should be escalated rather than repeated.
//! Here: the [`RepetitionDetector`] and the [`similarity`] it counts by. In [`guard`]: the
//! [`LoopGuard`] a call asks as it goes, which catches the agent's own loop from the first sentence
//! of an answer, before it is spoken, and escalates once, then ends the call politely.
//!
//! Utterances are compared in [`normalize`]d form by the overlap of their letter pairs (Dice
//! coefficient over character bigrams, spaces ignored). Unlike word overlap it survives the ways one
//! sentence comes back from STT ("את ההזמנה" / "ת'הזמנה"), and unlike edit distance it is linear.
//! Utterances that resemble each other directly or through another one in the window count together,
//! so a short, a long and a slurred version of one request add up.

use std::collections::{HashMap, VecDeque};

use crate::call::hebrew::normalize;

mod guard;

pub use guard::{AgentLoopGuard, EscalationPolicy, LoopDecision, LoopGuard, MIN_OPENING_CHARS};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RepetitionConfig {
    /// This many similar utterances in the window call for escalation.
    pub threshold: usize,
    /// Bigram overlap (0..=1) from which two utterances count as the same.
    pub similarity: f32,
    /// How many recent utterances (the current one included) are compared.
    pub window: usize,
    /// Utterances with fewer letters and digits than this are not counted: "כן" and "לא" repeat
    /// naturally.
    pub min_chars: usize,
}

impl Default for RepetitionConfig {
    fn default() -> Self {
        Self {
            threshold: 3,
            similarity: 0.85,
            window: 6,
            min_chars: 3,
        }
    }
}

/// How often the utterance just observed was said within the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repetition {
    /// Similar utterances in the window, this one included; 0 for one too short to count.
    pub count: usize,
    /// `count` reached the threshold.
    pub escalate: bool,
}

#[derive(Debug, Clone, Default)]
pub struct RepetitionDetector {
    config: RepetitionConfig,
    /// The window, oldest first.
    recent: VecDeque<Utterance>,
}

#[derive(Debug, Clone)]
struct Utterance {
    /// `None` for an utterance too short to compare.
    bigrams: Option<Bigrams>,
    /// How many utterances back each earlier similar one is (1 = the one just before).
    similar_back: Vec<usize>,
}

impl RepetitionDetector {
    pub fn new(config: RepetitionConfig) -> Self {
        Self {
            config,
            recent: VecDeque::new(),
        }
    }

    pub fn observe(&mut self, text: &str) -> Repetition {
        let normal = normalize(text);
        let long_enough =
            normal.chars().filter(|c| c.is_alphanumeric()).count() >= self.config.min_chars;
        let bigrams = long_enough.then(|| Bigrams::of(&normal));
        let similar_back = match &bigrams {
            Some(new) => (self.recent.iter().rev().enumerate())
                .filter(|(_, earlier)| {
                    earlier
                        .bigrams
                        .as_ref()
                        .is_some_and(|old| new.dice(old) >= self.config.similarity)
                })
                .map(|(back, _)| back + 1)
                .collect(),
            None => Vec::new(),
        };
        self.recent.push_back(Utterance {
            bigrams,
            similar_back,
        });
        while self.recent.len() > self.config.window.max(1) {
            self.recent.pop_front();
        }
        let count = if long_enough {
            self.group_of_latest()
        } else {
            0
        };
        Repetition {
            count,
            escalate: count > 0 && count >= self.config.threshold,
        }
    }

    /// Forgets everything, e.g. after escalating or when the conversation moves on.
    pub fn reset(&mut self) {
        self.recent.clear();
    }

    /// The size of the group of mutually similar utterances the latest one belongs to.
    fn group_of_latest(&self) -> usize {
        let len = self.recent.len();
        let mut neighbours = vec![Vec::new(); len];
        for (index, utterance) in self.recent.iter().enumerate() {
            for &back in utterance.similar_back.iter().filter(|&&back| back <= index) {
                neighbours[index].push(index - back);
                neighbours[index - back].push(index);
            }
        }
        let mut in_group = vec![false; len];
        in_group[len - 1] = true;
        let mut to_visit = vec![len - 1];
        while let Some(index) = to_visit.pop() {
            for &other in &neighbours[index] {
                if !in_group[other] {
                    in_group[other] = true;
                    to_visit.push(other);
                }
            }
        }
        in_group.iter().filter(|&&member| member).count()
    }
}

/// How alike two texts are after normalisation, from 0 (no letter pair in common) to 1 (the same).
pub fn similarity(a: &str, b: &str) -> f32 {
    Bigrams::of(&normalize(a)).dice(&Bigrams::of(&normalize(b)))
}

/// The multiset of adjacent letter pairs of a normalised text, spaces removed.
#[derive(Debug, Clone)]
struct Bigrams {
    counts: HashMap<(char, char), u32>,
    total: u32,
    /// Texts of one character have no pairs; they are compared as they are.
    single: Option<char>,
}

impl Bigrams {
    fn of(normal: &str) -> Self {
        let mut letters = normal.chars().filter(|&c| c != ' ');
        let mut counts = HashMap::new();
        let mut total = 0;
        let first = letters.next();
        let mut previous = first;
        for c in letters {
            if let Some(p) = previous {
                *counts.entry((p, c)).or_insert(0) += 1;
                total += 1;
            }
            previous = Some(c);
        }
        Self {
            counts,
            total,
            single: if total == 0 { first } else { None },
        }
    }

    fn dice(&self, other: &Self) -> f32 {
        if self.total == 0 || other.total == 0 {
            let same = self.total == other.total && self.single == other.single;
            return if same { 1.0 } else { 0.0 };
        }
        let (small, large) = if self.counts.len() <= other.counts.len() {
            (self, other)
        } else {
            (other, self)
        };
        let shared: u32 = small
            .counts
            .iter()
            .map(|(pair, &count)| count.min(large.counts.get(pair).copied().unwrap_or(0)))
            .sum();
        2.0 * shared as f32 / (self.total + other.total) as f32
    }
}

#[cfg(test)]
mod tests;
