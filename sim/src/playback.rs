//! Twilio's playback buffer, emulated on the caller's side: agent audio "plays" at 8000 samples a
//! second from when it arrives or when the audio before it finished; a mark is echoed once the audio
//! sent before it has played (at once when nothing is playing); `clear` drops what has not played yet
//! and echoes every pending mark at once.
//!
//! The buffer is a plain state machine: every method takes the current time, so tests drive it with
//! made-up instants and the caller drives it with the tokio clock. `speed` plays a time-lapse of the
//! call (2.0 plays audio twice as fast), matching a caller that sends its own audio faster.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Samples per second of Twilio's μ-law audio.
pub const SAMPLE_RATE: u32 = 8000;

/// A stretch of agent audio that played without a gap, placed on the call's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayedSegment {
    /// Where it starts, in samples of call time from the buffer's origin.
    pub start_sample: u64,
    /// μ-law codes; after a `clear`, only the part that played before it.
    pub codes: Vec<u8>,
}

/// What a `clear` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleared {
    /// Marks that were waiting on audio, in order: Twilio echoes them at once on `clear`.
    pub marks: Vec<String>,
    /// Samples of agent audio that never played.
    pub dropped_samples: u64,
}

#[derive(Debug)]
struct PendingMark {
    name: String,
    /// The call-time sample at which the audio before the mark has played.
    due_sample: u64,
}

/// The emulated buffer. Time is measured in samples of call time from `origin`.
#[derive(Debug)]
pub struct PlaybackBuffer {
    origin: Instant,
    speed: f64,
    /// Where the audio queued so far finishes playing; at or before "now" means idle.
    queue_end_sample: u64,
    /// The audio itself, unless [`Self::keeping_audio`] turned that off.
    segments: Vec<PlayedSegment>,
    keep_audio: bool,
    pending_marks: VecDeque<PendingMark>,
}

impl PlaybackBuffer {
    /// An empty buffer whose timeline starts at `origin`; `speed` 1.0 plays in real time.
    pub fn new(origin: Instant, speed: f64) -> Self {
        assert!(
            speed.is_finite() && speed > 0.0,
            "playback speed must be positive"
        );
        Self {
            origin,
            speed,
            queue_end_sample: 0,
            segments: Vec::new(),
            keep_audio: true,
            pending_marks: VecDeque::new(),
        }
    }

    /// Whether the buffer keeps the audio it times (the default) or only times it, with
    /// [`Self::segments`] left empty: a bench's thousand calls would otherwise hold every second the
    /// agent said.
    pub fn keeping_audio(mut self, keep: bool) -> Self {
        self.keep_audio = keep;
        self
    }

    /// The call-time sample at `now` (before the origin counts as the origin).
    pub fn sample_at(&self, now: Instant) -> u64 {
        let wall = now.saturating_duration_since(self.origin).as_secs_f64();
        (wall * self.speed * f64::from(SAMPLE_RATE)).round() as u64
    }

    /// The instant at which call-time `sample` is reached.
    pub fn instant_of(&self, sample: u64) -> Instant {
        let secs = sample as f64 / f64::from(SAMPLE_RATE) / self.speed;
        self.origin + Duration::from_secs_f64(secs)
    }

    /// Queues agent audio that arrived at `now`.
    pub fn push_audio(&mut self, now: Instant, codes: &[u8]) {
        if codes.is_empty() {
            return;
        }
        let start = self.queue_end_sample.max(self.sample_at(now));
        self.queue_end_sample = start + codes.len() as u64;
        if !self.keep_audio {
            return;
        }
        match self.segments.last_mut() {
            // Audio that follows on without a gap extends the same segment.
            Some(last) if last.start_sample + last.codes.len() as u64 == start => {
                last.codes.extend_from_slice(codes)
            }
            _ => self.segments.push(PlayedSegment {
                start_sample: start,
                codes: codes.to_vec(),
            }),
        }
    }

    /// A mark arrived at `now`. Returns it when it is to be echoed at once (nothing left to play);
    /// otherwise it waits for [`Self::due_marks`].
    pub fn push_mark(&mut self, now: Instant, name: &str) -> Option<String> {
        if self.pending_marks.is_empty() && !self.is_playing(now) {
            return Some(name.to_string());
        }
        self.pending_marks.push_back(PendingMark {
            name: name.to_string(),
            due_sample: self.queue_end_sample,
        });
        None
    }

    /// Marks whose audio has played by `now`, in order, removed from the buffer.
    pub fn due_marks(&mut self, now: Instant) -> Vec<String> {
        let played_to = self.sample_at(now);
        let mut due = Vec::new();
        while let Some(mark) = self.pending_marks.front() {
            if mark.due_sample > played_to {
                break;
            }
            due.extend(self.pending_marks.pop_front().map(|m| m.name));
        }
        due
    }

    /// When the next pending mark falls due, if any is pending.
    pub fn next_mark_due(&self) -> Option<Instant> {
        self.pending_marks
            .front()
            .map(|mark| self.instant_of(mark.due_sample))
    }

    /// Whether agent audio is still playing at `now`.
    pub fn is_playing(&self, now: Instant) -> bool {
        self.queue_end_sample > self.sample_at(now)
    }

    /// When everything queued so far has played.
    pub fn idle_at(&self) -> Instant {
        self.instant_of(self.queue_end_sample)
    }

    /// `clear` arrived at `now`: audio not yet played is dropped, pending marks are returned to echo.
    pub fn clear(&mut self, now: Instant) -> Cleared {
        let played_to = self.sample_at(now);
        // Audio is queued back to back from when it arrives, so what has not played is one stretch
        // up to the queue's end (a gap can only open before "now").
        let dropped_samples = self.queue_end_sample.saturating_sub(played_to);
        self.segments.retain_mut(|segment| {
            let keep = played_to.saturating_sub(segment.start_sample);
            segment.codes.truncate(keep as usize);
            !segment.codes.is_empty()
        });
        self.queue_end_sample = self.queue_end_sample.min(played_to);
        Cleared {
            marks: self.pending_marks.drain(..).map(|m| m.name).collect(),
            dropped_samples,
        }
    }

    /// The agent audio as heard: what played, or is queued to play, and was not cleared.
    pub fn segments(&self) -> &[PlayedSegment] {
        &self.segments
    }

    /// Samples of agent audio heard or queued, in all.
    pub fn total_samples(&self) -> u64 {
        self.segments.iter().map(|s| s.codes.len() as u64).sum()
    }
}
