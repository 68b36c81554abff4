//! A business's opening hours on Israel's wall clock (summer time included), their text form, and
//! the next moment they are open: when a promised call-back may be placed.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// Day names as written, Sunday first: the Israeli week.
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const MINUTES_PER_DAY: u16 = 24 * 60;

/// One span of a day, in minutes after local midnight: open at `open`, closed from `close`
/// (1440 is the end of the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Span {
    open: u16,
    close: u16,
}

/// When a business is open, per day of the week. Written as text like
/// `sun-thu 09:00-18:00, fri 09:00-13:00`: entries of a day (`sun`) or a run of days (`sun-thu`,
/// which may wrap past Saturday) and a span of that day (`24:00` ends it); a day may have several
/// spans, and spans that touch or overlap are joined. `always` is open at every moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpeningHours {
    /// Indexed by days from Sunday; each day's spans sorted, apart and non-empty.
    days: [Vec<Span>; 7],
}

/// Why opening hours' text does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpeningHoursError {
    #[error("no opening hours given; write e.g. \"sun-thu 09:00-18:00\", or \"always\"")]
    Empty,
    #[error(
        "empty entry in the opening hours; separate entries like \"sun-thu 09:00-18:00\" by commas"
    )]
    EmptyEntry,
    #[error("{0:?} is not days and hours, e.g. \"sun-thu 09:00-18:00\"")]
    NotAnEntry(String),
    #[error("{0:?} is not a day; days are sun, mon, tue, wed, thu, fri and sat")]
    UnknownDay(String),
    #[error("{0:?} is not a time of day; write HH:MM from 00:00 to 24:00")]
    BadTime(String),
    #[error(
        "{0:?} closes before it opens; hours past midnight are written as two entries, e.g. \"thu 20:00-24:00, fri 00:00-02:00\""
    )]
    ClosesBeforeOpening(String),
}

impl OpeningHours {
    /// Open at every moment.
    pub fn always() -> Self {
        Self {
            days: std::array::from_fn(|_| {
                vec![Span {
                    open: 0,
                    close: MINUTES_PER_DAY,
                }]
            }),
        }
    }

    pub fn is_always(&self) -> bool {
        *self == Self::always()
    }

    /// The first moment at or after `at` when the business is open in Israel: `at` itself while it
    /// is open. A span whose opening falls in the hour skipped when summer time starts opens when
    /// the clock reaches it on the new time; a repeated hour counts once, its first time.
    /// `None` only for hours with no span at all, which no text parses to.
    pub fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        let zone = crate::clock::israel();
        let mut day = at.to_zoned_datetime(zone.clone()).date();
        // Today and the week after it: the same weekday a week on is the latest a span can start.
        for _ in 0..8 {
            let spans = &self.days[usize::try_from(day.weekday().to_sunday_zero_offset()).ok()?];
            for span in spans {
                let open = instant(day, span.open, &zone)?;
                let close = instant(day, span.close, &zone)?;
                if at < close {
                    return Some(open.max(at));
                }
            }
            day = day.tomorrow().ok()?;
        }
        None
    }

    /// Adds `span` to `day`, joining it with spans it touches or overlaps.
    fn add(&mut self, day: usize, span: Span) {
        let spans = &mut self.days[day];
        spans.push(span);
        spans.sort();
        let mut joined: Vec<Span> = Vec::with_capacity(spans.len());
        for span in spans.drain(..) {
            match joined.last_mut() {
                Some(last) if span.open <= last.close => last.close = last.close.max(span.close),
                _ => joined.push(span),
            }
        }
        *spans = joined;
    }
}

impl Default for OpeningHours {
    /// Sunday to Thursday, 09:00 to 18:00.
    fn default() -> Self {
        let mut hours = Self {
            days: Default::default(),
        };
        for day in 0..5 {
            hours.add(
                day,
                Span {
                    open: 9 * 60,
                    close: 18 * 60,
                },
            );
        }
        hours
    }
}

/// `minutes` after the start of `day` on the local clock (1440: the next day's start), as an
/// instant; a local time that does not exist or repeats resolves as [`OpeningHours::next_open`]
/// says.
fn instant(day: Date, minutes: u16, zone: &TimeZone) -> Option<Timestamp> {
    let (day, minutes) = if minutes >= MINUTES_PER_DAY {
        (day.tomorrow().ok()?, minutes - MINUTES_PER_DAY)
    } else {
        (day, minutes)
    };
    let hour = i8::try_from(minutes / 60).ok()?;
    let minute = i8::try_from(minutes % 60).ok()?;
    let local = day.at(hour, minute, 0, 0);
    Some(local.to_zoned_datetime(zone.clone()).ok()?.timestamp())
}

fn parse_day(text: &str) -> Result<usize, OpeningHoursError> {
    DAY_NAMES
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text.trim()))
        .ok_or_else(|| OpeningHoursError::UnknownDay(text.trim().to_string()))
}

/// `HH:MM`, 00:00 to 24:00, in minutes.
fn parse_time(text: &str) -> Result<u16, OpeningHoursError> {
    let bad = || OpeningHoursError::BadTime(text.trim().to_string());
    let (hours, minutes) = text.trim().split_once(':').ok_or_else(bad)?;
    if hours.is_empty() || hours.len() > 2 || minutes.len() != 2 {
        return Err(bad());
    }
    let hours: u16 = hours.parse().map_err(|_| bad())?;
    let minutes: u16 = minutes.parse().map_err(|_| bad())?;
    let total = hours * 60 + minutes;
    if minutes >= 60 || total > MINUTES_PER_DAY {
        return Err(bad());
    }
    Ok(total)
}

/// The days of `sun`, or of a run like `sun-thu` (wrapping past Saturday).
fn parse_days(text: &str) -> Result<Vec<usize>, OpeningHoursError> {
    let (first, last) = match text.split_once('-') {
        Some((first, last)) => (parse_day(first)?, parse_day(last)?),
        None => {
            let day = parse_day(text)?;
            (day, day)
        }
    };
    let count = (last + 7 - first) % 7 + 1;
    Ok((0..count).map(|n| (first + n) % 7).collect())
}

impl FromStr for OpeningHours {
    type Err = OpeningHoursError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim().eq_ignore_ascii_case("always") {
            return Ok(Self::always());
        }
        if text.trim().is_empty() {
            return Err(OpeningHoursError::Empty);
        }
        let mut hours = Self {
            days: Default::default(),
        };
        for entry in text.split(',') {
            let entry = entry.trim();
            if entry.is_empty() {
                return Err(OpeningHoursError::EmptyEntry);
            }
            let mut words = entry.split_whitespace();
            let (Some(days), Some(span), None) = (words.next(), words.next(), words.next()) else {
                return Err(OpeningHoursError::NotAnEntry(entry.to_string()));
            };
            let days = parse_days(days)?;
            let Some((open, close)) = span.split_once('-') else {
                return Err(OpeningHoursError::NotAnEntry(entry.to_string()));
            };
            let span = Span {
                open: parse_time(open)?,
                close: parse_time(close)?,
            };
            if span.close <= span.open {
                return Err(OpeningHoursError::ClosesBeforeOpening(entry.to_string()));
            }
            for day in days {
                hours.add(day, span);
            }
        }
        Ok(hours)
    }
}

fn write_time(f: &mut fmt::Formatter<'_>, minutes: u16) -> fmt::Result {
    write!(f, "{:02}:{:02}", minutes / 60, minutes % 60)
}

impl fmt::Display for OpeningHours {
    /// The text form: `always`, or each span with each run of days (Sunday first) that has it, in
    /// week order. Parsing it gives the same hours back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_always() {
            return f.write_str("always");
        }
        // (first day, last day, span) of every run of days sharing a span.
        let mut entries: Vec<(usize, usize, Span)> = Vec::new();
        for (day, spans) in self.days.iter().enumerate() {
            for span in spans {
                let continues = day > 0 && self.days[day - 1].contains(span);
                if !continues {
                    let mut last = day;
                    while last + 1 < 7 && self.days[last + 1].contains(span) {
                        last += 1;
                    }
                    entries.push((day, last, *span));
                }
            }
        }
        entries.sort_by_key(|(first, _, span)| (*first, *span));
        for (n, (first, last, span)) in entries.into_iter().enumerate() {
            if n > 0 {
                f.write_str(", ")?;
            }
            f.write_str(DAY_NAMES[first])?;
            if last > first {
                write!(f, "-{}", DAY_NAMES[last])?;
            }
            f.write_str(" ")?;
            write_time(f, span.open)?;
            f.write_str("-")?;
            write_time(f, span.close)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn next(hours: &OpeningHours, at: &str) -> String {
        hours.next_open(utc(at)).unwrap().to_string()
    }

    #[test]
    fn the_default_is_sunday_to_thursday_nine_to_six() {
        let hours = OpeningHours::default();
        assert_eq!(hours.to_string(), "sun-thu 09:00-18:00");
        assert_eq!("sun-thu 09:00-18:00".parse::<OpeningHours>(), Ok(hours));
    }

    #[test]
    fn text_round_trips_in_week_order_with_split_and_joined_spans() {
        let hours: OpeningHours = " Fri 09:00-13:00 , sun-thu 09:00-18:00".parse().unwrap();
        assert_eq!(hours.to_string(), "sun-thu 09:00-18:00, fri 09:00-13:00");
        assert_eq!(hours.to_string().parse::<OpeningHours>(), Ok(hours));

        let split: OpeningHours = "sun-thu 08:00-12:00, sun-thu 16:00-19:00, tue 11:00-17:00"
            .parse()
            .unwrap();
        assert_eq!(
            split.to_string(),
            "sun-mon 08:00-12:00, sun-mon 16:00-19:00, tue 08:00-19:00, wed-thu 08:00-12:00, wed-thu 16:00-19:00"
        );
        assert_eq!(split.to_string().parse::<OpeningHours>(), Ok(split));

        let wrapping: OpeningHours = "fri-sun 10:00-24:00".parse().unwrap();
        assert_eq!(wrapping.to_string(), "sun 10:00-24:00, fri-sat 10:00-24:00");
        assert_eq!(wrapping.to_string().parse::<OpeningHours>(), Ok(wrapping));

        assert_eq!("ALWAYS".parse::<OpeningHours>(), Ok(OpeningHours::always()));
        assert_eq!(
            "sun-sat 00:00-12:00, sun-sat 12:00-24:00".parse::<OpeningHours>(),
            Ok(OpeningHours::always())
        );
        assert_eq!(OpeningHours::always().to_string(), "always");
    }

    #[test]
    fn each_kind_of_mistake_is_refused_with_a_reason() {
        let parse = |text: &str| text.parse::<OpeningHours>().unwrap_err();
        assert_eq!(parse(" "), OpeningHoursError::Empty);
        assert_eq!(parse("sun 09:00-10:00,"), OpeningHoursError::EmptyEntry);
        assert_eq!(parse("sun"), OpeningHoursError::NotAnEntry("sun".into()));
        assert_eq!(
            parse("sun 09:00 18:00"),
            OpeningHoursError::NotAnEntry("sun 09:00 18:00".into())
        );
        assert_eq!(
            parse("sunday 09:00-18:00"),
            OpeningHoursError::UnknownDay("sunday".into())
        );
        assert_eq!(
            parse("sun-xyz 09:00-18:00"),
            OpeningHoursError::UnknownDay("xyz".into())
        );
        assert_eq!(parse("sun 9-18"), OpeningHoursError::BadTime("9".into()));
        assert_eq!(
            parse("sun 09:00-24:01"),
            OpeningHoursError::BadTime("24:01".into())
        );
        assert_eq!(
            parse("sun 09:60-10:00"),
            OpeningHoursError::BadTime("09:60".into())
        );
        assert_eq!(
            parse("thu 20:00-02:00"),
            OpeningHoursError::ClosesBeforeOpening("thu 20:00-02:00".into())
        );
        assert!(parse("thu 20:00-02:00").to_string().contains("two entries"));
    }

    #[test]
    fn inside_opening_hours_is_now() {
        let hours = OpeningHours::default();
        // Monday 2025-06-16 12:00 in Israel (UTC+3).
        assert_eq!(next(&hours, "2025-06-16T09:00:00Z"), "2025-06-16T09:00:00Z");
        // The opening minute itself is open; the closing one is not.
        assert_eq!(next(&hours, "2025-06-16T06:00:00Z"), "2025-06-16T06:00:00Z");
        assert_eq!(next(&hours, "2025-06-16T15:00:00Z"), "2025-06-17T06:00:00Z");
        let always = OpeningHours::always();
        assert_eq!(
            next(&always, "2025-06-21T01:23:45Z"),
            "2025-06-21T01:23:45Z"
        );
    }

    #[test]
    fn a_thursday_evening_waits_for_sunday_morning() {
        let hours = OpeningHours::default();
        // Thursday 2025-06-19 20:00 in Israel → Sunday 2025-06-22 09:00 (06:00 UTC).
        assert_eq!(next(&hours, "2025-06-19T17:00:00Z"), "2025-06-22T06:00:00Z");
        // Early on a weekday morning → that morning.
        assert_eq!(next(&hours, "2025-06-17T02:00:00Z"), "2025-06-17T06:00:00Z");
        // With Friday mornings open, Thursday evening → Friday 09:00.
        let with_friday: OpeningHours = "sun-thu 09:00-18:00, fri 09:00-13:00".parse().unwrap();
        assert_eq!(
            next(&with_friday, "2025-06-19T17:00:00Z"),
            "2025-06-20T06:00:00Z"
        );
        // A Saturday with only Saturday open → next Saturday.
        let saturdays: OpeningHours = "sat 10:00-11:00".parse().unwrap();
        assert_eq!(
            next(&saturdays, "2025-06-21T08:30:00Z"),
            "2025-06-28T07:00:00Z"
        );
    }

    #[test]
    fn summer_time_weeks_keep_the_local_opening_time() {
        let hours = OpeningHours::default();
        // Summer time starts on Friday 2025-03-28: Thursday 20:00 winter time (UTC+2) → Sunday
        // 09:00 summer time (UTC+3).
        assert_eq!(next(&hours, "2025-03-27T18:00:00Z"), "2025-03-30T06:00:00Z");
        // It ends on Sunday 2025-10-26: Thursday 20:00 summer time → Sunday 09:00 winter time.
        assert_eq!(next(&hours, "2025-10-23T17:00:00Z"), "2025-10-26T07:00:00Z");
        // A span opening in the skipped hour (02:00-03:00 on 2025-03-28) opens at 03:30 summer time.
        let night: OpeningHours = "fri 02:30-04:00".parse().unwrap();
        assert_eq!(next(&night, "2025-03-27T20:00:00Z"), "2025-03-28T00:30:00Z");
        // The repeated hour of 2025-10-26 (01:00-02:00 twice) opens the first time round.
        let repeated: OpeningHours = "sun 01:30-03:00".parse().unwrap();
        assert_eq!(
            next(&repeated, "2025-10-25T12:00:00Z"),
            "2025-10-25T22:30:00Z"
        );
    }

    #[test]
    fn a_span_ending_at_midnight_is_open_until_then() {
        let late: OpeningHours = "thu 20:00-24:00, fri 00:00-02:00".parse().unwrap();
        // Thursday 23:30 in Israel → now; Friday 01:00 → now; Friday 03:00 → next Thursday 20:00.
        assert_eq!(next(&late, "2025-06-19T20:30:00Z"), "2025-06-19T20:30:00Z");
        assert_eq!(next(&late, "2025-06-19T22:00:00Z"), "2025-06-19T22:00:00Z");
        assert_eq!(next(&late, "2025-06-20T00:00:00Z"), "2025-06-26T17:00:00Z");
    }
}
