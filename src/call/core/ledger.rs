//! The playback ledger: every piece of agent audio goes to Twilio followed by a mark, and Twilio echoes
//! the mark when the piece has played. Pieces still queued are what the caller has not heard yet,
//! which is what a barge-in clears and what the transcript must not claim was said. A sentence still
//! streaming has no mark yet; a barge-in cuts it like a queued piece.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One piece of agent audio (a sentence, a phrase, an echo) and the mark that follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub mark: String,
    /// Length in 8 kHz samples.
    pub samples: usize,
    /// The words in the piece, when it has any.
    pub text: Option<String>,
    /// When its first audio was handed to Twilio.
    pub sent_at: Instant,
}

impl Piece {
    /// The words of this piece a caller heard in `played` of its playing time: Twilio plays at 8 kHz
    /// in real time, so the fraction of time is the fraction of words (rounded up: a started word
    /// was heard).
    pub fn heard_words(&self, played: Duration) -> String {
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

/// A sentence whose audio is streaming and whose mark has not been sent yet.
#[derive(Debug, Clone, Default)]
struct Streaming {
    text: Option<String>,
    samples: usize,
    started: Option<Instant>,
}

/// What a `clear` took off the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// The pieces cleared, oldest first: the first was playing, the rest were never heard.
    pub pieces: Vec<Piece>,
    /// The words of the first piece the caller heard before the cut.
    pub heard_of_first: String,
}

#[derive(Debug, Default)]
pub struct PlaybackLedger {
    next: u64,
    queued: VecDeque<Piece>,
    streaming: Option<Streaming>,
    /// When the last echoed mark arrived: the piece after it started playing then (or when it was
    /// sent, if later).
    last_mark_at: Option<Instant>,
}

impl PlaybackLedger {
    /// A sentence's audio starts streaming; its words are known now, its length when it is done.
    pub fn begin_sentence(&mut self, text: String) {
        self.streaming = Some(Streaming {
            text: Some(text),
            ..Streaming::default()
        });
    }

    /// `samples` of the streaming sentence were sent at `at` (a sentence begun implicitly has no text).
    pub fn sentence_audio(&mut self, samples: usize, at: Instant) {
        let streaming = self.streaming.get_or_insert_with(Streaming::default);
        streaming.samples += samples;
        streaming.started.get_or_insert(at);
    }

    /// The streaming sentence is complete: it becomes a queued piece. Returns its mark, or `None`
    /// when no audio of it was sent (nothing to mark).
    pub fn end_sentence(&mut self, text: String) -> Option<String> {
        let streaming = self.streaming.take()?;
        let started = streaming.started?;
        Some(self.enqueue(streaming.samples, Some(text), started))
    }

    /// The words of the sentence streaming now, if any.
    pub fn streaming_text(&self) -> Option<&str> {
        self.streaming.as_ref()?.text.as_deref()
    }

    /// Registers a whole piece sent at `sent_at` and returns the mark name to send after it.
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

    /// Twilio echoed `mark` at `at`: that piece and any before it have played. Unknown marks
    /// (cleared pieces echoed after a `clear`) return nothing.
    pub fn mark_played(&mut self, mark: &str, at: Instant) -> Vec<Piece> {
        let Some(index) = self.queued.iter().position(|p| p.mark == mark) else {
            return Vec::new();
        };
        let played: Vec<Piece> = self.queued.drain(..=index).collect();
        self.last_mark_at = Some(at);
        played
    }

    /// True while some sent audio has not been confirmed played, or a sentence is streaming.
    pub fn is_audible(&self) -> bool {
        !self.queued.is_empty() || self.streaming.as_ref().is_some_and(|s| s.samples > 0)
    }

    /// Forgets every queued piece and the streaming sentence (after a `clear` at `at`).
    pub fn clear(&mut self, at: Instant) -> Cut {
        if let Some(streaming) = self.streaming.take()
            && let Some(started) = streaming.started
        {
            self.enqueue(streaming.samples, streaming.text, started);
        }
        let heard_of_first = match self.queued.front() {
            Some(head) => {
                let started = self
                    .last_mark_at
                    .map_or(head.sent_at, |mark| mark.max(head.sent_at));
                head.heard_words(at.saturating_duration_since(started))
            }
            None => String::new(),
        };
        Cut {
            pieces: self.queued.drain(..).collect(),
            heard_of_first,
        }
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
        assert_eq!(piece.heard_words(Duration::ZERO), "");
        assert_eq!(piece.heard_words(Duration::from_millis(900)), "אחת שתיים");
        assert_eq!(
            piece.heard_words(Duration::from_secs(5)),
            "אחת שתיים שלוש ארבע"
        );
    }

    #[test]
    fn marks_confirm_pieces_in_order_and_cleared_marks_are_ignored() {
        let t0 = Instant::now();
        let mut ledger = PlaybackLedger::default();
        let a = ledger.enqueue(160, Some("שלום".into()), t0);
        let b = ledger.enqueue(320, None, t0);
        let c = ledger.enqueue(480, None, t0);
        assert!(ledger.is_audible());
        // Twilio may echo only the later mark; everything before it has played too.
        let played = ledger.mark_played(&b, t0);
        assert_eq!(
            played.iter().map(|p| p.mark.as_str()).collect::<Vec<_>>(),
            [a.as_str(), b.as_str()]
        );
        let cut = ledger.clear(t0);
        assert_eq!(cut.pieces.len(), 1);
        assert_eq!(cut.pieces[0].mark, c);
        assert!(
            ledger.mark_played(&c, t0).is_empty(),
            "a cleared piece's echo is not playback"
        );
        assert!(!ledger.is_audible());
    }

    #[test]
    fn a_clear_cuts_the_streaming_sentence_at_the_words_heard() {
        let t0 = Instant::now();
        let mut ledger = PlaybackLedger::default();
        ledger.begin_sentence("אחת שתיים שלוש ארבע".into());
        ledger.sentence_audio(8000, t0);
        ledger.sentence_audio(8000, t0 + Duration::from_millis(100));
        assert!(ledger.is_audible());
        assert_eq!(ledger.streaming_text(), Some("אחת שתיים שלוש ארבע"));
        let cut = ledger.clear(t0 + Duration::from_millis(900));
        assert_eq!(cut.pieces.len(), 1);
        assert_eq!(cut.heard_of_first, "אחת שתיים");
        assert!(!ledger.is_audible());
    }
}
