//! The end-of-turn decision: how long the caller's silence must last, counted from where their
//! speech ended, before the turn is theirs no more. In: what the tentative transcript reads as
//! ([`Completeness`]) and how the voice ended ([`Ending`]); out: a hangover in milliseconds.
//! Synchronous and clock-free: the caller of this compares it with the silence it has counted.
//!
//! Text outranks pitch. An unfinished transcript (a connecting word, a filler, half a phone
//! number) waits longest whatever the voice did: the words are the surer sign. A finished one ends
//! the turn sooner than the fixed hangover, soonest when the pitch fell too, and not sooner when
//! the pitch rose (more may come, or it was a question; the fixed hangover is no worse than
//! today). With no transcript yet the pitch alone may only lengthen the wait: on the end-of-turn
//! fixtures a few unfinished parts end with a falling pitch, so a fall alone is no licence to cut.
//!
//! Decide again when something changes: first with the prosody alone (the transcript is not in
//! yet when the silence starts), then when the tentative transcript arrives. A hangover already
//! exceeded by the silence means the turn is over at once.

use sicha_audio::prosody::Ending;

use super::Completeness;

/// How long to wait, as steps; [`HangoverPolicy`] gives each its milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Words and voice both say done.
    Quick,
    /// The words say done; the voice does not say otherwise.
    Soon,
    /// Nothing either way: today's silence-only hangover.
    Fixed,
    /// The voice says more is coming; no words yet to say otherwise.
    Patient,
    /// The words say more is coming.
    Longest,
}

/// Silence after a finished transcript with a falling pitch: long enough to span the gap of a
/// stop consonant or a breath between words (150-200 ms), short of the fixed hangover by a third
/// of a second.
pub const QUICK_MS: u32 = 250;

/// Silence after a finished transcript whose pitch was level or unreadable.
pub const SOON_MS: u32 = 400;

/// Silence when the voice rose and no transcript is in yet: a pause to recall the next digits or
/// the next word is commonly half a second to a second.
pub const PATIENT_MS: u32 = 1000;

/// Silence after an unfinished transcript: the bound on waiting, so a caller who really did stop
/// on "ו" is answered after a second and a half of silence rather than never.
pub const LONGEST_MS: u32 = 1500;

/// The table: rows by completeness (finished, unknown, unfinished), columns by ending (falling,
/// level, rising, unknown).
const TABLE: [[Wait; 4]; 3] = [
    [Wait::Quick, Wait::Soon, Wait::Fixed, Wait::Soon],
    [Wait::Fixed, Wait::Fixed, Wait::Patient, Wait::Fixed],
    [Wait::Longest, Wait::Longest, Wait::Longest, Wait::Longest],
];

/// The wait for a transcript's completeness and a voice's ending.
pub fn wait(text: Completeness, voice: Ending) -> Wait {
    let row = match text {
        Completeness::Finished => 0,
        Completeness::Unknown => 1,
        Completeness::Unfinished(_) => 2,
    };
    let column = match voice {
        Ending::Falling => 0,
        Ending::Level => 1,
        Ending::Rising => 2,
        Ending::Unknown => 3,
    };
    TABLE[row][column]
}

/// The milliseconds of each [`Wait`]. `fixed_ms` is the configured silence-only hangover; the
/// others are clamped around it so the order of the steps always holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HangoverPolicy {
    pub quick_ms: u32,
    pub soon_ms: u32,
    pub fixed_ms: u32,
    pub patient_ms: u32,
    pub longest_ms: u32,
}

impl HangoverPolicy {
    /// The constants above around a configured fixed hangover.
    pub fn around(fixed_ms: u32) -> Self {
        Self {
            quick_ms: QUICK_MS,
            soon_ms: SOON_MS,
            fixed_ms,
            patient_ms: PATIENT_MS,
            longest_ms: LONGEST_MS,
        }
    }

    /// Milliseconds of silence, from the end of the caller's speech, that end the turn.
    pub fn hangover_ms(&self, text: Completeness, voice: Ending) -> u32 {
        let fixed = self.fixed_ms;
        match wait(text, voice) {
            Wait::Quick => self.quick_ms.min(fixed),
            Wait::Soon => self.soon_ms.min(fixed).max(self.quick_ms.min(fixed)),
            Wait::Fixed => fixed,
            Wait::Patient => self.patient_ms.max(fixed).min(self.longest_ms.max(fixed)),
            Wait::Longest => self.longest_ms.max(fixed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Why;
    use super::*;

    const FINISHED: Completeness = Completeness::Finished;
    const UNKNOWN: Completeness = Completeness::Unknown;

    #[test]
    fn the_table_as_the_module_explains_it() {
        let policy = HangoverPolicy::around(600);
        let unfinished = [
            Why::TrailingEllipsis,
            Why::OpenPunctuation,
            Why::ConnectingWord,
            Why::Filler,
            Why::HoldOn,
            Why::NumberInProgress,
        ];
        let cases = [
            (FINISHED, Ending::Falling, 250),
            (FINISHED, Ending::Level, 400),
            (FINISHED, Ending::Unknown, 400),
            (FINISHED, Ending::Rising, 600),
            (UNKNOWN, Ending::Falling, 600),
            (UNKNOWN, Ending::Level, 600),
            (UNKNOWN, Ending::Unknown, 600),
            (UNKNOWN, Ending::Rising, 1000),
        ];
        for (text, voice, expected) in cases {
            assert_eq!(
                policy.hangover_ms(text, voice),
                expected,
                "{text:?} {voice:?}"
            );
        }
        for why in unfinished {
            for voice in [
                Ending::Falling,
                Ending::Level,
                Ending::Rising,
                Ending::Unknown,
            ] {
                let text = Completeness::Unfinished(why);
                assert_eq!(policy.hangover_ms(text, voice), 1500, "{why:?} {voice:?}");
            }
        }
    }

    #[test]
    fn finished_is_never_slower_and_unfinished_never_faster_than_fixed() {
        for fixed in [200, 500, 600, 800, 2000] {
            let policy = HangoverPolicy::around(fixed);
            for voice in [
                Ending::Falling,
                Ending::Level,
                Ending::Rising,
                Ending::Unknown,
            ] {
                let finished = policy.hangover_ms(FINISHED, voice);
                let unknown = policy.hangover_ms(UNKNOWN, voice);
                let unfinished = policy.hangover_ms(Completeness::Unfinished(Why::Filler), voice);
                assert!(finished <= fixed, "{fixed} {voice:?}: {finished}");
                assert!(unknown >= fixed, "{fixed} {voice:?}: {unknown}");
                assert!(unfinished >= unknown, "{fixed} {voice:?}: {unfinished}");
                assert!(unfinished <= LONGEST_MS.max(fixed), "{fixed} {voice:?}");
            }
        }
    }

    #[test]
    fn a_policy_keeps_its_steps_in_order_whatever_the_fixed_hangover() {
        let policy = HangoverPolicy::around(300);
        assert_eq!(policy.hangover_ms(FINISHED, Ending::Falling), 250);
        assert_eq!(policy.hangover_ms(FINISHED, Ending::Level), 300);
        let short = HangoverPolicy::around(100);
        assert_eq!(short.hangover_ms(FINISHED, Ending::Falling), 100);
        assert_eq!(short.hangover_ms(FINISHED, Ending::Level), 100);
    }
}
