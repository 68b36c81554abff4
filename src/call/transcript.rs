//! What STT returned, judged before the agent answers it. Whisper invents text on silence and line
//! noise ("תודה רבה", "כתוביות", English), and its own confidence signals mark some windows as silence
//! or as a failed decode. A rejected transcript gets no answer; several in a row make the agent ask the
//! caller to repeat.

use crate::call::hebrew::{hebrew_letter_ratio, is_letter, normalize};

/// What the agent says after too many turns it could not understand.
pub const REPEAT_PROMPT: &str = "סליחה, לא שמעתי טוב. אפשר לחזור על זה?";

/// Phrases Whisper produces on Hebrew silence and noise, in normal form; rejected when a transcript
/// consists of nothing else.
const HALLUCINATIONS: [&str; 9] = [
    "תודה",
    "תודה רבה",
    "תודה שצפיתמ",
    "תודה רבה שצפיתמ",
    "תודה על הצפייה",
    "תודה על הצפיה",
    "תודה רבה על הצפייה",
    "תודה רבה על הצפיה",
    "כתוביות",
];

/// Openings after which Whisper names a made-up subtitler; rejected whatever follows.
const HALLUCINATION_OPENINGS: [&str; 2] = ["הכתוביות נעשו על ידי", "כתוביות על ידי"];

/// Thresholds for accepting a transcript.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FilterConfig {
    /// Fewer letters and digits than this is too short to act on.
    pub min_letters: usize,
    /// Below this share of Hebrew among the letters, the text is taken as noise decoded as another
    /// language.
    pub min_hebrew_ratio: f32,
    /// Whisper's silence gate: no_speech_prob above this ...
    pub max_no_speech_prob: f32,
    /// ... together with avg_logprob below this.
    pub min_avg_logprob: f32,
    /// A compression ratio above this means the decoder looped.
    pub max_compression_ratio: f32,
}

impl Default for FilterConfig {
    fn default() -> Self {
        Self {
            min_letters: 2,
            min_hebrew_ratio: 0.5,
            max_no_speech_prob: 0.6,
            min_avg_logprob: -1.0,
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

/// Why a transcript gets no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Empty,
    TooShort,
    PunctuationOnly,
    NotHebrew,
    KnownHallucination,
    NoSpeech,
    FailedDecode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The transcript, tidied, for the LLM.
    Accept(String),
    Reject(Reason),
}

#[derive(Debug, Clone, Default)]
pub struct TranscriptFilter {
    config: FilterConfig,
}

impl TranscriptFilter {
    pub fn new(config: FilterConfig) -> Self {
        Self { config }
    }

    pub fn check(&self, text: &str, signals: SpeechSignals) -> Verdict {
        let config = &self.config;
        let cleaned = tidy(text);
        if cleaned.is_empty() {
            return Verdict::Reject(Reason::Empty);
        }
        // Whisper's gate needs both numbers; without avg_logprob, no_speech_prob alone decides.
        let silent = signals
            .no_speech_prob
            .is_some_and(|p| p > config.max_no_speech_prob)
            && signals
                .avg_logprob
                .is_none_or(|logprob| logprob < config.min_avg_logprob);
        if silent {
            return Verdict::Reject(Reason::NoSpeech);
        }
        if signals
            .compression_ratio
            .is_some_and(|ratio| ratio > config.max_compression_ratio)
        {
            return Verdict::Reject(Reason::FailedDecode);
        }
        let normal = normalize(&cleaned);
        if normal.is_empty() {
            return Verdict::Reject(Reason::PunctuationOnly);
        }
        if is_hallucination(&normal) {
            return Verdict::Reject(Reason::KnownHallucination);
        }
        if normal.chars().filter(|c| c.is_alphanumeric()).count() < config.min_letters {
            return Verdict::Reject(Reason::TooShort);
        }
        if cleaned.chars().any(is_letter) && hebrew_letter_ratio(&cleaned) < config.min_hebrew_ratio
        {
            return Verdict::Reject(Reason::NotHebrew);
        }
        Verdict::Accept(cleaned)
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

/// Whether the normalised transcript is nothing but known hallucinations: one of them, several in a
/// row ("תודה, תודה"), or ending in a subtitler credit.
fn is_hallucination(normal: &str) -> bool {
    let words: Vec<&str> = normal.split(' ').collect();
    // covered[i]: words[..i] is a sequence of whole phrases.
    let mut covered = vec![false; words.len() + 1];
    covered[0] = true;
    for start in 0..words.len() {
        if !covered[start] {
            continue;
        }
        let rest = &words[start..];
        if HALLUCINATION_OPENINGS
            .iter()
            .any(|opening| starts_with_words(rest, opening))
        {
            return true;
        }
        for phrase in HALLUCINATIONS {
            if starts_with_words(rest, phrase) {
                covered[start + phrase.split(' ').count()] = true;
            }
        }
    }
    covered[words.len()]
}

fn starts_with_words(words: &[&str], phrase: &str) -> bool {
    let len = phrase.split(' ').count();
    words.len() >= len && words[..len].iter().copied().eq(phrase.split(' '))
}

/// Counts transcripts in a row that got no answer, to ask the caller to repeat after `limit` of them.
#[derive(Debug, Clone)]
pub struct UnintelligibleCounter {
    limit: usize,
    consecutive: usize,
}

impl UnintelligibleCounter {
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            consecutive: 0,
        }
    }

    /// Records one verdict; true when the agent should now say [`REPEAT_PROMPT`]. Counting restarts
    /// after the prompt, so a silent line is not asked on every turn.
    pub fn observe(&mut self, verdict: &Verdict) -> bool {
        match verdict {
            Verdict::Accept(_) => {
                self.consecutive = 0;
                false
            }
            Verdict::Reject(_) => {
                self.consecutive += 1;
                let ask = self.consecutive >= self.limit;
                if ask {
                    self.consecutive = 0;
                }
                ask
            }
        }
    }

    /// Rejections since the last accepted turn or prompt.
    pub fn consecutive(&self) -> usize {
        self.consecutive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: SpeechSignals = SpeechSignals {
        no_speech_prob: None,
        avg_logprob: None,
        compression_ratio: None,
    };

    fn signals(no_speech_prob: f32, avg_logprob: f32, compression_ratio: f32) -> SpeechSignals {
        SpeechSignals {
            no_speech_prob: Some(no_speech_prob),
            avg_logprob: Some(avg_logprob),
            compression_ratio: Some(compression_ratio),
        }
    }

    #[test]
    fn judges_transcripts() {
        use Reason::*;
        let confident = signals(0.05, -0.3, 1.4);
        let cases: &[(&str, SpeechSignals, Result<&str, Reason>)] = &[
            ("אני רוצה לקבוע תור", NONE, Ok("אני רוצה לקבוע תור")),
            (
                "  אני רוצה\n לקבוע   תור. ",
                confident,
                Ok("אני רוצה לקבוע תור."),
            ),
            ("כן", NONE, Ok("כן")),
            ("המספר שלי 0521234567", NONE, Ok("המספר שלי 0521234567")),
            (
                "אני רוצה לבטל את ה-subscription",
                NONE,
                Ok("אני רוצה לבטל את ה-subscription"),
            ),
            // A real sentence that starts like a hallucination is the caller speaking.
            (
                "תודה רבה, אני רוצה לקבוע תור",
                NONE,
                Ok("תודה רבה, אני רוצה לקבוע תור"),
            ),
            ("[מוזיקה] שלום, מדבר דני", NONE, Ok("שלום, מדבר דני")),
            ("", NONE, Err(Empty)),
            ("   \n ", NONE, Err(Empty)),
            ("[מוזיקה]", NONE, Err(Empty)),
            ("(צחוק) ♪", NONE, Err(Empty)),
            ("...", NONE, Err(PunctuationOnly)),
            ("?!", NONE, Err(PunctuationOnly)),
            ("א", NONE, Err(TooShort)),
            ("5", NONE, Err(TooShort)),
            ("Thank you.", NONE, Err(NotHebrew)),
            ("you you you", NONE, Err(NotHebrew)),
            ("תודה", NONE, Err(KnownHallucination)),
            ("תודה רבה.", NONE, Err(KnownHallucination)),
            ("תּוֹדָה רַבָּה!", NONE, Err(KnownHallucination)),
            ("תודה שצפיתם!", NONE, Err(KnownHallucination)),
            ("תודה על הצפייה", NONE, Err(KnownHallucination)),
            ("כתוביות", NONE, Err(KnownHallucination)),
            (
                "הכתוביות נעשו על ידי יוסי כהן",
                NONE,
                Err(KnownHallucination),
            ),
            ("תודה, תודה, תודה", NONE, Err(KnownHallucination)),
            ("תודה רבה. תודה רבה. תודה", NONE, Err(KnownHallucination)),
            (
                "תודה רבה. הכתוביות נעשו על ידי הקהילה",
                NONE,
                Err(KnownHallucination),
            ),
            ("שלום", signals(0.9, -1.5, 1.2), Err(NoSpeech)),
            (
                "שלום",
                SpeechSignals {
                    no_speech_prob: Some(0.8),
                    ..NONE
                },
                Err(NoSpeech),
            ),
            // Whisper's gate: a confident decode is kept even when no_speech_prob is high.
            ("שלום", signals(0.9, -0.4, 1.2), Ok("שלום")),
            ("שלום", signals(0.5, -1.5, 1.2), Ok("שלום")),
            (
                "כן כן כן כן כן כן כן כן כן כן",
                signals(0.1, -0.5, 2.9),
                Err(FailedDecode),
            ),
        ];
        let filter = TranscriptFilter::default();
        for (text, signals, expected) in cases {
            let expected = match expected {
                Ok(cleaned) => Verdict::Accept(cleaned.to_string()),
                Err(reason) => Verdict::Reject(*reason),
            };
            assert_eq!(
                filter.check(text, *signals),
                expected,
                "check({text:?}, {signals:?})"
            );
        }
    }

    #[test]
    fn thresholds_come_from_the_config() {
        let strict = TranscriptFilter::new(FilterConfig {
            min_letters: 5,
            min_hebrew_ratio: 0.9,
            ..FilterConfig::default()
        });
        assert_eq!(strict.check("כן", NONE), Verdict::Reject(Reason::TooShort));
        assert_eq!(
            strict.check("אני רוצה iPhone", NONE),
            Verdict::Reject(Reason::NotHebrew)
        );
        assert_eq!(
            TranscriptFilter::default().check("אני רוצה iPhone", NONE),
            Verdict::Accept("אני רוצה iPhone".into())
        );
    }

    #[test]
    fn asks_to_repeat_after_consecutive_rejections() {
        let accept = Verdict::Accept("כן".into());
        let reject = Verdict::Reject(Reason::NoSpeech);
        let mut counter = UnintelligibleCounter::new(2);
        // (verdict, asks to repeat, rejections counted afterwards)
        let steps = [
            (&reject, false, 1),
            (&accept, false, 0),
            (&reject, false, 1),
            (&reject, true, 0),
            (&reject, false, 1),
            (&reject, true, 0),
            (&accept, false, 0),
        ];
        for (i, (verdict, asks, consecutive)) in steps.into_iter().enumerate() {
            assert_eq!(counter.observe(verdict), asks, "step {i}");
            assert_eq!(counter.consecutive(), consecutive, "step {i}");
        }
        assert!(REPEAT_PROMPT.ends_with('?'));
    }
}
