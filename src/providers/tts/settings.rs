//! Which providers, in which order, with which settings: the `SICHA_TTS` list (`google,openai,espeak`)
//! and each provider's settings from the server configuration.

use std::str::FromStr;

use super::chain::TtsChain;
use super::{
    ElevenLabsConfig, ElevenLabsTts, EspeakConfig, EspeakTts, GoogleTts, GoogleTtsConfig,
    OpenAiTts, OpenAiTtsConfig, Tts,
};
use crate::config::ProviderSettings;
use crate::providers::OpenAiConfig;

/// The providers by their configuration names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    OpenAi,
    Google,
    ElevenLabs,
    Espeak,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 4] = [Self::OpenAi, Self::Google, Self::ElevenLabs, Self::Espeak];

    pub fn name(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Google => "google",
            Self::ElevenLabs => "elevenlabs",
            Self::Espeak => "espeak",
        }
    }
}

impl FromStr for ProviderKind {
    type Err = TtsConfigError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let wanted = name.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == wanted)
            .or(match wanted.as_str() {
                "espeak-ng" => Some(Self::Espeak),
                _ => None,
            })
            .ok_or_else(|| TtsConfigError::UnknownProvider(name.trim().to_string()))
    }
}

/// Why a chain could not be built from configuration.
#[derive(Debug, thiserror::Error)]
pub enum TtsConfigError {
    #[error("unknown text-to-speech provider `{0}` (known: openai, google, elevenlabs, espeak)")]
    UnknownProvider(String),
    #[error("no text-to-speech provider named")]
    Empty,
    #[error("text-to-speech provider `{0}` is named twice")]
    Duplicate(&'static str),
    #[error("text-to-speech provider `{0}` is named but not configured (missing its key or voice)")]
    NotConfigured(&'static str),
    #[error("none of the text-to-speech providers named ({0}) is configured")]
    NoneConfigured(String),
}

/// Parses a comma-separated list of provider names, in the order they are to be tried.
pub fn parse_provider_list(spec: &str) -> Result<Vec<ProviderKind>, TtsConfigError> {
    let mut kinds = Vec::new();
    for name in spec.split(',').filter(|name| !name.trim().is_empty()) {
        let kind: ProviderKind = name.parse()?;
        if kinds.contains(&kind) {
            return Err(TtsConfigError::Duplicate(kind.name()));
        }
        kinds.push(kind);
    }
    if kinds.is_empty() {
        return Err(TtsConfigError::Empty);
    }
    Ok(kinds)
}

/// Each provider's settings; a network provider without settings cannot be part of a chain.
#[derive(Debug, Clone, Default)]
pub struct TtsSettings {
    pub openai: Option<OpenAiTtsConfig>,
    pub google: Option<GoogleTtsConfig>,
    pub elevenlabs: Option<ElevenLabsConfig>,
    pub espeak: EspeakConfig,
}

impl TtsSettings {
    /// The providers' settings from the server configuration. Google and ElevenLabs need their key
    /// (ElevenLabs also a voice id); OpenAI needs a key unless its URL points at another server
    /// (local servers take none). A provider without what it needs stays unconfigured.
    pub fn from_config(config: &ProviderSettings) -> Self {
        let hosted_openai = config.openai_base_url.host_str() == Some("api.openai.com");
        let openai = (config.openai_api_key.is_some() || !hosted_openai).then(|| {
            let server = OpenAiConfig::new(
                config.openai_base_url.clone(),
                config.openai_api_key.clone(),
            );
            OpenAiTtsConfig {
                model: config.openai_tts_model.clone(),
                voice: config.openai_tts_voice.clone(),
                ..OpenAiTtsConfig::new(server)
            }
        });
        let google = config.google_api_key.clone().map(|key| GoogleTtsConfig {
            base_url: config.google_base_url.clone(),
            voice: config.google_voice.clone(),
            ..GoogleTtsConfig::new(key)
        });
        let elevenlabs = match (&config.elevenlabs_api_key, &config.elevenlabs_voice_id) {
            (Some(key), Some(voice_id)) => Some(ElevenLabsConfig {
                base_url: config.elevenlabs_base_url.clone(),
                ..ElevenLabsConfig::new(key.clone(), voice_id.clone())
            }),
            _ => None,
        };
        Self {
            openai,
            google,
            elevenlabs,
            espeak: EspeakConfig::default(),
        }
    }

    /// Whether `kind` can be built (espeak-ng always can; a missing binary shows when it is used).
    pub fn is_configured(&self, kind: ProviderKind) -> bool {
        match kind {
            ProviderKind::OpenAi => self.openai.is_some(),
            ProviderKind::Google => self.google.is_some(),
            ProviderKind::ElevenLabs => self.elevenlabs.is_some(),
            ProviderKind::Espeak => true,
        }
    }

    /// Builds the providers in `order`, sharing one HTTP client; each must be configured.
    pub fn build(&self, order: &[ProviderKind]) -> Result<Vec<Tts>, TtsConfigError> {
        let client = reqwest::Client::new();
        let missing = |kind: ProviderKind| TtsConfigError::NotConfigured(kind.name());
        order
            .iter()
            .map(|&kind| {
                Ok(match kind {
                    ProviderKind::OpenAi => {
                        let config = self.openai.clone().ok_or_else(|| missing(kind))?;
                        Tts::OpenAi(OpenAiTts::with_client(config, client.clone()))
                    }
                    ProviderKind::Google => {
                        let config = self.google.clone().ok_or_else(|| missing(kind))?;
                        Tts::Google(GoogleTts::with_client(config, client.clone()))
                    }
                    ProviderKind::ElevenLabs => {
                        let config = self.elevenlabs.clone().ok_or_else(|| missing(kind))?;
                        Tts::ElevenLabs(ElevenLabsTts::with_client(config, client.clone()))
                    }
                    ProviderKind::Espeak => Tts::Espeak(EspeakTts::new(self.espeak.clone())),
                })
            })
            .collect()
    }
}

impl TtsChain {
    /// The providers named in `spec` (see [`parse_provider_list`]); each must be configured.
    pub fn from_spec(spec: &str, settings: &TtsSettings) -> Result<Self, TtsConfigError> {
        Ok(Self::new(settings.build(&parse_provider_list(spec)?)?))
    }

    /// The chain the server configuration names. Unknown names are an error; named providers that
    /// lack their key are left out with a warning, so the default order works with whichever keys
    /// are present. At least one must remain.
    pub fn from_config(config: &ProviderSettings) -> Result<Self, TtsConfigError> {
        let named = parse_provider_list(&config.tts_order.join(","))?;
        let settings = TtsSettings::from_config(config);
        let (usable, skipped): (Vec<ProviderKind>, Vec<ProviderKind>) = named
            .iter()
            .partition(|&&kind| settings.is_configured(kind));
        for kind in &skipped {
            tracing::warn!(
                provider = kind.name(),
                "text-to-speech provider not configured; left out"
            );
        }
        if usable.is_empty() {
            let names: Vec<_> = named.iter().map(|kind| kind.name()).collect();
            return Err(TtsConfigError::NoneConfigured(names.join(", ")));
        }
        Ok(Self::new(settings.build(&usable)?))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::Settings;

    fn provider_settings(pairs: &[(&str, &str)]) -> ProviderSettings {
        let values: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_values(&values).unwrap().providers
    }

    #[test]
    fn provider_lists_parse_in_order_and_reject_mistakes() {
        assert_eq!(
            parse_provider_list("google, OpenAI ,espeak").unwrap(),
            vec![
                ProviderKind::Google,
                ProviderKind::OpenAi,
                ProviderKind::Espeak
            ]
        );
        assert_eq!(
            parse_provider_list("elevenlabs,espeak-ng").unwrap(),
            vec![ProviderKind::ElevenLabs, ProviderKind::Espeak]
        );
        let unknown = parse_provider_list("google,polly").unwrap_err();
        assert!(unknown.to_string().contains("`polly`"), "{unknown}");
        assert!(matches!(
            parse_provider_list(" , "),
            Err(TtsConfigError::Empty)
        ));
        assert!(matches!(
            parse_provider_list("espeak,espeak"),
            Err(TtsConfigError::Duplicate("espeak"))
        ));
    }

    #[test]
    fn a_named_provider_needs_its_settings() {
        let result = TtsChain::from_spec("google,espeak", &TtsSettings::default());
        assert!(matches!(
            result,
            Err(TtsConfigError::NotConfigured("google"))
        ));
        let chain = TtsChain::from_spec("espeak", &TtsSettings::default()).unwrap();
        assert_eq!(chain.providers()[0].name(), "espeak");
    }

    #[test]
    fn the_default_order_keeps_only_configured_providers() {
        let chain = TtsChain::from_config(&provider_settings(&[])).unwrap();
        let names: Vec<_> = chain.providers().iter().map(Tts::name).collect();
        assert_eq!(
            names,
            vec!["espeak"],
            "no Google key, no OpenAI key for the hosted API"
        );
        let chain = TtsChain::from_config(&provider_settings(&[
            ("GOOGLE_TTS_API_KEY", "g-key"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"),
        ]))
        .unwrap();
        let names: Vec<_> = chain.providers().iter().map(Tts::name).collect();
        assert_eq!(names, vec!["google", "openai", "espeak"]);
    }

    #[test]
    fn a_chain_with_nothing_configured_or_an_unknown_name_is_refused() {
        let only_google = provider_settings(&[("SICHA_TTS", "google")]);
        assert!(matches!(
            TtsChain::from_config(&only_google),
            Err(TtsConfigError::NoneConfigured(_))
        ));
        let typo = provider_settings(&[("SICHA_TTS", "gogle,espeak")]);
        assert!(matches!(
            TtsChain::from_config(&typo),
            Err(TtsConfigError::UnknownProvider(name)) if name == "gogle"
        ));
    }

    #[test]
    fn elevenlabs_needs_a_voice_as_well_as_a_key() {
        let key_only = TtsSettings::from_config(&provider_settings(&[("ELEVENLABS_API_KEY", "k")]));
        assert!(!key_only.is_configured(ProviderKind::ElevenLabs));
        let both = TtsSettings::from_config(&provider_settings(&[
            ("ELEVENLABS_API_KEY", "k"),
            ("ELEVENLABS_VOICE_ID", "v"),
        ]));
        assert!(both.is_configured(ProviderKind::ElevenLabs));
    }
}
