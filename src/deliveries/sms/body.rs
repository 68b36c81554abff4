//! The Hebrew text of the post-call SMS: who called, when and what about for the business; thanks,
//! with the business's name, for the caller.

use super::SmsAudience;
use crate::clock;
use crate::deliveries::CrmInteraction;
use crate::twilio::rest::MAX_SMS_CHARS;

/// A summary or quoted line longer than this is cut: the text should fit on a phone screen.
const QUOTE_CHARS: usize = 300;
/// Left-to-right marks around a phone number, so the `+` stays in front inside Hebrew text.
const LRM: char = '\u{200E}';

/// The Hebrew text after a call, at most 1600 characters. Times are Israel local time.
pub fn post_call_sms_body(audience: SmsAudience, interaction: &CrmInteraction) -> String {
    let name = interaction.business_name.trim();
    let body = match audience {
        SmsAudience::Caller => format!(
            "תודה שהתקשרת {}! נשמח לעמוד לשירותך.",
            with_prefix('ל', name)
        ),
        SmsAudience::Business => {
            let (day, month, hour, minute) = israel_local_time(interaction.started_at_ms);
            let mut text = format!(
                "{name}: שיחה {} ב-{day:02}/{month:02} בשעה {hour:02}:{minute:02}.",
                with_prefix('מ', &format!("{LRM}{}{LRM}", interaction.customer_phone)),
            );
            let summary = interaction.summary.as_deref().and_then(first_line);
            let first_caller_line = interaction
                .transcript
                .iter()
                .filter(|line| line.role == crate::store::turns::ROLE_CALLER)
                .find_map(|line| first_line(&line.text));
            match (summary, first_caller_line) {
                (Some(summary), _) => {
                    text.push_str(&format!("\nסיכום: {}", cut(summary, QUOTE_CHARS)))
                }
                (None, Some(said)) => {
                    text.push_str(&format!("\nהפונה אמר/ה: \"{}\"", cut(said, QUOTE_CHARS)))
                }
                (None, None) => text.push_str("\nהפונה לא אמר/ה דבר."),
            }
            text
        }
    };
    cut(&body, MAX_SMS_CHARS)
}

/// Hebrew joins a one-letter preposition to a Hebrew word, and with a hyphen to anything else.
fn with_prefix(letter: char, word: &str) -> String {
    let hebrew = word
        .chars()
        .next()
        .is_some_and(|first| ('\u{05D0}'..='\u{05EA}').contains(&first));
    if hebrew {
        format!("{letter}{word}")
    } else {
        format!("{letter}-{word}")
    }
}

fn first_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find(|line| !line.is_empty())
}

/// At most `limit` characters, ending with an ellipsis when cut.
fn cut(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut kept: String = text.chars().take(limit.saturating_sub(1)).collect();
    kept.push('…');
    kept
}

/// (day, month, hour, minute) in Israel local time, summer time included.
fn israel_local_time(epoch_ms: i64) -> (i8, i8, i8, i8) {
    let local = clock::in_israel(epoch_ms);
    (local.day(), local.month(), local.hour(), local.minute())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliveries::TranscriptLine;

    /// Epoch ms of a UTC wall time.
    fn utc(year: i16, month: i8, day: i8, hour: i8, minute: i8) -> i64 {
        jiff::civil::datetime(year, month, day, hour, minute, 0, 0)
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
            .as_millisecond()
    }

    fn interaction() -> CrmInteraction {
        let line = |role: &str, text: &str| TranscriptLine {
            role: role.into(),
            text: text.into(),
            heard_text: None,
            at_ms: 0,
        };
        CrmInteraction {
            business_number: "+97231234567".into(),
            business_name: "מספרת רותי".into(),
            customer_phone: "+972501234567".into(),
            call_sid: "CA1".into(),
            // 14:05 in Israel (summer time).
            started_at_ms: utc(2024, 7, 3, 11, 5),
            ended_at_ms: None,
            duration_ms: None,
            outcome: None,
            transcript: vec![
                line("agent", "שלום, במה אפשר לעזור?"),
                line("caller", "\n  אני רוצה לקבוע תור למחר  \nבבוקר"),
            ],
            summary: None,
            recording_path: None,
            tool_calls: Vec::new(),
        }
    }

    #[test]
    fn israel_time_follows_summer_time_switches() {
        assert_eq!(israel_local_time(utc(2024, 2, 29, 12, 0)), (29, 2, 14, 0));
        // 2024: summer time from Friday 29 March to Sunday 27 October.
        assert_eq!(israel_local_time(utc(2024, 3, 28, 23, 59)), (29, 3, 1, 59));
        assert_eq!(israel_local_time(utc(2024, 3, 29, 0, 0)), (29, 3, 3, 0));
        assert_eq!(
            israel_local_time(utc(2024, 10, 26, 22, 59)),
            (27, 10, 1, 59)
        );
        assert_eq!(israel_local_time(utc(2024, 10, 26, 23, 0)), (27, 10, 1, 0));
        assert_eq!(israel_local_time(utc(2025, 1, 1, 21, 30)), (1, 1, 23, 30));
        assert_eq!(israel_local_time(utc(2025, 12, 31, 22, 0)), (1, 1, 0, 0));
    }

    #[test]
    fn the_business_reads_who_when_and_what() {
        let mut call = interaction();
        let text = post_call_sms_body(SmsAudience::Business, &call);
        assert!(text.starts_with("מספרת רותי: שיחה מ-"), "{text}");
        assert!(text.contains("+972501234567"), "{text}");
        assert!(text.contains("ב-03/07 בשעה 14:05"), "{text}");
        assert!(text.contains("\"אני רוצה לקבוע תור למחר\""), "{text}");
        call.summary = Some("תור לתספורת מחר ב-9\nפרטים נוספים".into());
        let text = post_call_sms_body(SmsAudience::Business, &call);
        assert!(text.ends_with("\nסיכום: תור לתספורת מחר ב-9"), "{text}");
    }

    #[test]
    fn the_caller_is_thanked_by_business_name() {
        let mut call = interaction();
        let text = post_call_sms_body(SmsAudience::Caller, &call);
        assert_eq!(text, "תודה שהתקשרת למספרת רותי! נשמח לעמוד לשירותך.");
        call.business_name = "Acme".into();
        let text = post_call_sms_body(SmsAudience::Caller, &call);
        assert!(text.contains("ל-Acme!"), "{text}");
    }

    #[test]
    fn long_texts_are_cut_to_what_twilio_accepts() {
        let mut call = interaction();
        call.summary = Some("א".repeat(5_000));
        let text = post_call_sms_body(SmsAudience::Business, &call);
        assert!(text.ends_with('…'), "{text}");
        assert!(text.chars().count() < 400);
        call.business_name = "ב".repeat(5_000);
        let text = post_call_sms_body(SmsAudience::Caller, &call);
        assert_eq!(text.chars().count(), MAX_SMS_CHARS);
    }
}
