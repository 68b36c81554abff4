//! Turn-taking: which of the caller's utterances are being transcribed, which guess is still eager,
//! and which reply is in flight.
//!
//! Utterances go to STT as they end (or earlier, eagerly, when the silence after them reaches the
//! eager threshold; such a guess is confirmed when the hangover ends with the same utterance, and
//! dropped when the caller resumes). They wait here in speech order. A caller turn is formed when
//! every waiting utterance is confirmed and transcribed: one that was still being transcribed when the
//! caller spoke again is not lost but joined with the next one, so a slow STT never drops words and the
//! turns keep the order they were spoken in. Only one reply is in flight; a newer caller turn
//! supersedes it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{SttOutcome, TurnId};
use crate::call::transcript::AudioEvidence;

/// How long after the caller's speech ended a turn with nothing to say yet plays a filler, so that the
/// caller hears something within 2.5 s of every utterance whatever the providers do: the filler is
/// cached and plays at once, and the rest is margin for a loaded machine, the send and Twilio's
/// buffer. Answers come well before it (about 1.2 s with typical providers), so only a stalled one
/// gets a filler.
pub const FILLER_AFTER: Duration = Duration::from_millis(2000);

/// An utterance sent to STT.
#[derive(Debug)]
struct Waiting {
    id: TurnId,
    /// Where its speech began: ties an eager guess to the utterance that confirms it.
    start_sample: u64,
    /// Its speech length, in samples.
    speech_samples: u64,
    /// How surely the endpointer heard the caller speak.
    evidence: AudioEvidence,
    /// False while an eager guess waits for the hangover.
    confirmed: bool,
    /// When the end of speech was confirmed (guessed, for a guess), and how long the endpointer
    /// waited before that.
    heard_at: Instant,
    endpoint_ms: u64,
    /// STT's answer and when it came.
    transcript: Option<(SttOutcome, Instant)>,
}

/// Utterances transcribed and confirmed, ready to become one caller turn.
#[derive(Debug)]
pub struct Heard {
    /// The newest utterance's turn: the reply is started under this id.
    pub id: TurnId,
    /// Each utterance's STT outcome with its audio evidence, in speech order.
    pub outcomes: Vec<(SttOutcome, AudioEvidence)>,
    /// The newest utterance's end-of-speech confirmation and the endpointer's wait before it.
    pub heard_at: Instant,
    pub endpoint_ms: u64,
    /// All of the utterances' speech, in samples.
    pub speech_samples: u64,
    /// How long after the end of speech was confirmed the caller still waited on STT.
    pub stt_wait: Duration,
}

/// The reply in flight.
#[derive(Debug)]
struct Answering {
    id: TurnId,
    heard_at: Instant,
    endpoint_ms: u64,
    /// Audio of this reply has reached the line.
    any_audio: bool,
    /// Its sentences sent to text-to-speech so far.
    speech_requests: usize,
}

/// A reply stopped before a word of it was heard: what it had cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnheardReply {
    pub id: TurnId,
    /// Sentences it had sent to text-to-speech.
    pub speech_requests: usize,
}

/// What became of a transcript that arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Not for any waiting utterance (cancelled or superseded): ignore it.
    Stale,
    /// Kept; the caller turn waits for more (confirmation, or an earlier or later transcript).
    Held,
    /// Every waiting utterance is now transcribed: form the caller turn.
    Ready,
}

#[derive(Debug, Default)]
pub struct TurnTaking {
    next_id: TurnId,
    waiting: VecDeque<Waiting>,
    answering: Option<Answering>,
    /// The caller has waited since this end of speech with nothing heard yet, and whether the filler
    /// has played for it.
    waited_since: Option<Instant>,
    filler_played: bool,
}

impl TurnTaking {
    fn new_id(&mut self) -> TurnId {
        self.next_id += 1;
        self.next_id
    }

    /// An utterance's end was guessed (`confirmed` false) or confirmed, `endpoint_ms` after its
    /// speech ended. Returns the id to transcribe it under, or `None` when it confirms the eager
    /// guess already being transcribed.
    pub fn utterance(
        &mut self,
        start_sample: u64,
        speech_samples: u64,
        evidence: AudioEvidence,
        endpoint_ms: u64,
        confirmed: bool,
        at: Instant,
    ) -> Option<TurnId> {
        if let Some(last) = self.waiting.back_mut()
            && !last.confirmed
            && confirmed
            && last.start_sample == start_sample
        {
            // The hangover confirmed the end the eager guess made: its STT is already under way (or
            // done), and that time is hidden from the caller.
            last.confirmed = true;
            last.heard_at = at;
            last.endpoint_ms = endpoint_ms;
            last.speech_samples = speech_samples;
            last.evidence = evidence;
            self.wait_from(at, endpoint_ms);
            return None;
        }
        let id = self.new_id();
        self.waiting.push_back(Waiting {
            id,
            start_sample,
            speech_samples,
            evidence,
            confirmed,
            heard_at: at,
            endpoint_ms,
            transcript: None,
        });
        if confirmed {
            self.wait_from(at, endpoint_ms);
        }
        Some(id)
    }

    fn wait_from(&mut self, heard_at: Instant, endpoint_ms: u64) {
        let speech_end = heard_at
            .checked_sub(Duration::from_millis(endpoint_ms))
            .unwrap_or(heard_at);
        self.waited_since = Some(speech_end);
        self.filler_played = false;
    }

    /// The caller resumed before the hangover: the eager guess is dropped. Returns its id to cancel.
    pub fn resumed(&mut self) -> Option<TurnId> {
        if self.waiting.back().is_some_and(|w| !w.confirmed) {
            return self.waiting.pop_back().map(|w| w.id);
        }
        None
    }

    /// STT answered for `id` at `at`.
    pub fn transcript(&mut self, id: TurnId, outcome: SttOutcome, at: Instant) -> Arrival {
        let Some(waiting) = self.waiting.iter_mut().find(|w| w.id == id) else {
            return Arrival::Stale;
        };
        waiting.transcript = Some((outcome, at));
        if self.ready() {
            Arrival::Ready
        } else {
            Arrival::Held
        }
    }

    /// Every waiting utterance is confirmed and transcribed.
    pub fn ready(&self) -> bool {
        !self.waiting.is_empty()
            && self
                .waiting
                .iter()
                .all(|w| w.confirmed && w.transcript.is_some())
    }

    /// Every waiting utterance is transcribed, all but the newest are confirmed, and the newest is an
    /// eager guess still waiting for the hangover, with no reply in flight: an answer can be prepared
    /// ahead of the confirmation. Returns the newest utterance's id and every outcome in speech order.
    pub fn eager_guess_transcribed(&self) -> Option<(TurnId, Vec<(SttOutcome, AudioEvidence)>)> {
        let id = self.transcribed_guess()?;
        let outcomes = self
            .waiting
            .iter()
            .filter_map(|w| {
                w.transcript
                    .as_ref()
                    .map(|(outcome, _)| (outcome.clone(), w.evidence))
            })
            .collect();
        Some((id, outcomes))
    }

    /// The newest utterance's id when [`Self::eager_guess_transcribed`] would answer, without copying
    /// the outcomes (asked whenever the call's next deadline is).
    pub fn transcribed_guess(&self) -> Option<TurnId> {
        let newest = self.waiting.back()?;
        if self.answering.is_some() || newest.confirmed {
            return None;
        }
        let earlier = self.waiting.len() - 1;
        let ready = self.waiting.iter().take(earlier).all(|w| w.confirmed)
            && self.waiting.iter().all(|w| w.transcript.is_some());
        ready.then_some(newest.id)
    }

    /// When the caller's speech ended before the newest utterance's eager guess, if that is waiting.
    pub fn guess_speech_ended(&self) -> Option<Instant> {
        let newest = self.waiting.back().filter(|w| !w.confirmed)?;
        let waited = Duration::from_millis(newest.endpoint_ms);
        Some(
            newest
                .heard_at
                .checked_sub(waited)
                .unwrap_or(newest.heard_at),
        )
    }

    /// Takes the waiting utterances as one caller turn (call only when [`TurnTaking::ready`]).
    pub fn take_heard(&mut self) -> Option<Heard> {
        if !self.ready() {
            return None;
        }
        let newest = self.waiting.back()?;
        let (id, heard_at, endpoint_ms) = (newest.id, newest.heard_at, newest.endpoint_ms);
        let transcribed_at = newest.transcript.as_ref().map_or(heard_at, |(_, at)| *at);
        let mut outcomes = Vec::new();
        let mut speech_samples = 0;
        let mut last_at = transcribed_at;
        for waiting in self.waiting.drain(..) {
            speech_samples += waiting.speech_samples;
            if let Some((outcome, at)) = waiting.transcript {
                last_at = last_at.max(at);
                outcomes.push((outcome, waiting.evidence));
            }
        }
        Some(Heard {
            id,
            outcomes,
            heard_at,
            endpoint_ms,
            speech_samples,
            stt_wait: last_at.saturating_duration_since(heard_at),
        })
    }

    /// The reply for `heard` starts. Returns a reply it supersedes, to cancel (never one that
    /// sounded: the caller's speech that led here cut that one already).
    pub fn start_answer(&mut self, heard: &Heard) -> Option<UnheardReply> {
        let superseded = self.drop_reply();
        self.answering = Some(Answering {
            id: heard.id,
            heard_at: heard.heard_at,
            endpoint_ms: heard.endpoint_ms,
            any_audio: false,
            speech_requests: 0,
        });
        superseded
    }

    /// The reply `id` sent a sentence to text-to-speech.
    pub fn speech_requested(&mut self, id: TurnId) {
        if let Some(answering) = self.answering.as_mut().filter(|a| a.id == id) {
            answering.speech_requests += 1;
        }
    }

    /// Stops the reply in flight, which has not sounded yet (the caller said more before it did).
    pub fn drop_reply(&mut self) -> Option<UnheardReply> {
        self.answering.take().map(|a| UnheardReply {
            id: a.id,
            speech_requests: a.speech_requests,
        })
    }

    /// The caller's words needed no reply (dropped, escalated): the wait for an answer is over.
    pub fn nothing_to_answer(&mut self) {
        self.waited_since = None;
    }

    /// The reply in flight, if it is `id`.
    pub fn is_answering(&self, id: TurnId) -> bool {
        self.answering.as_ref().is_some_and(|a| a.id == id)
    }

    pub fn answering_id(&self) -> Option<TurnId> {
        self.answering.as_ref().map(|a| a.id)
    }

    /// The reply's first audio: returns the voice-to-voice time (end of speech → now) and the server's
    /// own span (end of speech confirmed → now), once per reply.
    pub fn first_audio(&mut self, at: Instant) -> Option<(Duration, Duration)> {
        let answering = self.answering.as_mut()?;
        if answering.any_audio {
            return None;
        }
        answering.any_audio = true;
        self.waited_since = None;
        let span = at.saturating_duration_since(answering.heard_at);
        Some((span + Duration::from_millis(answering.endpoint_ms), span))
    }

    /// The reply has sounded on the line.
    pub fn reply_sounding(&self) -> bool {
        self.answering.as_ref().is_some_and(|a| a.any_audio)
    }

    /// The reply `id` produced everything it will.
    pub fn reply_finished(&mut self, id: TurnId) -> bool {
        if self.is_answering(id) {
            let answering = self.answering.take().expect("checked");
            if !answering.any_audio {
                self.waited_since = None;
            }
            return true;
        }
        false
    }

    /// Stops the reply in flight (barge-in, a key, the end). Returns its id to cancel.
    pub fn cancel_reply(&mut self) -> Option<TurnId> {
        self.answering.take().map(|a| a.id)
    }

    /// Stops everything: the reply and every transcription. Returns the ids to cancel.
    pub fn cancel_all(&mut self) -> Vec<TurnId> {
        let mut ids: Vec<TurnId> = self.waiting.drain(..).map(|w| w.id).collect();
        ids.extend(self.cancel_reply());
        self.waited_since = None;
        ids
    }

    /// A caller turn is being transcribed or answered.
    pub fn in_flight(&self) -> bool {
        self.answering.is_some() || self.waiting.iter().any(|w| w.confirmed)
    }

    /// When the filler is due: [`FILLER_AFTER`] past the end of the caller's speech, when nothing has
    /// been heard since and the filler has not played for this wait.
    pub fn filler_due_at(&self) -> Option<Instant> {
        if self.filler_played {
            return None;
        }
        self.waited_since.map(|since| since + FILLER_AFTER)
    }

    /// The filler plays now: returns how long the caller had waited.
    pub fn filler_played(&mut self, at: Instant) -> Option<Duration> {
        let since = self.waited_since?;
        self.filler_played = true;
        Some(at.saturating_duration_since(since))
    }
}
