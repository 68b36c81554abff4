//! Stream tokens: the voice webhook issues one per call and passes it as a TwiML `<Parameter>`; the Media
//! Streams `start` message brings it back in `customParameters`. A token names its CallSid, expires, and
//! carries a random nonce that the store consumes once, so a replayed token is refused even within its
//! lifetime.
//!
//! Layout (URL-safe base64 without padding): version byte, 16-byte nonce, expiry as big-endian i64 epoch
//! ms, the CallSid bytes, and a 32-byte HMAC-SHA256 over a domain label and all of the above. The CallSid is
//! the only variable-length field and sits just before the MAC, so the layout needs no separators.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 16;
const EXPIRY_LEN: usize = 8;
const MAC_LEN: usize = 32;
const FIXED_LEN: usize = 1 + NONCE_LEN + EXPIRY_LEN + MAC_LEN;
/// Keeps the MAC of a stream token distinct from any other use of the same secret.
const MAC_LABEL: &[u8] = b"sicha stream token";
const KEY_LABEL: &[u8] = b"sicha stream token key v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("stream token is malformed")]
    Malformed,
    #[error("stream token signature does not verify")]
    BadSignature,
    #[error("stream token was issued for another call")]
    WrongCall,
    #[error("stream token has expired")]
    Expired,
}

/// What a verified token tells: the nonce to consume once in the store, and when the token lapses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub nonce: String,
    pub expires_at_ms: i64,
}

/// The key that signs and verifies stream tokens. Every instance serving the same number needs the same
/// secret. Never printed.
#[derive(Clone)]
pub struct StreamTokenKey {
    key: [u8; 32],
}

impl fmt::Debug for StreamTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StreamTokenKey(***)")
    }
}

impl StreamTokenKey {
    /// Derives the token key from `secret` (which may also serve elsewhere, such as the auth token).
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
        mac.update(KEY_LABEL);
        Self {
            key: mac.finalize().into_bytes().into(),
        }
    }

    /// A fresh token for `call_sid`, valid until `expires_at_ms` (epoch ms, exclusive).
    pub fn issue(&self, call_sid: &str, expires_at_ms: i64) -> String {
        // A v4 UUID is 122 bits from the operating system's secure generator: plenty for a nonce.
        let nonce = uuid::Uuid::new_v4().into_bytes();
        self.issue_with_nonce(call_sid, expires_at_ms, nonce)
    }

    fn issue_with_nonce(
        &self,
        call_sid: &str,
        expires_at_ms: i64,
        nonce: [u8; NONCE_LEN],
    ) -> String {
        let mut bytes = Vec::with_capacity(FIXED_LEN + call_sid.len());
        bytes.push(VERSION);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&expires_at_ms.to_be_bytes());
        bytes.extend_from_slice(call_sid.as_bytes());
        let tag = self.mac(&bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Checks the MAC first, then the call, then the expiry. The nonce still has to be consumed in the
    /// store; this check alone does not stop a replay.
    pub fn verify(
        &self,
        token: &str,
        call_sid: &str,
        now_ms: i64,
    ) -> Result<VerifiedToken, TokenError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| TokenError::Malformed)?;
        if bytes.len() < FIXED_LEN || bytes[0] != VERSION {
            return Err(TokenError::Malformed);
        }
        let (signed, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        // `verify_slice` compares in constant time.
        self.mac(signed)
            .verify_slice(tag)
            .map_err(|_| TokenError::BadSignature)?;

        let nonce = &signed[1..1 + NONCE_LEN];
        let expiry: [u8; EXPIRY_LEN] = signed[1 + NONCE_LEN..1 + NONCE_LEN + EXPIRY_LEN]
            .try_into()
            .expect("slice has the expiry's length");
        let token_call_sid = &signed[1 + NONCE_LEN + EXPIRY_LEN..];
        if token_call_sid != call_sid.as_bytes() {
            return Err(TokenError::WrongCall);
        }
        let expires_at_ms = i64::from_be_bytes(expiry);
        if now_ms >= expires_at_ms {
            return Err(TokenError::Expired);
        }
        Ok(VerifiedToken {
            nonce: URL_SAFE_NO_PAD.encode(nonce),
            expires_at_ms,
        })
    }

    fn mac(&self, signed: &[u8]) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(MAC_LABEL);
        mac.update(signed);
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALL: &str = "CA0123456789abcdef0123456789abcdef";
    const EXPIRES: i64 = 1_700_000_060_000;

    fn key() -> StreamTokenKey {
        StreamTokenKey::new(b"stream secret for tests")
    }

    fn flip(token: &str, index: usize) -> String {
        let mut bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
        bytes[index] ^= 0x01;
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn round_trip_gives_nonce_and_expiry() {
        let token = key().issue(CALL, EXPIRES);
        let verified = key().verify(&token, CALL, EXPIRES - 60_000).unwrap();
        assert_eq!(verified.expires_at_ms, EXPIRES);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(&verified.nonce).unwrap().len(),
            NONCE_LEN
        );
    }

    #[test]
    fn tokens_are_compact_url_safe_and_unique() {
        let first = key().issue(CALL, EXPIRES);
        let second = key().issue(CALL, EXPIRES);
        assert_ne!(first, second, "each token has its own nonce");
        assert!(first.len() < 200, "{} chars", first.len());
        assert!(
            first
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let nonce_one = key().verify(&first, CALL, 0).unwrap().nonce;
        let nonce_two = key().verify(&second, CALL, 0).unwrap().nonce;
        assert_ne!(nonce_one, nonce_two);
    }

    #[test]
    fn fixed_nonce_gives_a_stable_token() {
        let one = key().issue_with_nonce(CALL, EXPIRES, [7; NONCE_LEN]);
        assert_eq!(one, key().issue_with_nonce(CALL, EXPIRES, [7; NONCE_LEN]));
        let verified = key().verify(&one, CALL, 0).unwrap();
        assert_eq!(verified.nonce, URL_SAFE_NO_PAD.encode([7u8; NONCE_LEN]));
    }

    #[test]
    fn tampering_any_field_breaks_the_signature() {
        let token = key().issue(CALL, EXPIRES);
        let total = URL_SAFE_NO_PAD.decode(&token).unwrap().len();
        let fields = [
            ("nonce", 1),
            ("expiry", 1 + NONCE_LEN + EXPIRY_LEN - 1),
            ("call sid", 1 + NONCE_LEN + EXPIRY_LEN),
            ("mac", total - 1),
        ];
        for (field, index) in fields {
            let tampered = flip(&token, index);
            assert_eq!(
                key().verify(&tampered, CALL, 0),
                Err(TokenError::BadSignature),
                "{field}"
            );
        }
    }

    #[test]
    fn extended_expiry_is_refused_even_for_the_same_call() {
        // Rewriting the expiry to far future must not pass: the MAC covers it.
        let token = key().issue(CALL, EXPIRES);
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[1 + NONCE_LEN..1 + NONCE_LEN + EXPIRY_LEN].copy_from_slice(&i64::MAX.to_be_bytes());
        let rewritten = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(
            key().verify(&rewritten, CALL, EXPIRES + 1),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn wrong_call_is_refused() {
        let token = key().issue(CALL, EXPIRES);
        let other = "CA0123456789abcdef0123456789abcdee";
        assert_eq!(key().verify(&token, other, 0), Err(TokenError::WrongCall));
        assert_eq!(key().verify(&token, "", 0), Err(TokenError::WrongCall));
    }

    #[test]
    fn expiry_is_exclusive() {
        let token = key().issue(CALL, EXPIRES);
        assert!(key().verify(&token, CALL, EXPIRES - 1).is_ok());
        assert_eq!(
            key().verify(&token, CALL, EXPIRES),
            Err(TokenError::Expired)
        );
        assert_eq!(
            key().verify(&token, CALL, EXPIRES + 1),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_token_from_another_key_is_refused() {
        let token = StreamTokenKey::new(b"another secret").issue(CALL, EXPIRES);
        assert_eq!(key().verify(&token, CALL, 0), Err(TokenError::BadSignature));
    }

    #[test]
    fn malformed_tokens_are_told_apart_from_forged_ones() {
        assert_eq!(key().verify("", CALL, 0), Err(TokenError::Malformed));
        assert_eq!(
            key().verify("not base64 !!", CALL, 0),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            key().verify(&URL_SAFE_NO_PAD.encode([1u8; 20]), CALL, 0),
            Err(TokenError::Malformed)
        );
        let token = key().issue(CALL, EXPIRES);
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[0] = 2;
        assert_eq!(
            key().verify(&URL_SAFE_NO_PAD.encode(bytes), CALL, 0),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            key().verify(&format!("{token}="), CALL, 0),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn key_debug_hides_the_secret() {
        assert_eq!(format!("{:?}", key()), "StreamTokenKey(***)");
    }
}
