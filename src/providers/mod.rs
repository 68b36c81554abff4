//! Speech and language providers, knowing nothing of Twilio or SQL.
//! - [`http`] what every OpenAI-compatible client shares: base URL, optional key, timeout, error bodies.
//! - [`stt`]  speech to text (`/audio/transcriptions`, Whisper and the gpt-4o transcribe models).
//! - [`llm`]  the streamed chat model (`/chat/completions`) with tool calls.
//! - [`tts`]  Hebrew text to speech (OpenAI, Google, ElevenLabs, espeak-ng) and the fallback chain.

pub mod http;
pub mod llm;
pub mod stt;
pub mod tts;

pub use http::OpenAiConfig;
