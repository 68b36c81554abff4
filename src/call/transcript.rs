//! What STT returned, judged with the audio it came from before the agent answers it. Whisper
//! invents text on silence and line noise (video outros, subtitle credits, "תודה") and its own
//! confidence numbers mark some windows as silence or a failed decode; the endpointer's
//! [`AudioEvidence`] tells whether the caller surely spoke. The [`Judgement`]: answer the
//! transcript, wait for more (a lone filler), or drop it, with an apology at once when the audio
//! was clear speech and in silence when it was not (noise, breath, line clicks).
//!
//! The Hebrew tables behind it live in [`crate::call::hebrew`]; the table-driven tests in
//! `transcript/tests.rs`.

use sicha_audio::endpoint::SpeechEvidence;

use crate::call::hebrew::fillers::is_lone_filler;
use crate::call::hebrew::hallucination::{Hallucination, hallucination};
use crate::call::hebrew::{letter_scripts, normalize};

pub use crate::call::hebrew::prompts::{DID_NOT_CATCH, REPEAT_PROMPT};

/// Confident speech from which an utterance counts as clear speech. A one-syllable reply ("כן",
/// "לא") holds 260–360 ms of it on a phone line, even 10 dB above white noise; a click or a knock
/// stays under 100 ms.
pub const CLEAR_SPEECH_MIN_MS: u32 = 200;

/// How far the loudest 100 ms must stand above the line's noise floor, in dB, for clear speech.
/// One-word replies 20 dB above white noise reach 22–24 dB and sentences 10 dB above it 20–26,
/// while breath-like bursts of noise peaking 14 dB above the hiss reach 19–20 (measured with the
/// audio crate's `vad_evidence` example and synthesised Hebrew words). Between the two the
/// evidence cannot tell them apart, and the transcript decides alone.
pub const CLEAR_SPEECH_MIN_DB: f32 = 20.0;

/// What the endpointer heard of the utterance a transcript came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioEvidence {
    /// Speech the voice detector was confident was the caller's.
    pub speech_ms: u32,
    /// How far the loudest 100 ms of that speech stood above the line's noise floor.
    pub level_over_floor_db: f32,
}

/// Whether the caller surely spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioClass {
    /// Enough confident speech, well above the line: a dropped transcript still deserves an
    /// answer.
    ClearSpeech,
    /// Little or faint speech: as likely noise, breath or a click as a quiet caller.
    WeakAudio,
}

impl AudioEvidence {
    /// No evidence at all; classed as weak audio, so nothing that may have been noise is
    /// apologised for.
    pub const UNKNOWN: Self = Self {
        speech_ms: 0,
        level_over_floor_db: 0.0,
    };

    /// The evidence an endpointer gathered, its time in samples at `sample_rate` Hz.
    pub fn from_endpoint(evidence: &SpeechEvidence, sample_rate: u32) -> Self {
        Self {
            speech_ms: evidence.confident_ms(sample_rate),
            level_over_floor_db: evidence.level_over_floor_db,
        }
    }

    pub fn class(&self) -> AudioClass {
        if self.speech_ms >= CLEAR_SPEECH_MIN_MS && self.level_over_floor_db >= CLEAR_SPEECH_MIN_DB
        {
            AudioClass::ClearSpeech
        } else {
            AudioClass::WeakAudio
        }
    }
}

/// Thresholds for the text and for the STT's own confidence numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FilterConfig {
    /// Fewer letters and digits than this is too short to act on; on clear speech a number of
    /// any length is an answer ("5").
    pub min_letters: usize,
    /// On weak audio, a transcript without Hebrew letters is speech only when it is a Latin
    /// phrase of at most this many words ("OK", "iPhone 15", an email): Whisper told to write
    /// Hebrew slips into whole English sentences on noise, while a caller's English on a Hebrew
    /// call is a word or two.
    pub max_latin_words_on_weak_audio: usize,
    /// Whisper's silence gate: no_speech_prob above this ...
    pub max_no_speech_prob: f32,
    /// ... together with avg_logprob below this.
    pub min_avg_logprob: f32,
    /// On clear speech the gate holds only above this no_speech_prob: between the two, Whisper
    /// is unsure and the endpointer heard the caller, so the transcript is kept. Above it Whisper
    /// is sure nothing was said (a tone or music the detector took for a voice).
    pub clear_speech_max_no_speech_prob: f32,
    /// A compression ratio above this means the decoder looped.
    pub max_compression_ratio: f32,
}

impl Default for FilterConfig {
    fn default() -> Self {
        Self {
            min_letters: 2,
            max_latin_words_on_weak_audio: 3,
            max_no_speech_prob: 0.6,
            min_avg_logprob: -1.0,
            clear_speech_max_no_speech_prob: 0.8,
            max_compression_ratio: 2.4,
        }
    }
}

/// The confidence numbers a verbose STT response gives (the worst segment's), when it gives them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpeechSignals {
    pub no_speech_prob: Option<f32>,
    pub avg_logprob: Option<f32>,
    pub compression_ratio: Option<f32>,
}

/// Why a transcript gets no answer from the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Empty,
    TooShort,
    PunctuationOnly,
    /// Neither Hebrew nor a short Latin phrase, on weak audio: noise decoded as another language.
    NotHebrew,
    KnownHallucination,
    NoSpeech,
    FailedDecode,
}

/// What to do with one transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// The transcript, tidied, for the model.
    Answer(String),
    /// A lone filler ("אממ"): the caller is thinking, not asking. Extend the turn and put this
    /// text before what they say next.
    WaitForMore(String),
    /// No answer from the model. With `apologise` the audio was clear speech, so the caller hears
    /// [`DID_NOT_CATCH`] at once; without it the drop is silent (noise, breath, line clicks).
    Drop { reason: Reason, apologise: bool },
}

#[derive(Debug, Clone, Default)]
pub struct TranscriptFilter {
    config: FilterConfig,
}

impl TranscriptFilter {
    pub fn new(config: FilterConfig) -> Self {
        Self { config }
    }

    /// Weighs `text` with the STT's `signals` and the endpointer's `audio` evidence.
    pub fn judge(&self, text: &str, signals: SpeechSignals, audio: AudioEvidence) -> Judgement {
        let clear = audio.class() == AudioClass::ClearSpeech;
        let drop = |reason| Judgement::Drop {
            reason,
            apologise: clear,
        };
        let cleaned = tidy(text);
        if cleaned.is_empty() {
            return drop(Reason::Empty);
        }
        if self.whisper_heard_silence(signals, clear) {
            return drop(Reason::NoSpeech);
        }
        if signals
            .compression_ratio
            .is_some_and(|ratio| ratio > self.config.max_compression_ratio)
        {
            return drop(Reason::FailedDecode);
        }
        let normal = normalize(&cleaned);
        if normal.is_empty() {
            return drop(Reason::PunctuationOnly);
        }
        match hallucination(&cleaned) {
            Some(Hallucination::SilenceLine) => return drop(Reason::KnownHallucination),
            Some(Hallucination::Thanks) if !clear => return drop(Reason::KnownHallucination),
            _ => {}
        }
        if is_lone_filler(&cleaned) {
            return Judgement::WaitForMore(cleaned);
        }
        if !self.long_enough(&normal, clear) {
            return drop(Reason::TooShort);
        }
        if !clear && !self.speech_on_weak_audio(&cleaned) {
            return drop(Reason::NotHebrew);
        }
        Judgement::Answer(cleaned)
    }

    /// Whisper's own gate (no_speech_prob high and, when given, avg_logprob low), which clear
    /// speech overrules up to `clear_speech_max_no_speech_prob`.
    fn whisper_heard_silence(&self, signals: SpeechSignals, clear: bool) -> bool {
        let config = &self.config;
        let Some(no_speech) = signals.no_speech_prob else {
            return false;
        };
        let limit = if clear {
            config.clear_speech_max_no_speech_prob
        } else {
            config.max_no_speech_prob
        };
        no_speech > limit
            && signals
                .avg_logprob
                .is_none_or(|logprob| logprob < config.min_avg_logprob)
    }

    fn long_enough(&self, normal: &str, clear: bool) -> bool {
        let mut alphanumeric = normal.chars().filter(|c| c.is_alphanumeric());
        let count = alphanumeric.clone().count();
        count >= self.config.min_letters || (clear && alphanumeric.all(|c| c.is_numeric()))
    }

    /// On weak audio: Hebrew (mixed with anything), a short Latin phrase, or digits.
    fn speech_on_weak_audio(&self, cleaned: &str) -> bool {
        let scripts = letter_scripts(cleaned);
        if scripts.hebrew > 0 {
            return true;
        }
        scripts.other == 0
            && (scripts.latin == 0
                || cleaned.split_whitespace().count() <= self.config.max_latin_words_on_weak_audio)
    }
}

/// The transcript without sound annotations ("[מוזיקה]", "(צחוק)", "♪"), control and direction
/// characters, and extra whitespace.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let closing = match c {
            '[' => Some(']'),
            '(' => Some(')'),
            _ => None,
        };
        // Skip a whole annotation; an unclosed bracket is kept as text.
        if let Some(end) = closing.and_then(|closing| rest.find(closing)) {
            out.push(' ');
            rest = &rest[end + 1..];
            continue;
        }
        rest = &rest[c.len_utf8()..];
        if c.is_whitespace()
            || c.is_control()
            || matches!(c, '♪' | '♫' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}')
        {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
