//! A phone number still being dictated: the transcript ends on a run of digits (written as digits,
//! grouped or not, or as Hebrew digit words) that starts like an Israeli phone number and is
//! shorter than one. Callers read numbers in groups ("אפס חמש ארבע… שלוש שתיים אחת… …") and pause
//! between them; Whisper writes the groups as "054", "054-321" or the words themselves.

use crate::call::hebrew::normalize;

/// Digit words as callers say them one by one, in normal form (final letters regular), both
/// genders and the common spellings.
#[rustfmt::skip]
const DIGIT_WORDS: &[(&str, u8)] = &[
    ("אפס", 0),
    ("אחת", 1), ("אחד", 1),
    ("שתיימ", 2), ("שתימ", 2), ("שניימ", 2), ("שנימ", 2),
    ("שלוש", 3), ("שלושה", 3),
    ("ארבע", 4), ("ארבעה", 4),
    ("חמש", 5), ("חמישה", 5),
    ("שש", 6), ("שישה", 6),
    ("שבע", 7), ("שבעה", 7),
    ("שמונה", 8),
    ("תשע", 9), ("תשעה", 9),
];

/// Whether `transcript` ends in the middle of a phone number.
pub fn number_in_progress(transcript: &str) -> bool {
    let groups = trailing_groups(transcript);
    let digits = groups.iter().map(Vec::len).sum::<usize>();
    full_length(&groups).is_some_and(|full| digits >= 2 && digits < full)
}

/// How many digits a phone number that starts with `groups` has in all; `None` when it does not
/// start like one.
fn full_length(groups: &[Vec<u8>]) -> Option<usize> {
    match groups {
        // Mobile (05x) and VoIP (07x) numbers: ten digits; landlines (02, 03, 04, 08, 09): nine.
        [first, ..] if first.starts_with(&[0, 5]) || first.starts_with(&[0, 7]) => Some(10),
        [first, rest @ ..] if first == &[0] => match rest.first().and_then(|next| next.first()) {
            Some(5 | 7) => Some(10),
            _ => Some(9),
        },
        [first, ..] if first.first() == Some(&0) => Some(9),
        // Toll-free and premium numbers, said "1-800 …": a lone 1, then 800, 700 or 599, then six
        // more digits. A bare 1800 is a price or a time as often.
        [one, next, ..]
            if one == &[1]
                && [[8, 0, 0], [7, 0, 0], [5, 9, 9]]
                    .iter()
                    .any(|s| next.starts_with(s)) =>
        {
            Some(10)
        }
        _ => None,
    }
}

/// The digit groups of the run of number words and digit groups that ends the text, in order. A
/// digit word is a group of one.
fn trailing_groups(transcript: &str) -> Vec<Vec<u8>> {
    let mut tokens: Vec<Vec<Vec<u8>>> = Vec::new();
    for token in transcript.split_whitespace().rev() {
        match token_groups(token) {
            Some(Token::Groups(groups)) => tokens.push(groups),
            // "ל-050", "ב050": the word that leads into the number holds its first group.
            Some(Token::Prefixed(groups)) => {
                tokens.push(groups);
                break;
            }
            None => break,
        }
    }
    tokens.into_iter().rev().flatten().collect()
}

enum Token {
    Groups(Vec<Vec<u8>>),
    /// Digits behind Hebrew prefix letters: nothing before it belongs to the number.
    Prefixed(Vec<Vec<u8>>),
}

/// What a whitespace-separated token stands for, if it is part of a dictated number: digit groups
/// joined by hyphens ("054-1234567"), or one digit word. Punctuation around it (a comma between
/// groups, a period after the last) does not matter; inside it, anything but a hyphen does
/// ("10:30", "3.5", "1/2" are not dictated digits).
fn token_groups(token: &str) -> Option<Token> {
    let bare = token
        .trim_matches(|c: char| !c.is_alphanumeric() && c != '-')
        .trim_matches('-');
    if bare.is_empty() {
        return None;
    }
    let prefix_len = bare
        .char_indices()
        .find(|&(_, c)| !matches!(c, 'ו' | 'ש' | 'ה' | 'ב' | 'כ' | 'ל' | 'מ'))
        .map_or(bare.len(), |(at, _)| at);
    let (prefix, number) = bare.split_at(prefix_len);
    let number = number.trim_start_matches('-');
    if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit() || c == '-') {
        let groups = number
            .split('-')
            .filter(|group| !group.is_empty())
            .map(|group| group.bytes().map(|b| b - b'0').collect())
            .collect();
        return Some(if prefix.is_empty() {
            Token::Groups(groups)
        } else {
            Token::Prefixed(groups)
        });
    }
    let word = normalize(bare);
    DIGIT_WORDS
        .iter()
        .find(|(spelling, _)| *spelling == word)
        .map(|&(_, digit)| Token::Groups(vec![vec![digit]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_cut_short_are_in_progress() {
        let in_progress = [
            "050",
            "המספר שלי הוא 050",
            "המספר שלי הוא 054-123",
            "054 123",
            "054, 123,",
            "054 123 45",
            "אפס חמש ארבע",
            "אפס חמש ארבע, שלוש שתיים אחת",
            "אֶפֶס חָמֵשׁ",
            "המספר 054 שלוש שתיים",
            "02 654",
            "אפס שתיים שש חמש ארבע",
            "תחזרו אליי ל-052",
            "למספר 077 123",
            "1-800-500",
            "1 800",
        ];
        for text in in_progress {
            assert!(number_in_progress(text), "{text:?}");
        }
    }

    #[test]
    fn whole_numbers_and_other_numbers_are_not() {
        let not_in_progress = [
            "054-1234567",
            "0541234567",
            "054 123 4567",
            "אפס חמש ארבע שלוש שתיים אחת שבע שמונה תשע שש",
            "02-6543210",
            "אפס ארבע שמונה שלוש שתיים אחת אפס אפס תשע",
            "1-800-500-500",
            "1800",
            "זה עלה 1800",
            "אני בן 18",
            // Not phone numbers: times, prices, counts, years, a lone zero.
            "בשעה 10:30",
            "בשעה 05:30",
            "זה עולה 3.5",
            "אני רוצה 2",
            "שנת 2024",
            "בשעה ארבע",
            "שלוש",
            "0",
            "אפס",
            "",
            "המספר שלי הוא",
            "אני רוצה לקבוע תור",
        ];
        for text in not_in_progress {
            assert!(!number_in_progress(text), "{text:?}");
        }
    }
}
