//! Whether a tentative transcript reads as a finished utterance. A caller who stops on "של", on
//! "אממ" or after "054" has not finished; one who stops after "אני רוצה לקבוע תור" may have. The
//! end-of-turn decision ([`hangover`]) waits longer after the first and answers sooner after the
//! second.
//!
//! Layout:
//! - here: [`completeness`], the rules and the table of connecting words.
//! - [`dictation`] a phone number still being dictated.
//! - [`hangover`]  the decision: text completeness and prosody ending in, hangover out.
//!
//! The text is Whisper's: punctuation of its own choosing (a period after most lines, "..." when
//! the speaker trails off, "?" on questions), digits for dictated numbers more often than words,
//! niqqud rarely. Words are compared in [`normalize`]d form, so niqqud, final letters and quote
//! marks do not matter; only the last word (or the last run of number words) is read, so a
//! finished sentence that ends on a word beginning with ו, ש or ל ("ושלום", "שלי", "לבטל") is not
//! mistaken for a lone prefix.

mod dictation;
pub mod hangover;

use super::fillers::{is_filler, squeeze};
use super::normalize;

pub use dictation::number_in_progress;
pub use hangover::HangoverPolicy;

/// What a tentative transcript says about the end of the caller's turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    /// It reads as a whole utterance: a sentence, a question, a complete number, a word.
    Finished,
    /// It stops where more must follow.
    Unfinished(Why),
    /// Nothing to read: no transcript yet, or one without words.
    Unknown,
}

/// The rule by which a transcript reads as unfinished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Ends on "..." or "…": Whisper's mark for a speaker who trails off.
    TrailingEllipsis,
    /// Ends on a comma, hyphen, colon or semicolon: a clause or a list left open.
    OpenPunctuation,
    /// Ends on a conjunction, a preposition, or a prefix letter alone ("ו", "של", "כי", "עם").
    ConnectingWord,
    /// Ends on a hesitation sound ("אממ", "אה"), alone or after words.
    Filler,
    /// Asks for a moment ("רגע", "שנייה", "רק רגע"): the caller is looking something up.
    HoldOn,
    /// Ends inside a phone number: fewer digits than a number that starts so has.
    NumberInProgress,
}

/// Words after which a Hebrew sentence cannot end, as Whisper spells them. Compared in normal
/// form; also with ו ("and"), ש ("that") or וש in front ("ואם", "שאם", "ושאם").
#[rustfmt::skip]
const CONNECTING_WORDS: &[&str] = &[
    // conjunctions
    "או", "אבל", "כי", "אם", "אז", "וגם", "אלא", "אך", "אולם", "לכן", "כש", "כאשר", "אשר",
    "בגלל", "למרות", "כיוון", "מכיוון", "כדי", "עד", "מאשר",
    // prepositions and the object marker
    "של", "עם", "את", "על", "אל", "כמו", "בשביל", "לגבי", "אצל", "בין", "לפי", "בלי", "מול",
    "ליד", "בתוך", "מתוך", "לקראת", "במקום", "לעומת", "בעניין", "בקשר",
    // "like", said while looking for the next word
    "כאילו",
];

/// Prefix letters said alone, and their chains that are no word ("וה", "כש"): the caller stopped
/// at the start of a word. Not "מה", "בה", "לה", "שם", "שב": those are words and end sentences.
#[rustfmt::skip]
const LONE_PREFIXES: &[&str] = &[
    "ו", "ש", "ה", "ב", "כ", "ל", "מ",
    "וה", "וש", "וב", "ול", "ומ", "וכ", "שה", "כש", "וכש", "ושה",
];

/// Words that ask for a moment, alone or with a filler, in squeezed normal form ("שנייה" and
/// "שניה" are one).
const HOLD_ON_WORDS: &[&str] = &["רגע", "שניה", "חכה", "חכי", "תחכה", "תחכי"];

/// Words that may stand beside a hold-on word in a request for a moment ("רק רגע", "רגע אחד").
const HOLD_ON_COMPANIONS: &[&str] = &["רק", "אחד", "אחת", "לי", "תנ", "תני"];

/// Reads `transcript` for whether the caller finished what they were saying.
pub fn completeness(transcript: &str) -> Completeness {
    let text = transcript.trim();
    let Some(last_word_end) = text
        .char_indices()
        .rev()
        .find(|&(_, c)| c.is_alphanumeric())
        .map(|(at, c)| at + c.len_utf8())
    else {
        return Completeness::Unknown;
    };
    let tail = &text[last_word_end..];
    // A question is asked, even a short one ("אה?", "ואז?"); its mark outranks the rest.
    if tail.contains('?') {
        return Completeness::Finished;
    }
    if tail.contains("...") || tail.contains('…') {
        return Completeness::Unfinished(Why::TrailingEllipsis);
    }
    if tail
        .trim_end_matches(|c: char| c.is_whitespace() || is_closing_quote(c))
        .ends_with([',', '-', '–', '—', ':', ';'])
    {
        return Completeness::Unfinished(Why::OpenPunctuation);
    }
    let normal = normalize(text);
    let words: Vec<&str> = normal.split(' ').collect();
    if is_hold_on(&words) {
        return Completeness::Unfinished(Why::HoldOn);
    }
    let last = words.last().copied().unwrap_or_default();
    // Connecting words first: "אם" ("if") is spelled like the filler "אמ".
    if is_connecting(last) {
        return Completeness::Unfinished(Why::ConnectingWord);
    }
    if is_filler(last) {
        return Completeness::Unfinished(Why::Filler);
    }
    if number_in_progress(text) {
        return Completeness::Unfinished(Why::NumberInProgress);
    }
    Completeness::Finished
}

/// Quotes and brackets Whisper may close a line with after its punctuation.
fn is_closing_quote(c: char) -> bool {
    matches!(c, '"' | '\'' | '”' | '’' | '»' | ')' | ']' | '״')
}

/// The words (in normal form) are a request for a moment, with fillers around it at most: "רגע",
/// "אממ, רגע", "רק שנייה", "רגע אחד", "תן לי שנייה".
fn is_hold_on(words: &[&str]) -> bool {
    let is_hold_on_word = |word: &&str| HOLD_ON_WORDS.contains(&squeeze(word).as_str());
    words.iter().any(is_hold_on_word)
        && words.iter().all(|word| {
            is_hold_on_word(word) || HOLD_ON_COMPANIONS.contains(word) || is_filler(word)
        })
}

/// A word (in normal form) after which the sentence must go on.
fn is_connecting(word: &str) -> bool {
    let in_table = |table: &[&str], word: &str| table.iter().any(|entry| normalize(entry) == word);
    in_table(LONE_PREFIXES, word)
        || in_table(CONNECTING_WORDS, word)
        || ["וש", "ו", "ש"].iter().any(|prefix| {
            word.strip_prefix(prefix)
                .is_some_and(|rest| rest.chars().count() >= 2 && in_table(CONNECTING_WORDS, rest))
        })
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod evaluation;
