//! Signed-in sessions, kept in the database: a restart keeps them, every instance sharing the
//! database accepts them, and signing out on one instance signs out on all.
//!
//! The browser holds a random 256-bit token in an `HttpOnly`, `SameSite=Lax` cookie (`Secure`, and
//! named with the `__Host-` prefix, when the public URL is https); the database holds only its
//! SHA-256. A session ends after its lifetime however busy, or sooner when unused for [`IDLE`].

use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::store::{Store, StoreError};

const PLAIN_COOKIE: &str = "sicha_session";
/// Browsers accept a `__Host-` cookie only when Secure, for the whole host, with no Domain.
const SECURE_COOKIE: &str = "__Host-sicha_session";

/// A session unused for this long is over, even before its lifetime ends.
pub const IDLE: Duration = Duration::from_secs(2 * 60 * 60);
/// Use is written back at most this often per session, so page views and a player's many range
/// requests do not each cost a database write; the idle limit is that much coarser.
const TOUCH_EVERY_MS: i64 = 60_000;
/// The token's length in bytes (256 bits), and as unpadded base64url text.
const TOKEN_BYTES: usize = 32;
const TOKEN_CHARS: usize = 43;

/// Why a session could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the system's random source failed")]
    Random,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Sessions {
    store: Store,
    lifetime: Duration,
    cookie: SessionCookie,
}

impl Sessions {
    pub fn new(store: Store, lifetime: Duration, secure: bool) -> Sessions {
        Sessions {
            store,
            lifetime,
            cookie: SessionCookie { secure },
        }
    }

    /// Starts a session for `user`; the answer is the `Set-Cookie` value carrying its token.
    pub async fn start(&self, user: &str) -> Result<String, SessionError> {
        let token = new_token()?;
        let now = now_ms();
        let expires = now.saturating_add(self.lifetime.as_millis() as i64);
        self.store
            .insert_web_session(&token_hash(&token), user, now, expires)
            .await?;
        Ok(self.cookie.set(&token, self.lifetime.as_secs()))
    }

    /// The user of the live session named by the request's cookie, if any.
    pub async fn user(&self, headers: &HeaderMap) -> Result<Option<String>, StoreError> {
        let Some(token) = self.cookie.token(headers) else {
            return Ok(None);
        };
        let hash = token_hash(token);
        let now = now_ms();
        let Some(session) = self
            .store
            .live_web_session(&hash, now, IDLE.as_millis() as i64)
            .await?
        else {
            return Ok(None);
        };
        if now - session.last_seen_ms >= TOUCH_EVERY_MS {
            self.store.touch_web_session(&hash, now).await?;
        }
        Ok(Some(session.user))
    }

    /// Ends the request's session, if any, for every instance; the answer is the `Set-Cookie`
    /// value that clears the cookie.
    pub async fn end(&self, headers: &HeaderMap) -> Result<String, StoreError> {
        if let Some(token) = self.cookie.token(headers) {
            self.store.delete_web_session(&token_hash(token)).await?;
        }
        Ok(self.cookie.set("", 0))
    }
}

/// The session cookie: its name, reading the token from a request, and the `Set-Cookie` value.
struct SessionCookie {
    secure: bool,
}

impl SessionCookie {
    fn name(&self) -> &'static str {
        if self.secure {
            SECURE_COOKIE
        } else {
            PLAIN_COOKIE
        }
    }

    /// The request's token, if it has the shape of one: anything else is nobody, without asking
    /// the database.
    fn token<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        let name = self.name();
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, token)| token)
            .filter(|token| {
                token.len() == TOKEN_CHARS
                    && token
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    }

    fn set(&self, token: &str, max_age_secs: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}",
            self.name()
        )
    }
}

/// Forgets sessions past their end or idle limit: run now and then by the server's pruner.
pub async fn prune(store: &Store) -> Result<u64, StoreError> {
    store
        .prune_web_sessions(now_ms(), IDLE.as_millis() as i64)
        .await
}

/// 256 bits from the operating system's random source, as base64url text.
fn new_token() -> Result<String, SessionError> {
    // The password hasher's salt generator reads the OS random source; two salts make 32 bytes.
    let mut bytes = [0u8; TOKEN_BYTES];
    for half in bytes.chunks_mut(TOKEN_BYTES / 2) {
        let salt = argon2::password_hash::try_generate_salt().map_err(|_| SessionError::Random)?;
        half.copy_from_slice(&salt[..half.len()]);
    }
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database keeps of a token: its SHA-256 in hex.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn cookie(secure: bool) -> SessionCookie {
        SessionCookie { secure }
    }

    fn request_with(cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(cookie).unwrap());
        headers
    }

    #[test]
    fn tokens_are_256_random_bits_in_cookie_safe_text() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), TOKEN_CHARS);
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), TOKEN_BYTES);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn only_well_formed_tokens_are_read_from_the_cookie() {
        let sessions = cookie(false);
        let token = new_token().unwrap();
        let headers = request_with(&format!("other=1; sicha_session={token}"));
        assert_eq!(sessions.token(&headers), Some(token.as_str()));
        for bad in [
            "sicha_session=made-up",
            "sicha_session=",
            "__Host-sicha_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(sessions.token(&request_with(bad)), None, "{bad}");
        }
        let quoted = format!("sicha_session={}\"", &token[..TOKEN_CHARS - 1]);
        assert_eq!(sessions.token(&request_with(&quoted)), None);
        assert_eq!(sessions.token(&HeaderMap::new()), None);
    }

    #[test]
    fn secure_sessions_use_a_host_only_secure_cookie() {
        let secure = cookie(true).set("t", 60);
        assert!(secure.starts_with("__Host-sicha_session=t;") && secure.ends_with("; Secure"));
        let plain = cookie(false).set("", 0);
        assert!(plain.starts_with("sicha_session=;") && plain.contains("Max-Age=0"));
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax"));
        assert!(!plain.contains("Secure"));
    }
}
