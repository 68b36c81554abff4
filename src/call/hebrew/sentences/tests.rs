use super::*;

/// Feeds `deltas` to a splitter and collects every chunk, the tail included.
fn split_with(config: SplitterConfig, deltas: &[&str]) -> Vec<String> {
    let mut splitter = SentenceSplitter::new(config);
    let mut chunks: Vec<String> = deltas
        .iter()
        .flat_map(|delta| splitter.push(delta))
        .collect();
    chunks.extend(splitter.finish());
    chunks
}

fn split(deltas: &[&str]) -> Vec<String> {
    split_with(SplitterConfig::default(), deltas)
}

#[test]
fn splits_streamed_replies_into_speakable_chunks() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "question then statement",
            &["שלום, ", "מה שלומך? אני ב", "סדר."],
            &["שלום, מה שלומך?", "אני בסדר."],
        ),
        (
            "gershayim abbreviation split inside",
            &["קבעתי לך תור אצל ד", "\"ר כהן. הוא יחכה."],
            &["קבעתי לך תור אצל ד\"ר כהן.", "הוא יחכה."],
        ),
        (
            "gershayim abbreviation split after the quote",
            &["הסניף שלנו בת\"", "א פתוח עד שמונה. תרצה לבוא?"],
            &["הסניף שלנו בת\"א פתוח עד שמונה.", "תרצה לבוא?"],
        ),
        (
            "Hebrew gershayim character",
            &["העו״ד שלך ", "יחזור אליך. ח״כ לוי", " גם."],
            &["העו״ד שלך יחזור אליך.", "ח״כ לוי גם."],
        ),
        (
            "geresh abbreviation mid-sentence",
            &["יש פיצות, פסטות וכו", "' ויש גם סלטים. מה תרצה?"],
            &["יש פיצות, פסטות וכו' ויש גם סלטים.", "מה תרצה?"],
        ),
        (
            "dotted initials",
            &["נ.", "ב. אל תשכח להביא תעודה."],
            &["נ.ב. אל תשכח להביא תעודה."],
        ),
        (
            "decimal split at the point",
            &["המחיר הוא 3", ".", "5 שקלים לדקה. בסדר?"],
            &["המחיר הוא 3.5 שקלים לדקה.", "בסדר?"],
        ),
        (
            "time",
            &["התור שלך בשעה 10:", "30. נתראה!"],
            &["התור שלך בשעה 10:30.", "נתראה!"],
        ),
        (
            "date",
            &["הפגישה נקבעה ל-1.", "2.2024 בבוקר. משהו נוסף?"],
            &["הפגישה נקבעה ל-1.2.2024 בבוקר.", "משהו נוסף?"],
        ),
        (
            "short ellipsis is a pause",
            &["רגע... אני בודק", " את היומן. מצאתי!"],
            &["רגע... אני בודק את היומן.", "מצאתי!"],
        ),
        (
            "long first chunk may end at an ellipsis",
            &["אני בודק את היומן של המרפאה…", " נראה שיש מקום."],
            &["אני בודק את היומן של המרפאה…", "נראה שיש מקום."],
        ),
        (
            "question inside quotes closes after the quote",
            &["הוא שאל \"מה השעה?", "\" ואז ניתק. טוב."],
            &["הוא שאל \"מה השעה?\"", "ואז ניתק.", "טוב."],
        ),
        (
            "quote closing the reply",
            &["דיברתי עם ח\"כ לוי. הוא אמר: \"נבדוק.", "\""],
            &["דיברתי עם ח\"כ לוי.", "הוא אמר: \"נבדוק.\""],
        ),
        (
            "bracket closing a sentence",
            &["(בערך 20 דקות.)", " אחר כך נחזור."],
            &["(בערך 20 דקות.)", "אחר כך נחזור."],
        ),
        (
            "mixed terminators",
            &["באמת?!", " זה מעולה."],
            &["באמת?!", "זה מעולה."],
        ),
        (
            "newlines",
            &["שעות הפתיחה:\n", "ראשון עד חמישי\nשישי עד אחת"],
            &["שעות הפתיחה:", "ראשון עד חמישי", "שישי עד אחת"],
        ),
        (
            "markdown headings, bold and bullets",
            &[
                "## **שעות הפתיחה:**\n- ראשון",
                " עד חמישי\n* שישי **בלבד**\n---\n",
            ],
            &["שעות הפתיחה:", "ראשון עד חמישי", "שישי בלבד"],
        ),
        (
            "emoji",
            &["מעולה! 😊", " נתראה מחר 👋"],
            &["מעולה!", "נתראה מחר"],
        ),
        (
            "emoji right after the mark",
            &["מעולה!😊", " ונתראה."],
            &["מעולה!", "ונתראה."],
        ),
        (
            "Latin abbreviation and address in Hebrew",
            &[
                "אפשר לפנות ל-Dr. Smith או לכתוב ל",
                "-info@clinic.co.il. תודה!",
            ],
            &[
                "אפשר לפנות ל-Dr. Smith או לכתוב ל-info@clinic.co.il.",
                "תודה!",
            ],
        ),
        (
            "Latin sentences",
            &["The code is ABC. Please ", "write it down! Thanks"],
            &["The code is ABC.", "Please write it down!", "Thanks"],
        ),
        (
            "first chunk ends at a comma once long enough",
            &[
                "בוקר טוב, כאן המרפאה של ד\"ר לוי, ",
                "במה אפשר לעזור היום? אני כאן.",
            ],
            &[
                "בוקר טוב, כאן המרפאה של ד\"ר לוי,",
                "במה אפשר לעזור היום?",
                "אני כאן.",
            ],
        ),
        (
            "first chunk ends at a colon that opens no list",
            &["שמעתי שאמרת: שלום, ", "אני רוצה תור. איך אפשר לעזור?"],
            &["שמעתי שאמרת:", "שלום, אני רוצה תור.", "איך אפשר לעזור?"],
        ),
        (
            "a short opening is no chunk of its own",
            &["כן, אנחנו פתוחים. מה עוד?"],
            &["כן, אנחנו פתוחים.", "מה עוד?"],
        ),
        (
            "later chunks do not end at commas",
            &["שלום רב.", " מחר, אם ירצה השם, יהיה קר יותר, וגם גשום."],
            &["שלום רב.", "מחר, אם ירצה השם, יהיה קר יותר, וגם גשום."],
        ),
        (
            "first chunk ends at a spaced dash",
            &["יש לנו תור פנוי ביום שלישי בבוקר - ", "בתשע וחצי. מתאים?"],
            &["יש לנו תור פנוי ביום שלישי בבוקר", "בתשע וחצי.", "מתאים?"],
        ),
        (
            "thousands separator is not a pause",
            &["העלות הכוללת של הטיפול היא 1,", "500 שקלים. לשלם?"],
            &["העלות הכוללת של הטיפול היא 1,500 שקלים.", "לשלם?"],
        ),
        (
            "numbered list keeps its numbers",
            &["אפשרויות:\n1. ", "תור רגיל.\n2. תור דחוף."],
            &["אפשרויות:", "1. תור רגיל.", "2. תור דחוף."],
        ),
        (
            "acronym with ASCII gershayim ends a sentence",
            &["המחיר הוא 100 שקל כולל מע\"מ", ". תרצה לקבוע?"],
            &["המחיר הוא 100 שקל כולל מע\"מ.", "תרצה לקבוע?"],
        ),
        (
            "acronym with a prefix letter ends a sentence",
            &["הוא שירת בצה\"ל. עכשיו", " הוא ספר."],
            &["הוא שירת בצה\"ל.", "עכשיו הוא ספר."],
        ),
        (
            "acronym with Hebrew gershayim ends a sentence",
            &["זה עולה 50 ש״ח. מתאים?"],
            &["זה עולה 50 ש״ח.", "מתאים?"],
        ),
        (
            "acronym split at its gershayim",
            &["זה עולה 50 ש\"", "ח. מתאים?"],
            &["זה עולה 50 ש\"ח.", "מתאים?"],
        ),
        (
            "acronym inside a sentence",
            &["שילמתי מע\"מ על הכול. תודה."],
            &["שילמתי מע\"מ על הכול.", "תודה."],
        ),
        (
            "quoted word before a period",
            &["הוא אמר \"כן\". ואז ניתק."],
            &["הוא אמר \"כן\".", "ואז ניתק."],
        ),
        (
            "numbered list on one line",
            &["1. תספורת. 2", ". צבע."],
            &["1. תספורת.", "2. צבע."],
        ),
        (
            "numbered list after a colon",
            &["יש לנו שני שירותים: 1", ". תספורת. 2. צבע."],
            &["יש לנו שני שירותים:", "1. תספורת.", "2. צבע."],
        ),
        (
            "numbered list of prices in shekels",
            &["המחירים: 1. תספורת 50 ש\"ח. 2. צבע 120 ש\"ח."],
            &["המחירים:", "1. תספורת 50 ש\"ח.", "2. צבע 120 ש\"ח."],
        ),
        (
            "numbered list after a sentence",
            &["יש שתי אפשרויות. 1. תור בבוקר. 2. תור בערב."],
            &["יש שתי אפשרויות.", "1. תור בבוקר.", "2. תור בערב."],
        ),
        (
            "two-digit list numbers",
            &["ואחרונים: 10. לסיים. 11. לצאת."],
            &["ואחרונים:", "10. לסיים.", "11. לצאת."],
        ),
        (
            "a sentence may end in a number",
            &["התור שלך בשעה 10. נתראה!"],
            &["התור שלך בשעה 10.", "נתראה!"],
        ),
        (
            "time after a colon is no list",
            &["השעה: 10:30. נתראה."],
            &["השעה: 10:30.", "נתראה."],
        ),
        (
            "decimal after a colon is no list",
            &["מחיר: 3.5 שקלים. בסדר?"],
            &["מחיר: 3.5 שקלים.", "בסדר?"],
        ),
        (
            "empty and blank deltas",
            &["", "  ", "שלום.", "", " "],
            &["שלום."],
        ),
        ("nothing speakable", &["**", " 👍\n", "..."], &[]),
        (
            "sof pasuq",
            &["בראשית ברא אלוהים׃ והארץ", " הייתה."],
            &["בראשית ברא אלוהים׃", "והארץ הייתה."],
        ),
    ];
    // A sentence end after a Hebrew word is cut at once, so an ellipsis or "?!" streamed a
    // character at a time is cut after its first mark: the same words, cut once more.
    let cut_sooner_a_character_at_a_time = ["short ellipsis is a pause", "mixed terminators"];
    let squashed = |chunks: &[String]| -> String {
        chunks
            .concat()
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect()
    };
    for (name, deltas, expected) in cases {
        assert_eq!(split(deltas), *expected, "{name}: as streamed");
        // Chunks must not depend on where the deltas were cut.
        let whole = deltas.concat();
        assert_eq!(split(&[&whole]), *expected, "{name}: in one delta");
        let chars: Vec<String> = whole.chars().map(String::from).collect();
        let chars: Vec<&str> = chars.iter().map(String::as_str).collect();
        let one_by_one = split(&chars);
        if cut_sooner_a_character_at_a_time.contains(name) {
            let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
            assert_eq!(
                squashed(&one_by_one),
                squashed(&expected),
                "{name}: the words"
            );
        } else {
            assert_eq!(one_by_one, *expected, "{name}: one character at a time");
        }
    }
}

#[test]
fn chunks_without_sentence_ends_are_capped_at_a_space() {
    let config = SplitterConfig {
        first_chunk_min_chars: None,
        max_chunk_chars: 20,
    };
    let chunks = split_with(config, &["אחת שתיים שלוש ארבע חמש שש שבע שמונה תשע עשר"]);
    assert_eq!(
        chunks,
        ["אחת שתיים שלוש ארבע", "חמש שש שבע שמונה", "תשע עשר"]
    );
    assert!(chunks.iter().all(|chunk| chunk.chars().count() <= 20));
    // A run with no space at all is cut at the cap itself.
    let chunks = split_with(config, &[&"א".repeat(45)]);
    assert_eq!(
        chunks.iter().map(|c| c.chars().count()).collect::<Vec<_>>(),
        [20, 20, 5]
    );
}

#[test]
fn first_chunk_pause_can_be_turned_off() {
    let config = SplitterConfig {
        first_chunk_min_chars: None,
        ..SplitterConfig::default()
    };
    let deltas = ["בוקר טוב, כאן המרפאה של ד\"ר לוי, ", "במה אפשר לעזור היום?"];
    assert_eq!(
        split_with(config, &deltas),
        ["בוקר טוב, כאן המרפאה של ד\"ר לוי, במה אפשר לעזור היום?"]
    );
}

#[test]
fn a_first_chunks_comma_after_a_word_cuts_at_once() {
    let mut splitter = SentenceSplitter::default();
    assert!(splitter.push("אני בודקת את היומן").is_empty());
    assert_eq!(splitter.push(","), ["אני בודקת את היומן,"]);
    let mut splitter = SentenceSplitter::default();
    assert!(splitter.push("המחיר הכולל הוא 1").is_empty());
    assert!(
        splitter.push(",").is_empty(),
        "a comma after a digit may separate thousands"
    );
}

#[test]
fn chunks_come_out_as_soon_as_they_are_complete() {
    let mut splitter = SentenceSplitter::default();
    assert!(splitter.push("שלום").is_empty());
    assert_eq!(
        splitter.push("."),
        ["שלום."],
        "nothing after a Hebrew word's period keeps the sentence going"
    );
    assert!(splitter.push(" המחיר 3").is_empty());
    assert!(
        splitter.push(".").is_empty(),
        "a period after a digit may still be a decimal point"
    );
    assert_eq!(splitter.push(" מה"), ["המחיר 3."]);
    assert!(splitter.push(" נשמע").is_empty());
    assert_eq!(splitter.push("?"), ["מה נשמע?"]);
    assert!(splitter.push(" אמרת \"מה השעה").is_empty());
    assert!(
        splitter.push("?").is_empty(),
        "a question inside quotes closes after the quote"
    );
    assert_eq!(splitter.push("\" כן."), ["אמרת \"מה השעה?\"", "כן."]);
    assert!(splitter.push(" ראה נ.ב").is_empty());
    assert!(
        splitter.push(".").is_empty(),
        "dotted initials are an abbreviation"
    );
    assert!(splitter.push(" תודה").is_empty());
    assert_eq!(splitter.push("."), ["ראה נ.ב. תודה."]);
    assert_eq!(splitter.finish(), None);
}
