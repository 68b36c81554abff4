//! The sentence splitter and the transcript judge take any text: no panics, and the splitter loses
//! and invents no letters or digits however the text is streamed in. `SICHA_FUZZ_CASES=N` runs N cases.

use proptest::prelude::*;

use super::SentenceSplitter;
use super::sentences::is_unspoken;
use crate::call::transcript::{AudioEvidence, SpeechSignals, TranscriptFilter};
use crate::twilio::socket::fuzz::cases;

/// Text like a model's answer: Hebrew, Latin, digits, acronyms, list numbers, punctuation.
fn answer() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[א-ת]{1,8}",
        "[a-zA-Z]{1,6}",
        "[0-9]{1,4}",
        Just("מע\"מ".to_string()),
        Just("צה״ל".to_string()),
        Just("1.".to_string()),
        "[.,!?:;…\\-\"'()]",
        "\\PC",
    ];
    proptest::collection::vec((piece, prop_oneof![Just(" "), Just(""), Just("\n")]), 0..60)
        .prop_map(|parts| parts.into_iter().map(|(p, s)| format!("{p}{s}")).collect())
}

/// The letters and digits of `text` that TTS is given, in order: what is said (a lone punctuation
/// mark, an emoji or an enclosed letter is not).
fn spoken(text: &str) -> String {
    text.chars()
        .filter(|&c| c.is_alphanumeric() && !is_unspoken(c))
        .collect()
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn the_splitter_keeps_every_word_however_the_text_streams(text in answer(), cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
        let mut splitter = SentenceSplitter::default();
        let mut out = Vec::new();
        let chars: Vec<char> = text.chars().collect();
        let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (chars.len() + 1)).collect();
        points.push(chars.len());
        points.sort_unstable();
        let mut from = 0;
        for to in points {
            let delta: String = chars[from..to].iter().collect();
            out.extend(splitter.push(&delta));
            from = to;
        }
        out.extend(splitter.finish());
        prop_assert_eq!(spoken(&out.concat()), spoken(&text));
    }

    #[test]
    fn the_judge_takes_any_transcript(text in "\\PC{0,300}", ms in 0u32..5000, db in -20f32..80f32, nsp in proptest::option::of(0f32..1f32)) {
        let audio = AudioEvidence { speech_ms: ms, level_over_floor_db: db };
        let signals = SpeechSignals { no_speech_prob: nsp, ..SpeechSignals::default() };
        let _ = TranscriptFilter::default().judge(&text, signals, audio);
    }
}
