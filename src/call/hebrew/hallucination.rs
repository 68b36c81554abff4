//! Whether a transcript is nothing but Whisper's silence lines ([`super::whisper_phrases`]): one
//! of them, several in a row ("תודה, תודה, תודה"), or any of them followed by a credit line
//! ("כתוביות: אבי כהן"). A real sentence that merely starts like one is not.

use std::sync::LazyLock;

use super::normalize;
use super::whisper_phrases::{
    CREDIT_LABELS, CREDIT_OPENINGS, MAX_CREDIT_NAME_WORDS, SILENCE_PHRASES, THANKS,
};

/// Which silence lines a transcript consists of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hallucination {
    /// Only thanks, which a caller says too: a hallucination only on weak audio.
    Thanks,
    /// An outro, a credit or another line no caller says.
    SilenceLine,
}

/// The silence lines of `text` (already free of sound annotations), or `None` when any of it is
/// something else.
pub fn hallucination(text: &str) -> Option<Hallucination> {
    let words = words(text);
    if words.is_empty() {
        return None;
    }
    let tables = &*TABLES;
    // best[i]: the strongest kind of silence line that words[..i] can be made of, if any; the
    // empty start counts as the weakest.
    let mut best: Vec<Option<Hallucination>> = vec![None; words.len() + 1];
    best[0] = Some(Hallucination::Thanks);
    for start in 0..words.len() {
        let Some(so_far) = best[start] else {
            continue;
        };
        let rest = &words[start..];
        if is_credit_line(rest, tables) {
            return Some(Hallucination::SilenceLine);
        }
        let kinds = [
            (&tables.silence_phrases, Hallucination::SilenceLine),
            (&tables.thanks, Hallucination::Thanks),
        ];
        for (phrases, kind) in kinds {
            for phrase in phrases.iter().filter(|phrase| starts_with(rest, phrase)) {
                let end = start + phrase.len();
                let kind = so_far.max(kind);
                best[end] = best[end].max(Some(kind));
            }
        }
    }
    best[words.len()]
}

/// A credit opening, or a label and its colon, then a short name, to the end of the text.
fn is_credit_line(rest: &[Word], tables: &Tables) -> bool {
    let opening = tables
        .credit_openings
        .iter()
        .filter(|opening| starts_with(rest, opening))
        .map(Vec::len);
    let label = tables
        .credit_labels
        .iter()
        .filter(|label| starts_with(rest, label) && rest[label.len() - 1].colon_after)
        .map(Vec::len);
    opening
        .chain(label)
        .any(|len| rest.len() - len <= MAX_CREDIT_NAME_WORDS)
}

/// Whether `words` begin with `phrase`; the first word may carry the conjunction ו
/// ("ואל תשכחו להירשם לערוץ").
fn starts_with(words: &[Word], phrase: &[String]) -> bool {
    words.len() >= phrase.len()
        && words
            .iter()
            .zip(phrase)
            .enumerate()
            .all(|(i, (word, expected))| {
                word.text == *expected || (i == 0 && word.text.strip_prefix('ו') == Some(expected))
            })
}

/// One word of the transcript in normal form, and whether a colon followed it.
#[derive(Debug)]
struct Word {
    text: String,
    colon_after: bool,
}

fn words(text: &str) -> Vec<Word> {
    let mut words = Vec::new();
    for token in text.split_whitespace() {
        let parts: Vec<&str> = token.split(':').collect();
        for (index, part) in parts.iter().enumerate() {
            let normal = normalize(part);
            words.extend(normal.split(' ').filter(|w| !w.is_empty()).map(|w| Word {
                text: w.to_string(),
                colon_after: false,
            }));
            if index + 1 < parts.len()
                && let Some(last) = words.last_mut()
            {
                last.colon_after = true;
            }
        }
    }
    words
}

/// The tables in normal form, split into words once.
struct Tables {
    silence_phrases: Vec<Vec<String>>,
    thanks: Vec<Vec<String>>,
    credit_openings: Vec<Vec<String>>,
    credit_labels: Vec<Vec<String>>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let split = |table: &[&str]| -> Vec<Vec<String>> {
        table
            .iter()
            .map(|entry| normalize(entry).split(' ').map(str::to_string).collect())
            .collect()
    };
    Tables {
        silence_phrases: split(SILENCE_PHRASES),
        thanks: split(THANKS),
        credit_openings: split(CREDIT_OPENINGS),
        credit_labels: split(CREDIT_LABELS),
    }
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_silence_lines_and_credits() {
        use Hallucination::*;
        let cases: &[(&str, Option<Hallucination>)] = &[
            ("תודה", Some(Thanks)),
            ("תּוֹדָה רַבָּה!", Some(Thanks)),
            ("תודה, תודה, תודה, תודה.", Some(Thanks)),
            ("תודה רבה רבה", Some(Thanks)),
            ("Thank you.", Some(Thanks)),
            ("תודה שצפיתם!", Some(SilenceLine)),
            ("תודה רבה. תודה שצפיתם", Some(SilenceLine)),
            ("תודה רבה, ואל תשכחו להירשם לערוץ", Some(SilenceLine)),
            ("כתוביות: אבי כהן", Some(SilenceLine)),
            ("כתוביות:אבי כהן", Some(SilenceLine)),
            ("תרגום וכתוביות: רונית אלון", Some(SilenceLine)),
            ("תורגם וסונכרן ע״י XsesA", Some(SilenceLine)),
            ("כתוביות ע\"י עמית", Some(SilenceLine)),
            ("הכתוביות נעשו על ידי", Some(SilenceLine)),
            ("תודה רבה. הכתוביות נעשו על ידי הקהילה", Some(SilenceLine)),
            ("Subtitles by the Amara.org community", Some(SilenceLine)),
            ("you", Some(SilenceLine)),
            // Real speech that starts or ends like a silence line.
            ("תודה רבה, אני רוצה לקבוע תור", None),
            ("אני רוצה להגיד תודה", None),
            ("אני צריך תרגום של המסמך", None),
            ("תרגום של המסמך: כמה זה עולה", None),
            ("אני רוצה לשאול על התרגום: כמה זה עולה?", None),
            (
                "תורגם על ידי המשרד שלנו אבל יש בו טעויות רבות מאוד בעמוד השני",
                None,
            ),
            ("you know what I mean", None),
            ("", None),
            ("...", None),
        ];
        for (text, expected) in cases {
            assert_eq!(hallucination(text), *expected, "{text:?}");
        }
    }

    #[test]
    fn every_table_entry_is_found_alone() {
        for entry in SILENCE_PHRASES.iter().chain(CREDIT_OPENINGS) {
            assert_eq!(
                hallucination(entry),
                Some(Hallucination::SilenceLine),
                "{entry}"
            );
        }
        for entry in THANKS {
            assert_eq!(hallucination(entry), Some(Hallucination::Thanks), "{entry}");
        }
        for label in CREDIT_LABELS {
            let credit = format!("{label}: דנה לוי");
            assert_eq!(
                hallucination(&credit),
                Some(Hallucination::SilenceLine),
                "{credit}"
            );
        }
    }
}
