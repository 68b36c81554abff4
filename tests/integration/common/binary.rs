//! The real `sicha` binary, run as a user would, with none of the developer's own settings leaking in.

use std::process::{Command, Output};

/// `sicha` with every SICHA_/TWILIO_/OPENAI_ variable and RUST_LOG removed from its environment.
pub fn sicha_binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sicha"));
    for (name, _) in std::env::vars() {
        if name.starts_with("SICHA_") || name.starts_with("TWILIO_") || name.starts_with("OPENAI_")
        {
            command.env_remove(name);
        }
    }
    command.env_remove("RUST_LOG");
    command
}

/// Runs `sicha ARGS` on the database at `url`.
fn sicha(url: &str, args: &[&str]) -> Output {
    sicha_binary()
        .args(args)
        .env("SICHA_DATABASE_URL", url)
        .output()
        .expect("running the sicha binary")
}

/// Runs a command that must succeed and returns what it printed.
pub fn sicha_ok(url: &str, args: &[&str]) -> String {
    let output = sicha(url, args);
    assert!(
        output.status.success(),
        "sicha {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs a command that must fail and returns its error output.
pub fn sicha_err(url: &str, args: &[&str]) -> String {
    let output = sicha(url, args);
    assert!(
        !output.status.success(),
        "sicha {args:?} should have failed:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}
