//! Typed settings. Sources, later wins: built-in defaults, an optional flat TOML file (`--config FILE`),
//! then environment variables. A TOML key is the environment name in lower case without the `SICHA_`
//! prefix (`SICHA_BIND` ↔ `bind`, `TWILIO_AUTH_TOKEN` ↔ `twilio_auth_token`), so one table documents both.
//! Secrets are wrapped in [`Secret`], whose `Debug` never shows the value.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use url::Url;

mod table;

pub use table::SETTINGS;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is not a flat TOML table of settings: {message}")]
    Toml { path: String, message: String },
    #[error("unknown setting `{0}` in the config file")]
    UnknownKey(String),
    #[error("setting {name}: {message}")]
    Invalid { name: &'static str, message: String },
}

/// A secret string: usable, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub struct TwilioSettings {
    pub account_sid: Option<String>,
    pub auth_token: Option<Secret>,
    pub api_base: Url,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_calls: usize,
    pub max_call: Duration,
    pub max_ws_message_bytes: usize,
    pub max_ws_messages_per_sec: u32,
}

/// The AI providers: OpenAI-compatible STT/LLM/TTS, Google and ElevenLabs TTS, espeak-ng.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub openai_api_key: Option<Secret>,
    pub openai_base_url: Url,
    pub stt_model: String,
    pub llm_model: String,
    /// Provider names in fallback order.
    pub tts_order: Vec<String>,
    pub openai_tts_model: String,
    pub openai_tts_voice: String,
    pub google_api_key: Option<Secret>,
    pub google_base_url: Url,
    pub google_voice: String,
    pub elevenlabs_api_key: Option<Secret>,
    pub elevenlabs_base_url: Url,
    pub elevenlabs_voice_id: Option<String>,
}

/// Who gets a text message after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostCallSms {
    Off,
    Caller,
    Business,
}

/// What happens after a call: CRM webhook, SMS, summary, recording.
#[derive(Debug, Clone)]
pub struct AfterCallSettings {
    pub crm_webhook_url: Option<Url>,
    pub post_call_sms: PostCallSms,
    pub summary: bool,
    pub recordings_dir: Option<std::path::PathBuf>,
}

/// How the agent listens and keeps the line alive.
#[derive(Debug, Clone)]
pub struct ConversationSettings {
    pub vad_start_ms: u32,
    pub vad_hangover_ms: u32,
    /// Start speech-to-text after this much silence, before the hangover confirms the end.
    pub eager_stt_ms: Option<u32>,
    pub silence_prompt_after: Duration,
    pub silence_prompts: u32,
}

/// Who may open the web pages, and for how long.
#[derive(Debug, Clone)]
pub struct WebSettings {
    pub admin_user: Option<String>,
    /// An argon2 PHC string, checked to parse at load time.
    pub admin_password_hash: Option<Secret>,
    pub session_ttl: Duration,
    pub sign_in_max_failures: u32,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub public_url: Option<Url>,
    pub database_url: String,
    pub instance_id: String,
    pub twilio: TwilioSettings,
    pub stream_secret: Option<Secret>,
    pub stream_token_ttl: Duration,
    pub limits: Limits,
    pub shutdown_grace: Duration,
    pub providers: ProviderSettings,
    pub after_call: AfterCallSettings,
    pub web: WebSettings,
    pub conversation: ConversationSettings,
    /// Where inbound Media Streams are recorded as JSON lines (`--record-streams`).
    pub record_streams_dir: Option<std::path::PathBuf>,
    pub log_filter: String,
    pub log_json: bool,
}

impl Settings {
    /// Defaults, then the optional file, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut values = HashMap::new();
        if let Some(path) = file {
            values.extend(read_toml(path)?);
        }
        for (name, _, _) in SETTINGS {
            if let Ok(value) = std::env::var(name) {
                values.insert((*name).to_string(), value);
            }
        }
        Self::from_values(&values)
    }

    /// Builds settings from environment-style names; missing names take their defaults.
    pub fn from_values(values: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let secret = |name: &'static str| get(name).map(Secret::new);
        let public_url = get("SICHA_PUBLIC_URL")
            .map(|v| parse_url("SICHA_PUBLIC_URL", v))
            .transpose()?;
        if let Some(url) = &public_url
            && !matches!(url.scheme(), "https" | "http")
        {
            return Err(invalid(
                "SICHA_PUBLIC_URL",
                "must be an https:// (or http:// for local tests) origin",
            ));
        }
        Ok(Self {
            bind: parse("SICHA_BIND", get("SICHA_BIND").unwrap_or("0.0.0.0:8080"))?,
            public_url,
            database_url: get("SICHA_DATABASE_URL")
                .unwrap_or("sqlite://sicha.db")
                .to_string(),
            instance_id: get("SICHA_INSTANCE_ID")
                .map(str::to_string)
                .unwrap_or_else(default_instance_id),
            twilio: TwilioSettings {
                account_sid: get("TWILIO_ACCOUNT_SID").map(str::to_string),
                auth_token: secret("TWILIO_AUTH_TOKEN"),
                api_base: parse_url(
                    "TWILIO_API_BASE",
                    get("TWILIO_API_BASE").unwrap_or("https://api.twilio.com/2010-04-01"),
                )?,
            },
            stream_secret: secret("SICHA_STREAM_SECRET"),
            stream_token_ttl: Duration::from_secs(parse(
                "SICHA_STREAM_TOKEN_TTL_SECS",
                get("SICHA_STREAM_TOKEN_TTL_SECS").unwrap_or("60"),
            )?),
            limits: Limits {
                max_calls: parse("SICHA_MAX_CALLS", get("SICHA_MAX_CALLS").unwrap_or("200"))?,
                max_call: Duration::from_secs(parse(
                    "SICHA_MAX_CALL_SECS",
                    get("SICHA_MAX_CALL_SECS").unwrap_or("1800"),
                )?),
                max_ws_message_bytes: parse(
                    "SICHA_MAX_WS_MESSAGE_BYTES",
                    get("SICHA_MAX_WS_MESSAGE_BYTES").unwrap_or("65536"),
                )?,
                max_ws_messages_per_sec: parse(
                    "SICHA_MAX_WS_MESSAGES_PER_SEC",
                    get("SICHA_MAX_WS_MESSAGES_PER_SEC").unwrap_or("200"),
                )?,
            },
            shutdown_grace: Duration::from_secs(parse(
                "SICHA_SHUTDOWN_GRACE_SECS",
                get("SICHA_SHUTDOWN_GRACE_SECS").unwrap_or("30"),
            )?),
            providers: ProviderSettings {
                openai_api_key: secret("OPENAI_API_KEY"),
                openai_base_url: parse_url(
                    "OPENAI_BASE_URL",
                    get("OPENAI_BASE_URL").unwrap_or("https://api.openai.com/v1"),
                )?,
                stt_model: get("SICHA_STT_MODEL").unwrap_or("whisper-1").to_string(),
                llm_model: get("SICHA_LLM_MODEL").unwrap_or("gpt-4o").to_string(),
                tts_order: get("SICHA_TTS")
                    .unwrap_or("google,openai,espeak")
                    .split(',')
                    .map(|name| name.trim().to_ascii_lowercase())
                    .filter(|name| !name.is_empty())
                    .collect(),
                openai_tts_model: get("SICHA_OPENAI_TTS_MODEL")
                    .unwrap_or("gpt-4o-mini-tts")
                    .to_string(),
                openai_tts_voice: get("SICHA_OPENAI_TTS_VOICE").unwrap_or("alloy").to_string(),
                google_api_key: secret("GOOGLE_TTS_API_KEY"),
                google_base_url: parse_url(
                    "GOOGLE_TTS_BASE_URL",
                    get("GOOGLE_TTS_BASE_URL").unwrap_or("https://texttospeech.googleapis.com"),
                )?,
                google_voice: get("GOOGLE_TTS_VOICE")
                    .unwrap_or("he-IL-Wavenet-A")
                    .to_string(),
                elevenlabs_api_key: secret("ELEVENLABS_API_KEY"),
                elevenlabs_base_url: parse_url(
                    "ELEVENLABS_BASE_URL",
                    get("ELEVENLABS_BASE_URL").unwrap_or("https://api.elevenlabs.io"),
                )?,
                elevenlabs_voice_id: get("ELEVENLABS_VOICE_ID").map(str::to_string),
            },
            after_call: AfterCallSettings {
                crm_webhook_url: get("SICHA_CRM_WEBHOOK_URL")
                    .map(|v| parse_url("SICHA_CRM_WEBHOOK_URL", v))
                    .transpose()?,
                post_call_sms: match get("SICHA_POST_CALL_SMS").unwrap_or("off") {
                    "off" => PostCallSms::Off,
                    "caller" => PostCallSms::Caller,
                    "business" => PostCallSms::Business,
                    other => {
                        return Err(invalid(
                            "SICHA_POST_CALL_SMS",
                            &format!("`{other}` is not off, caller or business"),
                        ));
                    }
                },
                summary: parse_switch(
                    "SICHA_CALL_SUMMARY",
                    get("SICHA_CALL_SUMMARY").unwrap_or("off"),
                )?,
                recordings_dir: get("SICHA_RECORDINGS_DIR").map(std::path::PathBuf::from),
            },
            web: WebSettings {
                admin_user: get("SICHA_ADMIN_USER").map(str::to_string),
                admin_password_hash: get("SICHA_ADMIN_PASSWORD_HASH")
                    .map(|v| parse_password_hash("SICHA_ADMIN_PASSWORD_HASH", v))
                    .transpose()?,
                session_ttl: Duration::from_secs(parse(
                    "SICHA_SESSION_TTL_SECS",
                    get("SICHA_SESSION_TTL_SECS").unwrap_or("43200"),
                )?),
                sign_in_max_failures: parse(
                    "SICHA_SIGN_IN_MAX_FAILURES",
                    get("SICHA_SIGN_IN_MAX_FAILURES").unwrap_or("5"),
                )?,
            },
            record_streams_dir: get("SICHA_RECORD_STREAMS_DIR").map(std::path::PathBuf::from),
            conversation: ConversationSettings {
                vad_start_ms: parse(
                    "SICHA_VAD_START_MS",
                    get("SICHA_VAD_START_MS").unwrap_or("120"),
                )?,
                vad_hangover_ms: parse(
                    "SICHA_VAD_HANGOVER_MS",
                    get("SICHA_VAD_HANGOVER_MS").unwrap_or("600"),
                )?,
                eager_stt_ms: match get("SICHA_EAGER_STT_MS").unwrap_or("250") {
                    "off" => None,
                    value => Some(parse("SICHA_EAGER_STT_MS", value)?),
                },
                silence_prompt_after: Duration::from_secs(parse(
                    "SICHA_SILENCE_PROMPT_SECS",
                    get("SICHA_SILENCE_PROMPT_SECS").unwrap_or("8"),
                )?),
                silence_prompts: parse(
                    "SICHA_SILENCE_PROMPTS",
                    get("SICHA_SILENCE_PROMPTS").unwrap_or("2"),
                )?,
            },
            log_filter: get("SICHA_LOG").unwrap_or("info").to_string(),
            log_json: match get("SICHA_LOG_FORMAT").unwrap_or("text") {
                "text" => false,
                "json" => true,
                other => {
                    return Err(invalid(
                        "SICHA_LOG_FORMAT",
                        &format!("`{other}` is not text or json"),
                    ));
                }
            },
        })
    }
}

fn read_toml(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
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

fn default_instance_id() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sicha".to_string())
}

fn invalid(name: &'static str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        message: message.to_string(),
    }
}

fn parse<T: std::str::FromStr>(name: &'static str, value: &str) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    value
        .parse()
        .map_err(|e: T::Err| invalid(name, &format!("`{value}`: {e}")))
}

fn parse_switch(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        other => Err(invalid(name, &format!("`{other}` is not on or off"))),
    }
}

/// A PHC string is checked now so a mistyped hash fails at start, not at the first sign-in.
/// The value itself never reaches the error.
fn parse_password_hash(name: &'static str, value: &str) -> Result<Secret, ConfigError> {
    argon2::PasswordHash::new(value).map_err(|_| {
        invalid(
            name,
            "is not a PHC string (make one with `sicha admin hash-password`)",
        )
    })?;
    Ok(Secret::new(value))
}

fn parse_url(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    Url::parse(value).map_err(|e| invalid(name, &format!("`{value}`: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_embedded_sqlite_on_port_8080() {
        let s = Settings::from_values(&HashMap::new()).unwrap();
        assert_eq!(s.bind.port(), 8080);
        assert_eq!(s.database_url, "sqlite://sicha.db");
        assert!(s.twilio.auth_token.is_none());
        assert_eq!(s.limits.max_ws_message_bytes, 65536);
    }

    #[test]
    fn secrets_never_reach_debug_output() {
        let s = Settings::from_values(&values(&[("TWILIO_AUTH_TOKEN", "hunter2-token")])).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.twilio.auth_token.unwrap().expose(), "hunter2-token");
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = Settings::from_values(&values(&[("SICHA_MAX_CALLS", "many")])).unwrap_err();
        assert!(err.to_string().contains("SICHA_MAX_CALLS"), "{err}");
        let err = Settings::from_values(&values(&[("SICHA_PUBLIC_URL", "ftp://x")])).unwrap_err();
        assert!(err.to_string().contains("SICHA_PUBLIC_URL"), "{err}");
    }

    #[test]
    fn toml_keys_map_to_environment_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sicha.toml");
        std::fs::write(
            &path,
            "bind = \"127.0.0.1:9000\"\nmax_calls = 7\ntwilio_auth_token = \"t\"\n",
        )
        .unwrap();
        let map = read_toml(&path).unwrap();
        let s = Settings::from_values(&map).unwrap();
        assert_eq!(s.bind.port(), 9000);
        assert_eq!(s.limits.max_calls, 7);
        std::fs::write(&path, "no_such_setting = 1\n").unwrap();
        assert!(matches!(read_toml(&path), Err(ConfigError::UnknownKey(_))));
    }
}
