use super::*;

const CANCEL: &str = "אני רוצה לבטל את ההזמנה";

/// Observes each utterance in turn and returns the counts.
fn counts(detector: &mut RepetitionDetector, utterances: &[&str]) -> Vec<usize> {
    utterances
        .iter()
        .map(|text| detector.observe(text).count)
        .collect()
}

#[test]
fn similarity_ignores_spelling_and_separates_different_requests() {
    let same = [
        (CANCEL, CANCEL),
        (CANCEL, "אֲנִי רוֹצֶה לְבַטֵּל אֶת הַהַזְמָנָה!"),
        (CANCEL, "  אני  רוצה, לבטל את ההזמנה? "),
        ("קבעתי אצל ד\"ר כהן", "קבעתי אצל ד״ר כהנ"),
        ("SEND IT NOW", "send it now"),
    ];
    for (a, b) in same {
        assert_eq!(similarity(a, b), 1.0, "{a:?} vs {b:?}");
    }
    let near = [
        (CANCEL, "אני רוצה לבטל ת'הזמנה"),
        (CANCEL, "אני רוצה לבטל את ההזמנה שלי"),
    ];
    for (a, b) in near {
        let score = similarity(a, b);
        assert!(score >= 0.85, "{a:?} vs {b:?}: {score}");
    }
    let different = [
        (CANCEL, "אני רוצה לקבוע תור"),
        (CANCEL, "מה שעות הפתיחה שלכם"),
        ("כן", "לא"),
        ("התור שלך ביום שלישי בעשר", "התור שלך ביום רביעי בשמונה"),
    ];
    for (a, b) in different {
        let score = similarity(a, b);
        assert!(score < 0.85, "{a:?} vs {b:?}: {score}");
    }
}

#[test]
fn counts_repeats_within_the_window() {
    let cases: &[(&str, &[&str], &[usize])] = &[
        ("exact repeats", &[CANCEL, CANCEL, CANCEL], &[1, 2, 3]),
        (
            "spelling and punctuation differ",
            &[
                CANCEL,
                "אני רוצה, לבטל את ההזמנה!",
                "אֲנִי רוֹצֶה לְבַטֵּל אֶת הַהַזְמָנָה",
            ],
            &[1, 2, 3],
        ),
        // The slurred and the longer version resemble each other only through the plain one.
        (
            "near repeats",
            &[
                "אני רוצה לבטל ת'הזמנה",
                "אני רוצה לבטל את ההזמנה שלי",
                CANCEL,
            ],
            &[1, 1, 3],
        ),
        (
            "near repeats in another order",
            &[
                CANCEL,
                "אני רוצה לבטל ת'הזמנה",
                "אני רוצה לבטל את ההזמנה שלי",
            ],
            &[1, 2, 3],
        ),
        (
            "different sentences interleaved",
            &[
                CANCEL,
                "מה שעות הפתיחה",
                CANCEL,
                "אני רוצה לקבוע תור",
                CANCEL,
            ],
            &[1, 1, 2, 1, 3],
        ),
        (
            "different sentences only",
            &[
                CANCEL,
                "אני רוצה לקבוע תור",
                "מה שעות הפתיחה",
                "איפה אתם נמצאים",
            ],
            &[1, 1, 1, 1],
        ),
        (
            "short answers are not counted",
            &["כן", "כן", "כן", "לא"],
            &[0, 0, 0, 0],
        ),
        (
            "short answers still fill the window",
            &["נציג", "כן", "כן", "כן", "כן", "כן", "נציג", "נציג"],
            &[1, 0, 0, 0, 0, 0, 1, 2],
        ),
        (
            "the oldest falls out of the window",
            &[
                CANCEL,
                "אחת",
                "שתיים",
                "שלוש",
                "ארבע",
                CANCEL,
                CANCEL,
                CANCEL,
            ],
            &[1, 1, 1, 1, 1, 2, 2, 3],
        ),
    ];
    for (name, utterances, expected) in cases {
        let mut detector = RepetitionDetector::default();
        assert_eq!(counts(&mut detector, utterances), *expected, "{name}");
    }
}

#[test]
fn escalates_at_the_threshold() {
    let mut detector = RepetitionDetector::default();
    let escalations: Vec<bool> = ["אני רוצה לדבר עם נציג"; 4]
        .iter()
        .map(|text| detector.observe(text).escalate)
        .collect();
    assert_eq!(escalations, [false, false, true, true]);
    let mut lenient = RepetitionDetector::new(RepetitionConfig {
        threshold: 4,
        ..RepetitionConfig::default()
    });
    assert_eq!(counts(&mut lenient, &[CANCEL, CANCEL, CANCEL]), [1, 2, 3]);
    assert!(!lenient.observe("מה שעות הפתיחה").escalate);
    assert_eq!(
        lenient.observe(CANCEL),
        Repetition {
            count: 4,
            escalate: true
        }
    );
}

#[test]
fn reset_forgets_earlier_utterances() {
    let mut detector = RepetitionDetector::default();
    assert_eq!(counts(&mut detector, &[CANCEL, CANCEL]), [1, 2]);
    detector.reset();
    assert_eq!(
        detector.observe(CANCEL),
        Repetition {
            count: 1,
            escalate: false
        }
    );
}

#[test]
fn works_on_the_agents_own_answers() {
    let answer = "התור שלך נקבע ליום שלישי בעשר בבוקר. משהו נוסף?";
    let mut detector = RepetitionDetector::default();
    let answers = [
        answer,
        "אשמח לעזור. מה תרצה לעשות?",
        answer,
        "התור שלך נקבע ליום שלישי, בעשר בבוקר. עוד משהו?",
    ];
    assert_eq!(counts(&mut detector, &answers), [1, 1, 2, 3]);
}
