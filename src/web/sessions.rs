//! Signed-in sessions, kept in this process's memory: a restart signs everyone out, and with several
//! instances behind a balancer a session is known only to the instance that made it (use sticky
//! sessions, or sign in again).
//!
//! The browser holds only a random token in an `HttpOnly`, `SameSite=Lax` cookie (`Secure`, and
//! named with the `__Host-` prefix, when the public URL is https).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

const PLAIN_COOKIE: &str = "sicha_session";
/// Browsers accept a `__Host-` cookie only when Secure, for the whole host, with no Domain.
const SECURE_COOKIE: &str = "__Host-sicha_session";

struct Session {
    user: String,
    expires_at: Instant,
}

pub struct Sessions {
    ttl: Duration,
    secure: bool,
    live: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    pub fn new(ttl: Duration, secure: bool) -> Sessions {
        Sessions {
            ttl,
            secure,
            live: Mutex::new(HashMap::new()),
        }
    }

    fn cookie_name(&self) -> &'static str {
        if self.secure {
            SECURE_COOKIE
        } else {
            PLAIN_COOKIE
        }
    }

    /// Starts a session for `user`; the answer is the `Set-Cookie` value carrying its token.
    pub fn start(&self, user: &str) -> String {
        // Two v4 UUIDs: 244 bits from the system's random source.
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let now = Instant::now();
        let mut live = self.live.lock().expect("sessions lock");
        live.retain(|_, session| session.expires_at > now);
        live.insert(
            token.clone(),
            Session {
                user: user.to_string(),
                expires_at: now + self.ttl,
            },
        );
        self.cookie(&token, self.ttl.as_secs())
    }

    /// The user of the live session named by the request's cookie.
    pub fn user(&self, headers: &HeaderMap) -> Option<String> {
        let token = self.token(headers)?;
        let live = self.live.lock().expect("sessions lock");
        live.get(token)
            .filter(|session| session.expires_at > Instant::now())
            .map(|session| session.user.clone())
    }

    /// Ends the request's session, if any; the answer is the `Set-Cookie` value that clears it.
    pub fn end(&self, headers: &HeaderMap) -> String {
        if let Some(token) = self.token(headers) {
            self.live.lock().expect("sessions lock").remove(token);
        }
        self.cookie("", 0)
    }

    fn token<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        let name = self.cookie_name();
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, token)| token)
            .filter(|token| !token.is_empty())
    }

    fn cookie(&self, token: &str, max_age_secs: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}",
            self.cookie_name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn request_with(cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let pair = cookie.split(';').next().unwrap();
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("other=1; {pair}")).unwrap(),
        );
        headers
    }

    #[test]
    fn a_started_session_is_found_by_its_cookie_until_it_ends() {
        let sessions = Sessions::new(Duration::from_secs(60), false);
        let cookie = sessions.start("admin");
        assert!(cookie.starts_with("sicha_session="));
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
        assert!(!cookie.contains("Secure"));
        let headers = request_with(&cookie);
        assert_eq!(sessions.user(&headers).as_deref(), Some("admin"));
        let cleared = sessions.end(&headers);
        assert!(cleared.contains("Max-Age=0"));
        assert_eq!(sessions.user(&headers), None);
    }

    #[test]
    fn secure_sessions_use_a_host_only_secure_cookie() {
        let sessions = Sessions::new(Duration::from_secs(60), true);
        let cookie = sessions.start("admin");
        assert!(cookie.starts_with("__Host-sicha_session=") && cookie.ends_with("; Secure"));
        assert_eq!(
            sessions.user(&request_with(&cookie)).as_deref(),
            Some("admin")
        );
    }

    #[test]
    fn expired_and_unknown_tokens_are_nobody() {
        let sessions = Sessions::new(Duration::ZERO, false);
        let cookie = sessions.start("admin");
        assert_eq!(sessions.user(&request_with(&cookie)), None);
        assert_eq!(sessions.user(&request_with("sicha_session=made-up")), None);
        assert_eq!(sessions.user(&HeaderMap::new()), None);
    }
}
