//! Reading one setting out of the merged values. A blank value counts as unset, an unset setting
//! takes the default documented in [`SETTINGS`], and every error names the setting.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use super::{ConfigError, SETTINGS, Secret};

/// The values by environment name (file and environment already merged).
pub(super) struct Values<'a> {
    values: &'a HashMap<String, String>,
}

impl<'a> Values<'a> {
    pub(super) fn new(values: &'a HashMap<String, String>) -> Self {
        Self { values }
    }

    /// The value as given, trimmed; `None` when unset or blank.
    pub(super) fn get(&self, name: &'static str) -> Option<&'a str> {
        self.values
            .get(name)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// The value, or the setting's documented default.
    pub(super) fn get_or_default(&self, name: &'static str) -> &'a str {
        self.get(name).unwrap_or_else(|| default_of(name))
    }

    pub(super) fn text(&self, name: &'static str) -> String {
        self.get_or_default(name).to_string()
    }

    pub(super) fn optional_text(&self, name: &'static str) -> Option<String> {
        self.get(name).map(str::to_string)
    }

    pub(super) fn secret(&self, name: &'static str) -> Option<Secret> {
        self.get(name).map(Secret::new)
    }

    pub(super) fn path(&self, name: &'static str) -> Option<PathBuf> {
        self.get(name).map(PathBuf::from)
    }

    pub(super) fn parsed<T: FromStr>(&self, name: &'static str) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        parse(name, self.get_or_default(name))
    }

    /// A whole number of seconds.
    pub(super) fn seconds(&self, name: &'static str) -> Result<Duration, ConfigError> {
        self.parsed(name).map(Duration::from_secs)
    }

    pub(super) fn url(&self, name: &'static str) -> Result<Url, ConfigError> {
        parse_url(name, self.get_or_default(name))
    }

    pub(super) fn optional_url(&self, name: &'static str) -> Result<Option<Url>, ConfigError> {
        self.get(name)
            .map(|value| parse_url(name, value))
            .transpose()
    }

    /// `on`/`true`/`1` or `off`/`false`/`0`.
    pub(super) fn switch(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.get_or_default(name) {
            "on" | "true" | "1" => Ok(true),
            "off" | "false" | "0" => Ok(false),
            other => Err(invalid(name, &format!("`{other}` is not on or off"))),
        }
    }

    /// One of a fixed set of words; `expected` lists them for the error message.
    pub(super) fn choice<T: Copy>(
        &self,
        name: &'static str,
        choices: &[(&str, T)],
        expected: &str,
    ) -> Result<T, ConfigError> {
        let value = self.get_or_default(name);
        choices
            .iter()
            .find(|(word, _)| *word == value)
            .map(|(_, choice)| *choice)
            .ok_or_else(|| invalid(name, &format!("`{value}` is not {expected}")))
    }

    /// An argon2 PHC string, checked now so a mistyped hash fails at start, not at the first
    /// sign-in. The value itself never reaches the error.
    pub(super) fn password_hash(&self, name: &'static str) -> Result<Option<Secret>, ConfigError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        argon2::PasswordHash::new(value).map_err(|_| {
            invalid(
                name,
                "is not a PHC string (make one with `sicha admin hash-password`)",
            )
        })?;
        Ok(Some(Secret::new(value)))
    }
}

/// The default [`SETTINGS`] documents for `name`, so the code and the README cannot disagree.
fn default_of(name: &'static str) -> &'static str {
    SETTINGS
        .iter()
        .find(|(setting, _, _)| *setting == name)
        .map(|(_, default, _)| *default)
        .unwrap_or_else(|| panic!("{name} is not in the settings table"))
}

pub(super) fn invalid(name: &'static str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        message: message.to_string(),
    }
}

pub(super) fn parse<T: FromStr>(name: &'static str, value: &str) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    value
        .parse()
        .map_err(|e: T::Err| invalid(name, &format!("`{value}`: {e}")))
}

fn parse_url(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    Url::parse(value).map_err(|e| invalid(name, &format!("`{value}`: {e}")))
}
