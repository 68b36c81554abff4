//! Cuts a streamed LLM reply into speakable chunks, so TTS can start on the first sentence while the
//! rest is still being generated.
//!
//! A chunk ends at `?` or `!`, at a `.` that is not part of an abbreviation (נ.ב., Dr.), number (3.5,
//! 1.2.2024) or address, and at a newline; closing quotes and brackets stay with the sentence they
//! close. A gershayim acronym (מע"מ, צה"ל, ש״ח) has no period of its own, so one after it ends the
//! sentence. A numbered list keeps each number with its item: a colon before a list ("שירותים: 1.
//! תספורת.") ends a chunk, and a number that would start a chunk alone joins what follows. Ellipses
//! are pauses, not ends. Only the first chunk of a reply may also end at a comma, a colon, a
//! spaced dash or an ellipsis once it is long enough, which starts speech sooner; every chunk is capped.
//! A decision that needs the next character waits for the next delta, so the chunks do not depend on
//! how the reply was split into deltas, with one exception for speed: a period, `?`, `!` or a first
//! chunk's comma right after a Hebrew word, outside quotes and brackets, is cut at once rather than
//! a token later (a second `!` that follows then opens the next chunk, unspoken either way). Markdown and emoji the LLM may emit are not spoken.

use super::is_hebrew_letter;

/// Where chunks may be cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitterConfig {
    /// The first chunk may end at a pause (comma, colon, spaced dash, ellipsis) once it has this
    /// many characters: 10 is about two words, a phrase TTS can say on its own, and the caller hears
    /// it a sentence's worth of tokens sooner. `None` lets it end only where any other chunk would.
    pub first_chunk_min_chars: Option<usize>,
    /// No chunk grows past this many characters: a longer run is cut at its last space.
    pub max_chunk_chars: usize,
}

impl Default for SplitterConfig {
    fn default() -> Self {
        Self {
            first_chunk_min_chars: Some(10),
            max_chunk_chars: 250,
        }
    }
}

/// Fed with the text deltas of one reply; hands back each chunk as soon as it is complete.
#[derive(Debug, Default)]
pub struct SentenceSplitter {
    config: SplitterConfig,
    /// Text not yet handed out.
    pending: Vec<char>,
    /// How much of `pending` is known not to end a chunk.
    scanned: usize,
    /// The last whitespace in `pending[..scanned]`, where the length cap cuts.
    last_space: Option<usize>,
    /// Whether a chunk of this reply has been handed out (pauses only cut the first one).
    emitted: bool,
}

/// What one position of the pending text means.
enum Step {
    /// No cut here; scanning continues at this index.
    Continue(usize),
    /// A chunk ends before this index.
    Cut(usize),
    /// The next character decides, and it has not arrived yet.
    Wait,
}

impl SentenceSplitter {
    pub fn new(config: SplitterConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Adds a delta and returns the chunks it completed, in order, ready to speak.
    pub fn push(&mut self, delta: &str) -> Vec<String> {
        self.pending.extend(delta.chars());
        let mut chunks = Vec::new();
        while let Some(end) = self.next_cut() {
            let chunk: String = self.pending.drain(..end).collect();
            self.scanned = 0;
            self.last_space = None;
            if let Some(spoken) = speakable(&chunk) {
                self.emitted = true;
                chunks.push(spoken);
            }
        }
        chunks
    }

    /// The reply ended: whatever is left, ready to speak, if anything is worth speaking.
    pub fn finish(self) -> Option<String> {
        speakable(&self.pending.iter().collect::<String>())
    }

    fn next_cut(&mut self) -> Option<usize> {
        let mut i = self.scanned;
        while i < self.pending.len() {
            let next = match self.step(i) {
                Step::Wait => break,
                Step::Cut(end)
                    if has_letters(&self.pending[..end]) || !has_digits(&self.pending[..end]) =>
                {
                    return Some(end);
                }
                // A cut that would leave only a number ("1." opening a list item) joins what follows.
                Step::Cut(end) => end,
                Step::Continue(next) => next,
            };
            if self.pending[i].is_whitespace() {
                self.last_space = Some(i);
            }
            i = next;
            if i >= self.config.max_chunk_chars {
                return Some(self.last_space.filter(|&space| space > 0).unwrap_or(i));
            }
        }
        self.scanned = i;
        None
    }

    fn step(&self, i: usize) -> Step {
        let text = &self.pending;
        let c = text[i];
        if c == '\n' {
            return Step::Cut(i + 1);
        }
        let may_pause = !self.emitted
            && self
                .config
                .first_chunk_min_chars
                .is_some_and(|min| i >= min);
        if is_terminator(c) {
            let run_end = i + text[i..].iter().take_while(|&&c| is_terminator(c)).count();
            let end = run_end
                + text[run_end..]
                    .iter()
                    .take_while(|&&c| is_closer(c))
                    .count();
            let run = &text[i..run_end];
            let Some(&after) = text.get(end) else {
                // After a Hebrew word only a space, a closer or more of the run can follow: cut now
                // rather than a token later.
                return if ends_after_hebrew_word(text, i, run) {
                    Step::Cut(end)
                } else {
                    Step::Wait
                };
            };
            let ends_sentence = if run.iter().any(|&c| c == '?' || c == '!') {
                true
            } else if run.len() == 1 && run[0] != '…' {
                !is_abbreviation(word_before(text, i)) || acronym_before(text, i)
            } else {
                may_pause // an ellipsis
            };
            return if ends_sentence && after.is_whitespace() {
                Step::Cut(end)
            } else {
                Step::Continue(end)
            };
        }
        if c == ':' {
            return match list_item_follows(text, i + 1) {
                None => Step::Wait,
                Some(true) => Step::Cut(i + 1),
                // "שמעתי שאמרת: …": a colon that opens no list is a pause like a comma.
                Some(false) if may_pause && text[i + 1].is_whitespace() => Step::Cut(i + 1),
                Some(false) => Step::Continue(i + 1),
            };
        }
        let is_pause = matches!(c, ',' | ';' | '–' | '—')
            || (c == '-' && i > 0 && text[i - 1].is_whitespace());
        if !is_pause || !may_pause {
            return Step::Continue(i + 1);
        }
        match text.get(i + 1) {
            // A comma after a Hebrew word is no thousands separator: cut now, not a token later.
            None if matches!(c, ',' | ';') && after_hebrew_word(text, i) => Step::Cut(i + 1),
            None => Step::Wait,
            // A dash is left out of the chunk; the next one drops it as a leading bullet.
            Some(after) if after.is_whitespace() => {
                Step::Cut(if matches!(c, ',' | ';') { i + 1 } else { i })
            }
            Some(_) => Step::Continue(i + 1),
        }
    }
}

/// Whether the terminator `run` at `i` ends a sentence whatever comes next: a period, `?` or `!`
/// right after a Hebrew word, which no decimal, address or abbreviation continues, outside quotes
/// or brackets (whose closer would belong to this sentence).
fn ends_after_hebrew_word(text: &[char], i: usize, run: &[char]) -> bool {
    !run.contains(&'…')
        && (run.len() == 1 || run.iter().all(|&c| c == '?' || c == '!'))
        && after_hebrew_word(text, i)
        && !inside_quotes_or_brackets(&text[..i])
}

/// Whether a Hebrew word of two letters or more, not an abbreviation written with a period, ends
/// just before `i`.
fn after_hebrew_word(text: &[char], i: usize) -> bool {
    let word = word_before(text, i);
    word.len() >= 2 && word.iter().all(|&c| is_hebrew_letter(c)) && !is_abbreviation(word)
}

/// Whether `text` leaves a quote or a bracket open. A gershayim between letters (ד"ר) is part of
/// a word, not a quote.
fn inside_quotes_or_brackets(text: &[char]) -> bool {
    let mut quoted = false;
    let mut brackets = 0i32;
    for (i, &c) in text.iter().enumerate() {
        match c {
            '"' | '\u{05F4}' | '\u{201C}' | '\u{201D}' | '«' | '»' => {
                let between_letters = i > 0
                    && is_hebrew_letter(text[i - 1])
                    && text.get(i + 1).is_some_and(|&next| is_hebrew_letter(next));
                if !between_letters {
                    quoted = !quoted;
                }
            }
            '(' | '[' => brackets += 1,
            ')' | ']' => brackets -= 1,
            _ => {}
        }
    }
    quoted || brackets > 0
}

fn is_terminator(c: char) -> bool {
    matches!(c, '.' | '?' | '!' | '…' | '\u{05C3}')
}

/// Characters that stay with the sentence they follow: closing quotes and brackets, markdown emphasis
/// and emoji (which are dropped when spoken anyway).
fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '\u{05F3}' | '\u{05F4}' | '\u{2019}' | '\u{201D}' | '»' | ')' | ']' | '}'
    ) || is_unspoken(c)
}

/// The run of letters, digits and dots that ends just before `end`: "נ.ב" in "נ.ב.", "Dr" in "ל-Dr.".
fn word_before(text: &[char], end: usize) -> &[char] {
    let len = text[..end]
        .iter()
        .rev()
        .take_while(|&&c| c.is_alphanumeric() || c == '.')
        .count();
    &text[end - len..end]
}

/// Whether a Hebrew acronym (letters, gershayim, letters: מע"מ, בצה"ל, ש״ח) ends just before `end`.
/// An opening quote ("כן) is not one: its gershayim comes first.
fn acronym_before(text: &[char], end: usize) -> bool {
    let len = text[..end]
        .iter()
        .rev()
        .take_while(|&&c| is_hebrew_letter(c) || is_gershayim(c))
        .count();
    let word = &text[end - len..end];
    len >= 3
        && is_hebrew_letter(word[0])
        && is_hebrew_letter(word[len - 1])
        && word[1..len - 1].iter().any(|&c| is_gershayim(c))
}

fn is_gershayim(c: char) -> bool {
    matches!(c, '"' | '\u{05F4}')
}

/// Whether a numbered list item ("1. ", "12. ") follows the colon before `from`, after spaces on
/// the same line; `None` until enough text has arrived to tell.
fn list_item_follows(text: &[char], from: usize) -> Option<bool> {
    let spaces = text[from..]
        .iter()
        .take_while(|&&c| c.is_whitespace() && c != '\n')
        .count();
    let start = from + spaces;
    let digits = text[start..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    // The marker is the digits, a period and a space: "3.5" and "10:30" are not markers.
    let after = |offset: usize| text.get(start + digits + offset);
    match (spaces, digits, after(0), after(1)) {
        (_, _, None, _) => None,
        (0, _, _, _) | (_, 0, _, _) => Some(false),
        (_, 1..=2, Some('.'), None) => None,
        (_, 1..=2, Some('.'), Some(c)) => Some(c.is_whitespace()),
        _ => Some(false),
    }
}

/// Words whose period is part of the word: single letters and dotted initials (נ.ב, e.g, א), and a
/// few common abbreviations written with a period.
fn is_abbreviation(word: &[char]) -> bool {
    const KNOWN: [&str; 9] = ["mr", "mrs", "ms", "dr", "prof", "st", "vs", "מס", "פרופ"];
    if word.is_empty() {
        return false;
    }
    if word
        .split(|&c| c == '.')
        .all(|part| part.len() == 1 && part[0].is_alphabetic())
    {
        return true;
    }
    let lower: String = word.iter().flat_map(|c| c.to_lowercase()).collect();
    KNOWN.contains(&lower.as_str())
}

fn has_letters(text: &[char]) -> bool {
    text.iter().any(|c| c.is_alphabetic())
}

fn has_digits(text: &[char]) -> bool {
    text.iter().any(|c| c.is_numeric())
}

/// Characters TTS should not read: markdown syntax, emoji and their modifiers, direction marks.
pub(super) fn is_unspoken(c: char) -> bool {
    matches!(c,
        '*' | '#' | '`' | '_' | '~'
        | '\u{200B}'..='\u{200F}' // zero-width space and joiners, direction marks
        | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' // direction embeddings and isolates
        | '\u{2600}'..='\u{27BF}' | '\u{2B00}'..='\u{2BFF}' // symbols, dingbats, stars and arrows
        | '\u{FE00}'..='\u{FE0F}' // variation selectors
        | '\u{1F000}'..='\u{1FAFF}' // emoji and pictographs
        | '\u{E0020}'..='\u{E007F}') // emoji tag sequences
}

/// The chunk as TTS should get it: unspoken characters removed, whitespace collapsed, a leading list
/// bullet dropped; `None` when nothing speakable is left.
fn speakable(chunk: &str) -> Option<String> {
    let mut out = String::with_capacity(chunk.len());
    let mut space = false;
    for c in chunk.chars().filter(|&c| !is_unspoken(c)) {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(c);
    }
    let mut text = out.as_str();
    while let Some(rest) = text.strip_prefix(['-', '–', '—', '•', '·', '+']) {
        if !rest.is_empty() && !rest.starts_with(' ') {
            break; // a sign, as in "-5", not a bullet
        }
        text = rest.trim_start();
    }
    text.chars()
        .any(char::is_alphanumeric)
        .then(|| text.to_string())
}

#[cfg(test)]
mod tests;
