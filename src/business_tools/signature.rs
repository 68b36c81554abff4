//! The per-business secret that signs tool requests, and the signature itself: the receiver
//! recomputes HMAC-SHA256 of the raw body keyed with the secret's text and compares.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header carrying `sha256=<hex HMAC-SHA256(secret, body)>`.
pub const SIGNATURE_HEADER: &str = "X-Sicha-Signature";

/// Random bytes in a secret (shown as twice as many hex digits).
const SECRET_BYTES: usize = 32;

/// A business's tools secret: 64 lowercase hex digits. The HMAC key is this text itself (its ASCII
/// bytes), so a receiver uses the string it was shown as is. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ToolsSecret(String);

/// Stored text that is not a tools secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a tools secret is {} lowercase hex digits", SECRET_BYTES * 2)]
pub struct InvalidToolsSecret;

impl ToolsSecret {
    /// A new secret from the operating system's random source.
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        // Failing to read the system's random source leaves nothing safe to sign with.
        getrandom::fill(&mut bytes).expect("the operating system's random source is readable");
        Self(hex::encode(bytes))
    }

    /// A secret as stored.
    pub fn parse(text: &str) -> Result<Self, InvalidToolsSecret> {
        let well_formed = text.len() == SECRET_BYTES * 2
            && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if well_formed {
            Ok(Self(text.to_string()))
        } else {
            Err(InvalidToolsSecret)
        }
    }

    /// The secret's text, for the database and for showing to the business on request.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The [`SIGNATURE_HEADER`] value for `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for ToolsSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ToolsSecret(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_fresh_hex_and_parse_back() {
        let one = ToolsSecret::generate();
        let two = ToolsSecret::generate();
        assert_ne!(one, two);
        assert_eq!(ToolsSecret::parse(one.expose()), Ok(one.clone()));
        assert_eq!(format!("{one:?}"), "ToolsSecret(…)");
        for bad in ["", "abc", &"A".repeat(64), &"0".repeat(63), &"g".repeat(64)] {
            assert_eq!(ToolsSecret::parse(bad), Err(InvalidToolsSecret), "{bad}");
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body_keyed_with_the_secret_text() {
        let secret = ToolsSecret::parse(&"ab".repeat(32)).unwrap();
        // The same HMAC computed independently, e.g. in Python:
        // hmac.new(("ab" * 32).encode(), b'{"tool":"x"}', hashlib.sha256).hexdigest()
        assert_eq!(
            secret.sign(br#"{"tool":"x"}"#),
            "sha256=f4d326baed64a1491f88b28af7d872e55aeb6435ad90ed58d2a81f3f1cc1625d"
        );
    }
}
