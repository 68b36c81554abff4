//! The AI agent's shared parts, built once per server and shared by every call: the providers (STT,
//! the realtime recogniser when configured, LLM, the TTS fallback chain), the transcript filter
//! settings, the Twilio REST client for call updates, and the cache of spoken phrases (greetings,
//! fillers, apologies) synthesised ahead so they play the moment they are needed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use sicha_audio::mulaw;

use crate::config::{Settings, SttMode};
use crate::providers::http::OpenAiConfig;
use crate::providers::llm::OpenAiChat;
use crate::providers::realtime_stt::RealtimeStt;
use crate::providers::stt::OpenAiStt;
use crate::providers::tts::TtsConfigError;
use crate::providers::tts::chain::{ChainError, TtsChain};
use crate::twilio::rest::TwilioClient;

pub use super::phrases;

/// The language the STT hears and the filter expects.
pub const LANGUAGE: &str = "he";

pub struct Agent {
    pub stt: OpenAiStt,
    /// Present with `SICHA_STT=realtime`: each media stream's utterances are streamed to it as the
    /// caller speaks; `stt` stays the fallback.
    pub realtime_stt: Option<RealtimeStt>,
    pub llm: OpenAiChat,
    pub tts: TtsChain,
    /// Present when Twilio REST credentials are configured: transfers, hang-ups, the `<Say>` fallback.
    pub twilio: Option<TwilioClient>,
    /// Calls the businesses' own tools (one connection pool for every call).
    pub tools: crate::business_tools::ToolInvoker,
    phrases: PhraseCache,
}

impl Agent {
    pub fn from_settings(settings: &Settings) -> Result<Self, TtsConfigError> {
        let p = &settings.providers;
        let openai = OpenAiConfig::new(p.openai_base_url.clone(), p.openai_api_key.clone());
        // Providers named in SICHA_TTS without credentials are skipped with a warning: the chain keeps
        // its other members, espeak-ng last.
        let chain = TtsChain::from_config(p)?;
        let twilio = match (&settings.twilio.account_sid, &settings.twilio.auth_token) {
            (Some(account), Some(token)) => Some(TwilioClient::new(
                settings.twilio.api_base.clone(),
                account.clone(),
                token.clone(),
            )),
            _ => None,
        };
        let realtime_stt = (p.stt_mode == SttMode::Realtime)
            .then(|| RealtimeStt::new(openai.clone(), p.realtime_stt_model.clone()));
        Ok(Self {
            stt: OpenAiStt::new(openai.clone(), p.stt_model.clone()),
            realtime_stt,
            llm: OpenAiChat::new(openai, p.llm_model.clone()),
            tts: chain,
            twilio,
            tools: crate::business_tools::ToolInvoker::new(),
            phrases: PhraseCache::default(),
        })
    }

    /// A phrase as μ-law audio, from the cache or synthesised now (and cached).
    pub async fn phrase(
        &self,
        text: &str,
        voice: Option<&str>,
    ) -> Result<Arc<Vec<u8>>, ChainError> {
        self.phrases.get_or_synthesize(&self.tts, text, voice).await
    }

    /// A phrase's audio if it is cached: the common case, answered without waiting.
    pub fn cached_phrase(&self, text: &str, voice: Option<&str>) -> Option<Arc<Vec<u8>>> {
        self.phrases.cached(text, voice)
    }

    /// Synthesises the fixed phrases and the given greetings ahead of the first call; returns how many
    /// could not be synthesised (each is tried again when needed).
    pub async fn warm(&self, greetings: &[(String, Option<String>)]) -> usize {
        let mut work: Vec<(String, Option<String>)> =
            phrases::ALL.iter().map(|p| (p.to_string(), None)).collect();
        work.extend_from_slice(greetings);
        // A few at a time: readiness waits for the warm-up, and one at a time it took longer than
        // that wait with a slow TTS; all at once would be a burst the provider may throttle.
        let mut failed = 0;
        for batch in work.chunks(WARM_UP_IN_FLIGHT) {
            let done = futures::future::join_all(
                batch
                    .iter()
                    .map(|(text, voice)| self.warm_one(text, voice.as_deref())),
            )
            .await;
            failed += done.into_iter().filter(|ok| !ok).count();
        }
        failed
    }

    /// Synthesises one phrase into the cache; false when no provider could.
    async fn warm_one(&self, text: &str, voice: Option<&str>) -> bool {
        match self.phrase(text, voice).await {
            Ok(_) => true,
            Err(error) => {
                tracing::debug!(%error, phrase = %text, "could not synthesise a phrase ahead");
                false
            }
        }
    }
}

/// Phrases synthesised at once while warming the cache.
const WARM_UP_IN_FLIGHT: usize = 4;

/// A phrase's text and the voice it is said in.
type PhraseKey = (String, Option<String>);

/// Synthesised phrases by (text, voice). A changed greeting is a new key, so it is synthesised anew.
#[derive(Default)]
struct PhraseCache {
    audio: Mutex<HashMap<PhraseKey, Arc<Vec<u8>>>>,
}

impl PhraseCache {
    fn cached(&self, text: &str, voice: Option<&str>) -> Option<Arc<Vec<u8>>> {
        let key = (text.to_string(), voice.map(str::to_string));
        self.audio
            .lock()
            .expect("phrase cache lock")
            .get(&key)
            .cloned()
    }

    async fn get_or_synthesize(
        &self,
        tts: &TtsChain,
        text: &str,
        voice: Option<&str>,
    ) -> Result<Arc<Vec<u8>>, ChainError> {
        if let Some(audio) = self.cached(text, voice) {
            return Ok(audio);
        }
        let key = (text.to_string(), voice.map(str::to_string));
        let output = tts.synthesize(text, voice).await?;
        let mut pcm = Vec::new();
        let mut stream = output.pcm;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(samples) => pcm.extend_from_slice(&samples),
                // A stream that breaks after audio began: keep what came rather than nothing.
                Err(error) => {
                    tracing::warn!(%error, "phrase synthesis ended early");
                    break;
                }
            }
        }
        let mut codes = vec![mulaw::SILENCE; pcm.len()];
        mulaw::encode_into(&pcm, &mut codes);
        let audio = Arc::new(codes);
        self.audio
            .lock()
            .expect("phrase cache lock")
            .insert(key, audio.clone());
        Ok(audio)
    }
}
