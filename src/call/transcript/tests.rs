use super::*;

const NONE: SpeechSignals = SpeechSignals {
    no_speech_prob: None,
    avg_logprob: None,
    compression_ratio: None,
};

/// 600 ms of confident speech, its loudest 35 dB over the line: a caller talking.
const CLEAR: AudioEvidence = AudioEvidence {
    speech_ms: 600,
    level_over_floor_db: 35.0,
};

/// Half a second of something 12 dB over the line: breath, rustle, a noisy line.
const WEAK: AudioEvidence = AudioEvidence {
    speech_ms: 500,
    level_over_floor_db: 12.0,
};

fn signals(no_speech_prob: f32, avg_logprob: f32, compression_ratio: f32) -> SpeechSignals {
    SpeechSignals {
        no_speech_prob: Some(no_speech_prob),
        avg_logprob: Some(avg_logprob),
        compression_ratio: Some(compression_ratio),
    }
}

/// An expected judgement; a drop's apology follows from the audio (clear speech apologises).
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Answered, with the transcript tidied to this.
    Answer(&'static str),
    /// Answered as it came.
    Same,
    Wait(&'static str),
    Drop(Reason),
}

impl Expect {
    fn judgement(self, text: &str, audio: AudioEvidence) -> Judgement {
        match self {
            Expect::Answer(tidied) => Judgement::Answer(tidied.to_string()),
            Expect::Same => Judgement::Answer(text.to_string()),
            Expect::Wait(tidied) => Judgement::WaitForMore(tidied.to_string()),
            Expect::Drop(reason) => Judgement::Drop {
                reason,
                apologise: audio.class() == AudioClass::ClearSpeech,
            },
        }
    }
}

#[test]
fn judges_transcripts_with_their_audio() {
    use Expect::{Answer, Drop, Same, Wait};
    use Reason::*;
    let borderline = signals(0.7, -1.3, 1.2);
    let sure_silence = signals(0.95, -1.5, 1.2);
    let looped = signals(0.1, -0.5, 2.9);
    // (transcript, STT signals, on clear speech, on weak audio)
    #[rustfmt::skip]
    let cases: &[(&str, SpeechSignals, Expect, Expect)] = &[
        // Thanks: the caller's on clear speech, Whisper's on noise.
        ("תודה", NONE, Same, Drop(KnownHallucination)),
        ("תודה.", NONE, Same, Drop(KnownHallucination)),
        ("תודה!", NONE, Same, Drop(KnownHallucination)),
        ("תודה רבה", NONE, Same, Drop(KnownHallucination)),
        ("תודה רבה לכם", NONE, Same, Drop(KnownHallucination)),
        ("תודה רבה רבה", NONE, Same, Drop(KnownHallucination)),
        ("תּוֹדָה רַבָּה!", NONE, Same, Drop(KnownHallucination)),
        ("תודה, תודה, תודה, תודה.", NONE, Same, Drop(KnownHallucination)),
        ("Thank you.", NONE, Same, Drop(KnownHallucination)),
        // Mixed Hebrew and Latin, and short Latin, is speech.
        ("המייל שלי dani.cohen@gmail.com", NONE, Same, Same),
        ("OK.", NONE, Same, Same),
        ("iPhone 15", NONE, Same, Same),
        ("אני רוצה לבטל את ה-subscription", NONE, Same, Same),
        ("I'm going to show you how to do it.", NONE, Same, Drop(NotHebrew)),
        ("Привет, как дела?", NONE, Same, Drop(NotHebrew)),
        // Credits in all their forms, outros and subscription calls: never a caller.
        ("כתוביות: אבי כהן", NONE, Drop(KnownHallucination), Drop(KnownHallucination)),
        ("תורגם על ידי יוסי לוי", NONE, Drop(KnownHallucination), Drop(KnownHallucination)),
        ("תרגום וכתוביות: רונית אלון", NONE, Drop(KnownHallucination), Drop(KnownHallucination)),
        ("הכתוביות נעשו על ידי יוסי כהן", NONE, Drop(KnownHallucination), Drop(KnownHallucination)),
        ("כתוביות ע\"י עמית", NONE, Drop(KnownHallucination), Drop(KnownHallucination)),
        ("תורגם וסונכרן ע״י XsesA", NONE, Drop(KnownHallucination), Drop(KnownHallucination)),
        ("תרגום: מיכל", NONE, Drop(KnownHallucination), Drop(KnownHallucination)),
        ("Subtitles by the Amara.org community", NONE, Drop(KnownHallucination), Drop(KnownHallucination)),
        ("תודה רבה. הכתוביות נעשו על ידי הקהילה", NONE, Drop(KnownHallucination), Drop(KnownHallucination)),
        ("תודה רבה, ואל תשכחו להירשם לערוץ", NONE, Drop(KnownHallucination), Drop(KnownHallucination)),
        ("אל תשכחו להירשם לערוץ", NONE, Drop(KnownHallucination), Drop(KnownHallucination)),
        ("הירשמו לערוץ", NONE, Drop(KnownHallucination), Drop(KnownHallucination)),
        ("תודה שצפיתם!", NONE, Drop(KnownHallucination), Drop(KnownHallucination)),
        ("תודה על הצפייה", NONE, Drop(KnownHallucination), Drop(KnownHallucination)),
        ("Thanks for watching!", NONE, Drop(KnownHallucination), Drop(KnownHallucination)),
        ("you", NONE, Drop(KnownHallucination), Drop(KnownHallucination)),
        ("כתוביות", NONE, Drop(KnownHallucination), Drop(KnownHallucination)),
        // Real sentences that start or end like a silence line.
        ("תודה רבה, אני רוצה לקבוע תור", NONE, Same, Same),
        ("אוקיי, תודה", NONE, Same, Same),
        ("אני צריך תרגום של המסמך", NONE, Same, Same),
        ("אני רוצה לשאול על התרגום: כמה זה עולה?", NONE, Same, Same),
        // Lone fillers wait for more, whatever the audio.
        ("אה", NONE, Wait("אה"), Wait("אה")),
        ("אממ", NONE, Wait("אממ"), Wait("אממ")),
        ("הממ", NONE, Wait("הממ"), Wait("הממ")),
        ("אמ", NONE, Wait("אמ"), Wait("אמ")),
        ("אהה", NONE, Wait("אהה"), Wait("אהה")),
        ("אההה...", NONE, Wait("אההה..."), Wait("אההה...")),
        ("אה, אממ", NONE, Wait("אה, אממ"), Wait("אה, אממ")),
        ("um", NONE, Wait("um"), Wait("um")),
        // ... but a filler asked or followed by words is speech.
        ("אה?", NONE, Same, Same),
        ("אה... אני רוצה לבטל", NONE, Same, Same),
        ("אממ, רגע", NONE, Same, Same),
        // Short real replies.
        ("כן", NONE, Same, Same),
        ("לא", NONE, Same, Same),
        ("אוקיי", NONE, Same, Same),
        ("בסדר", NONE, Same, Same),
        ("מה?", NONE, Same, Same),
        ("דני", NONE, Same, Same),
        ("5", NONE, Same, Drop(TooShort)),
        ("המספר שלי 0521234567", NONE, Same, Same),
        ("א", NONE, Drop(TooShort), Drop(TooShort)),
        // Tidying.
        ("  אני רוצה\n לקבוע   תור. ", NONE, Answer("אני רוצה לקבוע תור."), Answer("אני רוצה לקבוע תור.")),
        ("[מוזיקה] שלום, מדבר דני", NONE, Answer("שלום, מדבר דני"), Answer("שלום, מדבר דני")),
        // Nothing to answer: apologised for on clear speech only.
        ("", NONE, Drop(Empty), Drop(Empty)),
        ("[מוזיקה]", NONE, Drop(Empty), Drop(Empty)),
        ("(צחוק) ♪", NONE, Drop(Empty), Drop(Empty)),
        ("...", NONE, Drop(PunctuationOnly), Drop(PunctuationOnly)),
        // Whisper's own numbers: clear speech overrules a borderline gate, not a sure one.
        ("שלום", borderline, Same, Drop(NoSpeech)),
        ("שלום", sure_silence, Drop(NoSpeech), Drop(NoSpeech)),
        ("שלום", signals(0.9, -0.4, 1.2), Same, Same),
        ("שלום", signals(0.5, -1.5, 1.2), Same, Same),
        (
            "שלום",
            SpeechSignals {
                no_speech_prob: Some(0.7),
                ..NONE
            },
            Same,
            Drop(NoSpeech),
        ),
        ("כן כן כן כן כן כן כן כן כן כן", looped, Drop(FailedDecode), Drop(FailedDecode)),
    ];
    assert!(cases.len() >= 40);
    let filter = TranscriptFilter::default();
    for (text, signals, on_clear, on_weak) in cases {
        for (audio, expect) in [(CLEAR, on_clear), (WEAK, on_weak)] {
            assert_eq!(
                filter.judge(text, *signals, audio),
                expect.judgement(text, audio),
                "judge({text:?}, {signals:?}, {:?})",
                audio.class()
            );
        }
    }
}

#[test]
fn short_replies_on_clear_speech_always_reach_the_model() {
    let replies = [
        "כן",
        "לא",
        "תודה",
        "תודה רבה",
        "אוקיי",
        "אוקי",
        "בסדר",
        "מה?",
        "מה",
        "נכון",
        "בטח",
        "סבבה",
        "יופי",
        "רגע",
        "שלום",
        "להתראות",
        "ביי",
        "נו?",
        "7",
        "12",
        "דני",
        "רותי",
        "OK",
        "Yes",
    ];
    let filter = TranscriptFilter::default();
    for reply in replies {
        assert_eq!(
            filter.judge(reply, NONE, CLEAR),
            Judgement::Answer(reply.to_string()),
            "{reply:?}"
        );
    }
}

#[test]
fn audio_is_clear_speech_with_enough_confident_speech_well_above_the_line() {
    let class = |speech_ms, level_over_floor_db| {
        AudioEvidence {
            speech_ms,
            level_over_floor_db,
        }
        .class()
    };
    assert_eq!(class(600, 35.0), AudioClass::ClearSpeech);
    assert_eq!(
        class(CLEAR_SPEECH_MIN_MS, CLEAR_SPEECH_MIN_DB),
        AudioClass::ClearSpeech
    );
    // A short loud click, a long faint rustle, nothing at all.
    assert_eq!(class(CLEAR_SPEECH_MIN_MS - 20, 50.0), AudioClass::WeakAudio);
    assert_eq!(
        class(2000, CLEAR_SPEECH_MIN_DB - 1.0),
        AudioClass::WeakAudio
    );
    assert_eq!(AudioEvidence::UNKNOWN.class(), AudioClass::WeakAudio);
    let from_endpoint = AudioEvidence::from_endpoint(
        &SpeechEvidence {
            confident_samples: 2400,
            level_over_floor_db: 31.5,
        },
        8000,
    );
    assert_eq!(
        from_endpoint,
        AudioEvidence {
            speech_ms: 300,
            level_over_floor_db: 31.5
        }
    );
}

#[test]
fn thresholds_come_from_the_config() {
    let strict = TranscriptFilter::new(FilterConfig {
        min_letters: 5,
        max_latin_words_on_weak_audio: 0,
        clear_speech_max_no_speech_prob: 0.6,
        ..FilterConfig::default()
    });
    let drop = |reason, apologise| Judgement::Drop { reason, apologise };
    assert_eq!(
        strict.judge("כן", NONE, CLEAR),
        drop(Reason::TooShort, true)
    );
    assert_eq!(
        strict.judge("OK then", NONE, WEAK),
        drop(Reason::NotHebrew, false)
    );
    assert_eq!(
        strict.judge("שלום", signals(0.7, -1.3, 1.2), CLEAR),
        drop(Reason::NoSpeech, true)
    );
    assert_eq!(
        TranscriptFilter::default().judge("OK", NONE, WEAK),
        Judgement::Answer("OK".into())
    );
}

#[test]
fn the_prompts_ask_a_question_and_the_quick_one_is_shorter() {
    assert!(REPEAT_PROMPT.ends_with('?'));
    assert!(
        DID_NOT_CATCH.ends_with('?')
            && DID_NOT_CATCH.chars().count() < REPEAT_PROMPT.chars().count()
    );
}
