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
mod toml_file;
mod values;

pub use table::SETTINGS;

use toml_file::read_toml;
use values::{Values, invalid, parse};

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
    /// Batch uploads, or a realtime stream with batch as the fallback.
    pub stt_mode: SttMode,
    pub realtime_stt_model: String,
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

/// How speech becomes text (`SICHA_STT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SttMode {
    /// Each utterance uploaded to `/audio/transcriptions` once it ends.
    Batch,
    /// The call's audio streamed over the Realtime API's WebSocket while the caller speaks; batch
    /// takes over when the stream fails.
    Realtime,
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

/// How promised call-backs are retried when nobody answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackSettings {
    /// Calls placed for one call-back before it is given up; at least 1.
    pub attempts: u32,
    /// The wait after an unanswered attempt before the next, moved on into opening hours.
    pub retry_spacing: Duration,
}

/// How the agent listens and keeps the line alive.
#[derive(Debug, Clone)]
pub struct ConversationSettings {
    pub vad_start_ms: u32,
    pub vad_hangover_ms: u32,
    /// Start speech-to-text after this much silence, before the hangover confirms the end.
    pub eager_stt_ms: Option<u32>,
    /// Decide the end of a turn from its words and voice too, not from silence alone (needs eager
    /// transcription: its transcript is what the words are read from).
    pub hebrew_end_of_turn: bool,
    pub silence_prompt_after: Duration,
    pub silence_prompts: u32,
}

/// Where `/metrics` is served: on a listener of its own, or on the main one behind a bearer token.
/// With neither, the main listener answers 404 for it (it faces Twilio, so the internet).
#[derive(Debug, Clone, Default)]
pub struct MetricsSettings {
    pub bind: Option<SocketAddr>,
    pub token: Option<Secret>,
}

/// Who may open the web pages, and for how long.
#[derive(Debug, Clone)]
pub struct WebSettings {
    pub admin_user: Option<String>,
    /// An argon2 PHC string, checked to parse at load time.
    pub admin_password_hash: Option<Secret>,
    pub session_ttl: Duration,
    pub sign_in_max_failures: u32,
    /// A user name's wait after its first failed sign-in, doubling per further failure.
    pub sign_in_delay: Duration,
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
    pub callbacks: CallbackSettings,
    pub web: WebSettings,
    pub metrics: MetricsSettings,
    /// How long a fresh instance waits for its fixed phrases before it reports ready anyway.
    pub warm_up_wait: Duration,
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
        let values = Values::new(values);
        let public_url = values.optional_url("SICHA_PUBLIC_URL")?;
        if let Some(url) = &public_url
            && !matches!(url.scheme(), "https" | "http")
        {
            return Err(invalid(
                "SICHA_PUBLIC_URL",
                "must be an https:// (or http:// for local tests) origin",
            ));
        }
        Ok(Self {
            bind: values.parsed("SICHA_BIND")?,
            public_url,
            database_url: values.text("SICHA_DATABASE_URL"),
            instance_id: values
                .optional_text("SICHA_INSTANCE_ID")
                .unwrap_or_else(default_instance_id),
            twilio: TwilioSettings {
                account_sid: values.optional_text("TWILIO_ACCOUNT_SID"),
                auth_token: values.secret("TWILIO_AUTH_TOKEN"),
                api_base: values.url("TWILIO_API_BASE")?,
            },
            stream_secret: values.secret("SICHA_STREAM_SECRET"),
            stream_token_ttl: values.seconds("SICHA_STREAM_TOKEN_TTL_SECS")?,
            limits: Limits {
                max_calls: values.parsed("SICHA_MAX_CALLS")?,
                max_call: values.seconds("SICHA_MAX_CALL_SECS")?,
                max_ws_message_bytes: values.parsed("SICHA_MAX_WS_MESSAGE_BYTES")?,
                max_ws_messages_per_sec: values.parsed("SICHA_MAX_WS_MESSAGES_PER_SEC")?,
            },
            shutdown_grace: values.seconds("SICHA_SHUTDOWN_GRACE_SECS")?,
            providers: ProviderSettings {
                openai_api_key: values.secret("OPENAI_API_KEY"),
                openai_base_url: values.url("OPENAI_BASE_URL")?,
                stt_model: values.text("SICHA_STT_MODEL"),
                stt_mode: values.choice(
                    "SICHA_STT",
                    &[("batch", SttMode::Batch), ("realtime", SttMode::Realtime)],
                    "batch or realtime",
                )?,
                realtime_stt_model: values.text("SICHA_REALTIME_STT_MODEL"),
                llm_model: values.text("SICHA_LLM_MODEL"),
                tts_order: values
                    .get_or_default("SICHA_TTS")
                    .split(',')
                    .map(|name| name.trim().to_ascii_lowercase())
                    .filter(|name| !name.is_empty())
                    .collect(),
                openai_tts_model: values.text("SICHA_OPENAI_TTS_MODEL"),
                openai_tts_voice: values.text("SICHA_OPENAI_TTS_VOICE"),
                google_api_key: values.secret("GOOGLE_TTS_API_KEY"),
                google_base_url: values.url("GOOGLE_TTS_BASE_URL")?,
                google_voice: values.text("GOOGLE_TTS_VOICE"),
                elevenlabs_api_key: values.secret("ELEVENLABS_API_KEY"),
                elevenlabs_base_url: values.url("ELEVENLABS_BASE_URL")?,
                elevenlabs_voice_id: values.optional_text("ELEVENLABS_VOICE_ID"),
            },
            after_call: AfterCallSettings {
                crm_webhook_url: values.optional_url("SICHA_CRM_WEBHOOK_URL")?,
                post_call_sms: values.choice(
                    "SICHA_POST_CALL_SMS",
                    &[
                        ("off", PostCallSms::Off),
                        ("caller", PostCallSms::Caller),
                        ("business", PostCallSms::Business),
                    ],
                    "off, caller or business",
                )?,
                summary: values.switch("SICHA_CALL_SUMMARY")?,
                recordings_dir: values.path("SICHA_RECORDINGS_DIR"),
            },
            callbacks: CallbackSettings {
                attempts: match values.parsed("SICHA_CALLBACK_ATTEMPTS")? {
                    0 => return Err(invalid("SICHA_CALLBACK_ATTEMPTS", "must be at least 1")),
                    attempts => attempts,
                },
                retry_spacing: values.seconds("SICHA_CALLBACK_RETRY_SECS")?,
            },
            web: WebSettings {
                admin_user: values.optional_text("SICHA_ADMIN_USER"),
                admin_password_hash: values.password_hash("SICHA_ADMIN_PASSWORD_HASH")?,
                session_ttl: values.seconds("SICHA_SESSION_TTL_SECS")?,
                sign_in_max_failures: values.parsed("SICHA_SIGN_IN_MAX_FAILURES")?,
                sign_in_delay: Duration::from_millis(values.parsed("SICHA_SIGN_IN_DELAY_MS")?),
            },
            metrics: MetricsSettings {
                bind: values
                    .get("SICHA_METRICS_BIND")
                    .map(|bind| parse("SICHA_METRICS_BIND", bind))
                    .transpose()?,
                token: values.secret("SICHA_METRICS_TOKEN"),
            },
            warm_up_wait: values.seconds("SICHA_WARM_UP_WAIT_SECS")?,
            record_streams_dir: values.path("SICHA_RECORD_STREAMS_DIR"),
            conversation: ConversationSettings {
                vad_start_ms: values.parsed("SICHA_VAD_START_MS")?,
                vad_hangover_ms: values.parsed("SICHA_VAD_HANGOVER_MS")?,
                eager_stt_ms: match values.get_or_default("SICHA_EAGER_STT_MS") {
                    "off" => None,
                    value => Some(parse("SICHA_EAGER_STT_MS", value)?),
                },
                hebrew_end_of_turn: values.choice(
                    "SICHA_END_OF_TURN",
                    &[("hebrew", true), ("silence", false)],
                    "hebrew or silence",
                )?,
                silence_prompt_after: values.seconds("SICHA_SILENCE_PROMPT_SECS")?,
                silence_prompts: values.parsed("SICHA_SILENCE_PROMPTS")?,
            },
            log_filter: values.text("SICHA_LOG"),
            log_json: values.choice(
                "SICHA_LOG_FORMAT",
                &[("text", false), ("json", true)],
                "text or json",
            )?,
        })
    }
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

#[cfg(test)]
mod tests;
