use super::*;

fn unfinished(why: Why) -> Completeness {
    Completeness::Unfinished(why)
}

fn check(cases: &[(&str, Completeness)]) {
    for &(text, expected) in cases {
        assert_eq!(completeness(text), expected, "{text:?}");
    }
}

#[test]
fn finished_sentences_are_finished() {
    let finished = Completeness::Finished;
    check(&[
        ("אני רוצה לקבוע תור", finished),
        ("אני רוצה לקבוע תור.", finished),
        ("שלום, מה שעות הפתיחה שלכם?", finished),
        ("כן", finished),
        ("לא.", finished),
        ("לא, תודה", finished),
        ("בסדר גמור.", finished),
        ("תודה רבה, להתראות!", finished),
        ("אני רוצה לדבר עם נציג, בבקשה", finished),
        ("המספר שלי 0521234567", finished),
        ("המספר שלי הוא 054-1234567.", finished),
        ("אפס חמש ארבע, שלוש שתיים אחת, שבע שמונה תשע שש", finished),
        ("אני יכול להגיע בעשר וחצי או באחת עשרה ורבע", finished),
        ("בשעה 10:30", finished),
        ("זה עולה 250 שקל", finished),
        ("בשעה ארבע", finished),
        ("[מוזיקה] שלום, מדבר דני", finished),
        ("OK.", finished),
        ("אני רוצה לבטל את ה-subscription", finished),
        ("שָׁלוֹם, אֲנִי רוֹצֶה לְבַטֵּל", finished),
    ]);
}

#[test]
fn last_words_that_merely_begin_with_a_prefix_letter_are_finished() {
    for text in [
        "אני רוצה לבטל",          // ל + בטל
        "תודה ושלום",             // ו + שלום
        "זה שלי",                 // ש + לי, not של
        "זה שלו.",                // not של
        "אני צריך את זה בשבילי",  // not בשביל
        "אני גר שם",              // שם: there
        "מה?",                    // מה: what
        "אז מה",                  // ends on מה, not אז
        "אמרתי לה",               // לה: to her
        "אני רוצה לשבת",          // ל + שבת
        "הכל בסדר וזהו",          // ו + זהו
        "תשלחו לי במייל",         // ב + מייל
        "אני מתקשר מהבית",        // מ + ה + בית
        "כמה זה עולה",            // כמה: how much
        "אני רוצה לבוא היום",     // ה + יום
        "זה בשבילך",              // not בשביל
        "והכל",                   // ו + ה + כל
        "ואז הוא אמר שכן",        // ש + כן
        "אני מחכה לכם",           // ל + כם
        "יש לי שאלה לגבי החשבון", // לגבי in the middle
    ] {
        assert_eq!(completeness(text), Completeness::Finished, "{text:?}");
    }
}

#[test]
fn connecting_words_and_lone_prefixes_leave_it_unfinished() {
    let connecting = unfinished(Why::ConnectingWord);
    check(&[
        ("אני רוצה לקבוע תור עם", connecting),
        ("מה המחיר של", connecting),
        ("מה המחיר של.", connecting),
        ("ההזמנה הגיעה אבל", connecting),
        ("רציתי לשאול אם", connecting),
        ("אני צריך לבטל את", connecting),
        ("אני לא יכול להגיע כי", connecting),
        ("אפשר ביום שני או", connecting),
        ("רציתי לדבר על", connecting),
        ("אני מחפשת משהו כמו", connecting),
        ("קבעתי תור לשבוע הבא אז", connecting),
        ("קודם אני רוצה לבטל ואז", connecting),
        ("אני רוצה תור לתספורת ו", connecting),
        ("אני רוצה תור ל", connecting),
        ("זה בשביל הבת שלי ש", connecting),
        ("אני רוצה לדעת אם", connecting),
        ("ואם", connecting),
        ("תגיד לי שאם", connecting),
        ("אני מתקשר בקשר", connecting),
        ("אני רוצה לשאול לגבי", connecting),
        ("זה בגלל", connecting),
        ("אני צריך את זה בשביל", connecting),
        ("התור שלי הוא בין", connecting),
        ("אני צריך לבוא כדי", connecting),
        ("התור נקבע וכש", connecting),
        ("ועם", connecting),
        ("ושל", connecting),
        ("אני רוצה את זה כאילו", connecting),
        ("אָז", connecting),
        ("אני מגיע עם ה", connecting),
    ]);
}

#[test]
fn fillers_and_hold_on_leave_it_unfinished() {
    let filler = unfinished(Why::Filler);
    let hold_on = unfinished(Why::HoldOn);
    check(&[
        ("אממ", filler),
        ("אהה", filler),
        ("אה.", filler),
        ("אה, אממ", filler),
        ("אני רוצה להזמין אה", filler),
        ("אני רוצה להזמין, אממ", filler),
        ("שולחן לארבעה, אהה.", filler),
        ("um", filler),
        ("רגע", hold_on),
        ("רגע.", hold_on),
        ("רק רגע", hold_on),
        ("רגע אחד", hold_on),
        ("שנייה", hold_on),
        ("שניה אחת.", hold_on),
        ("אממ, רגע", hold_on),
        ("רגע רגע", hold_on),
        ("תן לי שנייה", hold_on),
        ("חכה", hold_on),
        // A question is a question, even a filler's ("huh?").
        ("אה?", Completeness::Finished),
        ("רגע, אני בודק", Completeness::Finished),
    ]);
}

#[test]
fn numbers_being_dictated_leave_it_unfinished() {
    let number = unfinished(Why::NumberInProgress);
    check(&[
        ("050", number),
        ("המספר שלי הוא 050.", number),
        ("054 123", number),
        ("054-123", number),
        ("אפס חמש אפס", number),
        ("אפס חמש אפס אחת שתיים שלוש", number),
        ("המספר שלי הוא אפס חמש ארבע", number),
        ("02 654", number),
        ("תרשמי את המספר 053 991", number),
        ("אפשר לחזור אליי ל-077", number),
        ("054 123 45", number),
        ("054-123-4567", Completeness::Finished),
        (
            "אפס שתיים שש חמש ארבע שלוש שתיים אחת אחת",
            Completeness::Finished,
        ),
    ]);
}

#[test]
fn trailing_marks_leave_it_unfinished() {
    let ellipsis = unfinished(Why::TrailingEllipsis);
    let open = unfinished(Why::OpenPunctuation);
    check(&[
        ("אני רוצה לקבוע תור...", ellipsis),
        ("אני רוצה לקבוע תור…", ellipsis),
        ("אממ...", ellipsis),
        ("אני רוצה לקבוע תור,", open),
        ("המספר שלי:", open),
        ("054-", open),
        ("אני רוצה לקבוע תור -", open),
        ("הוא אמר \"כן\",", open),
        ("אני רוצה לקבוע תור...?", Completeness::Finished),
    ]);
}

#[test]
fn no_words_is_unknown() {
    for text in ["", "   ", "...", "?", "-", "🙏"] {
        assert_eq!(completeness(text), Completeness::Unknown, "{text:?}");
    }
}
