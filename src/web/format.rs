//! Times, durations and Hebrew labels shared by the pages. Times are Israel's wall clock (summer time
//! included): the businesses and their callers are there, and so are the texts the caller gets.

use crate::clock::{format_in_israel, parse_israel_date_end_ms, parse_israel_date_start_ms};
use crate::store::CallStatus;

pub const NOT_FOUND_PAGE: &str = "<!doctype html><html lang=\"he\" dir=\"rtl\"><meta charset=\"utf-8\">\
<title>לא נמצא</title><link rel=\"stylesheet\" href=\"/static/web.css\"><main><h1>לא נמצא</h1>\
<p><a href=\"/calls\">חזרה לשיחות</a></p></main></html>";

pub const ERROR_PAGE: &str = "<!doctype html><html lang=\"he\" dir=\"rtl\"><meta charset=\"utf-8\">\
<title>שגיאה</title><link rel=\"stylesheet\" href=\"/static/web.css\"><main><h1>שגיאה בשרת</h1>\
<p>הפרטים נרשמו ביומן השרת.</p></main></html>";

/// `2025-06-15 18:06` (Israel) from epoch milliseconds.
pub fn time(epoch_ms: i64) -> String {
    format_in_israel(epoch_ms, "%Y-%m-%d %H:%M")
}

/// `18:06:40` (Israel) from epoch milliseconds.
pub fn clock(epoch_ms: i64) -> String {
    format_in_israel(epoch_ms, "%H:%M:%S")
}

/// The first instant of a `YYYY-MM-DD` date in Israel (the value of an `<input type="date">`).
pub fn day_start(text: &str) -> Option<i64> {
    parse_israel_date_start_ms(text)
}

/// The first instant after a `YYYY-MM-DD` date in Israel: a "to" date includes its whole day.
pub fn day_end(text: &str) -> Option<i64> {
    parse_israel_date_end_ms(text)
}

/// `0:42`, `12:05` or `1:02:03` for a length in milliseconds.
pub fn duration(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

/// A call's length: from the record's times, else Twilio's count, else unknown.
pub fn call_length(started_ms: i64, ended_ms: Option<i64>, twilio_secs: Option<i64>) -> String {
    match (ended_ms, twilio_secs) {
        (Some(end), _) => duration(end - started_ms),
        (None, Some(secs)) => duration(secs * 1000),
        (None, None) => "—".to_string(),
    }
}

pub fn status_label(status: CallStatus) -> &'static str {
    match status {
        CallStatus::Answered => "נענתה",
        CallStatus::Streaming => "בשיחה",
        CallStatus::Completed => "הסתיימה",
        CallStatus::Rejected => "נדחתה",
        CallStatus::Dropped => "התנתקה",
        CallStatus::Interrupted => "נקטעה (השרת)",
        CallStatus::Failed => "נכשלה",
    }
}

/// "שיחה אחת" or "N שיחות".
pub fn calls_count(calls: i64) -> String {
    if calls == 1 {
        "שיחה אחת".to_string()
    } else {
        format!("{calls} שיחות")
    }
}

/// A Hebrew name for an end reason; unknown reasons are shown as recorded.
pub fn end_reason_label(reason: &str) -> String {
    let label = match reason {
        "agent_ended_call" => "הסוכן סיים",
        "closed_by_server" => "השרת סגר",
        "max_call_length" => "אורך מרבי",
        "server_shutdown" => "כיבוי השרת",
        "transferred" => "הועברה לנציג",
        "stream_stopped" => "השיחה נותקה",
        "caller_pressed_goodbye" => "הלקוח לחץ לסיום",
        "caller_silent" => "הלקוח לא ענה",
        "reconnect_timeout" => "השמע לא חזר",
        "socket_dropped" => "חיבור השמע נפל",
        "no_stream" => "השמע לא התחבר",
        _ => return reason.to_string(),
    };
    label.to_string()
}

/// The first `max_chars` characters of `text`, with an ellipsis when cut.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max_chars).collect();
    if chars.next().is_some() {
        format!("{}…", head.trim_end())
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_are_israels_wall_clock() {
        // 1970-01-01 00:00 UTC was 02:00 in Israel (winter, UTC+2).
        assert_eq!(time(0), "1970-01-01 02:00");
        // 2025-06-15 15:06:40 UTC, summer (UTC+3).
        assert_eq!(time(1_750_000_000_000), "2025-06-15 18:06");
        assert_eq!(clock(1_750_000_000_000), "18:06:40");
        let midnight = day_start("2025-06-15").unwrap();
        assert_eq!(time(midnight), "2025-06-15 00:00");
        assert_eq!(time(day_end("2025-06-15").unwrap()), "2025-06-16 00:00");
        assert_eq!(
            day_start("2024-02-29").map(time).unwrap(),
            "2024-02-29 00:00"
        );
        assert_eq!(day_start("2025-13-01"), None);
        assert_eq!(day_end("yesterday"), None);
    }

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(duration(42_900), "0:42");
        assert_eq!(duration(725_000), "12:05");
        assert_eq!(duration(3_723_000), "1:02:03");
        assert_eq!(call_length(1000, None, Some(5)), "0:05");
        assert_eq!(call_length(1000, None, None), "—");
        assert_eq!(calls_count(1), "שיחה אחת");
        assert_eq!(calls_count(0), "0 שיחות");
    }

    #[test]
    fn excerpts_cut_on_characters_not_bytes() {
        assert_eq!(excerpt("שלום עולם", 4), "שלום…");
        assert_eq!(excerpt("שלום", 4), "שלום");
    }
}
