//! How hard the client tries within one call, and how long a server asks us to wait (Retry-After,
//! read here for Twilio and for the CRM webhook alike).

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use jiff::Timestamp;
use jiff::fmt::rfc2822::DateTimeParser;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// The longest wait a Retry-After is read as. Every caller caps waits lower still; this bound only
/// keeps an absurd value (a date centuries away, a 20-digit number) from meaning anything.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3_600);

/// How hard to try. Attempt `n` (from 1) that fails retryably waits `base_delay * 2^(n-1)`, capped at
/// `max_delay`, with jitter down to half; a Retry-After from Twilio replaces that wait, but one longer than
/// `max_retry_after` ends the retries instead of stalling a live call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        let exponential = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let capped = exponential.min(self.max_delay);
        // Jitter in [capped/2, capped], so concurrent calls do not retry in lockstep.
        capped / 2 + capped.mul_f64(random_fraction() / 2.0)
    }
}

/// The Retry-After of an answer, measured from now; `None` when absent or unreadable.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, Timestamp::now())
}

/// A Retry-After value (RFC 9110 section 10.2.3): delay-seconds such as `120`, or an IMF-fixdate such
/// as `Wed, 21 Oct 2026 07:28:00 GMT` (read by an RFC 2822 parser, which also takes the numeric
/// offsets some servers send), relative to `now`. A date already past means no wait;
/// anything longer than [`MAX_RETRY_AFTER`] is cut to it. Anything else (a negative or fractional
/// number, another date format, garbage) is `None`, and the caller falls back to its own backoff.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    static DATES: DateTimeParser = DateTimeParser::new();
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u64 is still "a very long time".
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = DATES.parse_timestamp(value).ok()?;
        let millis = at.as_millisecond().saturating_sub(now.as_millisecond());
        Duration::from_millis(u64::try_from(millis).unwrap_or(0))
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// A fraction in [0, 1) for jitter; the standard library's randomly keyed hasher is enough for that.
fn random_fraction() -> f64 {
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}
