//! A business's permission for the agent to text callers (the `send_sms` tool), and the check of
//! each text against it.
//!
//! Off unless the business turns it on: the caller ID can be spoofed and the text is written by the
//! model from the caller's words, so an agent that may text anything to anyone is a way to send
//! phishing from the business's number. On, the agent may send a few texts per call, and a text may
//! hold a link only when the link starts with one the business listed.

use serde::{Deserialize, Serialize};

/// The most texts per call a business may allow.
pub const MAX_SMS_PER_CALL_LIMIT: u32 = 5;
/// The longest text the agent may send, in characters (a few SMS segments of Hebrew).
pub const MAX_SMS_CHARS: usize = 480;

/// What the agent may text a caller during one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsPolicy {
    /// Texts per call, 1 to [`MAX_SMS_PER_CALL_LIMIT`].
    pub max_per_call: u32,
    /// Links a text may hold: each a prefix such as `https://barber.example/book`. No entry, no
    /// links at all.
    #[serde(default)]
    pub allowed_links: Vec<String>,
}

/// Why an SMS policy, or a text under it, is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsPolicyError {
    #[error("texts per call must be 1 to {MAX_SMS_PER_CALL_LIMIT}, not {0}")]
    MaxPerCall(u32),
    #[error("{0:?} is not an allowed link: write it as https://host/path")]
    BadAllowedLink(String),
    #[error("the text is empty")]
    EmptyText,
    #[error("the text is longer than {MAX_SMS_CHARS} characters")]
    TooLong,
    #[error("the text holds a link that is not allowed: {0}")]
    LinkNotAllowed(String),
}

impl SmsPolicy {
    /// A checked policy.
    pub fn new(max_per_call: u32, allowed_links: Vec<String>) -> Result<Self, SmsPolicyError> {
        let policy = Self {
            max_per_call,
            allowed_links,
        };
        policy.check()?;
        Ok(policy)
    }

    fn check(&self) -> Result<(), SmsPolicyError> {
        if !(1..=MAX_SMS_PER_CALL_LIMIT).contains(&self.max_per_call) {
            return Err(SmsPolicyError::MaxPerCall(self.max_per_call));
        }
        for link in &self.allowed_links {
            let parsed =
                url::Url::parse(link).map_err(|_| SmsPolicyError::BadAllowedLink(link.clone()))?;
            if parsed.scheme() != "https" || parsed.host_str().is_none() {
                return Err(SmsPolicyError::BadAllowedLink(link.clone()));
            }
        }
        Ok(())
    }

    /// The text as it will be sent (trimmed), or why it may not be.
    pub fn check_text(&self, text: &str) -> Result<String, SmsPolicyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SmsPolicyError::EmptyText);
        }
        if text.chars().count() > MAX_SMS_CHARS {
            return Err(SmsPolicyError::TooLong);
        }
        if let Some(link) = links_in(text).find(|link| !self.allows(link)) {
            return Err(SmsPolicyError::LinkNotAllowed(link.to_string()));
        }
        Ok(text.to_string())
    }

    /// Whether `link` is under one of the allowed links: the same scheme, host and port, and a path
    /// that starts with the allowed one (so `https://shop.example` does not let
    /// `https://shop.example.evil.example` through).
    fn allows(&self, link: &str) -> bool {
        let with_scheme = if link.contains("://") {
            link.to_string()
        } else {
            format!("https://{link}")
        };
        let Ok(link) = url::Url::parse(&with_scheme) else {
            return false;
        };
        self.allowed_links.iter().any(|allowed| {
            let Ok(allowed) = url::Url::parse(allowed) else {
                return false;
            };
            link.scheme() == allowed.scheme()
                && link.host_str() == allowed.host_str()
                && link.port_or_known_default() == allowed.port_or_known_default()
                && link.path().starts_with(allowed.path())
        })
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a policy always serialises")
    }

    /// Reads the stored form, checked.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let policy: Self = serde_json::from_str(text).map_err(|e| e.to_string())?;
        policy.check().map_err(|e| e.to_string())?;
        Ok(policy)
    }
}

/// The words of `text` that read as links: a scheme (`http://`, `sms:` is not one), `www.`, or a
/// host name with a dot and a letter top-level domain (`example.co.il/x`). Punctuation around a
/// word is not part of it.
fn links_in(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace()
        .map(|word| {
            word.trim_matches(|c: char| {
                !c.is_alphanumeric() && !matches!(c, '/' | '_' | '-' | '~' | '=' | '#' | '%')
            })
        })
        .filter(|word| looks_like_link(word))
}

fn looks_like_link(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    if lower.contains("://") || lower.starts_with("www.") {
        return true;
    }
    let host = lower.split(['/', '?', '#']).next().unwrap_or_default();
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(links: &[&str]) -> SmsPolicy {
        SmsPolicy::new(1, links.iter().map(|l| l.to_string()).collect()).unwrap()
    }

    #[test]
    fn a_policy_needs_a_sane_count_and_https_links() {
        assert_eq!(
            SmsPolicy::new(0, vec![]),
            Err(SmsPolicyError::MaxPerCall(0))
        );
        assert_eq!(
            SmsPolicy::new(6, vec![]),
            Err(SmsPolicyError::MaxPerCall(6))
        );
        for bad in ["barber.example", "http://barber.example/", "https://"] {
            assert!(
                matches!(
                    SmsPolicy::new(1, vec![bad.into()]),
                    Err(SmsPolicyError::BadAllowedLink(_))
                ),
                "{bad}"
            );
        }
        let good = policy(&["https://barber.example/book"]);
        assert_eq!(SmsPolicy::from_json(&good.to_json()), Ok(good));
    }

    #[test]
    fn texts_without_links_pass_trimmed() {
        let plain = policy(&[]);
        assert_eq!(
            plain.check_text("  הכתובת: הרצל 1, תל אביב. נתראה!  "),
            Ok("הכתובת: הרצל 1, תל אביב. נתראה!".into())
        );
        assert_eq!(
            plain.check_text("התור ב-16:30, טל׳ 03-1234567"),
            Ok("התור ב-16:30, טל׳ 03-1234567".into())
        );
        assert_eq!(plain.check_text("   "), Err(SmsPolicyError::EmptyText));
        assert_eq!(
            plain.check_text(&"א".repeat(MAX_SMS_CHARS + 1)),
            Err(SmsPolicyError::TooLong)
        );
    }

    #[test]
    fn only_listed_links_pass_in_any_spelling() {
        let listed = policy(&["https://barber.example/book"]);
        for good in [
            "לקביעת תור: https://barber.example/book/123",
            "לקביעת תור: (https://BARBER.example/book).",
            "barber.example/book?d=1",
        ] {
            assert!(listed.check_text(good).is_ok(), "{good}");
        }
        for bad in [
            "לחצו כאן: https://evil.example/login",
            "לחצו: http://barber.example/book",
            "www.evil.example",
            "evil.co.il/pay",
            "https://barber.example.evil.example/book",
            "https://barber.example/other",
            "https://user@evil.example/book",
        ] {
            assert!(
                matches!(
                    listed.check_text(bad),
                    Err(SmsPolicyError::LinkNotAllowed(_))
                ),
                "{bad}"
            );
        }
        let whole_site = policy(&["https://barber.example"]);
        assert!(whole_site.check_text("https://barber.example/any").is_ok());
        assert!(
            whole_site
                .check_text("https://barber.example.evil.example/")
                .is_err()
        );
        assert!(matches!(
            policy(&[]).check_text("https://barber.example/book"),
            Err(SmsPolicyError::LinkNotAllowed(_))
        ));
    }
}
