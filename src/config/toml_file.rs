//! The optional settings file: a flat TOML table whose keys are the environment names in lower case
//! without the `SICHA_` prefix.

use std::collections::HashMap;
use std::path::Path;

use super::{ConfigError, SETTINGS};

/// The file's values by environment name; an unknown key is an error, not ignored.
pub(super) fn read_toml(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Toml {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let mut values = HashMap::new();
    for (key, value) in table {
        let name = env_name_for_key(&key).ok_or_else(|| ConfigError::UnknownKey(key.clone()))?;
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                value.to_string()
            }
            _ => {
                return Err(ConfigError::Toml {
                    path: shown,
                    message: format!("`{key}` must be a string, number or boolean"),
                });
            }
        };
        values.insert(name.to_string(), text);
    }
    Ok(values)
}

fn env_name_for_key(key: &str) -> Option<&'static str> {
    SETTINGS.iter().map(|(name, _, _)| *name).find(|name| {
        let short = name.strip_prefix("SICHA_").unwrap_or(name);
        short.eq_ignore_ascii_case(key)
    })
}
