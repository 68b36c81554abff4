//! Playback accounting: every piece of agent audio goes to Twilio followed by a mark; Twilio echoes the
//! mark when the piece has played. Pieces still queued are what the caller has not heard yet, which is
//! what barge-in clears and what the transcript must not claim was said.

use std::collections::VecDeque;

/// One piece of agent audio (a sentence, a greeting, an echo) and the mark that follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub mark: String,
    /// Length in 8 kHz samples.
    pub samples: usize,
    /// The words in the piece, when it has any.
    pub text: Option<String>,
}

#[derive(Debug, Default)]
pub struct Playback {
    next: u64,
    queued: VecDeque<Piece>,
    played_samples: u64,
}

impl Playback {
    /// Registers a piece about to be sent and returns the mark name to send after it.
    pub fn enqueue(&mut self, samples: usize, text: Option<String>) -> String {
        self.next += 1;
        let mark = format!("p{}", self.next);
        self.queued.push_back(Piece {
            mark: mark.clone(),
            samples,
            text,
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
        self.played_samples += played.iter().map(|p| p.samples as u64).sum::<u64>();
        played
    }

    /// True while some sent audio has not been confirmed played.
    pub fn is_audible(&self) -> bool {
        !self.queued.is_empty()
    }

    /// Forgets every queued piece (after a `clear`) and returns them, oldest first: the first one was
    /// playing when the clear happened, the rest were never heard.
    pub fn clear(&mut self) -> Vec<Piece> {
        self.queued.drain(..).collect()
    }

    pub fn played_samples(&self) -> u64 {
        self.played_samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_confirm_pieces_in_order_and_cleared_marks_are_ignored() {
        let mut playback = Playback::default();
        let a = playback.enqueue(160, Some("שלום".into()));
        let b = playback.enqueue(320, None);
        let c = playback.enqueue(480, None);
        assert!(playback.is_audible());
        // Twilio may echo only the later mark; everything before it has played too.
        let played = playback.mark_played(&b);
        assert_eq!(
            played.iter().map(|p| p.mark.as_str()).collect::<Vec<_>>(),
            [a.as_str(), b.as_str()]
        );
        assert_eq!(playback.played_samples(), 480);
        let cleared = playback.clear();
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
