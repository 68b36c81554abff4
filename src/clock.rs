//! Wall-clock time for records: milliseconds since the Unix epoch, the unit every table stores,
//! and the few calendar conversions the rest of the code needs, all through `jiff`.

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};

/// Israel's time zone. The time-zone database is bundled into the binary, so it resolves on a
/// machine without one.
static ISRAEL: LazyLock<TimeZone> = LazyLock::new(|| {
    TimeZone::get("Asia/Jerusalem").expect("the bundled time-zone database has Asia/Jerusalem")
});

/// Milliseconds since the Unix epoch. A clock set before 1970 reads as 0 rather than failing.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The instant `epoch_ms` milliseconds after the Unix epoch, held to the years -9999 to 9999.
pub fn timestamp(epoch_ms: i64) -> Timestamp {
    Timestamp::from_millisecond(epoch_ms).unwrap_or(if epoch_ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// `epoch_ms` in UTC, written with a `strftime` pattern such as `%Y-%m-%d %H:%M`.
pub fn format_utc(epoch_ms: i64, pattern: &str) -> String {
    timestamp(epoch_ms).strftime(pattern).to_string()
}

/// Israel's time zone, summer time included.
pub fn israel() -> TimeZone {
    ISRAEL.clone()
}

/// `epoch_ms` as a wall time in Israel, summer time included.
pub fn in_israel(epoch_ms: i64) -> ZonedDateTime {
    timestamp(epoch_ms).to_zoned_datetime(ISRAEL.clone())
}

/// `epoch_ms` as a wall time in Israel, written with a `strftime` pattern.
pub fn format_in_israel(epoch_ms: i64, pattern: &str) -> String {
    in_israel(epoch_ms).strftime(pattern).to_string()
}

/// Midnight UTC starting a `YYYY-MM-DD` date (year 1 or later), in epoch milliseconds; `None`
/// for anything else, including dates that do not exist such as `2025-02-30`.
pub fn parse_date_start_ms(text: &str) -> Option<i64> {
    day_start_ms(parse_date(text)?, TimeZone::UTC)
}

/// The first instant of a `YYYY-MM-DD` date on Israel's wall clock (midnight, summer time
/// included), in epoch milliseconds; `None` as for [`parse_date_start_ms`].
pub fn parse_israel_date_start_ms(text: &str) -> Option<i64> {
    day_start_ms(parse_date(text)?, ISRAEL.clone())
}

/// The first instant after a `YYYY-MM-DD` date on Israel's wall clock: the end of that day,
/// whether it lasted 23, 24 or 25 hours.
pub fn parse_israel_date_end_ms(text: &str) -> Option<i64> {
    day_start_ms(parse_date(text)?.tomorrow().ok()?, ISRAEL.clone())
}

/// A `YYYY-MM-DD` date in year 1 or later.
fn parse_date(text: &str) -> Option<Date> {
    Date::strptime("%Y-%m-%d", text.trim())
        .ok()
        .filter(|date| date.year() >= 1)
}

fn day_start_ms(date: Date, zone: TimeZone) -> Option<i64> {
    let midnight = date.to_zoned_datetime(zone).ok()?;
    Some(midnight.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (day, month, hour, minute) in Israel.
    fn israel(epoch_ms: i64) -> (i8, i8, i8, i8) {
        let local = in_israel(epoch_ms);
        (local.day(), local.month(), local.hour(), local.minute())
    }

    fn utc(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn utc_formatting_handles_leap_days_and_dates_before_1970() {
        let pattern = "%a %Y-%m-%d %H:%M:%S%.3f";
        assert_eq!(format_utc(0, pattern), "Thu 1970-01-01 00:00:00.000");
        assert_eq!(format_utc(-1, pattern), "Wed 1969-12-31 23:59:59.999");
        // The Moon landing, 1969-07-20 20:17:40 UTC.
        assert_eq!(
            format_utc(-14_182_940_000, pattern),
            "Sun 1969-07-20 20:17:40.000"
        );
        assert_eq!(
            format_utc(951_782_400_000, pattern),
            "Tue 2000-02-29 00:00:00.000"
        );
        assert_eq!(
            format_utc(4_107_542_400_000, pattern),
            "Mon 2100-03-01 00:00:00.000"
        );
        assert_eq!(timestamp(i64::MIN), Timestamp::MIN);
        assert_eq!(timestamp(i64::MAX), Timestamp::MAX);
    }

    #[test]
    fn israel_summer_time_2024_runs_from_friday_29_march_to_sunday_27_october() {
        // 02:00 standard time on Friday 29 March jumps to 03:00.
        assert_eq!(israel(utc("2024-03-28T23:59:00Z")), (29, 3, 1, 59));
        assert_eq!(israel(utc("2024-03-29T00:00:00Z")), (29, 3, 3, 0));
        assert_eq!(
            in_israel(utc("2024-03-29T00:00:00Z")).weekday(),
            jiff::civil::Weekday::Friday
        );
        // 02:00 summer time on Sunday 27 October falls back to 01:00.
        assert_eq!(israel(utc("2024-10-26T22:59:00Z")), (27, 10, 1, 59));
        assert_eq!(israel(utc("2024-10-26T23:00:00Z")), (27, 10, 1, 0));
        assert_eq!(
            in_israel(utc("2024-10-26T23:00:00Z")).weekday(),
            jiff::civil::Weekday::Sunday
        );
        // Winter is UTC+2, across a year end.
        assert_eq!(israel(utc("2025-12-31T22:00:00Z")), (1, 1, 0, 0));
        // Before 1970: 1 January 1969 was winter, UTC+2.
        assert_eq!(israel(utc("1968-12-31T22:30:00Z")), (1, 1, 0, 30));
    }

    #[test]
    fn dates_parse_to_their_utc_midnight() {
        assert_eq!(parse_date_start_ms("1970-01-01"), Some(0));
        assert_eq!(
            parse_date_start_ms(" 2025-06-15 "),
            Some(utc("2025-06-15T00:00:00Z"))
        );
        assert_eq!(
            parse_date_start_ms("2024-02-29"),
            Some(utc("2024-02-29T00:00:00Z"))
        );
        assert_eq!(parse_date_start_ms("1969-12-31"), Some(-86_400_000));
        assert_eq!(parse_date_start_ms("2025-02-29"), None);
        assert_eq!(parse_date_start_ms("2025-13-01"), None);
        assert_eq!(parse_date_start_ms("0000-01-01"), None);
        assert_eq!(parse_date_start_ms("yesterday"), None);
        assert_eq!(parse_date_start_ms(""), None);
    }

    #[test]
    fn israeli_days_start_at_local_midnight_and_may_last_23_or_25_hours() {
        let hour = 3_600_000;
        // 2025-06-15 00:00 in Israel (summer, UTC+3) is 2025-06-14 21:00 UTC.
        let june = parse_israel_date_start_ms("2025-06-15").unwrap();
        assert_eq!(format_utc(june, "%Y-%m-%d %H:%M"), "2025-06-14 21:00");
        assert_eq!(format_in_israel(june, "%Y-%m-%d %H:%M"), "2025-06-15 00:00");
        assert_eq!(
            parse_israel_date_end_ms("2025-06-15").unwrap() - june,
            24 * hour
        );
        // Summer time began on Friday 2025-03-28 and ended on Sunday 2025-10-26.
        let spring = parse_israel_date_start_ms("2025-03-28").unwrap();
        assert_eq!(
            parse_israel_date_end_ms("2025-03-28").unwrap() - spring,
            23 * hour
        );
        let autumn = parse_israel_date_start_ms("2025-10-26").unwrap();
        assert_eq!(
            parse_israel_date_end_ms("2025-10-26").unwrap() - autumn,
            25 * hour
        );
        assert_eq!(parse_israel_date_start_ms("2025-02-30"), None);
        assert_eq!(parse_israel_date_end_ms("tomorrow"), None);
    }
}
