//! Hesitation sounds: a caller who says only "אממ" has not asked anything yet, they are thinking.
//! Compared in normal form with letter runs squeezed, so "אממ", "אמממממ" and "אמם" are one entry.

use super::normalize;

/// Fillers in squeezed normal form (runs of a letter written once, final letters regular). Each is
/// a common Hebrew hesitation as callers say it and Whisper spells it.
#[rustfmt::skip]
const FILLERS: &[&str] = &[
    // "אה", "אהה", "אההה": a lengthened eh
    "אה",
    // "אמ", "אממ", "אמממ": um (also the word "אם", "if", which alone is no question either)
    "אמ",
    // "הממ", "המממ": hmm
    "המ",
    // "אהמ", "אהממ": ahem
    "אהמ",
    // "ממ", "מממ": mm
    "מ",
    // the same sounds as Whisper spells them in Latin letters
    "um", "uh", "hm", "m", "ah", "eh", "er", "erm",
];

/// Whether `text` is nothing but fillers ("אה", "אממ...", "אה, אממ"). A filler asked as a
/// question ("אה?", a "huh?") is a question, not a filler.
pub fn is_lone_filler(text: &str) -> bool {
    if text.trim_end().ends_with('?') {
        return false;
    }
    let normal = normalize(text);
    !normal.is_empty() && normal.split(' ').all(is_filler)
}

/// Whether one word, in [`normalize`]d form, is a hesitation sound ("אממ", "אההה", "um").
pub fn is_filler(normal_word: &str) -> bool {
    FILLERS.contains(&squeeze(normal_word).as_str())
}

/// `word` with each run of one character written once.
pub fn squeeze(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fillers_alone_and_only_alone() {
        let fillers = [
            "אה",
            "אה.",
            "אהה",
            "אההההה...",
            "אֶה",
            "אמ",
            "אממ",
            "אמם",
            "אמממממ",
            "הממ",
            "המממ,",
            "אהם",
            "ממ",
            "מממ",
            "אה, אממ",
            "אממ... אה",
            "Um.",
            "hmm",
            "Uhh",
        ];
        for text in fillers {
            assert!(is_lone_filler(text), "{text:?}");
        }
        let not_fillers = [
            "אה?",
            "הממ?",
            "אה, כן",
            "אממ, רגע",
            "אה... אני רוצה לבטל",
            "מה",
            "אהבה",
            "המספר",
            "",
            "...",
            "OK",
        ];
        for text in not_fillers {
            assert!(!is_lone_filler(text), "{text:?}");
        }
    }
}
