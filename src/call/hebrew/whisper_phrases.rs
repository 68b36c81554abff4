//! What Whisper writes on silence, noise and breath when told the audio is Hebrew: lines from the
//! end of the subtitled videos it was trained on. Written as a Hebrew (or English) reader would
//! spell them; [`super::hallucination`] compares them in normal form, so niqqud, final letters,
//! punctuation and gershayim (ע"י, ע״י) do not matter.
//!
//! Sources, cited per entry:
//! - *outros*: Whisper's best-known silence hallucination is a video's closing line ("Thanks for
//!   watching", "ご視聴ありがとうございました"): openai/whisper discussion #928, amicalhq/amical#71,
//!   Vexa-ai/vexa#617, mkiol/dsnote#158. The Hebrew wordings are those of Hebrew YouTube outros
//!   as public Hebrew Whisper filters on GitHub list them.
//! - *credits*: subtitle files credit a translator or syncer; Whisper writes the credit, with some
//!   name, on silence in every language (openai/whisper discussion #928, SYSTRAN/faster-whisper#949,
//!   zachlatta/freeflow#281, which matches the credit marker rather than whole lines). The Hebrew
//!   forms are those of Hebrew subtitle sites ("תורגם וסונכרן ע"י ...").
//! - *thanks*: "תודה" and its longer forms, on silence, in a Hebrew run's log
//!   (tmoroney/auto-subs#701: "תודה רבה." and "תודה, תודה, תודה, תודה." segments) and in every
//!   public Hebrew filter; but also what a caller says after an answer, hence a table of its own.

/// Never said to a business on the phone: dropped whatever the audio.
pub const SILENCE_PHRASES: &[&str] = &[
    // outros (Hebrew YouTube)
    "תודה שצפיתם",
    "תודה רבה שצפיתם",
    "תודה לכם שצפיתם",
    "תודה רבה לכם שצפיתם",
    "תודה שצפיתם בסרטון",
    "תודה על הצפייה",
    "תודה על הצפיה",
    "תודה רבה על הצפייה",
    "תודה רבה על הצפיה",
    "צפייה מהנה",
    "נתראה בסרטון הבא",
    // outros (Hebrew podcasts)
    "תודה שהאזנתם",
    "תודה רבה שהאזנתם",
    // subscription calls (Hebrew YouTube)
    "אל תשכחו להירשם לערוץ",
    "אל תשכחו לעשות לייק",
    "אל תשכחו לעשות לייק ולהירשם לערוץ",
    "הירשמו לערוץ",
    "תירשמו לערוץ",
    // credit labels without a name (Hebrew subtitle files)
    "כתוביות",
    "תרגום וכתוביות",
    "עריכה וכתוביות",
    // English, which leaks through with the language forced to Hebrew (openai/whisper #928)
    "thanks for watching",
    "thank you for watching",
    "thank you so much for watching",
    "please subscribe",
    "like and subscribe",
    "don't forget to subscribe",
    "subtitles by the amara.org community",
    // Whisper's one-word English on silence (openai/whisper #928); no Hebrew caller says it alone
    "you",
];

/// Thanks: Whisper's most common Hebrew line on silence, and one of the most common things a
/// Hebrew caller says. Dropped only on weak audio.
pub const THANKS: &[&str] = &[
    "תודה",
    "תודה רבה",
    "תודה רבה רבה",
    "תודה לכם",
    "תודה רבה לכם",
    "תודה לך",
    "תודה רבה לך",
    // English thanks leak the same way (mkiol/dsnote#158)
    "thank you",
    "thank you very much",
    "thank you so much",
    "thanks",
];

/// Openings of a credit line; what follows is a name (of up to [`MAX_CREDIT_NAME_WORDS`] words).
pub const CREDIT_OPENINGS: &[&str] = &[
    "הכתוביות נעשו על ידי",
    "כתוביות על ידי",
    "כתוביות ע\"י",
    "תורגם על ידי",
    "תורגם ע\"י",
    "תרגום על ידי",
    "תרגום ע\"י",
    "תורגם וסונכרן על ידי",
    "תורגם וסונכרן ע\"י",
    "סונכרן על ידי",
    "סונכרן ע\"י",
    "תמלול על ידי",
    "subtitles by",
    "subtitled by",
    "translated by",
    "captions by",
];

/// Labels that open a credit line when a colon follows ("כתוביות: אבי כהן"); without the colon
/// they are ordinary words ("אני צריך תרגום של המסמך").
pub const CREDIT_LABELS: &[&str] = &[
    "כתוביות",
    "תרגום",
    "תרגום וכתוביות",
    "תרגום וסנכרון",
    "סנכרון",
    "תמלול",
    "עריכה",
    "עריכה וכתוביות",
    "subtitles",
    "translation",
    "captions",
];

/// A credit names a person or a group in a few words ("יוסי כהן", "קהילת עמרה"); a longer tail
/// after a credit opening is someone talking.
pub const MAX_CREDIT_NAME_WORDS: usize = 5;
