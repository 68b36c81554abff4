//! Hebrew as callers speak it and as Whisper writes it. Here: a normal form for comparing what
//! callers say, which scripts a transcript's letters are in, and the recogniser's prompt. Beside it:
//! - [`sentences`]       the splitter that cuts a streamed LLM reply into pieces for TTS.
//! - [`whisper_phrases`] table: what Whisper writes on silence (outros, credits, thanks).
//! - [`hallucination`]   whether a transcript is nothing but those lines.
//! - [`fillers`]         table and check: hesitation sounds, alone ("אממ") or one word of them.
//! - [`prompts`]         what the agent says when it could not make out the caller.
//! - [`end_of_turn`]     whether a tentative transcript reads as finished (connecting words,
//!   fillers, a phone number half dictated), and the end-of-turn hangover from it and the prosody.
//!
//! Everything here is pure and linear in the text it is given; it runs on every caller turn.

pub mod end_of_turn;
pub mod fillers;
pub mod hallucination;
pub mod prompts;
mod sentences;
pub mod whisper_phrases;

pub use sentences::{SentenceSplitter, SplitterConfig};

/// What the recogniser is told of the audio (a prompt in the audio's language steers spelling and
/// keeps it in Hebrew): a phone call with this business. Batch uploads and realtime streams take
/// the same words.
pub fn transcription_prompt(business_name: &str) -> String {
    format!("שיחת טלפון עם {business_name}.")
}

/// A comparable form of `text`: niqqud and cantillation dropped, geresh, gershayim and quote marks
/// dropped inside words (ת"א → תא, ת'הזמנה → תהזמנה), other punctuation and symbols turned into word
/// breaks, final letters mapped to their regular forms, Latin lower-cased, digits kept, single spaces.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word_break = false;
    for c in text.chars() {
        if is_hebrew_mark(c) || is_latin_combining_mark(c) || is_quote_mark(c) {
            continue;
        }
        if !c.is_alphanumeric() {
            word_break = true;
            continue;
        }
        if word_break && !out.is_empty() {
            out.push(' ');
        }
        word_break = false;
        let regular = regular_form(c);
        if regular.is_uppercase() {
            out.extend(regular.to_lowercase());
        } else {
            out.push(regular);
        }
    }
    out
}

/// Hebrew letters divided by all letters (digits, marks and punctuation are not letters); 0 when
/// `text` has no letters.
pub fn hebrew_letter_ratio(text: &str) -> f32 {
    let (mut hebrew, mut letters) = (0usize, 0usize);
    for c in text.chars().filter(|&c| is_letter(c)) {
        letters += 1;
        if is_hebrew_letter(c) {
            hebrew += 1;
        }
    }
    if letters == 0 {
        0.0
    } else {
        hebrew as f32 / letters as f32
    }
}

/// How many of a text's letters are in each script a transcript of a Hebrew call may hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LetterScripts {
    pub hebrew: usize,
    /// Latin letters: English words, names, emails, product names ("iPhone", "OK").
    pub latin: usize,
    /// Letters of any other script (Cyrillic, Arabic, ...).
    pub other: usize,
}

/// Counts the letters of `text` by script (marks, digits and punctuation are not letters).
pub fn letter_scripts(text: &str) -> LetterScripts {
    let mut scripts = LetterScripts::default();
    for c in text.chars().filter(|&c| is_letter(c)) {
        if is_hebrew_letter(c) {
            scripts.hebrew += 1;
        } else if is_latin_letter(c) {
            scripts.latin += 1;
        } else {
            scripts.other += 1;
        }
    }
    scripts
}

/// A Latin letter, accented ones included (Basic Latin through Latin Extended-B).
fn is_latin_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || (matches!(c, '\u{00C0}'..='\u{024F}') && c.is_alphabetic())
}

/// A letter of the Hebrew alphabet (final forms and the Yiddish ligatures included).
pub fn is_hebrew_letter(c: char) -> bool {
    matches!(c, '\u{05D0}'..='\u{05EA}' | '\u{05F0}'..='\u{05F2}')
}

/// A letter in any script. Unicode calls many niqqud points alphabetic; they are marks, not letters.
pub fn is_letter(c: char) -> bool {
    c.is_alphabetic() && !is_hebrew_mark(c)
}

/// Niqqud, cantillation and the other points in U+0591–U+05C7, except the four that are punctuation
/// (maqaf, paseq, sof pasuq, nun hafukha), which separate words instead.
fn is_hebrew_mark(c: char) -> bool {
    matches!(c, '\u{0591}'..='\u{05C7}')
        && !matches!(c, '\u{05BE}' | '\u{05C0}' | '\u{05C3}' | '\u{05C6}')
}

/// Accents that may decorate Latin words in a transcript.
fn is_latin_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}')
}

/// Marks that sit inside Hebrew words as geresh or gershayim, or around words as quotes; dropping them
/// (rather than breaking the word) keeps ד"ר, ד״ר and דר equal.
fn is_quote_mark(c: char) -> bool {
    matches!(
        c,
        '\'' | '"' | '`' | '´' | '\u{05F3}' | '\u{05F4}' | '\u{2018}'..='\u{201F}' | '«' | '»'
    )
}

/// Final letters (ך ם ן ף ץ) as their regular forms; any other character unchanged.
fn regular_form(c: char) -> char {
    match c {
        'ך' => 'כ',
        'ם' => 'מ',
        'ן' => 'נ',
        'ף' => 'פ',
        'ץ' => 'צ',
        other => other,
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_makes_spelling_variants_equal() {
        let cases = [
            // niqqud and cantillation
            ("שָׁלוֹם", "שלומ"),
            ("בְּרֵאשִׁ֖ית", "בראשית"),
            // final letters
            ("ךםןףץ", "כמנפצ"),
            ("מלך גדול", "מלכ גדול"),
            // geresh, gershayim and quotes vanish inside words
            ("ד\"ר כהן", "דר כהנ"),
            ("ד״ר כהן", "דר כהנ"),
            ("וכו׳", "וכו"),
            ("ת'הזמנה", "תהזמנה"),
            ("\u{201C}כן\u{201D}", "כנ"),
            // punctuation and maqaf break words; whitespace collapses
            ("  שלום,   מה\tשלומך?! ", "שלומ מה שלומכ"),
            ("בית־ספר", "בית ספר"),
            ("ל-10:30", "ל 10 30"),
            // Latin lower-cased, digits kept, symbols and emoji are breaks
            ("Dr. SMITH 3.5", "dr smith 3 5"),
            ("תודה 🙏 רבה", "תודה רבה"),
            ("Cafe\u{0301}", "cafe"),
            ("...", ""),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(input), expected, "normalize({input:?})");
        }
    }

    #[test]
    fn letters_are_counted_by_script() {
        let cases = [
            ("המייל שלי dani.cohen@gmail.com", (8, 17, 0)),
            ("iPhone 15", (0, 6, 0)),
            ("OK.", (0, 2, 0)),
            ("Привет, как дела?", (0, 0, 13)),
            ("שָׁלוֹם Café", (4, 4, 0)),
            ("123 ?!", (0, 0, 0)),
        ];
        for (input, (hebrew, latin, other)) in cases {
            assert_eq!(
                letter_scripts(input),
                LetterScripts {
                    hebrew,
                    latin,
                    other
                },
                "{input:?}"
            );
        }
    }

    #[test]
    fn hebrew_letter_ratio_counts_letters_only() {
        let cases = [
            ("שלום", 1.0),
            ("שָׁלוֹם", 1.0),
            ("Hello", 0.0),
            ("שלום hi", 4.0 / 6.0),
            ("123 !?", 0.0),
            ("", 0.0),
            ("אני רוצה iPhone", 7.0 / 13.0),
        ];
        for (input, expected) in cases {
            let ratio = hebrew_letter_ratio(input);
            assert!(
                (ratio - expected).abs() < 1e-6,
                "ratio({input:?}) = {ratio}, expected {expected}"
            );
        }
    }
}
