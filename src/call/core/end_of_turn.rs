//! The end of the caller's turn, decided from more than silence. The endpointer offers a tentative
//! end after a short silence and would close the utterance only after the longest wait; in between,
//! this part decides how much silence this utterance needs: less when its transcript reads as a
//! finished sentence and the voice fell, more when it stops on "ו" or "של", on a filler, or in the
//! middle of a dictated number (see `call::hebrew::end_of_turn`). The decision is taken again when
//! the transcript arrives; once the silence has lasted as long as it says, the turn is confirmed
//! here, without waiting for the endpointer.

use std::time::{Duration, Instant};

use sicha_audio::endpoint::Utterance;
use sicha_audio::prosody::{Ending, ProsodyConfig, ending_of};

use super::TurnId;
use crate::call::hebrew::end_of_turn::{Completeness, HangoverPolicy, completeness};

/// A tentative end waiting for its silence to be long enough.
#[derive(Debug)]
struct Pending {
    /// The tentative utterance (the audio up to the guess).
    utterance: Utterance,
    /// Its eager transcription's turn.
    turn: Option<TurnId>,
    /// When the caller's speech ended.
    speech_ended: Instant,
    voice: Ending,
    text: Completeness,
    /// Confirmed here; the endpointer's own end for it is then old news.
    confirmed: bool,
}

/// What the caller resuming means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resumption {
    /// Inside the silence the turn needed: the same turn goes on.
    Continued,
    /// After the turn was confirmed here: the caller was not done (a false cut-in).
    AfterConfirming,
}

#[derive(Debug)]
pub struct EndOfTurn {
    policy: HangoverPolicy,
    pending: Option<Pending>,
}

impl EndOfTurn {
    pub fn new(policy: HangoverPolicy) -> Self {
        Self {
            policy,
            pending: None,
        }
    }

    /// The endpointer guessed the end of `utterance` at `now` (its eager transcription is `turn`).
    pub fn guessed(&mut self, utterance: Utterance, turn: Option<TurnId>, now: Instant) {
        let emitted = utterance.pcm_start_sample + utterance.pcm.len() as u64;
        let silence = Duration::from_millis(emitted.saturating_sub(utterance.end_sample) / 8);
        let voice = ending_of(&utterance.pcm, ProsodyConfig::default()).ending;
        self.pending = Some(Pending {
            utterance,
            turn,
            speech_ended: now.checked_sub(silence).unwrap_or(now),
            voice,
            text: Completeness::Unknown,
            confirmed: false,
        });
    }

    /// The eager transcript of `turn` arrived: the words weigh in.
    pub fn transcribed(&mut self, turn: TurnId, text: &str) {
        if let Some(pending) = &mut self.pending
            && pending.turn == Some(turn)
        {
            pending.text = completeness(text);
        }
    }

    /// When the turn ends unless the caller speaks again.
    pub fn deadline(&self) -> Option<Instant> {
        let pending = self.pending.as_ref().filter(|p| !p.confirmed)?;
        let wait = self.policy.hangover_ms(pending.text, pending.voice);
        Some(pending.speech_ended + Duration::from_millis(u64::from(wait)))
    }

    /// The silence has lasted long enough at `now`: the utterance to confirm, and the silence it
    /// waited, in milliseconds.
    pub fn due(&mut self, now: Instant) -> Option<(Utterance, u64)> {
        if self.deadline()? > now {
            return None;
        }
        let pending = self.pending.as_mut()?;
        pending.confirmed = true;
        let waited = now.saturating_duration_since(pending.speech_ended);
        Some((pending.utterance.clone(), waited.as_millis() as u64))
    }

    /// The endpointer closed the utterance starting at `start_sample`: true when it was confirmed
    /// here already, so nothing is new.
    pub fn endpointer_closed(&mut self, start_sample: u64) -> bool {
        let pending = self.pending.take();
        pending.is_some_and(|p| p.confirmed && p.utterance.start_sample == start_sample)
    }

    /// The caller spoke again after a tentative end.
    pub fn resumed(&mut self) -> Option<Resumption> {
        let pending = self.pending.take()?;
        Some(if pending.confirmed {
            Resumption::AfterConfirming
        } else {
            Resumption::Continued
        })
    }

    /// How the pending end reads now, for the record.
    pub fn reading(&self) -> Option<(Completeness, Ending)> {
        self.pending.as_ref().map(|p| (p.text, p.voice))
    }
}
