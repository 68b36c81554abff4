//! Playback accounting: every piece of agent audio goes to Twilio followed by a mark; Twilio echoes the
//! mark when the piece has played. Pieces still queued are what the caller has not heard yet, which is
//! what barge-in clears and what the transcript must not claim was said.

use std::collections::VecDeque;

use tokio::time::Instant;

/// One piece of agent audio (a sentence, a greeting, an echo) and the mark that follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub mark: String,
    /// Length in 8 kHz samples.
    pub samples: usize,
    /// The words in the piece, when it has any.
    pub text: Option<String>,
    /// When it was handed to Twilio.
    pub sent_at: Instant,
}

impl Piece {
    /// The words of this piece a caller heard in `played` of its playing time: Twilio plays at 8 kHz
    /// in real time, so the fraction of time is the fraction of words (rounded up: a started word
    /// was heard).
    pub fn heard_words(&self, played: std::time::Duration) -> String {
        let Some(text) = &self.text else {
            return String::new();
        };
        let total = self.samples.max(1) as f64 / 8000.0;
        let fraction = (played.as_secs_f64() / total).clamp(0.0, 1.0);
        let words: Vec<&str> = text.split_whitespace().collect();
        let heard = (fraction * words.len() as f64).ceil() as usize;
        words[..heard.min(words.len())].join(" ")
    }
}

#[derive(Debug, Default)]
pub struct Playback {
    next: u64,
    queued: VecDeque<Piece>,
    played_samples: u64,
    /// When the last echoed mark arrived: the piece after it started playing then (or when it was
    /// sent, if later).
    last_mark_at: Option<Instant>,
}

impl Playback {
    /// Registers a piece whose audio was sent from `sent_at` on and returns the mark name to send
    /// after it.
    pub fn enqueue(&mut self, samples: usize, text: Option<String>, sent_at: Instant) -> String {
        self.next += 1;
        let mark = format!("p{}", self.next);
        self.queued.push_back(Piece {
            mark: mark.clone(),
            samples,
            text,
            sent_at,
        });
        mark
    }

    /// Twilio echoed `mark`: that piece and any before it have played. Unknown marks (cleared pieces
    /// echoed after a `clear`) return nothing.
    pub fn mark_played(&mut self, mark: &str) -> Vec<Piece> {
        let Some(index) = self.queued.iter().position(|p| p.mark == mark) else {
            return Vec::new();
        };
        let played: Vec<Piece> = self.queued.drain(..=index).collect();
        self.last_mark_at = Some(Instant::now());
        self.played_samples += played.iter().map(|p| p.samples as u64).sum::<u64>();
        played
    }

    /// True while some sent audio has not been confirmed played.
    pub fn is_audible(&self) -> bool {
        !self.queued.is_empty()
    }

    /// Forgets every queued piece (after a `clear`) and returns them, oldest first, with how long the
    /// first one had been playing: it was cut, the rest were never heard.
    pub fn clear(&mut self) -> (Vec<Piece>, std::time::Duration) {
        let playing_for = match self.queued.front() {
            Some(head) => {
                let started = self
                    .last_mark_at
                    .map_or(head.sent_at, |mark| mark.max(head.sent_at));
                started.elapsed()
            }
            None => std::time::Duration::ZERO,
        };
        (self.queued.drain(..).collect(), playing_for)
    }

    pub fn played_samples(&self) -> u64 {
        self.played_samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heard_words_follow_the_fraction_played() {
        let piece = Piece {
            mark: "p1".into(),
            samples: 16000,
            text: Some("אחת שתיים שלוש ארבע".into()),
            sent_at: Instant::now(),
        };
        assert_eq!(piece.heard_words(std::time::Duration::ZERO), "");
        assert_eq!(
            piece.heard_words(std::time::Duration::from_millis(900)),
            "אחת שתיים"
        );
        assert_eq!(
            piece.heard_words(std::time::Duration::from_secs(5)),
            "אחת שתיים שלוש ארבע"
        );
    }

    #[test]
    fn marks_confirm_pieces_in_order_and_cleared_marks_are_ignored() {
        let mut playback = Playback::default();
        let a = playback.enqueue(160, Some("שלום".into()), Instant::now());
        let b = playback.enqueue(320, None, Instant::now());
        let c = playback.enqueue(480, None, Instant::now());
        assert!(playback.is_audible());
        // Twilio may echo only the later mark; everything before it has played too.
        let played = playback.mark_played(&b);
        assert_eq!(
            played.iter().map(|p| p.mark.as_str()).collect::<Vec<_>>(),
            [a.as_str(), b.as_str()]
        );
        assert_eq!(playback.played_samples(), 480);
        let (cleared, _) = playback.clear();
        assert_eq!(cleared.len(), 1);
        assert_eq!(cleared[0].mark, c);
        assert!(
            playback.mark_played(&c).is_empty(),
            "a cleared piece's echo is not playback"
        );
        assert!(!playback.is_audible());
        assert_eq!(playback.played_samples(), 480);
    }
}
