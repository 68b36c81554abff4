//! `sicha admin …`: administration of the web pages.
//!
//! The password is read from standard input, never from the command line, so it stays out of the
//! shell history and the process list.

use std::io::{BufRead, Write};

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::web::password;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Read a password from standard input (one line) and print its argon2 hash, the value for
    /// SICHA_ADMIN_PASSWORD_HASH. Example: `read -rs P && printf '%s\n' "$P" | sicha admin hash-password`.
    HashPassword,
}

pub fn run(command: AdminCommand, out: &mut impl Write) -> anyhow::Result<()> {
    match command {
        AdminCommand::HashPassword => hash_password(&mut std::io::stdin().lock(), out),
    }
}

/// Reads one line as the password and writes its PHC string.
pub fn hash_password(input: &mut impl BufRead, out: &mut impl Write) -> anyhow::Result<()> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.chars().count() < password::MIN_LENGTH {
        bail!(
            "the password must have at least {} characters",
            password::MIN_LENGTH
        );
    }
    let hash = password::hash(password).context("hashing the password")?;
    writeln!(out, "{hash}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_a_hash_that_verifies_the_password_read() {
        let mut out = Vec::new();
        hash_password(&mut "סיסמה-ארוכה-1\n".as_bytes(), &mut out).unwrap();
        let hash = String::from_utf8(out).unwrap();
        let hash = hash.trim_end();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(password::verify("סיסמה-ארוכה-1", hash));
        assert!(!password::verify("סיסמה-ארוכה-2", hash));
    }

    #[test]
    fn refuses_a_short_password() {
        let mut out = Vec::new();
        let error = hash_password(&mut "short\n".as_bytes(), &mut out).unwrap_err();
        assert!(error.to_string().contains("at least"), "{error}");
        assert!(out.is_empty());
    }
}
