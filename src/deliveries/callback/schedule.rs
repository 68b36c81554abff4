//! When a call-back is tried again after an unanswered attempt: after the configured spacing, moved
//! on into the business's opening hours; after the last attempt, never. Pure: the time is given.

use crate::config::CallbackSettings;
use crate::store::businesses::OpeningHours;

/// What follows an unanswered attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAttempt {
    /// The next attempt is due at this epoch-ms time.
    At(i64),
    /// That was the last attempt.
    GiveUp,
}

/// What follows attempt `attempt` (from 1) going unanswered at `now_ms`.
pub fn next_attempt(
    settings: &CallbackSettings,
    hours: &OpeningHours,
    attempt: i64,
    now_ms: i64,
) -> NextAttempt {
    if attempt >= i64::from(settings.attempts) {
        return NextAttempt::GiveUp;
    }
    let spacing = i64::try_from(settings.retry_spacing.as_millis()).unwrap_or(i64::MAX);
    let earliest = now_ms.saturating_add(spacing);
    let at = hours
        .next_open(crate::clock::timestamp(earliest))
        .map_or(earliest, |open| open.as_millisecond());
    NextAttempt::At(at)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn settings(attempts: u32, spacing_secs: u64) -> CallbackSettings {
        CallbackSettings {
            attempts,
            retry_spacing: Duration::from_secs(spacing_secs),
        }
    }

    fn ms(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn unanswered_attempts_are_spaced_then_given_up_after_the_last() {
        let hours = OpeningHours::default();
        let three = settings(3, 1800);
        // Monday 2025-06-16 10:00 in Israel: half an hour later is still open.
        let now = ms("2025-06-16T07:00:00Z");
        assert_eq!(
            next_attempt(&three, &hours, 1, now),
            NextAttempt::At(ms("2025-06-16T07:30:00Z"))
        );
        assert_eq!(
            next_attempt(&three, &hours, 2, now),
            NextAttempt::At(ms("2025-06-16T07:30:00Z"))
        );
        assert_eq!(next_attempt(&three, &hours, 3, now), NextAttempt::GiveUp);
        assert_eq!(next_attempt(&three, &hours, 4, now), NextAttempt::GiveUp);
        assert_eq!(
            next_attempt(&settings(1, 1800), &hours, 1, now),
            NextAttempt::GiveUp
        );
    }

    #[test]
    fn a_retry_past_closing_waits_for_the_next_opening() {
        let hours = OpeningHours::default();
        // Monday 17:45 in Israel + 30 minutes is past 18:00: Tuesday 09:00.
        let now = ms("2025-06-16T14:45:00Z");
        assert_eq!(
            next_attempt(&settings(3, 1800), &hours, 1, now),
            NextAttempt::At(ms("2025-06-17T06:00:00Z"))
        );
        // Thursday 17:45 → Sunday 09:00, across the summer-time end (2025-10-26).
        let thursday = ms("2025-10-23T14:45:00Z");
        assert_eq!(
            next_attempt(&settings(3, 1800), &hours, 2, thursday),
            NextAttempt::At(ms("2025-10-26T07:00:00Z"))
        );
    }

    #[test]
    fn with_no_spacing_and_always_open_the_next_attempt_is_now() {
        let now = ms("2025-06-21T01:00:00Z");
        assert_eq!(
            next_attempt(&settings(2, 0), &OpeningHours::always(), 1, now),
            NextAttempt::At(now)
        );
    }
}
