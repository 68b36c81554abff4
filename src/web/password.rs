//! Password hashing for the web sign-in: argon2id PHC strings.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

/// Shorter passwords are refused when hashing.
pub const MIN_LENGTH: usize = 8;

#[derive(Debug, thiserror::Error)]
#[error("hashing the password failed: {0}")]
pub struct HashError(String);

/// A PHC string (`$argon2id$v=19$…`) of `password` with a fresh random salt and the default cost.
pub fn hash(password: &str) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| HashError(error.to_string()))
}

/// Whether `password` matches the PHC string `phc`, at the cost the string names. A string that
/// does not parse matches nothing. Slow by design: call it off the async threads.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_garbled_hash_matches_nothing() {
        assert!(!verify("anything", "not a phc string"));
        assert!(!verify("", ""));
    }
}
